"""Conference roles (seed 000) under /api/v1/conferences/{id}/roles: moderators and
speakers, appointed by the owner (or a moderator). Owner and operators are not stored
roles: the owner is the conference's `owner`, operators a user flag. A conference running
without configuration (ad hoc) has no roles: listing gives [], changing them is 409."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from mcu.control.access import (
    Control,
    ControlError,
    Principal,
    audit,
    control_of,
    parse_body,
    principal_of,
    require,
    validation_error,
)
from mcu.control.conferences import configured
from mcu.control.rooms import Room, load_room
from mcu.control.schemas import ERRORS, RoleOut, RoleRequest, body_doc
from mcu.permissions import Actor, Operation

Op = Operation
Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]
ROLES = "/conferences/{conference_id}/roles"


# The operations ------------------------------------------------------------------------


async def list_roles(ctl: Control, actor: Actor, room: Room) -> list[dict[str, str]]:
    await require(ctl, actor, Op.VIEW_CONFERENCE, room.target)
    if room.record is None:
        return []
    roles = await ctl.store.list_roles(conference_id=room.record.id)
    return [{"username": r.username, "role": r.role} for r in roles]


async def add_role(ctl: Control, actor: Actor, room: Room, body: RoleRequest) -> None:
    """409 when the user already has the role (or the conference has no configuration)."""
    record = configured(room)
    existing = await ctl.store.list_roles(conference_id=record.id, username=body.username)
    if any(r.role is body.role for r in existing):
        raise ControlError(409, f"{body.username} is already {body.role}", field="role")
    await ctl.store.add_role(record.id, body.username, body.role)
    await audit(ctl, actor.username, Op.APPOINT_MODERATOR, f"{room.ref} user:{body.username}",
                f"appointed {body.role}")
    await ctl.live.refresh_conferences()


async def remove_role(ctl: Control, actor: Actor, room: Room, body: RoleRequest) -> None:
    record = configured(room)
    removed = await ctl.store.remove_role(record.id, body.username, body.role)
    outcome = f"removed {body.role}" if removed else "not_found"
    await audit(ctl, actor.username, Op.APPOINT_MODERATOR, f"{room.ref} user:{body.username}",
                outcome)
    if not removed:
        raise ControlError(404, "role not found")
    await ctl.live.refresh_conferences()


async def _appointing(ctl: Control, actor: Actor, room: Room) -> None:
    await require(ctl, actor, Op.APPOINT_MODERATOR, room.target, audit_target=room.ref,
                  audited=True)


# The API ---------------------------------------------------------------------------------


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["roles"])

    @router.get(ROLES, response_model=list[RoleOut])
    async def list_roles_route(
        conference_id: str, principal: Auth, ctl: Ctl
    ) -> list[dict[str, str]]:
        """The conference's moderators and speakers (owner and operators are not stored
        roles: the owner is the conference's `owner`, operators a user flag)."""
        return await list_roles(ctl, principal.actor, await load_room(ctl, conference_id))

    @router.post(ROLES, status_code=201, response_model=RoleOut,
                 openapi_extra=body_doc(RoleRequest))
    async def add_role_route(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, str]:
        """Seed 000: the owner (or a moderator) appoints moderators, who get the owner's
        control but recordings and analytics; speakers are who is seen and heard in
        speakers-only mode. 409 when the user already has the role."""
        room = await load_room(ctl, conference_id)
        await _appointing(ctl, principal.actor, room)
        body = await parse_body(request, RoleRequest)
        await add_role(ctl, principal.actor, room, body)
        return {"username": body.username, "role": body.role}

    @router.delete(ROLES, status_code=204, openapi_extra=body_doc(RoleRequest))
    async def remove_role_route(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> Response:
        """Take a role away; the body (or the query, `?username=&role=`) names it."""
        room = await load_room(ctl, conference_id)
        await _appointing(ctl, principal.actor, room)
        if await request.body():
            body = await parse_body(request, RoleRequest)
        else:
            try:
                body = RoleRequest.model_validate(dict(request.query_params))
            except ValidationError as exc:
                raise validation_error(exc) from None
        await remove_role(ctl, principal.actor, room, body)
        return Response(status_code=204)

    return router
