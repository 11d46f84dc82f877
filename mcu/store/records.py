"""Plain frozen records the store returns, so callers never hold ORM rows or sessions."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Self

from mcu.permissions import Privilege
from mcu.store.models import EncryptionPolicy, Repetition, RoleName


class _FromRow:
    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class UserRecord(_FromRow):
    username: str
    privilege: Privilege
    is_operator: bool
    created_at: datetime


@dataclass(frozen=True)
class ConferenceRecord(_FromRow):
    """A conference; `pin`/`guest_pin` are here for the PIN check, callers redact them."""

    id: int
    name: str
    numeric_id: str
    pin: str | None
    guest_pin: str | None
    owner: str | None
    start_time: datetime | None
    duration_seconds: int | None
    repetition: Repetition | None
    repeat_count: int | None
    repeat_until: datetime | None
    max_participants: int | None
    encryption: EncryptionPolicy
    streaming: bool
    layout: str | None
    created_at: datetime
    end_when_chair_leaves: bool = False
    guests_send_audio: bool = True
    guests_send_video: bool = True
    participant_layout_control: bool = True


@dataclass(frozen=True)
class ParticipantRecord(_FromRow):
    address: str
    display_name: str | None = None


@dataclass(frozen=True)
class CameraRecord(_FromRow):
    """A stored IP camera. `url` has no credentials; `username`/`password` are for
    dialling only: left out of repr, never returned by the API nor logged."""

    id: int
    conference_id: int
    name: str
    url: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    transport: str = "auto"
    audio: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True)
class RoleRecord(_FromRow):
    conference_id: int
    username: str
    role: RoleName


@dataclass(frozen=True)
class TokenRecord(_FromRow):
    id: int
    username: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    """The clear token exists only here, once; the database keeps its hash."""

    token: str
    record: TokenRecord


@dataclass(frozen=True)
class CallRecordEntry(_FromRow):
    id: int
    conference_numeric_id: str
    remote: str
    display_name: str | None
    started_at: datetime
    ended_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class AuditRecord(_FromRow):
    id: int
    at: datetime
    actor: str | None
    operation: str
    target: str | None
    outcome: str
