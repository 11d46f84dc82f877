"""The store: an async engine, migrations at open, and the repository methods.

Every public method is one transaction: it commits whole or not at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mcu.permissions import ROOT_USERNAME, Privilege
from mcu.store import passwords
from mcu.store.chats import ChatRepository, delete_conference_chat, delete_user_chat_rows
from mcu.store.cluster import ClusterRepository
from mcu.store.errors import Conflict, Invalid, NotFound, Protected
from mcu.store.migrate import upgrade_head
from mcu.store.models import (
    ApiToken,
    AuditEntry,
    CallRecord,
    Camera,
    Conference,
    ConferenceRoleRow,
    EncryptionPolicy,
    PreconfiguredParticipant,
    Recording,
    Repetition,
    RoleName,
    User,
    utcnow,
)
from mcu.store.records import (
    AuditRecord,
    CallRecordEntry,
    CameraRecord,
    ConferenceRecord,
    IssuedToken,
    ParticipantRecord,
    RecordingRecord,
    RoleRecord,
    TokenRecord,
    UserRecord,
)

ADMIN_PASSWORD_ENV = "MCU_ADMIN__PASSWORD"
# aiosqlite logs every statement with its parameters at DEBUG: camera passwords, token
# and password hashes. Never below INFO, whatever the MCU's log level; SQLAlchemy's own
# logging hides parameters too (`hide_parameters`).
logging.getLogger("aiosqlite").setLevel(logging.INFO)
CAMERA_TRANSPORTS = ("auto", "udp", "tcp")

# Conference columns a caller may set; enum-typed ones are coerced from their API strings.
CONFERENCE_FIELDS = frozenset(
    {
        "name",
        "numeric_id",
        "pin",
        "guest_pin",
        "owner",
        "start_time",
        "duration_seconds",
        "repetition",
        "repeat_count",
        "repeat_until",
        "max_participants",
        "encryption",
        "streaming",
        "layout",
        "end_when_chair_leaves",
        "guests_send_audio",
        "guests_send_video",
        "participant_layout_control",
    }
)
_ENUM_FIELDS: dict[str, type[StrEnum]] = {
    "repetition": Repetition,
    "encryption": EncryptionPolicy,
}


async def open_store(url: str, admin_password: str | None = None) -> Store:
    """Open the database at `url`, migrate it to head and make sure `admin` exists.

    The admin's first password is `admin_password`, else `MCU_ADMIN__PASSWORD`, else a
    generated one left in `store.generated_admin_password` for the caller to print once.
    """
    engine = _create_engine(url)
    try:
        await upgrade_head(engine)
        store = Store(engine)
        # Hash the dummy now, so the first login for an unknown user costs no extra hash.
        await asyncio.to_thread(passwords.dummy_hash)
        password = admin_password or os.environ.get(ADMIN_PASSWORD_ENV) or None
        store.generated_admin_password = await store._ensure_admin(password)
    except BaseException:
        await engine.dispose()
        raise
    return store


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        # The default URL is relative (var/mcu.db): a fresh checkout has no var/ yet.
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, hide_parameters=True)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys (and so ON DELETE) unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Call records are written as calls start and end, hundreds a second under load:
    # in the default rollback journal every commit is an fsync and writers lock each
    # other out ("database is locked", records lost). A write-ahead log with NORMAL sync
    # commits without an fsync (still safe against a crash of the MCU: only a power
    # loss can lose the last commits), and readers never wait for the writer; a busy
    # writer is waited for rather than failed.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _token_hash(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash suffices and allows lookup by hash.
    return hashlib.sha256(token.encode()).hexdigest()


def _unique_violation(exc: IntegrityError, fields: Iterable[str]) -> Exception:
    """Name the field of a unique violation; other integrity errors pass through."""
    message = str(exc.orig).lower()
    if "unique" not in message:
        return exc
    for field in fields:
        if field in message:
            return Conflict(field)
    return exc


def _coerce_conference_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - CONFERENCE_FIELDS
    if unknown:
        field = sorted(unknown)[0]
        raise Invalid(field, "unknown conference field")
    out = dict(values)
    for field, enum in _ENUM_FIELDS.items():
        if out.get(field) is not None:
            try:
                out[field] = enum(out[field])
            except ValueError:
                raise Invalid(field, f"must be one of {[m.value for m in enum]}") from None
    return out


def _check_repetition(conf: Conference) -> None:
    if conf.repeat_count is not None and conf.repeat_until is not None:
        raise Invalid("repeat_until", "give a repeat count or an end date, not both")
    if conf.repetition is None and (conf.repeat_count or conf.repeat_until):
        raise Invalid("repetition", "needed when a repeat count or end date is given")


class Store(ChatRepository, ClusterRepository):
    """Async repository over one database; create with `open_store`. The chat methods
    come from `ChatRepository` (`chats.py`), the cluster's from `ClusterRepository`
    (`cluster.py`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.generated_admin_password: str | None = None

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _transaction(self, unique: Sequence[str] = ()) -> AsyncIterator[AsyncSession]:
        try:
            async with self.sessions.begin() as session:
                yield session
        except IntegrityError as exc:
            raise _unique_violation(exc, unique) from exc

    # Users ---------------------------------------------------------------

    async def _ensure_admin(self, password: str | None) -> str | None:
        if await self.get_user(ROOT_USERNAME) is not None:
            return None
        generated = None if password else passwords.generate_password()
        try:
            await self.create_user(
                ROOT_USERNAME, password or generated or "", Privilege.ADMINISTRATOR
            )
        except Conflict:
            return None  # another process created it between our check and insert
        return generated

    async def create_user(
        self,
        username: str,
        password: str,
        privilege: Privilege | str,
        is_operator: bool = False,
    ) -> UserRecord:
        privilege = _privilege(privilege)
        if not username:
            raise Invalid("username", "must not be empty")
        if not password:
            raise Invalid("password", "must not be empty")
        password_hash = await passwords.hash_password_async(password)
        async with self._transaction(unique=("username",)) as session:
            row = User(
                username=username,
                password_hash=password_hash,
                digest_ha1=passwords.digest_ha1(username, password),
                privilege=privilege,
                is_operator=is_operator,
                created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            return UserRecord.from_row(row)

    async def get_user(self, username: str) -> UserRecord | None:
        async with self._transaction() as session:
            row = await _user_row(session, username)
            return None if row is None else UserRecord.from_row(row)

    async def list_users(self) -> list[UserRecord]:
        async with self._transaction() as session:
            rows = await session.scalars(select(User).order_by(User.username))
            return [UserRecord.from_row(r) for r in rows]

    async def update_user(
        self,
        username: str,
        *,
        password: str | None = None,
        privilege: Privilege | str | None = None,
        is_operator: bool | None = None,
    ) -> UserRecord:
        new_privilege = None if privilege is None else _privilege(privilege)
        if username == ROOT_USERNAME and new_privilege not in (None, Privilege.ADMINISTRATOR):
            raise Protected("the root user admin stays an administrator")
        if password is not None and not password:
            raise Invalid("password", "must not be empty")
        password_hash = None if password is None else await passwords.hash_password_async(password)
        async with self._transaction() as session:
            row = await _user_row(session, username)
            if row is None:
                raise NotFound("user", username)
            if password_hash is not None and password is not None:
                row.password_hash = password_hash
                row.digest_ha1 = passwords.digest_ha1(username, password)
            if new_privilege is not None:
                row.privilege = new_privilege
            if is_operator is not None:
                row.is_operator = is_operator
            return UserRecord.from_row(row)

    async def delete_user(self, username: str) -> None:
        """Delete a user; their conferences lose their owner in the same transaction."""
        if username == ROOT_USERNAME:
            raise Protected("the root user admin cannot be deleted")
        async with self._transaction() as session:
            row = await _user_row(session, username)
            if row is None:
                raise NotFound("user", username)
            # Explicit, not only ON DELETE: the schema's FKs are not trusted to be enforced.
            await session.execute(
                update(Conference).where(Conference.owner == username).values(owner=None)
            )
            await session.execute(
                delete(ConferenceRoleRow).where(ConferenceRoleRow.username == username)
            )
            await session.execute(delete(ApiToken).where(ApiToken.username == username))
            await delete_user_chat_rows(session, username)
            await session.delete(row)

    async def authenticate(self, username: str, password: str) -> UserRecord | None:
        """The user if the password is right; costs one argon2 verify either way."""
        user = await self._user_with_hash(username)
        stored = user[1] if user else passwords.dummy_hash()
        ok = await passwords.verify_hash_async(stored, password)
        return user[0] if ok and user else None

    async def digest_ha1(self, username: str) -> tuple[UserRecord, str] | None:
        """The user and their Digest HA1 (realm ``passwords.DIGEST_REALM``); None when
        there is no such user or their password predates Digest."""
        async with self._transaction() as session:
            row = await _user_row(session, username)
            if row is None or row.digest_ha1 is None:
                return None
            return UserRecord.from_row(row), row.digest_ha1

    async def verify_password(self, username: str, password: str) -> bool:
        return await self.authenticate(username, password) is not None

    async def _user_with_hash(self, username: str) -> tuple[UserRecord, str] | None:
        async with self._transaction() as session:
            row = await _user_row(session, username)
            return None if row is None else (UserRecord.from_row(row), row.password_hash)

    # Conferences ---------------------------------------------------------

    async def create_conference(
        self, name: str, numeric_id: str, **fields: Any
    ) -> ConferenceRecord:
        values = _coerce_conference_fields({"name": name, "numeric_id": numeric_id, **fields})
        async with self._transaction(unique=("numeric_id",)) as session:
            await _check_owner(session, values.get("owner"))
            row = Conference(created_at=utcnow(), **values)
            row.encryption = row.encryption or EncryptionPolicy.OPTIONAL
            row.streaming = bool(row.streaming)
            _check_repetition(row)
            session.add(row)
            await session.flush()
            return ConferenceRecord.from_row(row)

    async def get_conference(self, conference_id: int) -> ConferenceRecord | None:
        async with self._transaction() as session:
            row = await session.get(Conference, conference_id)
            return None if row is None else ConferenceRecord.from_row(row)

    async def get_conference_by_numeric_id(self, numeric_id: str) -> ConferenceRecord | None:
        async with self._transaction() as session:
            row = await session.scalar(
                select(Conference).where(Conference.numeric_id == numeric_id)
            )
            return None if row is None else ConferenceRecord.from_row(row)

    async def list_conferences(self, owner: str | None = None) -> list[ConferenceRecord]:
        query = select(Conference).order_by(Conference.id)
        if owner is not None:
            query = query.where(Conference.owner == owner)
        async with self._transaction() as session:
            return [ConferenceRecord.from_row(r) for r in await session.scalars(query)]

    async def update_conference(self, conference_id: int, **changes: Any) -> ConferenceRecord:
        values = _coerce_conference_fields(changes)
        for required in ("name", "numeric_id", "encryption", "streaming"):
            if required in values and values[required] is None:
                raise Invalid(required, "must not be null")
        async with self._transaction(unique=("numeric_id",)) as session:
            row = await session.get(Conference, conference_id)
            if row is None:
                raise NotFound("conference", conference_id)
            if "owner" in values:
                await _check_owner(session, values["owner"])
            for field, value in values.items():
                setattr(row, field, value)
            _check_repetition(row)
            await session.flush()
            return ConferenceRecord.from_row(row)

    async def save_conference(
        self,
        conference_id: int | None,
        values: Mapping[str, Any],
        participants: Sequence[ParticipantRecord] | None = None,
    ) -> tuple[ConferenceRecord, list[ParticipantRecord]]:
        """Create (`conference_id` None) or change a conference and, when `participants` is
        given, replace its preconfigured participants — all in one transaction, so a
        request that fails anywhere leaves nothing half-saved. Returns the conference and
        its preconfigured participants as saved."""
        values = _coerce_conference_fields(values)
        for required in ("name", "numeric_id", "encryption", "streaming"):
            if required in values and values[required] is None:
                raise Invalid(required, "must not be null")
        if conference_id is None:
            for required in ("name", "numeric_id"):
                if not values.get(required):
                    raise Invalid(required, "must not be empty")
        for i, p in enumerate(participants or ()):
            if not p.address:
                raise Invalid(f"participants.{i}.address", "must not be empty")
        async with self._transaction(unique=("numeric_id",)) as session:
            if "owner" in values:
                await _check_owner(session, values["owner"])
            if conference_id is None:
                row = Conference(created_at=utcnow(), **values)
                row.encryption = row.encryption or EncryptionPolicy.OPTIONAL
                row.streaming = bool(row.streaming)
                session.add(row)
            else:
                row = await _conference_row(session, conference_id)
                for field, value in values.items():
                    setattr(row, field, value)
            _check_repetition(row)
            await session.flush()
            if participants is not None:
                await session.execute(
                    delete(PreconfiguredParticipant).where(
                        PreconfiguredParticipant.conference_id == row.id
                    )
                )
                session.add_all(
                    PreconfiguredParticipant(
                        conference_id=row.id, address=p.address, display_name=p.display_name
                    )
                    for p in participants
                )
                await session.flush()
            saved = await session.scalars(
                select(PreconfiguredParticipant)
                .where(PreconfiguredParticipant.conference_id == row.id)
                .order_by(PreconfiguredParticipant.id)
            )
            return ConferenceRecord.from_row(row), [ParticipantRecord.from_row(r) for r in saved]

    async def delete_conference(self, conference_id: int) -> None:
        async with self._transaction() as session:
            row = await session.get(Conference, conference_id)
            if row is None:
                raise NotFound("conference", conference_id)
            await _delete_conference_children(session, conference_id)
            await session.delete(row)

    async def set_participants(
        self, conference_id: int, participants: Sequence[ParticipantRecord]
    ) -> list[ParticipantRecord]:
        """Replace the conference's preconfigured participants, in the given order."""
        async with self._transaction() as session:
            await _conference_row(session, conference_id)
            await session.execute(
                delete(PreconfiguredParticipant).where(
                    PreconfiguredParticipant.conference_id == conference_id
                )
            )
            for p in participants:
                if not p.address:
                    raise Invalid("address", "must not be empty")
                session.add(
                    PreconfiguredParticipant(
                        conference_id=conference_id, address=p.address, display_name=p.display_name
                    )
                )
        return list(participants)

    async def list_participants(self, conference_id: int) -> list[ParticipantRecord]:
        query = (
            select(PreconfiguredParticipant)
            .where(PreconfiguredParticipant.conference_id == conference_id)
            .order_by(PreconfiguredParticipant.id)
        )
        async with self._transaction() as session:
            return [ParticipantRecord.from_row(r) for r in await session.scalars(query)]

    # IP cameras ------------------------------------------------------------

    async def create_camera(
        self,
        conference_id: int,
        name: str,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        transport: str = "auto",
        audio: bool = False,
    ) -> CameraRecord:
        """`url` must come without credentials (they go in `username`/`password`)."""
        if "@" in url.partition("://")[2].partition("/")[0]:
            raise Invalid("url", "credentials belong in username and password")
        if transport not in CAMERA_TRANSPORTS:
            raise Invalid("transport", f"must be one of {list(CAMERA_TRANSPORTS)}")
        async with self._transaction() as session:
            await _conference_row(session, conference_id)
            row = Camera(
                conference_id=conference_id, name=name, url=url, username=username,
                password=password, transport=transport, audio=audio,
            )
            session.add(row)
            await session.flush()
            return CameraRecord.from_row(row)

    async def get_camera(self, camera_id: int) -> CameraRecord | None:
        async with self._transaction() as session:
            row = await session.get(Camera, camera_id)
            return None if row is None else CameraRecord.from_row(row)

    async def list_cameras(self, conference_id: int | None = None) -> list[CameraRecord]:
        query = select(Camera).order_by(Camera.id)
        if conference_id is not None:
            query = query.where(Camera.conference_id == conference_id)
        async with self._transaction() as session:
            return [CameraRecord.from_row(r) for r in await session.scalars(query)]

    async def delete_camera(self, camera_id: int) -> bool:
        async with self._transaction() as session:
            result = await session.execute(delete(Camera).where(Camera.id == camera_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # Recordings (issue 15) --------------------------------------------------

    async def create_recording(
        self, conference_id: int, started_by: str | None, started_at: datetime | None = None
    ) -> RecordingRecord:
        """A recording of the conference, in state ``recording``; its file is named
        after its id."""
        async with self._transaction() as session:
            conference = await _conference_row(session, conference_id)
            row = Recording(
                conference_id=conference.id, conference_name=conference.name,
                numeric_id=conference.numeric_id, started_by=started_by,
                started_at=started_at or utcnow(), state="recording", size_bytes=0,
            )
            session.add(row)
            await session.flush()
            row.file_name = f"recording-{row.id}.mp4"
            await session.flush()
            return RecordingRecord.from_row(row)

    async def get_recording(self, recording_id: int) -> RecordingRecord | None:
        async with self._transaction() as session:
            row = await session.get(Recording, recording_id)
            return None if row is None else RecordingRecord.from_row(row)

    async def list_recordings(self) -> list[RecordingRecord]:
        """Newest first."""
        query = select(Recording).order_by(Recording.id.desc())
        async with self._transaction() as session:
            return [RecordingRecord.from_row(r) for r in await session.scalars(query)]

    async def finish_recording(
        self, recording_id: int, reason: str, size_bytes: int, *,
        state: str = "stopped", stopped_at: datetime | None = None,
    ) -> RecordingRecord | None:
        """Mark a running recording ended (a finished one is left as it is)."""
        async with self._transaction() as session:
            row = await session.get(Recording, recording_id)
            if row is None:
                return None
            if row.state == "recording":
                row.state, row.reason, row.size_bytes = state, reason, size_bytes
                row.stopped_at = stopped_at or utcnow()
            return RecordingRecord.from_row(row)

    async def interrupted_recordings(self) -> list[RecordingRecord]:
        """Recordings still marked running: at start-up, those a stopped MCU left."""
        query = select(Recording).where(Recording.state == "recording")
        async with self._transaction() as session:
            return [RecordingRecord.from_row(r) for r in await session.scalars(query)]

    async def delete_recording(self, recording_id: int) -> bool:
        async with self._transaction() as session:
            result = await session.execute(delete(Recording).where(Recording.id == recording_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # Conference roles ----------------------------------------------------

    async def add_role(self, conference_id: int, username: str, role: RoleName | str) -> RoleRecord:
        try:
            role = RoleName(role)
        except ValueError:
            raise Invalid("role", f"must be one of {[r.value for r in RoleName]}") from None
        async with self._transaction() as session:
            await _conference_row(session, conference_id)
            if await _user_row(session, username) is None:
                raise Invalid("username", f"no such user {username!r}")
            key = (conference_id, username, role)
            if await session.get(ConferenceRoleRow, key) is None:
                session.add(
                    ConferenceRoleRow(conference_id=conference_id, username=username, role=role)
                )
        return RoleRecord(conference_id, username, role)

    async def remove_role(self, conference_id: int, username: str, role: RoleName | str) -> bool:
        async with self._transaction() as session:
            result = await session.execute(
                delete(ConferenceRoleRow).where(
                    ConferenceRoleRow.conference_id == conference_id,
                    ConferenceRoleRow.username == username,
                    ConferenceRoleRow.role == RoleName(role),
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def list_roles(
        self, conference_id: int | None = None, username: str | None = None
    ) -> list[RoleRecord]:
        query = select(ConferenceRoleRow).order_by(
            ConferenceRoleRow.conference_id, ConferenceRoleRow.username, ConferenceRoleRow.role
        )
        if conference_id is not None:
            query = query.where(ConferenceRoleRow.conference_id == conference_id)
        if username is not None:
            query = query.where(ConferenceRoleRow.username == username)
        async with self._transaction() as session:
            return [RoleRecord.from_row(r) for r in await session.scalars(query)]

    # API tokens ----------------------------------------------------------

    async def create_token(
        self, username: str, ttl: timedelta, now: datetime | None = None
    ) -> IssuedToken:
        """Issue a bearer token; its clear text is returned here only."""
        now = now or utcnow()
        token = secrets.token_urlsafe(32)
        async with self._transaction() as session:
            if await _user_row(session, username) is None:
                raise NotFound("user", username)
            row = ApiToken(
                token_hash=_token_hash(token),
                username=username,
                created_at=now,
                expires_at=now + ttl,
            )
            session.add(row)
            await session.flush()
            return IssuedToken(token, TokenRecord.from_row(row))

    async def lookup_token(self, token: str, now: datetime | None = None) -> TokenRecord | None:
        """The token's record if it exists and has not expired at `now`."""
        query = select(ApiToken).where(
            ApiToken.token_hash == _token_hash(token), ApiToken.expires_at > (now or utcnow())
        )
        async with self._transaction() as session:
            row = await session.scalar(query)
            return None if row is None else TokenRecord.from_row(row)

    async def revoke_token(self, token: str) -> bool:
        async with self._transaction() as session:
            result = await session.execute(
                delete(ApiToken).where(ApiToken.token_hash == _token_hash(token))
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_tokens(self, username: str, keep: str | None = None) -> int:
        """End every session of ``username`` but ``keep`` (after a password change)."""
        query = delete(ApiToken).where(ApiToken.username == username)
        if keep is not None:
            query = query.where(ApiToken.token_hash != _token_hash(keep))
        async with self._transaction() as session:
            return int((await session.execute(query)).rowcount)  # type: ignore[attr-defined]

    async def purge_expired_tokens(self, now: datetime | None = None) -> int:
        async with self._transaction() as session:
            result = await session.execute(
                delete(ApiToken).where(ApiToken.expires_at <= (now or utcnow()))
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # Call records (CDR) --------------------------------------------------

    async def record_call(
        self,
        conference_numeric_id: str,
        remote: str,
        started_at: datetime,
        ended_at: datetime | None = None,
        display_name: str | None = None,
        reason: str | None = None,
    ) -> CallRecordEntry:
        async with self._transaction() as session:
            row = CallRecord(
                conference_numeric_id=conference_numeric_id,
                remote=remote,
                display_name=display_name,
                started_at=started_at,
                ended_at=ended_at,
                reason=reason,
            )
            session.add(row)
            await session.flush()
            return CallRecordEntry.from_row(row)

    async def finish_call(
        self, call_id: int, ended_at: datetime, reason: str | None
    ) -> CallRecordEntry:
        """Close a record written at call start, so crashed calls still leave a trace."""
        async with self._transaction() as session:
            row = await session.get(CallRecord, call_id)
            if row is None:
                raise NotFound("call record", call_id)
            row.ended_at = ended_at
            row.reason = reason
            return CallRecordEntry.from_row(row)

    async def list_calls(
        self, conference_numeric_id: str | None = None, limit: int = 100
    ) -> list[CallRecordEntry]:
        """Newest first."""
        query = select(CallRecord).order_by(CallRecord.started_at.desc(), CallRecord.id.desc())
        if conference_numeric_id is not None:
            query = query.where(CallRecord.conference_numeric_id == conference_numeric_id)
        async with self._transaction() as session:
            return [CallRecordEntry.from_row(r) for r in await session.scalars(query.limit(limit))]

    # Audit log -----------------------------------------------------------

    async def audit(
        self,
        actor: str | None,
        operation: str,
        target: str | None,
        outcome: str,
        at: datetime | None = None,
    ) -> AuditRecord:
        async with self._transaction() as session:
            row = AuditEntry(
                at=at or utcnow(), actor=actor, operation=operation, target=target, outcome=outcome
            )
            session.add(row)
            await session.flush()
            return AuditRecord.from_row(row)

    async def list_audit(self, actor: str | None = None, limit: int = 100) -> list[AuditRecord]:
        """Newest first."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc())
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        async with self._transaction() as session:
            return [AuditRecord.from_row(r) for r in await session.scalars(query.limit(limit))]


def _privilege(value: Privilege | str) -> Privilege:
    try:
        return Privilege(value)
    except ValueError:
        raise Invalid("privilege", f"must be one of {[p.value for p in Privilege]}") from None


async def _user_row(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def _conference_row(session: AsyncSession, conference_id: int) -> Conference:
    row = await session.get(Conference, conference_id)
    if row is None:
        raise NotFound("conference", conference_id)
    return row


async def _check_owner(session: AsyncSession, owner: str | None) -> None:
    if owner is not None and await _user_row(session, owner) is None:
        raise Invalid("owner", f"no such user {owner!r}")


async def _delete_conference_children(session: AsyncSession, conference_id: int) -> None:
    # Explicit as well as ON DELETE CASCADE, for databases that do not enforce it.
    await session.execute(
        delete(PreconfiguredParticipant).where(
            PreconfiguredParticipant.conference_id == conference_id
        )
    )
    await session.execute(
        delete(ConferenceRoleRow).where(ConferenceRoleRow.conference_id == conference_id)
    )
    await session.execute(delete(Camera).where(Camera.conference_id == conference_id))
    await delete_conference_chat(session, conference_id)
