"""ORM models: the database schema as SQLAlchemy 2 declarative classes.

Migrations in `migrations/versions` must create exactly this schema; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mcu.permissions import ChatKind, ChatRole, Privilege

# Named constraints, so migrations can alter them and IntegrityErrors name the column.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Repetition(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class EncryptionPolicy(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    OFF = "off"


class RoleName(StrEnum):
    """Roles stored per conference; owner and operator come from other columns."""

    MODERATOR = "moderator"
    SPEAKER = "speaker"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite keeps no zone, so store naive UTC there."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _enum(cls: type[StrEnum], name: str) -> Enum:
    # Stored as plain strings (the API identifiers), not as native DB enums: adding a
    # value then needs no ALTER TYPE on PostgreSQL.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=40,
        values_callable=lambda e: [m.value for m in e],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # MD5(username:realm:password) for Digest (RTSP viewers; migration 0005): set with
    # the password, so accounts whose password predates it answer Basic only.
    digest_ha1: Mapped[str | None] = mapped_column(String(64))
    privilege: Mapped[Privilege] = mapped_column(_enum(Privilege, "privilege"))
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conference(Base):
    __tablename__ = "conferences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    numeric_id: Mapped[str] = mapped_column(String(32), unique=True)
    pin: Mapped[str | None] = mapped_column(String(32))
    guest_pin: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("users.username", ondelete="SET NULL"), index=True
    )
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    repetition: Mapped[Repetition | None] = mapped_column(_enum(Repetition, "repetition"))
    repeat_count: Mapped[int | None] = mapped_column(Integer)
    repeat_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_participants: Mapped[int | None] = mapped_column(Integer)
    encryption: Mapped[EncryptionPolicy] = mapped_column(
        _enum(EncryptionPolicy, "encryption_policy"), default=EncryptionPolicy.OPTIONAL
    )
    streaming: Mapped[bool] = mapped_column(Boolean, default=False)
    layout: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Entry policy (migration 0002).
    end_when_chair_leaves: Mapped[bool] = mapped_column(Boolean, default=False)
    guests_send_audio: Mapped[bool] = mapped_column(Boolean, default=True)
    guests_send_video: Mapped[bool] = mapped_column(Boolean, default=True)
    participant_layout_control: Mapped[bool] = mapped_column(Boolean, default=True)


class PreconfiguredParticipant(Base):
    """Someone the MCU dials when the conference starts."""

    __tablename__ = "preconfigured_participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("conferences.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(200))


class Camera(Base):
    """An IP camera pulled into a conference over RTSP (issue 12, migration 0003).

    `url` never holds credentials; `username` and `password` are kept apart, in clear
    (the camera needs them back to answer Digest), and are never returned or logged.
    """

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("conferences.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000))
    username: Mapped[str | None] = mapped_column(String(200))
    password: Mapped[str | None] = mapped_column(String(200))
    transport: Mapped[str] = mapped_column(String(8), default="auto")
    audio: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Recording(Base):
    """A recording of a conference (issue 15, migration 0005): a fragmented MP4 file
    under the recording folder. The conference may be deleted after; its name and
    number stay, and so does the recording until it is deleted itself."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conference_id: Mapped[int | None] = mapped_column(
        ForeignKey("conferences.id", ondelete="SET NULL"), index=True
    )
    conference_name: Mapped[str] = mapped_column(String(200))
    numeric_id: Mapped[str] = mapped_column(String(32))
    started_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="recording")
    reason: Mapped[str | None] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # > 2 GiB happens
    file_name: Mapped[str] = mapped_column(String(200), default="")


class ConferenceRoleRow(Base):
    __tablename__ = "conference_roles"

    conference_id: Mapped[int] = mapped_column(
        ForeignKey("conferences.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.username", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[RoleName] = mapped_column(_enum(RoleName, "conference_role"), primary_key=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.username", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallRecord(Base):
    """A CDR: kept by numeric id, not FK, so records outlive deleted conferences."""

    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conference_numeric_id: Mapped[str] = mapped_column(String(32), index=True)
    remote: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(200))


class AuditEntry(Base):
    """Audit rows name the actor as text, so they outlive deleted users."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(200))


# Chats (issue 17, migration 0004) ------------------------------------------------------


class Chat(Base):
    """A group chat, a channel, a conference's chat (one per conference) or a user's
    Favorites (one per user: `owner`). `first_visible_message_id`: earlier messages are
    hidden from everyone."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[ChatKind] = mapped_column(_enum(ChatKind, "chat_kind"))
    title: Mapped[str] = mapped_column(String(200))
    icon: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("users.username", ondelete="SET NULL"), index=True
    )
    conference_id: Mapped[int | None] = mapped_column(
        ForeignKey("conferences.id", ondelete="CASCADE"), unique=True
    )
    first_visible_message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatParticipant(Base):
    """A user in a chat with a seed 004 role. `left` keeps the row (the user may be added
    again); `cleared_through`: messages up to this id are cleared for this user only."""

    __tablename__ = "chat_participants"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.username", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[ChatRole] = mapped_column(_enum(ChatRole, "chat_role"))
    can_send: Mapped[bool] = mapped_column(Boolean, default=True)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    left: Mapped[bool] = mapped_column(Boolean, default=False)
    cleared_through: Mapped[int] = mapped_column(Integer, default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatMessage(Base):
    """One message. `author` is a username kept as text (messages outlive users; None for
    a SIP endpoint), `author_name` what is shown. `data` is the JSON of a location,
    contact, sticker, poll or file; `deleted` (for everyone) blanks text and data."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_chat_id_id", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    author: Mapped[str | None] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[str | None] = mapped_column(Text)
    reply_to_id: Mapped[int | None] = mapped_column(Integer)
    forward_of_id: Mapped[int | None] = mapped_column(Integer)
    forwarded_from: Mapped[str | None] = mapped_column(String(200))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatHiddenMessage(Base):
    """A message one user deleted for themself."""

    __tablename__ = "chat_hidden_messages"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.username", ondelete="CASCADE"), primary_key=True
    )


class ChatPollVote(Base):
    """One user's vote in a poll message: the index of the option chosen."""

    __tablename__ = "chat_poll_votes"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.username", ondelete="CASCADE"), primary_key=True
    )
    option: Mapped[int] = mapped_column(Integer)


class ChatFile(Base):
    """A file sent to a chat: its bytes live on disk under `storage_key` (`FileStore`)."""

    __tablename__ = "chat_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    uploader: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClusterNode(Base):
    """A node of the cluster (issue 18, migration 0006): where Kamailio and the other
    nodes reach it, its load, and its heartbeat (a node whose heartbeat is older than
    ``cluster.lease_s`` is gone)."""

    __tablename__ = "cluster_nodes"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sip_uri: Mapped[str] = mapped_column(String(200))  # sip:host:port, as in dispatcher.list
    http_url: Mapped[str] = mapped_column(String(200))  # http://host:port of the web control
    participants: Mapped[int] = mapped_column(Integer, default=0)
    video_streams: Mapped[int] = mapped_column(Integer, default=0)
    cpu_percent: Mapped[float] = mapped_column(Float, default=0.0)  # of one core
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConferenceLease(Base):
    """Which node a running conference lives on (issue 18, migration 0006). Taken by
    Kamailio when it places a conference's first call (or by the node that has it),
    renewed by the holder's heartbeat, free for another node once ``expires_at`` is
    past. Keyed by the number dialled: ad hoc conferences have no other row."""

    __tablename__ = "conference_leases"

    numeric_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CascadeView(Base):
    """The participants a node runs in a conference another node holds (issue 18,
    migration 0006): published by that node each heartbeat, so the holder's web
    control lists them beside its own (``NODE~ID``) and may act on them."""

    __tablename__ = "cascade_views"

    numeric_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    views: Mapped[str] = mapped_column(Text)  # JSON: ParticipantView.as_json() of each
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SharedSecret(Base):
    """Secrets every node of a cluster must agree on, made once by the first node
    (migration 0006): the web control's CSRF key, so a page served by one node may
    post to another."""

    __tablename__ = "shared_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
