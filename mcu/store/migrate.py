"""Apply Alembic migrations programmatically; the config is built here, not in a .ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x4D4355  # any constant every node uses ("MCU")


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    """A Config for `alembic.command`; with `connection`, env.py migrates through it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%', which URL-encoded passwords contain.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, url: str) -> None:
    command.upgrade(alembic_config(url, connection), "head")


async def upgrade_head(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision in one transaction where the DB allows."""
    url = engine.url.render_as_string(hide_password=False)
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Cluster nodes starting together share one database: one migrates, the
            # others wait here and then find it at head (the lock ends with the
            # transaction).
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        await conn.run_sync(_upgrade, url)
