"""Server-Sent Events for the pages: the participant list and the cameras' states as
they change on the conference page, and a chat's version (issue 17: the page then
fetches the messages through the API).

`participant_events` is the body of ``GET /conferences/{id}/events`` and of a chat's
event stream: it compares a snapshot of each watched thing (``participants``;
``cameras`` for those who may see them; ``chat``) every `poll_s` and sends
``event: <name>`` only when its JSON differs, a comment line every `heartbeat_s` so
proxies keep the stream open, and ends when the client goes away or, checked at each
heartbeat, `ended` names why the page must stop watching: ``expired`` (the session
ended or lost the right) or ``changed`` (the conference was renumbered or deleted:
the page reloads).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from starlette.requests import Request

from mcu.live import ParticipantView

POLL_S = 0.25
HEARTBEAT_S = 15.0
RETRY_MS = 2000
SSE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
    "X-Content-Type-Options": "nosniff",
}


def participants_json(views: list[ParticipantView]) -> str:
    return json.dumps([view.as_json() for view in views], separators=(",", ":"))


def sse(event: str, data: str) -> str:
    # JSON from json.dumps holds no raw newline, so one data line is enough.
    return f"event: {event}\ndata: {data}\n\n"


def cameras_json(states: Mapping[int, tuple[str, str, str | None]]) -> str:
    """The running cameras' live states (stored ones not running are not in it)."""
    return json.dumps([{"id": camera_id, "state": state, "reason": reason,
                        "participant_id": pid}
                       for camera_id, (state, reason, pid) in sorted(states.items())],
                      separators=(",", ":"))


async def participant_events(
    request: Request,
    snapshots: Mapping[str, Callable[[], str]],
    ended: Callable[[], Awaitable[str | None]],
    *,
    poll_s: float | None = None,
    heartbeat_s: float | None = None,
) -> AsyncIterator[str]:
    """Send each event of ``snapshots`` whenever its snapshot differs from the last sent."""
    poll_s = POLL_S if poll_s is None else poll_s
    heartbeat_s = HEARTBEAT_S if heartbeat_s is None else heartbeat_s
    last: dict[str, str] = {}
    yield f"retry: {RETRY_MS}\n\n"
    sent_at = checked_at = time.monotonic()
    closing: asyncio.Event | None = getattr(request.app.state, "closing", None)
    while not (closing and closing.is_set()) and not await request.is_disconnected():
        now = time.monotonic()
        if now - checked_at >= heartbeat_s:
            checked_at = now
            why = await ended()
            if why is not None:
                yield sse(why, "{}")
                return
        changed = False
        for event, snapshot in snapshots.items():
            current = snapshot()
            if current != last.get(event):
                last[event] = current
                changed = True
                yield sse(event, current)
        if changed:
            sent_at = now
        elif now - sent_at >= heartbeat_s:
            sent_at = now
            yield ": heartbeat\n\n"
        await asyncio.sleep(poll_s)
