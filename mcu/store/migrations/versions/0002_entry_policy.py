"""Entry policy of a conference: end with the last chairperson, what guests may send,
whether participants may change their own layout by keypad.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = (
    ("end_when_chair_leaves", False),
    ("guests_send_audio", True),
    ("guests_send_video", True),
    ("participant_layout_control", True),
)


def upgrade() -> None:
    with op.batch_alter_table("conferences") as batch:
        for name, default in COLUMNS:
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=False,
                                       server_default=sa.true() if default else sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("conferences") as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)
