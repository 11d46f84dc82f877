"""`WebServer`: uvicorn inside the already running event loop, without signal handlers.

The MCU owns SIGINT/SIGTERM (it ends every call with BYE before exiting), so uvicorn
must not install its own: `uvicorn.Server.capture_signals` (0.29 and later) and
`install_signal_handlers` (earlier) are both overridden to do nothing. The listening
socket is bound here, so a busy port is an `OSError` from `start()` rather than
uvicorn's `sys.exit`, and port 0 works (see `port`). Works whether the loop runs in the
main thread or not.

With a `TlsIdentity` it serves HTTPS only (TLS 1.2 and later, the identity's
`server_context`): every answer carries HSTS (`StrictTransportSecurity`), proxy headers
are not trusted (TLS ends here, so no HTTP proxy stands in front to vouch for
``X-Forwarded-Proto``), and the start-up line says ``scheme=https`` with the
certificate's fingerprint, never anything of its key. Without one it is plain HTTP,
meant for loopback: bound elsewhere, it says so in a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import uvicorn

from gateway.log import log_event
from gateway.tls import TlsIdentity
from mcu.control.hsts import StrictTransportSecurity

logger = logging.getLogger("mcu.control")


class _EmbeddedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the MCU owns the signals

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        return

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class WebServer:
    """Serve an ASGI app on the running loop until `stop()`."""

    def __init__(self, *, graceful_shutdown_s: float = 5.0) -> None:
        self._graceful = graceful_shutdown_s
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._app: Any = None
        self._port: int | None = None
        self._https = False

    @property
    def port(self) -> int:
        """The port actually bound (the real one when started with port 0)."""
        if self._port is None:
            raise RuntimeError("WebServer not started")
        return self._port

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def scheme(self) -> str:
        return "https" if self._https else "http"

    async def start(self, app: Any, host: str, port: int,
                    identity: TlsIdentity | None = None) -> None:
        """Serve `app` on host:port; with `identity`, HTTPS only."""
        if self._task is not None:
            raise RuntimeError("WebServer already started")
        context = identity.server_context() if identity is not None else None
        server = _EmbeddedServer(self._config(app, context))
        sock = _bind(host, port)
        task = asyncio.get_running_loop().create_task(
            server.serve(sockets=[sock]), name="mcu-web-server"
        )
        ready = asyncio.ensure_future(server.ready.wait())
        try:
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if not server.ready.is_set():
            sock.close()
            task.result()  # raises what stopped it
            raise RuntimeError("web server stopped during startup")
        self._server, self._task, self._socket, self._app = server, task, sock, app
        self._port, self._https = sock.getsockname()[1], identity is not None
        self._log_listening(host, identity)

    def _config(self, app: Any, context: ssl.SSLContext | None) -> uvicorn.Config:
        config = uvicorn.Config(
            app if context is None else StrictTransportSecurity(app),
            lifespan="off",
            log_config=None,  # the MCU configures logging
            access_log=False,
            server_header=False,
            ws="none",
            timeout_graceful_shutdown=self._graceful,
            proxy_headers=context is None,
        )
        # Loaded here so that the identity's context (TLS 1.2 minimum, set explicitly) is
        # the one served, on every uvicorn we support (ssl_context_factory is recent);
        # uvicorn's serve() loads a config only when it is not loaded yet.
        config.load()
        config.ssl = context
        return config

    def _log_listening(self, host: str, identity: TlsIdentity | None) -> None:
        if identity is None:
            log_event(logger, "control.http.listening", host=host, port=self._port,
                      scheme="http")
            if not _loopback(host):
                log_event(logger, "control.http.plaintext", level=logging.WARNING, host=host,
                          hint="set http.tls = true to serve HTTPS beyond loopback")
            return
        log_event(logger, "control.http.listening", host=host, port=self._port, scheme="https",
                  certificate=identity.certificate, fingerprint=identity.fingerprint,
                  generated=identity.generated)

    async def stop(self) -> None:
        server, task = self._server, self._task
        if server is None or task is None:
            return
        closing = getattr(getattr(self._app, "state", None), "closing", None)
        if closing is not None:
            closing.set()  # end SSE streams now: uvicorn waits for open responses
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self._graceful + 2)
        except TimeoutError:
            server.force_exit = True
            await task
        finally:
            if self._socket is not None:
                self._socket.close()
            self._server = self._task = self._socket = None
        log_event(logger, "control.http.stopped", port=self._port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
