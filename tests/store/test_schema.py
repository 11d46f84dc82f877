"""Migrations: build the schema from nothing, match the models, rerun harmlessly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection

from mcu.store import open_store
from mcu.store.migrate import alembic_config
from mcu.store.models import Base
from tests.store.conftest import ADMIN_PASSWORD

TABLES = {
    "users",
    "conferences",
    "preconfigured_participants",
    "conference_roles",
    "api_tokens",
    "call_records",
    "audit_log",
    "cameras",
    "cluster_nodes",
    "conference_leases",
    "shared_secrets",
    "chats",
    "chat_participants",
    "chat_messages",
    "chat_hidden_messages",
    "chat_poll_votes",
    "chat_files",
    "alembic_version",
}


def _schema_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return compare_metadata(context, Base.metadata)


async def test_migrations_create_schema_and_rerun_is_harmless(store_url: str) -> None:
    first = await open_store(store_url, admin_password=ADMIN_PASSWORD)
    try:
        async with first.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        await first.create_user("alice", "pw", "conference_creation")
    finally:
        await first.close()
    assert TABLES <= tables
    assert version == "0006"

    second = await open_store(store_url, admin_password="ignored-now")
    try:
        assert second.generated_admin_password is None
        assert await second.get_user("alice") is not None
        # The admin made at first start keeps its first password.
        assert await second.verify_password("admin", ADMIN_PASSWORD)
        assert len(await second.list_users()) == 2
    finally:
        await second.close()


async def test_migrated_schema_matches_models(store_url: str) -> None:
    store = await open_store(store_url, admin_password=ADMIN_PASSWORD)
    try:
        async with store.engine.connect() as conn:
            diff = await conn.run_sync(_schema_diff)
    finally:
        await store.close()
    assert diff == []


async def test_relative_sqlite_path_gets_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite+aiosqlite:///var/mcu.db", admin_password=ADMIN_PASSWORD)
    await store.close()
    assert (tmp_path / "var" / "mcu.db").is_file()


def test_standalone_alembic_upgrade_and_downgrade(tmp_path: Path) -> None:
    """env.py also works without a handed-over connection, e.g. from a developer's shell."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        with engine.connect() as conn:
            assert TABLES <= set(inspect(conn).get_table_names())
        command.downgrade(config, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
