"""Store fixtures: every test runs on a temp SQLite file and on a throwaway PostgreSQL
cluster started here (the Debian `postgresql` package's server binaries, run as the
`postgres` user when the tests run as root). Without them the PostgreSQL cases fail,
naming the install step: they are never skipped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mcu.store import Store, open_store
from tests.peers.postgres import PostgresServer

ADMIN_PASSWORD = "admin-secret"


@pytest.fixture(scope="session")
def postgres_socket_dir() -> Iterator[str]:
    """Start a private cluster listening only on a Unix socket; yield the socket dir."""
    server = PostgresServer().start()
    try:
        yield server.socket_dir
    finally:
        server.stop()


async def _fresh_postgres_database(socket_dir: str) -> str:
    import asyncpg

    name = f"mcu_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://postgres@/{name}?host={socket_dir}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'mcu.db'}"
    socket_dir = request.getfixturevalue("postgres_socket_dir")
    return await _fresh_postgres_database(socket_dir)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url, admin_password=ADMIN_PASSWORD)
    try:
        yield opened
    finally:
        await opened.close()
