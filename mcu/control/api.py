"""The JSON API under /api/v1: tokens, conferences, and who is in them.

Each route runs in the same order: authenticate (401), find the conference (404),
`authorize` (403 naming the rule), read the body (422 naming the field), act
(404/409/422/503 from the live MCU or the store). Bodies are read by hand after
`authorize` so a forbidden request never learns what a valid body looks like.

A configuration write asks `authorize` once per field group it touches (schedule,
repetition, streaming, preconfigured participants, PINs, layout, owner, the rest) and
saves everything in one store transaction. PINs are shown in clear only by
``GET /conferences/{id}`` and only to who has full control (``view_pin``); writes and
lists say only whether a PIN is set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    ValidationError,
)

from layouts.registry import available_layouts
from mcu.control.access import (
    THROTTLED,
    Control,
    ControlError,
    Principal,
    admit_login,
    allowed,
    audit,
    conference_target,
    control_of,
    load_conference,
    parse_body,
    principal_of,
    require,
    source_of,
    validation_error,
)
from mcu.live import DialOutRefused
from mcu.permissions import (
    Actor,
    ConferenceTarget,
    Listing,
    NewConferenceTarget,
    Operation,
    OwnerChangeTarget,
    listing,
)
from mcu.schedule import active_at
from mcu.store import (
    ConferenceRecord,
    EncryptionPolicy,
    ParticipantRecord,
    Repetition,
    RoleName,
)
from mcu.store.store import CONFERENCE_FIELDS

Op = Operation
Digits = Annotated[str, StringConstraints(pattern=r"^[0-9]+$", min_length=1, max_length=32)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# A SIP or SIPS URI, as the MCU dials it (the live MCU still refuses what it cannot).
SipAddress = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[sS][iI][pP][sS]?:\S+$", max_length=255),
]
MessageText = Annotated[str, StringConstraints(max_length=500)]  # "" clears the message
LayoutName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
When = Annotated[AwareDatetime, Strict()]  # ISO 8601 with a zone, nothing else
MAX_DURATION_S = 366 * 24 * 3600
Seconds = Annotated[int, Strict(), Field(ge=1, le=MAX_DURATION_S)]
Count = Annotated[int, Strict(), Field(ge=1, le=10_000)]
Seats = Annotated[int, Strict(), Field(ge=1, le=10_000)]
MAX_PRECONFIGURED = 100
# The shortest gap between two occurrences: one occurrence must end before the next.
PERIOD = {
    Repetition.DAILY: timedelta(days=1),
    Repetition.WEEKLY: timedelta(weeks=1),
    Repetition.MONTHLY: timedelta(days=28),
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_Body):
    username: str
    password: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


class ParticipantIn(_Body):
    """A preconfigured participant, dialled when the conference starts."""

    address: SipAddress
    display_name: Name | None = None


class _ConferenceFields(_Body):
    pin: Digits | None = None
    guest_pin: Digits | None = None
    owner: Username | None = None  # on create, absent: the creator; null: no owner
    start_time: When | None = None
    duration_seconds: Seconds | None = None
    repetition: Repetition | None = None
    repeat_count: Count | None = None
    repeat_until: When | None = None
    max_participants: Seats | None = None
    encryption: EncryptionPolicy | None = None
    streaming: StrictBool | None = None
    layout: LayoutName | None = None
    end_when_chair_leaves: StrictBool | None = None
    guests_send_audio: StrictBool | None = None
    guests_send_video: StrictBool | None = None
    participant_layout_control: StrictBool | None = None
    participants: list[ParticipantIn] | None = Field(None, max_length=MAX_PRECONFIGURED)


class ConferenceCreate(_ConferenceFields):
    name: Name
    numeric_id: Digits


class ConferenceUpdate(_ConferenceFields):
    name: Name | None = None
    numeric_id: Digits | None = None


class MuteRequest(_Body):
    muted: StrictBool


class ImportantRequest(_Body):
    important: StrictBool


class LayoutRequest(_Body):
    layout: LayoutName | None  # None: the conference's layout


class MessageRequest(_Body):
    text: MessageText


class PanesRequest(_Body):
    # Participant ids in cell order; null keeps a cell in the usual order.
    panes: Annotated[list[Annotated[str, Field(max_length=64)] | None], Field(max_length=16)]


class VideoFormatRequest(_Body):
    format: Literal["widescreen", "standard"]  # 16:9 or 4:3


class DialOutRequest(_Body):
    address: SipAddress
    display_name: Name | None = None


class DialOutOut(BaseModel):
    id: str


class RoleRequest(_Body):
    username: Username
    role: RoleName


class RoleOut(BaseModel):
    username: str
    role: RoleName


class ConferenceOut(BaseModel):
    id: int
    name: str
    numeric_id: str
    owner: str | None
    has_pin: bool
    has_guest_pin: bool


class ParticipantConfigOut(BaseModel):
    address: str
    display_name: str | None


class ConferenceDetail(ConferenceOut):
    """A conference as its viewer may see it: configuration only with full control
    (`view_configuration`), PINs in clear only on GET with `view_pin`."""

    active: bool
    pin: str | None = None
    guest_pin: str | None = None
    start_time: datetime | None = None
    duration_seconds: int | None = None
    repetition: Repetition | None = None
    repeat_count: int | None = None
    repeat_until: datetime | None = None
    max_participants: int | None = None
    encryption: EncryptionPolicy | None = None
    streaming: bool | None = None
    layout: str | None = None
    end_when_chair_leaves: bool | None = None
    guests_send_audio: bool | None = None
    guests_send_video: bool | None = None
    participant_layout_control: bool | None = None
    participants: list[ParticipantConfigOut] | None = None


class ConferenceLink(ConferenceOut):
    """A conference the actor may open."""

    listing: Literal[Listing.LINK]


class ConferenceName(BaseModel):
    """Seed 003, no control: the conference "presented as names rather than hyperlinks"."""

    listing: Literal[Listing.NAME_ONLY]
    name: str


class ParticipantOut(BaseModel):
    id: str
    display_name: str
    remote: str
    state: str
    role: str | None
    muted: bool
    speaking: bool = False
    important: bool = False
    layout: str | None = None
    message: str | None = None


class ErrorOut(BaseModel):
    detail: str
    rule: str | None = None
    field: str | None = None


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    # Bodies are parsed after authorize, so describe them to OpenAPI by hand; nested
    # models are inlined, as openapi_extra cannot add to components/schemas.
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)
}


def conference_json(record: ConferenceRecord) -> dict[str, Any]:
    """A conference as the API shows it: PINs only as whether they are set."""
    return {
        "id": record.id,
        "name": record.name,
        "numeric_id": record.numeric_id,
        "owner": record.owner,
        "has_pin": bool(record.pin),
        "has_guest_pin": bool(record.guest_pin),
    }


def conference_ref(record: ConferenceRecord) -> str:
    return f"conference:{record.id}"


def participant_ref(record: ConferenceRecord, participant_id: str) -> str:
    return f"conference:{record.id} participant:{participant_id}"


def _check_pins(pin: str | None, guest_pin: str | None) -> None:
    # A guest PIN alone, or equal to the chair's, would make the two roles indistinguishable.
    if guest_pin is not None and pin is None:
        raise ControlError(422, "a guest PIN needs a chairperson PIN", field="guest_pin")
    if guest_pin is not None and guest_pin == pin:
        raise ControlError(422, "must differ from the chairperson PIN", field="guest_pin")


def _peek(raw: bytes) -> dict[str, Any]:
    """The body's top-level keys, if it is a JSON object, for choosing what to authorize."""
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# Seed 003's "configuration access", one operation per part it names: the start and end
# time, the repetition, streaming, the preconfigured participants; PINs (the PIN issue)
# and the conference custom layout ("changing live conference parameters") have their
# own. Every other field is CONFIGURE_CONFERENCE; `owner` is CHANGE_OWNER, asked apart.
FIELD_OPERATIONS: Mapping[str, Operation] = {
    "pin": Op.CONFIGURE_PIN,
    "guest_pin": Op.CONFIGURE_PIN,
    "start_time": Op.CONFIGURE_SCHEDULE,
    "duration_seconds": Op.CONFIGURE_SCHEDULE,
    "repetition": Op.CONFIGURE_REPETITION,
    "repeat_count": Op.CONFIGURE_REPETITION,
    "repeat_until": Op.CONFIGURE_REPETITION,
    "streaming": Op.CONFIGURE_STREAMING,
    "participants": Op.CONFIGURE_PRECONFIGURED_PARTICIPANTS,
    "layout": Op.CONFERENCE_CUSTOM_LAYOUT,
    # Seed 003, limited control: "enable or disable the participants' ability to affect
    # their own layouts via Far-End Camera Control or DTMF tones".
    "participant_layout_control": Op.PARTICIPANT_LAYOUT_CONTROL,
}
OPERATION_ORDER = (
    Op.CONFIGURE_CONFERENCE,
    Op.CONFIGURE_PIN,
    Op.CONFIGURE_SCHEDULE,
    Op.CONFIGURE_REPETITION,
    Op.CONFIGURE_STREAMING,
    Op.CONFIGURE_PRECONFIGURED_PARTICIPANTS,
    Op.CONFERENCE_CUSTOM_LAYOUT,
    Op.PARTICIPANT_LAYOUT_CONTROL,
)
# Fields a request may leave out but not set to null.
NOT_NULL = frozenset(
    {
        "name",
        "numeric_id",
        "encryption",
        "streaming",
        "end_when_chair_leaves",
        "guests_send_audio",
        "guests_send_video",
        "participant_layout_control",
        "participants",
    }
)
# The configuration fields of a conference, as GET shows them to full control: what the
# store lets a caller set, less what every viewer sees (and the PINs, shown by VIEW_PIN).
CONFIG_FIELDS = tuple(
    f.name for f in dataclass_fields(ConferenceRecord)
    if f.name in CONFERENCE_FIELDS - {"name", "numeric_id", "pin", "guest_pin", "owner"}
)
NEW_CONFERENCE: Mapping[str, Any] = {f.name: None for f in dataclass_fields(ConferenceRecord)}


def operations_for(keys: Iterable[str]) -> list[Operation]:
    """The operations a body with these top-level keys needs, in a fixed order (the
    first refused is the 403's rule); `owner` is left to CHANGE_OWNER."""
    wanted = {FIELD_OPERATIONS.get(k, Op.CONFIGURE_CONFERENCE) for k in keys if k != "owner"}
    return [op for op in OPERATION_ORDER if op in wanted]


def field_groups(keys: Iterable[str]) -> list[tuple[Operation, list[str]]]:
    """The changed fields under the operation that allowed them, for the audit."""
    keys = [k for k in keys if k != "owner"]
    return [
        (op, sorted(k for k in keys if FIELD_OPERATIONS.get(k, Op.CONFIGURE_CONFERENCE) is op))
        for op in operations_for(keys)
    ]


def conference_detail_json(
    record: ConferenceRecord,
    participants: Iterable[ParticipantRecord],
    *,
    now: datetime,
    configuration: bool,
    pins: bool,
) -> dict[str, Any]:
    """A conference with whether it is in its schedule window now (`active`); with
    `configuration` its whole configuration, with `pins` its PINs in clear."""
    out = {**conference_json(record), "active": active_at(record, now)}
    if configuration:
        out.update({name: getattr(record, name) for name in CONFIG_FIELDS})
        out["participants"] = [
            {"address": p.address, "display_name": p.display_name} for p in participants
        ]
    if pins:
        out.update(pin=record.pin, guest_pin=record.guest_pin)
    return out


def _check_not_null(body: BaseModel) -> None:
    for name in sorted(body.model_fields_set & NOT_NULL):
        if getattr(body, name) is None:
            raise ControlError(422, "must not be null", field=name)


def check_configuration(
    merged: Mapping[str, Any], changed: Iterable[str], layouts: Iterable[str] | None = None
) -> None:
    """Rules between fields, on the configuration as it would be saved; ``layouts``:
    the layout names the MCU knows (built-ins when None)."""
    _check_pins(merged["pin"], merged["guest_pin"])
    start, until = merged["start_time"], merged["repeat_until"]
    repetition, duration = merged["repetition"], merged["duration_seconds"]
    if start is None:
        for name in ("duration_seconds", "repetition"):
            if merged[name] is not None:
                raise ControlError(422, "needs a start_time", field=name)
    if merged["repeat_count"] is not None and until is not None:
        raise ControlError(422, "give repeat_count or repeat_until, not both", field="repeat_until")
    if repetition is None and (merged["repeat_count"] is not None or until is not None):
        raise ControlError(422, "needed with repeat_count or repeat_until", field="repetition")
    if until is not None and start is not None and until < start:
        raise ControlError(422, "is before the start_time", field="repeat_until")
    if repetition is not None and duration is not None:
        if timedelta(seconds=duration) > PERIOD[Repetition(repetition)]:
            raise ControlError(
                422, "longer than the time between two occurrences", field="duration_seconds"
            )
    layout = merged["layout"]
    known = list(layouts) if layouts is not None else available_layouts()
    if "layout" in changed and layout is not None and layout not in known:
        raise ControlError(422, f"unknown layout; one of {known}", field="layout")


def _participants(body: _ConferenceFields) -> list[ParticipantRecord] | None:
    if body.participants is None:
        return None
    seen: set[str] = set()
    for i, p in enumerate(body.participants):
        if p.address.lower() in seen:
            raise ControlError(422, "listed twice", field=f"participants.{i}.address")
        seen.add(p.address.lower())
    return [ParticipantRecord(p.address, p.display_name) for p in body.participants]


async def _require_all(
    ctl: Control, actor: Actor, operations: Iterable[Operation], target: ConferenceTarget, ref: str
) -> None:
    for operation in operations:
        await require(ctl, actor, operation, target, audit_target=ref, audited=True)


async def _require_owner_change(
    ctl: Control, actor: Actor, record: ConferenceRecord, target: ConferenceTarget, raw: object
) -> None:
    """Seed 003: only administrator / conference_creation_full_control change an owner,
    to a user with conference creation rights or to none. Naming the present owner
    again changes nothing and needs nothing; a malformed value asks only for the right
    to change (and then gets its 422)."""
    if raw == record.owner:
        return
    new_owner = raw if isinstance(raw, str) and raw else None
    user = None if new_owner is None else await ctl.store.get_user(new_owner)
    change = OwnerChangeTarget(target, new_owner, None if user is None else user.privilege)
    await require(
        ctl, actor, Op.CHANGE_OWNER, change, audit_target=conference_ref(record), audited=True
    )


def _now() -> datetime:
    return datetime.now(UTC)


Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS)

    @router.post(
        "/auth/token",
        response_model=TokenResponse,
        openapi_extra=_body_doc(TokenRequest),
        tags=["auth"],
    )
    async def issue_token(request: Request, ctl: Ctl) -> TokenResponse:
        """A bearer token for `Authorization: Bearer`; same 401 for any wrong pair."""
        body = await parse_body(request, TokenRequest)
        wait = await admit_login(ctl, request, body.username, "api-token")
        if wait:
            return JSONResponse(  # type: ignore[return-value]
                {"detail": THROTTLED}, status_code=429, headers={"Retry-After": str(wait)}
            )
        user = await ctl.store.authenticate(body.username, body.password)
        if user is not None:
            ctl.throttle.succeeded(source_of(request))
        if user is None:
            await audit(ctl, body.username, "login", "api-token", "failed")
            raise ControlError(401, "wrong username or password")
        issued = await ctl.store.create_token(user.username, ctl.session_ttl)
        await audit(ctl, user.username, "login", "api-token", "ok")
        return TokenResponse(access_token=issued.token)

    @router.delete("/auth/token", status_code=204, tags=["auth"])
    async def revoke_token(principal: Auth, ctl: Ctl) -> Response:
        """Revoke the token (or session) this request is authenticated with."""
        await ctl.store.revoke_token(principal.token)
        await audit(ctl, principal.actor.username, "logout", None, "ok")
        return Response(status_code=204)

    @router.get(
        "/conferences", response_model=list[ConferenceLink | ConferenceName], tags=["conferences"]
    )
    async def list_conferences(principal: Auth, ctl: Ctl) -> list[dict[str, Any]]:
        """Conferences the actor controls in full; others by name only, or not at all."""
        actor = principal.actor
        await require(ctl, actor, Op.LIST_CONFERENCES, None)
        roles = await ctl.store.list_roles()
        out: list[dict[str, Any]] = []
        for record in await ctl.store.list_conferences():
            shown = listing(actor, conference_target(record, roles))
            if shown is Listing.LINK:
                out.append({"listing": shown, **conference_json(record)})
            elif shown is Listing.NAME_ONLY:
                out.append({"listing": shown, "name": record.name})
        return out

    @router.post(
        "/conferences",
        status_code=201,
        response_model=ConferenceDetail,
        response_model_exclude_unset=True,
        openapi_extra=_body_doc(ConferenceCreate),
        tags=["conferences"],
    )
    async def create_conference(request: Request, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """Create a conference with any of its configuration; the creator owns it unless
        the body names an `owner` (only those who may change owners may)."""
        actor = principal.actor
        ref = "conference:new"
        # May this actor create at all (as the owner)? Then: may they name this owner?
        await require(
            ctl,
            actor,
            Op.CREATE_CONFERENCE,
            NewConferenceTarget(actor.username, actor.privilege),
            audit_target=ref,
            audited=True,
        )
        raw = _peek(await request.body())
        named = raw.get("owner", actor.username)
        if named != actor.username and (named is None or isinstance(named, str)):
            user = None if named is None else await ctl.store.get_user(named)
            target = NewConferenceTarget(named, None if user is None else user.privilege)
            await require(ctl, actor, Op.CREATE_CONFERENCE, target, audit_target=ref, audited=True)
        would_own = named if named is None or isinstance(named, str) else actor.username
        await _require_all(ctl, actor, operations_for(raw), ConferenceTarget(would_own), ref)
        body = await parse_body(request, ConferenceCreate)
        _check_not_null(body)
        values = body.model_dump(include=body.model_fields_set - {"participants"})
        values["owner"] = body.owner if "owner" in body.model_fields_set else actor.username
        check_configuration({**NEW_CONFERENCE, **values}, values, ctl.live.layouts())
        record, saved = await ctl.store.save_conference(None, values, _participants(body))
        await audit(ctl, actor.username, Op.CREATE_CONFERENCE, conference_ref(record), "created")
        await ctl.live.refresh_conferences()
        return conference_detail_json(record, saved, now=_now(), configuration=True, pins=False)

    @router.get(
        "/conferences/{conference_id}",
        response_model=ConferenceDetail,
        response_model_exclude_unset=True,
        tags=["conferences"],
    )
    async def get_conference(conference_id: str, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """The conference and whether it is `active` (inside its schedule window) now; its
        configuration to who has full control, PINs in clear only with `view_pin`."""
        actor = principal.actor
        record, target = await load_conference(ctl, conference_id)
        await require(ctl, actor, Op.VIEW_CONFERENCE, target)
        configuration = allowed(actor, Op.VIEW_CONFIGURATION, target)
        participants = await ctl.store.list_participants(record.id) if configuration else []
        return conference_detail_json(
            record,
            participants,
            now=_now(),
            configuration=configuration,
            pins=allowed(actor, Op.VIEW_PIN, target),
        )

    @router.patch(
        "/conferences/{conference_id}",
        response_model=ConferenceDetail,
        response_model_exclude_unset=True,
        openapi_extra=_body_doc(ConferenceUpdate),
        tags=["conferences"],
    )
    async def update_conference(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        """Change any part of the configuration; each part asks its own operation, the
        owner CHANGE_OWNER; all saved in one transaction or none."""
        actor = principal.actor
        record, target = await load_conference(ctl, conference_id)
        ref = conference_ref(record)
        raw = _peek(await request.body())
        operations = operations_for(raw)
        if not operations and "owner" not in raw:
            operations = [Op.CONFIGURE_CONFERENCE]
        await _require_all(ctl, actor, operations, target, ref)
        if "owner" in raw:
            await _require_owner_change(ctl, actor, record, target, raw["owner"])
        body = await parse_body(request, ConferenceUpdate)
        _check_not_null(body)
        changes = body.model_dump(include=body.model_fields_set - {"participants"})
        current = {f.name: getattr(record, f.name) for f in dataclass_fields(record)}
        check_configuration({**current, **changes}, changes, ctl.live.layouts())
        updated, saved = await ctl.store.save_conference(record.id, changes, _participants(body))
        # Which fields changed, never their values: PINs stay out of the audit and logs.
        groups = field_groups(body.model_fields_set)
        for operation, names in groups:
            await audit(ctl, actor.username, operation, ref, "updated: " + ",".join(names))
        if "owner" in changes and changes["owner"] != record.owner:
            moved = f"owner: {record.owner or 'none'} -> {changes['owner'] or 'none'}"
            await audit(ctl, actor.username, Op.CHANGE_OWNER, ref, moved)
        elif not groups:
            await audit(ctl, actor.username, Op.CONFIGURE_CONFERENCE, ref, "unchanged")
        await ctl.live.refresh_conferences()
        now_target = replace(target, owner=updated.owner)
        return conference_detail_json(
            updated,
            saved,
            now=_now(),
            configuration=allowed(actor, Op.VIEW_CONFIGURATION, now_target),
            pins=False,
        )

    @router.delete("/conferences/{conference_id}", status_code=204, tags=["conferences"])
    async def delete_conference(conference_id: str, principal: Auth, ctl: Ctl) -> Response:
        record, target = await load_conference(ctl, conference_id)
        ref = conference_ref(record)
        await require(
            ctl, principal.actor, Op.DELETE_CONFERENCE, target, audit_target=ref, audited=True
        )
        await ctl.store.delete_conference(record.id)
        await audit(ctl, principal.actor.username, Op.DELETE_CONFERENCE, ref, "deleted")
        await ctl.live.refresh_conferences()
        return Response(status_code=204)

    @router.get(
        "/conferences/{conference_id}/participants",
        response_model=list[ParticipantOut],
        tags=["participants"],
    )
    async def list_participants(
        conference_id: str, principal: Auth, ctl: Ctl
    ) -> list[dict[str, object]]:
        """Everyone in the running conference, PIN-lobby callers included."""
        record, target = await load_conference(ctl, conference_id)
        await require(ctl, principal.actor, Op.VIEW_PARTICIPANTS, target)
        return [p.as_json() for p in ctl.live.participants(record.numeric_id)]

    @router.get(
        "/conferences/{conference_id}/participants/{participant_id}/statistics",
        tags=["participants"],
    )
    async def participant_statistics(
        conference_id: str, participant_id: str, principal: Auth, ctl: Ctl
    ) -> dict[str, object]:
        """The media streams sent to and received from a participant: codecs, packets,
        loss, jitter, key-frame requests (seed 003's statistics and diagnostics)."""
        record, target = await load_conference(ctl, conference_id)
        await require(ctl, principal.actor, Op.VIEW_STATISTICS, target)
        stats = ctl.live.statistics(record.numeric_id, participant_id)
        if stats is None:
            raise ControlError(404, "participant not found")
        return stats

    async def _authorized(
        ctl: Control,
        principal: Principal,
        conference_id: str,
        operation: Operation,
        participant_id: str | None = None,
    ) -> tuple[ConferenceRecord, str]:
        """404 for an unknown conference, then `authorize` (403, audited)."""
        record, target = await load_conference(ctl, conference_id)
        ref = (
            conference_ref(record)
            if participant_id is None
            else participant_ref(record, participant_id)
        )
        await require(ctl, principal.actor, operation, target, audit_target=ref, audited=True)
        return record, ref

    async def _outcome(
        ctl: Control,
        principal: Principal,
        operation: Operation,
        ref: str,
        done: bool,
        outcome: str,
        *,
        missing: str = "participant",
    ) -> Response:
        """Audit what the live MCU did; False from it is 404 (no such participant) or
        409 (the conference is not running)."""
        failed = "not_found" if missing == "participant" else "not_running"
        await audit(ctl, principal.actor.username, operation, ref, outcome if done else failed)
        if not done:
            if missing == "participant":
                raise ControlError(404, "participant not found")
            raise ControlError(409, "conference is not running")
        return Response(status_code=204)

    async def _participant_action(
        ctl: Control,
        principal: Principal,
        conference_id: str,
        participant_id: str,
        operation: Operation,
        request: Request | None = None,
    ) -> Response:
        record, ref = await _authorized(ctl, principal, conference_id, operation, participant_id)
        outcome = "ok"
        if operation is Op.ADMIT_PARTICIPANT:
            done = ctl.live.admit(record.numeric_id, participant_id)
        elif operation is Op.DISCONNECT_PARTICIPANT:
            done = ctl.live.drop(record.numeric_id, participant_id)
        else:
            assert request is not None
            muted = (await parse_body(request, MuteRequest)).muted
            done = ctl.live.set_muted(record.numeric_id, participant_id, muted)
            outcome = "muted" if muted else "unmuted"
        return await _outcome(ctl, principal, operation, ref, done, outcome)

    @router.post(
        "/conferences/{conference_id}/participants",
        status_code=201,
        response_model=DialOutOut,
        openapi_extra=_body_doc(DialOutRequest),
        responses={503: {"model": ErrorOut}},
        tags=["participants"],
    )
    async def dial_out(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, str]:
        """Call `address` into the conference (seed 003, full control: "connect new
        participants"); 409 when the conference cannot take them, 503 without ports."""
        from gateway.rtp.ports import PortsExhausted

        actor = principal.actor
        record, ref = await _authorized(ctl, principal, conference_id, Op.DIAL_OUT)
        body = await parse_body(request, DialOutRequest)
        try:
            participant_id = ctl.live.dial_out(record.numeric_id, body.address, body.display_name)
        except PortsExhausted:
            await audit(ctl, actor.username, Op.DIAL_OUT, ref, "failed: no media ports")
            raise ControlError(503, "no media ports left; try again later") from None
        except ValueError as exc:
            await audit(ctl, actor.username, Op.DIAL_OUT, ref, "failed: undiallable address")
            raise ControlError(422, str(exc) or "cannot dial", field="address") from None
        except Exception as exc:
            if not isinstance(exc, DialOutRefused):
                raise
            await audit(ctl, actor.username, Op.DIAL_OUT, ref, f"refused: {exc}")
            raise ControlError(409, str(exc) or "conference refused the call") from None
        await audit(
            ctl,
            actor.username,
            Op.DIAL_OUT,
            participant_ref(record, participant_id),
            f"dialled {body.address}",
        )
        return {"id": participant_id}

    @router.post(
        "/conferences/{conference_id}/participants/{participant_id}/admit",
        status_code=204,
        tags=["participants"],
    )
    async def admit_participant(
        conference_id: str, participant_id: str, principal: Auth, ctl: Ctl
    ) -> Response:
        """Let a caller waiting in the PIN lobby in."""
        return await _participant_action(
            ctl, principal, conference_id, participant_id, Op.ADMIT_PARTICIPANT
        )

    @router.delete(
        "/conferences/{conference_id}/participants/{participant_id}",
        status_code=204,
        tags=["participants"],
    )
    async def drop_participant(
        conference_id: str, participant_id: str, principal: Auth, ctl: Ctl
    ) -> Response:
        """Hang up a participant or lobby caller."""
        return await _participant_action(
            ctl, principal, conference_id, participant_id, Op.DISCONNECT_PARTICIPANT
        )

    @router.post(
        "/conferences/{conference_id}/participants/{participant_id}/mute",
        status_code=204,
        openapi_extra=_body_doc(MuteRequest),
        tags=["participants"],
    )
    async def mute_participant(
        conference_id: str, participant_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> Response:
        """Mute (`{"muted": true}`) or unmute a participant's audio into the conference."""
        return await _participant_action(
            ctl, principal, conference_id, participant_id, Op.MUTE_PARTICIPANT, request
        )

    async def set_important(
        conference_id: str, participant_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> Response:
        """Make (`{"important": true}`) or unmake the conference's important participant."""
        op = Op.SET_IMPORTANT_PARTICIPANT
        record, ref = await _authorized(ctl, principal, conference_id, op, participant_id)
        important = (await parse_body(request, ImportantRequest)).important
        done = ctl.live.set_important(record.numeric_id, participant_id, important)
        outcome = "important" if important else "not important"
        return await _outcome(ctl, principal, op, ref, done, outcome)

    async def set_participant_layout(
        conference_id: str, participant_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> Response:
        """The participant's own layout (`{"layout": name}`), or the conference's (null)."""
        op = Op.PARTICIPANT_LAYOUT
        record, ref = await _authorized(ctl, principal, conference_id, op, participant_id)
        layout = (await parse_body(request, LayoutRequest)).layout
        known = ctl.live.layouts()
        unknown = ControlError(422, f"unknown layout; one of {known}", field="layout")
        if layout is not None and layout not in known:
            raise unknown
        try:
            done = ctl.live.set_layout(record.numeric_id, participant_id, layout)
        except ValueError:
            raise unknown from None
        outcome = f"layout {layout}" if layout else "conference layout"
        return await _outcome(ctl, principal, op, ref, done, outcome)

    for method in ("PUT", "POST"):
        router.add_api_route(
            "/conferences/{conference_id}/participants/{participant_id}/important",
            set_important,
            methods=[method],
            status_code=204,
            openapi_extra=_body_doc(ImportantRequest),
            tags=["participants"],
        )
        router.add_api_route(
            "/conferences/{conference_id}/participants/{participant_id}/layout",
            set_participant_layout,
            methods=[method],
            status_code=204,
            openapi_extra=_body_doc(LayoutRequest),
            tags=["participants"],
        )

    @router.post(
        "/conferences/{conference_id}/participants/{participant_id}/panes",
        status_code=204,
        openapi_extra=_body_doc(PanesRequest),
        tags=["participants"],
    )
    async def participant_panes(
        conference_id: str, participant_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> Response:
        """The participant's custom layout: who it sees in which cell (`{"panes": [id,
        null, ...]}`; an empty list restores the usual order)."""
        op = Op.PARTICIPANT_CUSTOM_LAYOUT
        record, ref = await _authorized(ctl, principal, conference_id, op, participant_id)
        panes = (await parse_body(request, PanesRequest)).panes
        done = ctl.live.set_panes(record.numeric_id, participant_id, panes or None)
        outcome = f"custom layout of {len(panes)} cells" if panes else "usual layout"
        return await _outcome(ctl, principal, op, ref, done, outcome)

    @router.post(
        "/conferences/{conference_id}/participants/{participant_id}/video_format",
        status_code=204,
        openapi_extra=_body_doc(VideoFormatRequest),
        tags=["participants"],
    )
    async def participant_video_format(
        conference_id: str, participant_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> Response:
        """Send the participant widescreen (16:9) or standard (4:3) video."""
        op = Op.PARTICIPANT_VIDEO_FORMAT
        record, ref = await _authorized(ctl, principal, conference_id, op, participant_id)
        shape = (await parse_body(request, VideoFormatRequest)).format
        done = ctl.live.set_video_format(record.numeric_id, participant_id, shape)
        return await _outcome(ctl, principal, op, ref, done, f"{shape} video")

    @router.post(
        "/conferences/{conference_id}/participants/{participant_id}/message",
        status_code=204,
        openapi_extra=_body_doc(MessageRequest),
        tags=["participants"],
    )
    async def message_participant(
        conference_id: str, participant_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> Response:
        """Show `text` over one participant's picture ("" clears it)."""
        op = Op.MESSAGE_PARTICIPANT
        record, ref = await _authorized(ctl, principal, conference_id, op, participant_id)
        text = (await parse_body(request, MessageRequest)).text
        done = ctl.live.send_message(record.numeric_id, participant_id, text)
        return await _outcome(ctl, principal, op, ref, done, _message_outcome(text))

    @router.post(
        "/conferences/{conference_id}/messages",
        status_code=204,
        openapi_extra=_body_doc(MessageRequest),
        tags=["conferences"],
    )
    async def message_all(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> Response:
        """Seed 003, full control: a text message to every connected participant's
        display ("" clears it); 409 when the conference is not running."""
        record, ref = await _authorized(ctl, principal, conference_id, Op.MESSAGE_ALL)
        text = (await parse_body(request, MessageRequest)).text
        done = ctl.live.send_message(record.numeric_id, None, text)
        outcome = _message_outcome(text)
        return await _outcome(ctl, principal, Op.MESSAGE_ALL, ref, done, outcome, missing="room")

    @router.post("/conferences/{conference_id}/end", status_code=204, tags=["conferences"])
    async def end_conference(conference_id: str, principal: Auth, ctl: Ctl) -> Response:
        """Seed 003, full control: end the conference (everyone is hung up); 409 when it
        is not running."""
        record, ref = await _authorized(ctl, principal, conference_id, Op.END_CONFERENCE)
        done = ctl.live.end_conference(record.numeric_id)
        return await _outcome(ctl, principal, Op.END_CONFERENCE, ref, done, "ended", missing="room")

    # Conference roles (seed 000) ---------------------------------------------

    @router.get("/conferences/{conference_id}/roles", response_model=list[RoleOut], tags=["roles"])
    async def list_roles(conference_id: str, principal: Auth, ctl: Ctl) -> list[dict[str, str]]:
        """The conference's moderators and speakers (owner and operators are not stored
        roles: the owner is the conference's `owner`, operators a user flag)."""
        record, target = await load_conference(ctl, conference_id)
        await require(ctl, principal.actor, Op.VIEW_CONFERENCE, target)
        roles = await ctl.store.list_roles(conference_id=record.id)
        return [{"username": r.username, "role": r.role} for r in roles]

    @router.post(
        "/conferences/{conference_id}/roles",
        status_code=201,
        response_model=RoleOut,
        openapi_extra=_body_doc(RoleRequest),
        tags=["roles"],
    )
    async def add_role(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, str]:
        """Seed 000: the owner (or a moderator) appoints moderators, who get the owner's
        control but recordings and analytics; speakers are who is seen and heard in
        speakers-only mode. 409 when the user already has the role."""
        record, ref = await _authorized(ctl, principal, conference_id, Op.APPOINT_MODERATOR)
        body = await parse_body(request, RoleRequest)
        existing = await ctl.store.list_roles(conference_id=record.id, username=body.username)
        if any(r.role is body.role for r in existing):
            raise ControlError(409, f"{body.username} is already {body.role}", field="role")
        await ctl.store.add_role(record.id, body.username, body.role)
        await audit(
            ctl,
            principal.actor.username,
            Op.APPOINT_MODERATOR,
            f"{ref} user:{body.username}",
            f"appointed {body.role}",
        )
        await ctl.live.refresh_conferences()
        return {"username": body.username, "role": body.role}

    @router.delete(
        "/conferences/{conference_id}/roles",
        status_code=204,
        openapi_extra=_body_doc(RoleRequest),
        tags=["roles"],
    )
    async def remove_role(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> Response:
        """Take a role away; the body (or the query, `?username=&role=`) names it."""
        record, ref = await _authorized(ctl, principal, conference_id, Op.APPOINT_MODERATOR)
        if await request.body():
            body = await parse_body(request, RoleRequest)
        else:
            try:
                body = RoleRequest.model_validate(dict(request.query_params))
            except ValidationError as exc:
                raise validation_error(exc) from None
        removed = await ctl.store.remove_role(record.id, body.username, body.role)
        target = f"{ref} user:{body.username}"
        outcome = f"removed {body.role}" if removed else "not_found"
        await audit(ctl, principal.actor.username, Op.APPOINT_MODERATOR, target, outcome)
        if not removed:
            raise ControlError(404, "role not found")
        await ctl.live.refresh_conferences()
        return Response(status_code=204)

    return router


def _message_outcome(text: str) -> str:
    # The text itself stays out of the audit: it is content, not control.
    return f"sent ({len(text)} characters)" if text else "cleared"


__all__ = ["build_router", "conference_detail_json", "conference_json"]
