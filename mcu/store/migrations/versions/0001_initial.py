"""Initial schema: users, conferences, participants, roles, tokens, CDR, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the model types: a migration must not change when models do.
TZ = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=False, length=40)


def upgrade() -> None:
    _users()
    _conferences()
    _preconfigured_participants()
    _conference_roles()
    _api_tokens()
    _call_records()
    _audit_log()


def _users() -> None:
    privilege = _enum(
        "privilege",
        "administrator",
        "conference_creation_full_control",
        "conference_creation_limited_control",
        "conference_creation",
        "conference_detail",
        "conference_list_streaming",
        "conference_list_only",
        "security_administrator",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("privilege", privilege, nullable=False),
        sa.Column("is_operator", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )


def _conferences() -> None:
    op.create_table(
        "conferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("numeric_id", sa.String(32), nullable=False),
        sa.Column("pin", sa.String(32), nullable=True),
        sa.Column("guest_pin", sa.String(32), nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("start_time", TZ, nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("repetition", _enum("repetition", "daily", "weekly", "monthly"), nullable=True),
        sa.Column("repeat_count", sa.Integer(), nullable=True),
        sa.Column("repeat_until", TZ, nullable=True),
        sa.Column("max_participants", sa.Integer(), nullable=True),
        sa.Column(
            "encryption",
            _enum("encryption_policy", "required", "optional", "off"),
            nullable=False,
        ),
        sa.Column("streaming", sa.Boolean(), nullable=False),
        sa.Column("layout", sa.String(64), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner"],
            ["users.username"],
            name="fk_conferences_owner_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_conferences"),
        sa.UniqueConstraint("numeric_id", name="uq_conferences_numeric_id"),
    )
    op.create_index("ix_conferences_owner", "conferences", ["owner"])


def _preconfigured_participants() -> None:
    op.create_table(
        "preconfigured_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conferences.id"],
            name="fk_preconfigured_participants_conference_id_conferences",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_preconfigured_participants"),
    )
    op.create_index(
        "ix_preconfigured_participants_conference_id",
        "preconfigured_participants",
        ["conference_id"],
    )


def _conference_roles() -> None:
    op.create_table(
        "conference_roles",
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", _enum("conference_role", "moderator", "speaker"), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conferences.id"],
            name="fk_conference_roles_conference_id_conferences",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["username"],
            ["users.username"],
            name="fk_conference_roles_username_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conference_id", "username", "role", name="pk_conference_roles"),
    )


def _api_tokens() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["username"],
            ["users.username"],
            name="fk_api_tokens_username_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_username", "api_tokens", ["username"])


def _call_records() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_numeric_id", sa.String(32), nullable=False),
        sa.Column("remote", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_call_records"),
    )
    op.create_index(
        "ix_call_records_conference_numeric_id", "call_records", ["conference_numeric_id"]
    )


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "call_records",
        "api_tokens",
        "conference_roles",
        "preconfigured_participants",
        "conferences",
        "users",
    ):
        op.drop_table(table)
