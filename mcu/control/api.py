"""The JSON API under /api/v1: tokens, conferences, and who is in them.

Each route runs in the same order: authenticate (401), find the conference (404),
`authorize` (403 naming the rule), read the body (422 naming the field), act
(404/409/422 from the live MCU or the store). Bodies are read by hand after
`authorize` so a forbidden request never learns what a valid body looks like.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints

from mcu.control.access import (
    THROTTLED,
    Control,
    ControlError,
    Principal,
    admit_login,
    audit,
    conference_target,
    control_of,
    load_conference,
    parse_body,
    principal_of,
    require,
    source_of,
)
from mcu.permissions import (
    Listing,
    NewConferenceTarget,
    Operation,
    listing,
)
from mcu.store import ConferenceRecord

Op = Operation
Digits = Annotated[str, StringConstraints(pattern=r"^[0-9]+$", min_length=1, max_length=32)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_Body):
    username: str
    password: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


class ConferenceCreate(_Body):
    name: Name
    numeric_id: Digits
    pin: Digits | None = None
    guest_pin: Digits | None = None
    owner: Username | None = None  # absent: the creator; null: no owner


class ConferenceUpdate(_Body):
    name: Name | None = None
    pin: Digits | None = None
    guest_pin: Digits | None = None


class MuteRequest(_Body):
    muted: StrictBool


class ConferenceOut(BaseModel):
    id: int
    name: str
    numeric_id: str
    owner: str | None
    has_pin: bool
    has_guest_pin: bool


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


class ErrorOut(BaseModel):
    detail: str
    rule: str | None = None
    field: str | None = None


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    # Bodies are parsed after authorize, so describe them to OpenAPI by hand.
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
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
        response_model=ConferenceOut,
        openapi_extra=_body_doc(ConferenceCreate),
        tags=["conferences"],
    )
    async def create_conference(request: Request, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        actor = principal.actor
        # May this actor create at all (as the owner)? Then: may they name this owner?
        await require(
            ctl,
            actor,
            Op.CREATE_CONFERENCE,
            NewConferenceTarget(actor.username, actor.privilege),
            audit_target="conference:new",
            audited=True,
        )
        named = _peek(await request.body()).get("owner", actor.username)
        if named != actor.username and (named is None or isinstance(named, str)):
            user = None if named is None else await ctl.store.get_user(named)
            target = NewConferenceTarget(named, None if user is None else user.privilege)
            await require(
                ctl,
                actor,
                Op.CREATE_CONFERENCE,
                target,
                audit_target="conference:new",
                audited=True,
            )
        body = await parse_body(request, ConferenceCreate)
        _check_pins(body.pin, body.guest_pin)
        owner = body.owner if "owner" in body.model_fields_set else actor.username
        record = await ctl.store.create_conference(
            body.name, body.numeric_id, pin=body.pin, guest_pin=body.guest_pin, owner=owner
        )
        await audit(ctl, actor.username, Op.CREATE_CONFERENCE, conference_ref(record), "created")
        await ctl.live.refresh_conferences()
        return conference_json(record)

    @router.get("/conferences/{conference_id}", response_model=ConferenceOut, tags=["conferences"])
    async def get_conference(conference_id: str, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        record, target = await load_conference(ctl, conference_id)
        await require(ctl, principal.actor, Op.VIEW_CONFERENCE, target)
        return conference_json(record)

    @router.patch(
        "/conferences/{conference_id}",
        response_model=ConferenceOut,
        openapi_extra=_body_doc(ConferenceUpdate),
        tags=["conferences"],
    )
    async def update_conference(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        actor = principal.actor
        record, target = await load_conference(ctl, conference_id)
        ref = conference_ref(record)
        await require(ctl, actor, Op.CONFIGURE_CONFERENCE, target, audit_target=ref, audited=True)
        if {"pin", "guest_pin"} & set(_peek(await request.body())):
            await require(ctl, actor, Op.CONFIGURE_PIN, target, audit_target=ref, audited=True)
        body = await parse_body(request, ConferenceUpdate)
        changes = body.model_dump(include=body.model_fields_set)
        if "name" in changes and changes["name"] is None:
            raise ControlError(422, "must not be null", field="name")
        _check_pins(changes.get("pin", record.pin), changes.get("guest_pin", record.guest_pin))
        updated = await ctl.store.update_conference(record.id, **changes)
        # Which fields changed, never their values: PINs stay out of the audit and logs.
        await audit(
            ctl,
            actor.username,
            Op.CONFIGURE_CONFERENCE,
            ref,
            "updated: " + ",".join(sorted(changes)) if changes else "unchanged",
        )
        await ctl.live.refresh_conferences()
        return conference_json(updated)

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

    async def _participant_action(
        ctl: Control,
        principal: Principal,
        conference_id: str,
        participant_id: str,
        operation: Operation,
        request: Request | None = None,
    ) -> Response:
        record, target = await load_conference(ctl, conference_id)
        ref = participant_ref(record, participant_id)
        actor = principal.actor
        await require(ctl, actor, operation, target, audit_target=ref, audited=True)
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
        await audit(ctl, actor.username, operation, ref, outcome if done else "not_found")
        if not done:
            raise ControlError(404, "participant not found")
        return Response(status_code=204)

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

    return router


__all__ = ["build_router", "conference_json"]
