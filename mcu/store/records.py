"""Plain frozen records the store returns, so callers never hold ORM rows or sessions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Self

from mcu.permissions import ChatKind, ChatRole, Privilege
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
class RecordingRecord(_FromRow):
    """A recording; `state` is recording, stopped (by someone or by itself, `reason`
    says why) or interrupted (the MCU stopped without closing it)."""

    id: int
    conference_id: int | None
    conference_name: str
    numeric_id: str
    started_by: str | None
    started_at: datetime
    stopped_at: datetime | None
    state: str
    reason: str | None
    size_bytes: int
    file_name: str


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


@dataclass(frozen=True)
class ChatRecord(_FromRow):
    """A chat (issue 17); `conference_id` only for a conference's chat."""

    id: int
    kind: ChatKind
    title: str
    icon: str | None
    owner: str | None
    conference_id: int | None
    first_visible_message_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class ChatMemberRecord(_FromRow):
    """A user's standing in a chat: seed 004 role, rights, blocked, left, cleared."""

    chat_id: int
    username: str
    role: ChatRole
    can_send: bool
    blocked: bool
    left: bool
    cleared_through: int
    joined_at: datetime


@dataclass(frozen=True)
class MessageRecord(_FromRow):
    """A chat message; `data` is the decoded JSON of a location, contact, sticker, poll
    or file message."""

    id: int
    chat_id: int
    author: str | None
    author_name: str
    kind: str
    text: str | None
    data: Any
    reply_to_id: int | None
    forward_of_id: int | None
    forwarded_from: str | None
    pinned: bool
    deleted: bool
    edited_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Self:
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["data"] = None if row.data is None else json.loads(row.data)
        return cls(**values)


@dataclass(frozen=True)
class ChatFileRecord(_FromRow):
    """A file sent to a chat; its bytes are on disk under `storage_key`."""

    id: int
    chat_id: int
    name: str
    content_type: str
    size: int
    storage_key: str
    uploader: str | None
    created_at: datetime


@dataclass(frozen=True)
class NodeRecord(_FromRow):
    """A cluster node as it last published itself (issue 18)."""

    node_id: str
    sip_uri: str
    http_url: str
    participants: int
    video_streams: int
    cpu_percent: float
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True)
class LeaseRecord(_FromRow):
    """Which node a running conference lives on, until when (issue 18)."""

    numeric_id: str
    node_id: str
    participants: int
    taken_at: datetime
    expires_at: datetime
