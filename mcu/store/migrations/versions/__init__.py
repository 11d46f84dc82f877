"""Alembic revision scripts (a package so setuptools installs them)."""
