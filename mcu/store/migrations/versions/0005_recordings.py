"""Recordings of conferences (issue 15): who started one and when, its state, the
reason it stopped, its file's name and size. A deleted conference leaves its
recordings (conference_id set null; name and number kept). And users' Digest HA1 for
RTSP viewers (set with each new password).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=True),
        sa.Column("conference_name", sa.String(200), nullable=False),
        sa.Column("numeric_id", sa.String(32), nullable=False),
        sa.Column("started_by", sa.String(64), nullable=True),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("stopped_at", TZ, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conferences.id"],
            name="fk_recordings_conference_id_conferences",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_recordings"),
    )
    op.create_index("ix_recordings_conference_id", "recordings", ["conference_id"])
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("digest_ha1", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.drop_column("digest_ha1")
    op.drop_index("ix_recordings_conference_id", table_name="recordings")
    op.drop_table("recordings")
