"""`StrictTransportSecurity`: HSTS (RFC 6797) on every response of an HTTPS web control.

Added by `create_app(https=True)` only, which `Mcu` passes when ``http.tls`` is on and
the server speaks TLS on every connection: the header never goes out over plain HTTP
(where a browser would ignore it anyway, and an operator on loopback would be told to
use an HTTPS the server does not serve). A pure ASGI middleware, so streamed answers
(Server-Sent Events) are not buffered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HEADER = b"strict-transport-security"
ONE_YEAR_S = 31_536_000


class StrictTransportSecurity:
    def __init__(self, app: ASGIApp, max_age_s: int = ONE_YEAR_S) -> None:
        self.app = app
        self.value = f"max-age={max_age_s}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message["headers"] = [*headers, (HEADER, self.value)]
            await send(message)

        await self.app(scope, receive, send_with_hsts)
