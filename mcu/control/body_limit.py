"""`BodyLimit`: request bodies over ``http.max_body_bytes`` are refused before they are read.

A pure ASGI middleware (no ``BaseHTTPMiddleware``: that one would buffer). A request
whose Content-Length is over the limit gets 413 at once and the app never runs; a
body without one (chunked) is counted as the app reads it, and the read that passes
the limit raises a 413 ``HTTPException``, which the app's error handlers shape like
every other error. Either way the answer says ``Connection: close``, so the server
stops reading the rest of the body instead of draining it. One log line and one count
(``on_refused("body_too_large")``) per refused request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from gateway.log import log_event

logger = logging.getLogger("mcu.control")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REASON = "body_too_large"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int,
                 on_refused: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            self._refused(scope, length)
            await _send_413(send, self._detail())
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    refused = True
                    self._refused(scope, None)
                    raise HTTPException(413, self._detail())
            return message

        async def closing_send(message: Message) -> None:
            if refused and message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, limited_receive, closing_send)

    def _detail(self) -> str:
        return f"request body larger than {self.max_body_bytes} bytes"

    def _refused(self, scope: Scope, length: int | None) -> None:
        client = scope.get("client")
        peer = f"{client[0]}:{client[1]}" if client else "?"
        log_event(logger, "control.http.refused", level=logging.WARNING, reason=REASON,
                  peer=peer, method=scope.get("method", ""), path=scope.get("path", ""),
                  content_length="chunked" if length is None else length,
                  limit=self.max_body_bytes)
        if self.on_refused is not None:
            try:
                self.on_refused(REASON)
            except Exception:
                logger.exception("control: counting a refused request failed")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _send_413(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
