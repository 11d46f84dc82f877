"""The thin asyncio shell around ``SipEndpoint``: sockets, one timer, nothing else.

Usage::

    ep = SipEndpoint(SipCoreConfig.from_settings(settings.sip))
    tr = SipTransport(ep, "0.0.0.0", 5060, udp=True, tcp=True, on_events=handle)
    await tr.start()
    ...                       # handle(events) acts on ep, e.g. ep.respond_invite(...)
    tr.flush()                # after acting on ep from outside a callback
    await tr.close()

Events are delivered to ``on_events`` from inside ``flush()``; actions taken inside
that callback are flushed before ``flush()`` returns. Works with uvloop.

TCP: incoming connections are policed by a ``TcpGuard`` (per-address cap, partial
message and idle timeouts from ``SipLimits``), asked on the heartbeat; its notices go
to ``on_notice`` and its counts to ``statistics()``.

TLS (RFC 3261 section 26): with a server context, a second stream listener on
``tls_port``. Each TLS connection runs a ``gateway.tls.TlsStream`` (sans-IO TLS over
memory buffers: the handshake is a little CPU per flight, never a wait), so a
handshake that fails (garbage, plain SIP, an old TLS version) or does not finish in
``TLS_HANDSHAKE_TIMEOUT_S`` closes that connection and is logged once with the peer's
address. The core sees the connection's plaintext as transport "tls". Requests the
core sends over "tls" open a TLS connection with the client context when none is up
to that peer.

Time: the core reads no clock. The shell gives it ``loop.time()`` with every datagram,
stream chunk and timer, and on a ``HEARTBEAT_S`` tick while open, so an action called
without ``now`` (which uses the last time given) is never stamped more than a tick
early. Callers that act from outside a callback should pass ``now=transport.now()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
from collections.abc import Callable

from gateway.gateway import Notice
from gateway.log import log_event
from gateway.tls import TlsStream

from .endpoint import Event, SipEndpoint
from .settings import SipLimits
from .tcp_guard import TcpGuard

log = logging.getLogger("gateway.sip.transport")

HEARTBEAT_S = 0.1  # how stale the core's last time may get while idle (well under T1)
TLS_HANDSHAKE_TIMEOUT_S = 10.0


def local_ip_toward(peer_ip: str) -> str:
    """The local address the kernel would use to reach ``peer_ip`` (no packet sent)."""
    family = socket.AF_INET6 if ":" in peer_ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((peer_ip, 9))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1" if family == socket.AF_INET else "::1"


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, shell: SipTransport) -> None:
        self.shell = shell

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.shell._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("sip udp error: %s", exc)


class _Tcp(asyncio.Protocol):
    def __init__(self, shell: SipTransport, inbound: bool = False,
                 tls: TlsStream | None = None) -> None:
        self.shell = shell
        self.tls = tls
        self.name = "tls" if tls is not None else "tcp"  # the transport the core is told
        self._handshake_timer: asyncio.TimerHandle | None = None
        self.inbound = inbound  # accepted by our server (policed), not dialled by us
        self.refused = False  # closed unread by the guard: never seen by the endpoint
        self.conn_id = next(shell._conn_ids)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.local: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: duck-type them
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.peer = (peer[0], peer[1])
        self.local = (sock[0], sock[1])
        if self.inbound and not self.shell._admit_conn(self):
            self.refused = True
            transport.close()  # before any read
            return
        self.shell._conns[self.conn_id] = self
        self.shell._by_remote[self.peer] = self.conn_id
        if self.tls is not None:
            loop = asyncio.get_running_loop()
            self._handshake_timer = loop.call_later(TLS_HANDSHAKE_TIMEOUT_S,
                                                    self._handshake_overdue)
            self._write_raw(self.tls.start())

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if self.tls is not None:
            try:
                data, reply = self.tls.feed(data)
            except ssl.SSLError as error:
                self._tls_failed(_tls_reason(error))
                return
            self._write_raw(reply)
            if self.tls.handshaken and self._handshake_timer is not None:
                self._handshake_timer.cancel()
                self._handshake_timer = None
            if not data:
                return
        self.shell._on_stream(self, data)

    def write(self, data: bytes) -> None:
        """Send SIP bytes on this connection (encrypted when it is TLS)."""
        self._write_raw(self.tls.write(data) if self.tls is not None else data)

    def _write_raw(self, data: bytes) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _handshake_overdue(self) -> None:
        self._handshake_timer = None
        self._tls_failed("handshake not finished in time")

    def _tls_failed(self, reason: str) -> None:
        self.refused = True  # nothing more is read from it
        self.shell._tls_failed(self, reason)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
        self.shell._on_conn_lost(self)


class SipTransport:
    def __init__(self, endpoint: SipEndpoint, host: str = "0.0.0.0", port: int = 5060,
                 udp: bool = True, tcp: bool = True,
                 on_events: Callable[[list[Event]], None] | None = None,
                 limits: SipLimits | None = None,
                 on_notice: Callable[[Notice], None] | None = None,
                 tls_port: int = 5061, tls_server: ssl.SSLContext | None = None,
                 tls_client: ssl.SSLContext | None = None) -> None:
        self.endpoint = endpoint
        self.guard = TcpGuard(limits or SipLimits())
        self.on_notice = on_notice
        self.host = host
        self.port = port
        self.udp = udp
        self.tcp = tcp
        self.tls_port = tls_port
        self._tls_server_context = tls_server  # None: no TLS listener
        self._tls_client_context = tls_client
        self._tls_server: asyncio.Server | None = None
        self.tls_failures = 0  # handshakes that failed: garbage, plain SIP, timeouts
        self.on_events = on_events
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._conn_ids = itertools.count(1)
        self._conns: dict[int, _Tcp] = {}
        self._by_remote: dict[tuple[str, int], int] = {}
        self._connecting: dict[tuple[str, int], list[bytes]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._heartbeat: asyncio.TimerHandle | None = None
        self._flushing = False
        self._again = False
        self._local_ips: dict[str, str] = {}
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._tick()  # the core's first time, before anyone acts on it
        if self.udp:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, self.port))
            self._udp = transport  # type: ignore[assignment]
            self.port = transport.get_extra_info("sockname")[1]
        if self.tcp:
            self._server = await loop.create_server(lambda: _Tcp(self, inbound=True),
                                                    self.host, self.port, reuse_address=True)
            if not self.udp or self.port == 0:
                self.port = self._server.sockets[0].getsockname()[1]
        if self._tls_server_context is not None:
            context = self._tls_server_context
            self._tls_server = await loop.create_server(
                lambda: _Tcp(self, inbound=True, tls=TlsStream(context, server_side=True)),
                self.host, self.tls_port, reuse_address=True)
            self.tls_port = self._tls_server.sockets[0].getsockname()[1]
        self.flush()

    async def close(self) -> None:
        self._closed = True
        for handle in (self._timer, self._heartbeat):
            if handle is not None:
                handle.cancel()
        self._timer = self._heartbeat = None
        for task in list(self._tasks):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
        for conn in list(self._conns.values()):
            if conn.transport is not None:
                conn.transport.close()
            self.guard.closed(conn.conn_id)
        for server in (self._server, self._tls_server):
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    await server.wait_closed()
        await asyncio.sleep(0)

    # ------------------------------------------------------------------ addresses
    def local_address(self, peer_ip: str | None = None, transport: str = "udp"
                      ) -> tuple[str, int]:
        """Our address as a peer should see it (for Via, Contact and SDP); the TLS
        port for ``transport`` "tls"."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            ip = peer_ip or "192.0.2.1"
            host = self._local_ips.get(ip) or local_ip_toward(ip)
            self._local_ips[ip] = host
        return (host, self.tls_port if transport == "tls" else self.port)

    def now(self) -> float:
        """The loop's time: the ``now`` to pass to an endpoint action."""
        assert self._loop is not None
        return self._loop.time()

    def _tick(self) -> None:
        """Keep the core's last time fresh while nothing else feeds it."""
        self._heartbeat = None
        if self._closed or self._loop is None:
            return
        self.endpoint.handle_timer(self.now())
        self._police()
        self._heartbeat = self._loop.call_later(HEARTBEAT_S, self._tick)
        if self._udp is not None or self._server is not None:
            self.flush()

    # ------------------------------------------------------------------ input
    def _on_datagram(self, data: bytes, addr: tuple) -> None:
        remote = (addr[0], addr[1])
        try:
            self.endpoint.receive_datagram(data, remote, self.local_address(remote[0]),
                                           self.now())
        except Exception:  # never let one packet take the socket down
            log.exception("sip: error handling datagram from %s:%s", *remote)
        self.flush()

    def _on_stream(self, conn: _Tcp, data: bytes) -> None:
        local = conn.local
        if self.host in ("0.0.0.0", "::", ""):
            local = (local[0], self.tls_port if conn.name == "tls" else self.port)
        try:
            self.endpoint.receive_stream(conn.conn_id, data, conn.peer, local, self.now(),
                                         conn.name)
        except Exception:
            log.exception("sip: error handling stream from %s:%s", *conn.peer)
        if conn.inbound:
            self.guard.received(conn.conn_id, self.now(),
                                self.endpoint.stream_partial_since(conn.conn_id))
        self.flush()

    def _on_conn_lost(self, conn: _Tcp) -> None:
        if conn.refused:
            return
        self.guard.closed(conn.conn_id)
        self._conns.pop(conn.conn_id, None)
        if self._by_remote.get(conn.peer) == conn.conn_id:
            del self._by_remote[conn.peer]
        if not self._closed:
            self.endpoint.connection_lost(conn.conn_id)
            self.flush()

    # ------------------------------------------------------------------ TLS
    def _tls_failed(self, conn: _Tcp, reason: str) -> None:
        self.tls_failures += 1
        log_event(log, "sip.tls_failed", level=logging.WARNING,
                  remote=f"{conn.peer[0]}:{conn.peer[1]}", reason=reason)

    # ------------------------------------------------------------------ TCP policy
    def _admit_conn(self, conn: _Tcp) -> bool:
        keep = self.guard.opened(conn.conn_id, conn.peer[0], self.now())
        if not keep:
            log.debug("sip: refused TCP connection from %s:%s", *conn.peer)
            self._notify()
        return keep

    def _police(self) -> None:
        """Close what the guard says has overstayed (slow message, idle)."""
        for conn_id in self.guard.expired(self.now(), self.endpoint.connections_in_use):
            conn = self._conns.get(conn_id)
            if conn is not None and conn.transport is not None:
                log.debug("sip: closing TCP connection from %s:%s", *conn.peer)
                conn.transport.close()
        self._notify()

    def _notify(self) -> None:
        for notice in self.guard.notices():
            if self.on_notice is None:
                continue
            try:
                self.on_notice(notice)
            except Exception:
                log.exception("sip: on_notice callback failed")

    def statistics(self) -> dict[str, int]:
        """Monotonic counts of the TCP policy (refused, closed slow, closed idle) and of
        failed TLS handshakes."""
        return {**self.guard.statistics(), "tls_handshakes_failed": self.tls_failures}

    # ------------------------------------------------------------------ output
    def flush(self) -> None:
        """Send what the endpoint has queued, hand its events over, re-arm the timer."""
        if self._flushing:
            self._again = True
            return
        self._flushing = True
        try:
            while True:
                self._again = False
                for t in self.endpoint.transmissions():
                    if t.transport == "udp":
                        if self._udp is not None:
                            self._udp.sendto(t.data, t.remote)
                    else:
                        self._send_tcp(t.remote, t.data, t.conn_id, t.transport)
                events = self.endpoint.events()
                if events and self.on_events is not None:
                    try:
                        self.on_events(events)
                    except Exception:
                        log.exception("sip: on_events callback failed")
                if not self._again and not events:
                    break
        finally:
            self._flushing = False
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._loop is None or self._closed:
            return
        deadline = self.endpoint.next_timer()
        if deadline == self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.endpoint.handle_timer(self.now())
        self.flush()

    def _send_tcp(self, remote: tuple[str, int], data: bytes, conn_id: int | None,
                  transport: str = "tcp") -> None:
        conn = self._conns.get(conn_id) if conn_id is not None else None
        if conn is None:
            cid = self._by_remote.get(tuple(remote))
            conn = self._conns.get(cid) if cid is not None else None
            if conn is not None and conn.name != transport:
                conn = None  # never TLS traffic on a plain connection, nor the reverse
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            conn.write(data)
            return
        key = (remote[0], remote[1])
        queue = self._connecting.get(key)
        if queue is not None:
            queue.append(data)
            return
        self._connecting[key] = [data]
        assert self._loop is not None
        task = self._loop.create_task(self._connect(key, transport == "tls"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, remote: tuple[str, int], secure: bool = False) -> None:
        assert self._loop is not None
        context = self._tls_client_context if secure else None
        if secure and context is None:
            log.warning("sip: no TLS client context to reach %s:%s", *remote)
            self._connecting.pop(remote, None)
            return
        try:
            _, proto = await self._loop.create_connection(
                lambda: _Tcp(self, tls=TlsStream(context, server_side=False)
                             if context is not None else None), remote[0], remote[1])
        except OSError as exc:
            log.warning("sip: cannot connect to %s:%s: %s", remote[0], remote[1], exc)
            self._connecting.pop(remote, None)
            if not self._closed:  # what waits on it fails now, not at its timeout
                self.endpoint.transport_failed("tls" if secure else "tcp", remote,
                                               now=self.now())
                self.flush()
            return
        for data in self._connecting.pop(remote, []):
            proto.write(data)


def _tls_reason(error: BaseException) -> str:
    """What went wrong in a handshake, in a few words (never more of the peer's bytes)."""
    if isinstance(error, ssl.SSLError):
        return (error.reason or type(error).__name__).lower().replace("_", " ")
    return type(error).__name__

