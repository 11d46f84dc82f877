"""A conference's IP cameras, under /api/v1/conferences/{id}/cameras (issue 12).

A thin router over `cameras`: authenticate (401), find the conference (404), then the
operation asks `authorize` (403 naming the rule) before it reads the body (422 naming
the field). Answers never carry a camera's username or password.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from mcu.control import cameras as ops
from mcu.control.access import Control, Principal, control_of, parse_body, principal_of
from mcu.control.rooms import load_room
from mcu.control.schemas import ERRORS, CameraCreate, CameraOut, ErrorOut, body_doc

Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]
CAMERAS = "/conferences/{conference_id}/cameras"
NO_CONTENT = 204


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["cameras"])

    @router.get(CAMERAS, response_model=list[CameraOut])
    async def list_cameras(conference_id: str, principal: Auth, ctl: Ctl) -> list[dict[str, Any]]:
        """The conference's cameras with their state: connecting, live, offline
        (retrying; reason), failed (wrong credentials, unsupported codec; retried
        slowly). Seed 003's participant list (limited control)."""
        room = await load_room(ctl, conference_id)
        return await ops.list_cameras(ctl, principal.actor, room)

    @router.post(
        CAMERAS, status_code=201, response_model=CameraOut,
        openapi_extra=body_doc(CameraCreate), responses={503: {"model": ErrorOut}},
    )
    async def add_camera(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        """Add an IP camera (seed 003, full control: "connect new participants"): `url`
        is rtsp://host[:port]/path, credentials in it or as username/password; stored
        apart and never shown. Started now when the conference is active, else when its
        window opens. `audio` is stored; cameras are not heard yet."""
        room = await load_room(ctl, conference_id)

        async def read() -> CameraCreate:
            return await parse_body(request, CameraCreate)

        return await ops.add_camera(ctl, principal.actor, room, read)

    @router.delete(CAMERAS + "/{camera_id}", status_code=NO_CONTENT)
    async def remove_camera(
        conference_id: str, camera_id: str, principal: Auth, ctl: Ctl
    ) -> Response:
        """Remove a camera (seed 003, full control: "disconnect participants"): its
        participant is dropped (RTSP TEARDOWN) and it is no longer stored."""
        room = await load_room(ctl, conference_id)
        await ops.remove_camera(ctl, principal.actor, room, camera_id)
        return Response(status_code=NO_CONTENT)

    return router
