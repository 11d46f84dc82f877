"""Recordings (issue 15): ``POST /api/v1/conferences/{id}/recordings`` starts one,
``POST /api/v1/recordings/{rid}/stop``, ``GET /api/v1/recordings``,
``GET /api/v1/recordings/{rid}/file`` (Range requests: 206, 416 out of bounds) and
``DELETE /api/v1/recordings/{rid}``. A thin router over `recordings`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import FileResponse

from mcu.control import recordings as ops
from mcu.control.access import Control, Principal, control_of, principal_of
from mcu.control.rooms import load_room
from mcu.control.schemas import ERRORS, RecordingOut

Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]
NO_CONTENT = 204


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["recordings"])

    @router.post("/conferences/{conference_id}/recordings", status_code=201,
                 response_model=RecordingOut)
    async def start_recording(conference_id: str, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """Record the running conference as a watcher sees it (everyone in the picture,
        everyone heard) into a fragmented MP4. Owner, moderators, operators and full
        control (seed 002: "Recording control: start/stop recordings")."""
        room = await load_room(ctl, conference_id)
        return await ops.start_recording(ctl, principal.actor, room)

    @router.post("/recordings/{recording_id}/stop", response_model=RecordingOut)
    async def stop_recording(recording_id: str, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """Stop a running recording (409 when it is not running)."""
        return await ops.stop_recording(ctl, principal.actor, recording_id)

    @router.get("/recordings", response_model=list[RecordingOut])
    async def list_recordings(principal: Auth, ctl: Ctl) -> list[dict[str, Any]]:
        """The recordings the caller may download or start and stop, newest first."""
        return await ops.list_recordings(ctl, principal.actor)

    @router.get("/recordings/{recording_id}/file", response_class=FileResponse,
                responses={206: {"description": "part of the file (Range)"},
                           416: {"description": "Range out of bounds"}})
    async def download(recording_id: str, principal: Auth, ctl: Ctl) -> FileResponse:
        """The recording's file (video/mp4), Range requests honoured. Seed 000: the
        owner's (not moderators'), the administrator's, the security administrator's."""
        path, name = await ops.recording_file(ctl, principal.actor, recording_id)
        return FileResponse(path, media_type="video/mp4", filename=name)

    @router.delete("/recordings/{recording_id}", status_code=NO_CONTENT)
    async def delete_recording(recording_id: str, principal: Auth, ctl: Ctl) -> Response:
        """Delete a recording and its file (stopped first if it runs): the owner and
        the administrator; never the security administrator (read-only)."""
        await ops.delete_recording(ctl, principal.actor, recording_id)
        return Response(status_code=NO_CONTENT)

    return router
