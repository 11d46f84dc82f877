"""Store fixtures: every test runs on a temp SQLite file and on a throwaway PostgreSQL
cluster started here (the Debian `postgresql` package's server binaries, run as the
`postgres` user when the tests run as root). Without them the PostgreSQL cases fail,
naming the install step: they are never skipped."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mcu.store import Store, open_store
from tests.system_deps import missing

ADMIN_PASSWORD = "admin-secret"


def _postgres_bin() -> Path | None:
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


def _as_postgres_user() -> list[str] | None:
    """Command prefix to run the server: initdb refuses to run as root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return None if runuser is None else [runuser, "-u", "postgres", "--"]


@pytest.fixture(scope="session")
def postgres_socket_dir() -> Iterator[str]:
    """Start a private cluster listening only on a Unix socket; yield the socket dir."""
    bindir, prefix = _postgres_bin(), _as_postgres_user()
    if bindir is None:
        missing("PostgreSQL's server (initdb, pg_ctl under /usr/lib/postgresql/*/bin)")
    if prefix is None:
        missing("the `postgres` user or runuser (initdb refuses to run as root)")
    base = Path(tempfile.mkdtemp(prefix="mcu-store-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres")
    data = base / "data"
    try:
        _start_cluster(prefix, bindir, base, data)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL ({' '.join(exc.cmd)}): "
                    f"{exc.stderr.decode(errors='replace')[-500:]}", pytrace=False)
    try:
        yield str(base)
    finally:
        stop = [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(stop, check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _start_cluster(prefix: list[str], bindir: Path, base: Path, data: Path) -> None:
    run = [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    subprocess.run([*run, "--no-sync"], check=True, capture_output=True)
    # Unix socket only: no TCP port to collide with another server on the machine.
    options = f"-k {base} -c listen_addresses='' -c fsync=off"
    start = [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log")]
    subprocess.run([*start, "-o", options, "-w", "start"], check=True, capture_output=True)


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
