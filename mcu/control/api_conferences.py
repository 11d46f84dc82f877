"""Conferences under /api/v1/conferences: list, create, read, change, delete.

A thin router over `conferences`: each route authenticates (401), finds the conference
(404: a store id, or ``live-<numeric_id>`` for one running without configuration),
asks `authorize` on the body's top-level keys (403 naming the rule), then validates the
body (422 naming the field) and hands it to the operation, which the pages share.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from mcu.control import conferences as ops
from mcu.control.access import Control, Principal, allowed, control_of, parse_body, principal_of
from mcu.control.configuration import check_not_null, preconfigured
from mcu.control.rooms import load_room
from mcu.control.schemas import (
    ERRORS,
    ConferenceCreate,
    ConferenceDetail,
    ConferenceLink,
    ConferenceName,
    ConferenceUpdate,
    body_doc,
)
from mcu.permissions import Listing, Operation
from mcu.store import ParticipantRecord

Op = Operation
Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]
ID_DOC = (
    "A configured conference's `id` is its store id (an integer). A conference running "
    "without configuration (ad hoc: a call to a number nobody configured) is listed with "
    '`"ad_hoc": true`, `"owner": null` and the id `live-<numeric_id>` (e.g. `live-5000`), '
    "valid while it runs; it is controlled as a conference owned by someone else."
)


def peek(raw: bytes) -> dict[str, Any]:
    """The body's top-level keys, if it is a JSON object, for choosing what to authorize."""
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _split(body: ConferenceCreate | ConferenceUpdate
           ) -> tuple[dict[str, Any], list[ParticipantRecord] | None]:
    """The store fields the body sets, and its preconfigured participants (if it sets them)."""
    check_not_null(body.model_dump(include=body.model_fields_set))
    values = body.model_dump(include=body.model_fields_set - {"participants"})
    if body.participants is None:
        return values, None
    return values, preconfigured((p.address, p.display_name) for p in body.participants)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["conferences"])

    @router.get(
        "/conferences", response_model=list[ConferenceLink | ConferenceName],
        description=ID_DOC,
    )
    async def list_conferences(principal: Auth, ctl: Ctl) -> list[dict[str, Any]]:
        """Conferences the actor controls in full; others by name only, or not at all.
        Every conference running now is listed, configured or not."""
        out: list[dict[str, Any]] = []
        for shown, room in await ops.list_conferences(ctl, principal.actor):
            if shown is Listing.LINK:
                out.append({"listing": shown, **ops.room_json(room)})
            else:
                out.append({"listing": shown, "name": room.name})
        return out

    @router.post(
        "/conferences",
        status_code=201,
        response_model=ConferenceDetail,
        response_model_exclude_unset=True,
        openapi_extra=body_doc(ConferenceCreate),
    )
    async def create_conference(request: Request, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """Create a conference with any of its configuration; the creator owns it unless
        the body names an `owner` (only those who may change owners may)."""
        actor = principal.actor
        await ops.authorize_create(ctl, actor, peek(await request.body()))
        values, participants = _split(await parse_body(request, ConferenceCreate))
        record, saved = await ops.create_conference(ctl, actor, values, participants)
        return ops.conference_detail_json(
            record, saved, now=ops.now(), configuration=True, pins=False
        )

    @router.get(
        "/conferences/{conference_id}",
        response_model=ConferenceDetail,
        response_model_exclude_unset=True,
        description=ID_DOC,
    )
    async def get_conference(conference_id: str, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """The conference and whether it is `active` (inside its schedule window) now; its
        configuration to who has full control, PINs in clear only with `view_pin`."""
        room = await load_room(ctl, conference_id)
        return await ops.get_conference(ctl, principal.actor, room)

    @router.patch(
        "/conferences/{conference_id}",
        response_model=ConferenceDetail,
        response_model_exclude_unset=True,
        openapi_extra=body_doc(ConferenceUpdate),
    )
    async def update_conference(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        """Change any part of the configuration; each part asks its own operation, the
        owner CHANGE_OWNER; all saved in one transaction or none. 409 for a conference
        running without configuration (ad hoc)."""
        actor = principal.actor
        room = await load_room(ctl, conference_id)
        await ops.authorize_update(ctl, actor, room, peek(await request.body()))
        changes, participants = _split(await parse_body(request, ConferenceUpdate))
        updated, saved = await ops.update_conference(ctl, actor, room, changes, participants)
        return ops.conference_detail_json(
            updated,
            saved,
            now=ops.now(),
            configuration=allowed(actor, Op.VIEW_CONFIGURATION, ops.target_after(room, updated)),
            pins=False,
        )

    @router.delete("/conferences/{conference_id}", status_code=204)
    async def delete_conference(conference_id: str, principal: Auth, ctl: Ctl) -> Response:
        room = await load_room(ctl, conference_id)
        await ops.delete_conference(ctl, principal.actor, room)
        return Response(status_code=204)

    return router
