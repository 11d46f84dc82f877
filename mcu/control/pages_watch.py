"""Watching a conference (issue 15): the watch page ``/conferences/{id}/watch`` with a
``<video>`` element, and the HLS playlist and segments it plays,
``/conferences/{id}/stream/index.m3u8`` and ``/conferences/{id}/stream/segNNNNN.ts``.

Every request needs a session cookie or a bearer token (401) and ``WATCH_STREAM``
(403 naming the rule: seed 003's "conference list plus streaming" or better, or
control of the conference); the conference must have streaming on (409 naming
``streaming``) and be in progress (409). Asking for the playlist starts the stream;
each request keeps it running (``mcu.streaming``).

A player asks every couple of seconds, and fifty of them must not cost fifty times the
stream: a granted (credential, conference) pair is remembered for ``GRANT_S`` (a
revoked session or a lost right takes effect within it), and segments are served
from memory (``Streams`` reads each once).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi import APIRouter, Request, Response

from mcu.control.access import (
    SESSION_COOKIE,
    Control,
    ControlError,
    authenticate,
    control_of,
    not_found,
    require,
)
from mcu.control.conferences import room_json
from mcu.control.pages import render, session_principal, to_login
from mcu.control.rooms import Room, load_room
from mcu.permissions import Actor, Operation

SEGMENT_NAME = re.compile(r"seg\d{5}\.ts")
STREAM_PATH = re.compile(r"/conferences/[^/]+/stream/")


def is_stream_path(path: str) -> bool:
    """A playlist or segment path: what players, not people, ask for."""
    return STREAM_PATH.match(path) is not None
GRANT_S = 2.0  # how long a granted (credential, conference) pair is trusted
MAX_GRANTS = 10_000
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


async def watchable(ctl: Control, actor: Actor, conference_id: str) -> Room:
    """The conference, if the actor may watch it and it is streamed."""
    room = await load_room(ctl, conference_id)
    await require(ctl, actor, Operation.WATCH_STREAM, room.target)
    if room.record is None or not room.record.streaming:
        raise ControlError(409, "streaming is off for this conference", field="streaming")
    return room


class Grants:
    """Recently granted (credential, conference) pairs and the numeric ID they watch."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._granted: dict[tuple[str, str], tuple[float, str]] = {}

    def get(self, credential: str, conference_id: str) -> str | None:
        hit = self._granted.get((credential, conference_id))
        if hit is None or hit[0] < self._clock():
            return None
        return hit[1]

    def put(self, credential: str, conference_id: str, numeric_id: str) -> None:
        now = self._clock()
        if len(self._granted) >= MAX_GRANTS:
            self._granted = {k: v for k, v in self._granted.items() if v[0] >= now}
        if len(self._granted) < MAX_GRANTS:
            self._granted[(credential, conference_id)] = (now + GRANT_S, numeric_id)


def credential_of(request: Request) -> str:
    return request.headers.get("authorization") or request.cookies.get(SESSION_COOKIE, "")


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    grants = Grants()

    async def granted(request: Request, conference_id: str) -> str:
        """The numeric ID of a conference the request may watch (authorized now or in
        the last ``GRANT_S``)."""
        credential = credential_of(request)
        numeric_id = grants.get(credential, conference_id) if credential else None
        if numeric_id is None:
            principal = await authenticate(request, csrf_header=False)
            numeric_id = (await watchable(control_of(request), principal.actor,
                                          conference_id)).numeric_id
            grants.put(credential, conference_id, numeric_id)
        return numeric_id

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
        path = await ctl.live.stream_playlist(await granted(request, conference_id))
        if path is None:
            raise ControlError(409, "the conference is not in progress")
        try:
            text = path.read_bytes()  # a few hundred bytes, rewritten whole by the muxer
        except FileNotFoundError:
            raise ControlError(409, "the conference is not in progress") from None
        return Response(text, media_type="application/vnd.apple.mpegurl", headers=NO_STORE)

    @router.get("/conferences/{conference_id}/stream/{segment}")
    async def segment(conference_id: str, segment: str, request: Request) -> Response:
        numeric_id = await granted(request, conference_id)
        if not SEGMENT_NAME.fullmatch(segment):
            raise not_found("segment")
        data = await control_of(request).live.stream_segment(numeric_id, segment)
        if data is None:
            raise not_found("segment")
        return Response(data, media_type="video/mp2t", headers=NO_STORE)

    return router
