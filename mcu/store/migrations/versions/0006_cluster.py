"""The cluster (issue 18): nodes with their load and heartbeat, conference leases
(which node a running conference lives on; Kamailio reads and takes them too), the
participants a node runs in a conference another node holds (cascade views), and
secrets every node shares (the CSRF key, the cascade key).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("sip_uri", sa.String(200), nullable=False),
        sa.Column("http_url", sa.String(200), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("video_streams", sa.Integer(), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("heartbeat_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("node_id", name="pk_cluster_nodes"),
    )
    op.create_table(
        "conference_leases",
        sa.Column("numeric_id", sa.String(32), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("taken_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("numeric_id", name="pk_conference_leases"),
    )
    op.create_index("ix_conference_leases_node_id", "conference_leases", ["node_id"])
    op.create_table(
        "cascade_views",
        sa.Column("numeric_id", sa.String(32), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("views", sa.Text(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("numeric_id", "node_id", name="pk_cascade_views"),
    )
    op.create_table(
        "shared_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_shared_secrets"),
    )


def downgrade() -> None:
    op.drop_table("shared_secrets")
    op.drop_table("cascade_views")
    op.drop_index("ix_conference_leases_node_id", table_name="conference_leases")
    op.drop_table("conference_leases")
    op.drop_table("cluster_nodes")
