"""Alembic migrations of the store; run by `mcu.store.migrate`, no alembic.ini needed."""
