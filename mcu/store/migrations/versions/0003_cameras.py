"""IP cameras of a conference (issue 12): name, URL without credentials, the
credentials apart, transport, whether their audio is mixed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("username", sa.String(200), nullable=True),
        sa.Column("password", sa.String(200), nullable=True),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("audio", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conferences.id"],
            name="fk_cameras_conference_id_conferences",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
    )
    op.create_index("ix_cameras_conference_id", "cameras", ["conference_id"])


def downgrade() -> None:
    op.drop_index("ix_cameras_conference_id", table_name="cameras")
    op.drop_table("cameras")
