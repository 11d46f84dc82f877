"""ORM models: the database schema as SQLAlchemy 2 declarative classes.

Migrations in `migrations/versions` must create exactly this schema; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mcu.permissions import Privilege

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
