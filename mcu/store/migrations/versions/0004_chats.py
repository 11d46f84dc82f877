"""Chats (issue 17): group chats, channels, conference chats and Favorites; their
participants with seed 004 roles, messages, per-user hidden messages, poll votes, files.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _fk(
    table: str, column: str, target: str, ondelete: str = "CASCADE"
) -> sa.ForeignKeyConstraint:
    referred = target.partition(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=f"fk_{table}_{column}_{referred}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("icon", sa.String(200), nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("conference_id", sa.Integer(), nullable=True),
        sa.Column("first_visible_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _fk("chats", "owner", "users.username", "SET NULL"),
        _fk("chats", "conference_id", "conferences.id"),
        sa.PrimaryKeyConstraint("id", name="pk_chats"),
        sa.UniqueConstraint("conference_id", name="uq_chats_conference_id"),
    )
    op.create_index("ix_chats_owner", "chats", ["owner"])
    op.create_table(
        "chat_participants",
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("can_send", sa.Boolean(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("left", sa.Boolean(), nullable=False),
        sa.Column("cleared_through", sa.Integer(), nullable=False),
        sa.Column("joined_at", TZ, nullable=False),
        _fk("chat_participants", "chat_id", "chats.id"),
        _fk("chat_participants", "username", "users.username"),
        sa.PrimaryKeyConstraint("chat_id", "username", name="pk_chat_participants"),
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(64), nullable=True),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("reply_to_id", sa.Integer(), nullable=True),
        sa.Column("forward_of_id", sa.Integer(), nullable=True),
        sa.Column("forwarded_from", sa.String(200), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("edited_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _fk("chat_messages", "chat_id", "chats.id"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_messages"),
    )
    op.create_index("ix_chat_messages_chat_id_id", "chat_messages", ["chat_id", "id"])
    op.create_table(
        "chat_hidden_messages",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        _fk("chat_hidden_messages", "message_id", "chat_messages.id"),
        _fk("chat_hidden_messages", "username", "users.username"),
        sa.PrimaryKeyConstraint("message_id", "username", name="pk_chat_hidden_messages"),
    )
    op.create_table(
        "chat_poll_votes",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("option", sa.Integer(), nullable=False),
        _fk("chat_poll_votes", "message_id", "chat_messages.id"),
        _fk("chat_poll_votes", "username", "users.username"),
        sa.PrimaryKeyConstraint("message_id", "username", name="pk_chat_poll_votes"),
    )
    op.create_table(
        "chat_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(64), nullable=False),
        sa.Column("uploader", sa.String(64), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _fk("chat_files", "chat_id", "chats.id"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_files"),
        sa.UniqueConstraint("storage_key", name="uq_chat_files_storage_key"),
    )
    op.create_index("ix_chat_files_chat_id", "chat_files", ["chat_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_files_chat_id", table_name="chat_files")
    op.drop_table("chat_files")
    op.drop_table("chat_poll_votes")
    op.drop_table("chat_hidden_messages")
    op.drop_index("ix_chat_messages_chat_id_id", table_name="chat_messages")
    op.drop_table("chat_messages")
    op.drop_table("chat_participants")
    op.drop_index("ix_chats_owner", table_name="chats")
    op.drop_table("chats")
