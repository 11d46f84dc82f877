"""Watching a conference (issue 15): the watch page ``/conferences/{id}/watch`` with a
``<video>`` element, and the HLS playlist and segments it plays,
``/conferences/{id}/stream/index.m3u8`` and ``/conferences/{id}/stream/segNNNNN.ts``.

Every request needs a session cookie or a bearer token (401) and ``WATCH_STREAM``
(403 naming the rule: seed 003's "conference list plus streaming" or better, or
control of the conference); the conference must have streaming on (409 naming
``streaming``) and be in progress (409). Asking for the playlist starts the stream;
each request keeps it running (``mcu.streaming``).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from mcu.control.access import Control, ControlError, authenticate, control_of, not_found, require
from mcu.control.conferences import room_json
from mcu.control.pages import render, session_principal, to_login
from mcu.control.rooms import Room, load_room
from mcu.permissions import Actor, Operation

SEGMENT_NAME = re.compile(r"seg\d{5}\.ts")
STREAM_PATH = re.compile(r"/conferences/[^/]+/stream/")


def is_stream_path(path: str) -> bool:
    """A playlist or segment path: what players, not people, ask for."""
    return STREAM_PATH.match(path) is not None
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


async def watchable(ctl: Control, actor: Actor, conference_id: str) -> Room:
    """The conference, if the actor may watch it and it is streamed."""
    room = await load_room(ctl, conference_id)
    await require(ctl, actor, Operation.WATCH_STREAM, room.target)
    if room.record is None or not room.record.streaming:
        raise ControlError(409, "streaming is off for this conference", field="streaming")
    return room


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/conferences/{conference_id}/watch")
    async def watch_page(conference_id: str, request: Request) -> Response:
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        room = await watchable(control_of(request), principal.actor, conference_id)
        return render(request, "watch.html", principal=principal, conference=room_json(room),
                      playlist=f"/conferences/{conference_id}/stream/index.m3u8")

    @router.get("/conferences/{conference_id}/stream/index.m3u8")
    async def playlist(conference_id: str, request: Request) -> Response:
        ctl = control_of(request)
        principal = await authenticate(request, csrf_header=False)
        room = await watchable(ctl, principal.actor, conference_id)
        path = await ctl.live.stream_playlist(room.numeric_id)
        if path is None:
            raise ControlError(409, "the conference is not in progress")
        try:
            text = path.read_bytes()  # a few hundred bytes, rewritten whole by the muxer
        except FileNotFoundError:
            raise ControlError(409, "the conference is not in progress") from None
        return Response(text, media_type="application/vnd.apple.mpegurl", headers=NO_STORE)

    @router.get("/conferences/{conference_id}/stream/{segment}")
    async def segment(conference_id: str, segment: str, request: Request) -> Response:
        ctl = control_of(request)
        principal = await authenticate(request, csrf_header=False)
        room = await watchable(ctl, principal.actor, conference_id)
        if not SEGMENT_NAME.fullmatch(segment):
            raise not_found("segment")
        path = ctl.live.stream_segment(room.numeric_id, segment)
        if path is None:
            raise not_found("segment")
        return FileResponse(path, media_type="video/mp2t", headers=NO_STORE)

    return router
