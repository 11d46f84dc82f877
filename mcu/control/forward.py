"""`ClusterForward`: a conference's live state and operations are served by the node
that runs it (issue 18).

Configuration (users, conferences, schedules, roles) lives in the shared store, so
every node answers it itself. What lives in one node's memory -- a conference's
participants and their operations (mute, drop, layout...), its end, recordings started,
its page, thumbnails, events and stream -- is asked of the node holding the
conference's lease: this pure ASGI middleware passes such a request on, verbatim, with
the user's own cookie or token, and streams the answer back (events and HLS included).
The holder authenticates and authorizes it exactly as if asked directly (the CSRF key
is shared through the store), so there is one ``authorize()`` and one operation per
action wherever the request arrived. A request is passed on at most once
(``X-MCU-Forwarded-By``); a holder that does not answer gives a 502 naming it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from gateway.log import log_event

logger = logging.getLogger("mcu.control")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Locate = Callable[[str], Awaitable[str | None]]

FORWARDED_BY = "x-mcu-forwarded-by"
_LIVE = r"(?:participants|end|recordings|layout|events|view\.jpg|watch|stream)(?:/.*)?"
# API: only the live parts of a conference (its stored configuration is served here).
# A conference is its store id, or ``live-<numeric_id>`` when it has no configuration.
_ID = r"([0-9]{1,9}|live-[0-9]{1,32})"
_API = re.compile(rf"^/api/v1/conferences/{_ID}/{_LIVE}$")
# Pages: the conference page itself too (it shows the participants), not its editor.
_PAGE = re.compile(rf"^/conferences/{_ID}(?:/{_LIVE})?$")
_HOP_BY_HOP = {b"host", b"connection", b"keep-alive", b"transfer-encoding", b"te",
               b"upgrade", b"content-length", b"proxy-connection"}


def conference_of(path: str) -> str | None:
    """The conference a live request is about (a store id or ``live-N``), or None
    (served here)."""
    match = _API.match(path) or _PAGE.match(path)
    return match.group(1) if match else None


class ClusterForward:
    def __init__(self, app: ASGIApp, locate: Locate, node_id: str,
                 timeout_s: float = 10.0) -> None:
        """``locate(conference_id)``: the base URL of the other node holding the
        conference, or None when it runs here or nowhere."""
        self.app, self.locate, self.node_id = app, locate, node_id
        self._timeout = httpx.Timeout(timeout_s, read=None)  # events stream for long

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        conference = conference_of(scope["path"]) if scope["type"] == "http" else None
        if conference is None or _header(scope, FORWARDED_BY.encode()) is not None:
            await self.app(scope, receive, send)
            return
        try:
            target = await self.locate(conference)
        except Exception as error:  # noqa: BLE001 - the store away: answer here
            log_event(logger, "control.locate_failed", level=logging.WARNING,
                      conference=conference, error=str(error).splitlines()[0])
            target = None
        if target is None:
            await self.app(scope, receive, send)
            return
        await self._forward(target.rstrip("/"), scope, receive, send)

    async def _forward(self, target: str, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        query = scope.get("query_string", b"").decode("latin-1")
        url = target + scope["path"] + (f"?{query}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        headers.append((FORWARDED_BY, self.node_id))
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            try:
                request = client.build_request(scope["method"], url, headers=headers,
                                               content=body)
                response = await client.send(request, stream=True)
            except httpx.HTTPError as error:
                log_event(logger, "control.forward_failed", level=logging.WARNING,
                          path=scope["path"], node=target, error=type(error).__name__)
                await _send_json(send, 502, {
                    "detail": f"the node running this conference ({target}) did not answer"})
                return
            try:
                await send({"type": "http.response.start", "status": response.status_code,
                            "headers": [(k, v) for k, v in response.headers.raw
                                        if k.lower() not in _HOP_BY_HOP]})
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk,
                                "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            finally:
                await response.aclose()


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k.lower() == name), None)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send_json(send: Send, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
