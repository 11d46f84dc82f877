"""The asyncio shell around ``RtpSession``: two UDP sockets, a timer, nothing else.

Works on any asyncio loop, uvloop included: it only uses create_datagram_endpoint
on pre-bound sockets, one background task and loop.time().
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable

from gateway.leg import Dtmf
from gateway.media import EncodedAudio
from gateway.rtp.ports import PortAllocator, PortPair
from gateway.rtp.session import Address, RtpSession, is_rtcp
from gateway.rtp.srtp import SrtpStream
from gateway.rtp.video import VideoRtpSession
from gateway.sdp.crypto import SrtpKeys

log = logging.getLogger(__name__)

TICK_S = 0.25  # watchdog / RTCP / DTMF-timeout granularity


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, Address], None]) -> None:
        self._on_datagram = on_datagram
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[type-arg]
        self._on_datagram(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable while the peer is not listening yet: not fatal.
        log.debug("rtp socket error: %s", exc)


def _sendable(addr: Address) -> bool:
    """Never send to c=0.0.0.0 (hold) or port 0 (declined): Linux would deliver
    0.0.0.0 to ourselves."""
    try:
        return addr[1] != 0 and not ipaddress.ip_address(addr[0]).is_unspecified
    except ValueError:
        return False  # a host name: SDP we cannot route without a resolver


class StreamShell:
    """What every stream's shell does whatever carries its packets: feed the session
    the loop's time, tick its timers (reorder gaps, RTCP reports), watch for silence,
    and hold its directions. Subclasses say how packets leave (``_emit``)."""

    def __init__(
        self,
        session: RtpSession | VideoRtpSession,
        *,
        inactivity_timeout: float,
        on_timeout: Callable[[], None] | None = None,
    ) -> None:
        self.session = session
        self.inactivity_timeout = inactivity_timeout
        self.on_timeout = on_timeout
        self.sending = True
        self.receiving = True
        self._task: asyncio.Task[None] | None = None
        self._watch_from = 0.0
        self._timed_out = False
        self._started = False
        self._closed = False

    @property
    def label(self) -> str:
        """How log lines name this stream."""
        return "stream"

    def now(self) -> float:
        """The loop's clock, which the session's timestamps count in."""
        return asyncio.get_running_loop().time()

    _now = now

    def _start_timers(self) -> None:
        self._started = True
        self._watch_from = self._now()
        self._task = asyncio.create_task(self._run(), name=f"rtp-{self.label}")

    async def _stop_timers(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _emit(self, data: bytes, rtcp: bool) -> None:
        """Send one RTP (``rtcp`` False) or RTCP packet the session built."""
        raise NotImplementedError

    # -- media -------------------------------------------------------------------

    def read_audio(self) -> EncodedAudio | None:
        return self.session.read_audio(self._now())

    def send_audio(self, frame: EncodedAudio) -> None:
        if not self._open_for_sending:
            return
        self._emit(self.session.packetize(frame, self._now()), rtcp=False)

    @property
    def _open_for_sending(self) -> bool:
        return self._started and not self._closed and self.sending

    def events(self) -> list[Dtmf]:
        return self.session.events()

    def send_packets(self, datagrams: list[bytes]) -> None:
        """RTP packets the session built (a video picture), sent while sending."""
        if not self._open_for_sending:
            return
        for data in datagrams:
            self._emit(data, rtcp=False)

    def send_rtcp_now(self, data: bytes) -> None:
        """An RTCP packet outside the report schedule (PLI, FIR)."""
        self._send_rtcp(data)

    def update_remote(
        self,
        remote_rtp: Address,
        remote_rtcp: Address,
        rtcp_mux: bool,
        *,
        sending: bool = True,
        receiving: bool = True,
    ) -> None:
        """Apply a re-INVITE. ``receiving`` False (remote holds: sendonly/inactive on
        its side) pauses the inactivity watchdog, since silence is then expected."""
        self.session.set_remote(remote_rtp, remote_rtcp, rtcp_mux)
        self.sending = sending
        if receiving and not self.receiving:
            self._watch_from = self._now()  # restart the clock when media resumes
        self.receiving = receiving

    # -- timers ------------------------------------------------------------------

    async def _run(self) -> None:
        tick = min(TICK_S, self.inactivity_timeout / 4)
        while not self._closed:
            await asyncio.sleep(tick)
            now = self._now()
            self.session.poll(now)
            self._send_rtcp(self.session.rtcp_report(now))
            self._check_inactivity(now)

    def _check_inactivity(self, now: float) -> None:
        if self._timed_out or not self.receiving:
            return
        last = max(self.session.last_received or 0.0, self._watch_from)
        if now - last >= self.inactivity_timeout:
            self._timed_out = True
            log.info("rtp %s: no media for %.1fs", self.label, now - last)
            if self.on_timeout is not None:
                self.on_timeout()

    def _send_rtcp(self, data: bytes | None) -> None:
        if data is not None and not self._closed:
            self._emit(data, rtcp=True)


class RtpEndpoint(StreamShell):
    """Owns one port pair; feeds the session with ``loop.time()``.

    With rtcp-mux RTCP goes over the RTP socket; the RTCP port stays bound anyway so
    a re-INVITE can turn mux off. With SRTP keys every datagram is unprotected before
    the session sees it (one that fails is dropped, counted in ``srtp``) and every
    packet protected on its way out.
    """

    def __init__(
        self,
        session: RtpSession | VideoRtpSession,
        ports: PortPair,
        allocator: PortAllocator,
        *,
        inactivity_timeout: float,
        on_timeout: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(session, inactivity_timeout=inactivity_timeout, on_timeout=on_timeout)
        self.ports = ports
        self._allocator = allocator
        self._rtp: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._protocols: list[_Socket] = []
        self.srtp: SrtpStream | None = None
        self._srtp_logged = False

    def set_srtp(self, keys: SrtpKeys | None) -> None:
        """Run SRTP with ``keys`` (None: plain RTP); new keys start fresh contexts."""
        if keys is None:
            self.srtp = None
        elif self.srtp is None or self.srtp.keys != keys:
            self.srtp = SrtpStream(keys)

    @property
    def local_port(self) -> int:
        return self.ports.rtp_port

    @property
    def label(self) -> str:
        return f"port {self.local_port}"

    async def start(self) -> None:
        self._rtp = await self._open(self.ports.rtp_sock, self._on_rtp)
        self._rtcp = await self._open(self.ports.rtcp_sock, self._on_rtcp)
        self._start_timers()

    async def _open(
        self, sock: socket.socket, handler: Callable[[bytes, Address], None]
    ) -> asyncio.DatagramTransport:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Socket(handler), sock=sock
        )
        self._protocols.append(protocol)
        return transport

    def _on_rtp(self, data: bytes, addr: Address) -> None:
        if self.srtp is not None:  # rtcp-mux: SRTCP comes this way too
            plain = self._unprotect(data, is_rtcp(data), addr)
            if plain is None:
                return
            data = plain
        self.session.receive_rtp(data, addr, self._now())

    def _on_rtcp(self, data: bytes, addr: Address) -> None:
        if self.srtp is not None:
            plain = self._unprotect(data, True, addr)
            if plain is None:
                return
            data = plain
        self.session.receive_rtcp(data, addr, self._now())

    def _unprotect(self, data: bytes, rtcp: bool, addr: Address) -> bytes | None:
        assert self.srtp is not None
        plain = self.srtp.unprotect(data, rtcp)
        if plain is None and not self._srtp_logged:
            self._srtp_logged = True  # once per stream: a flood must not flood the log
            log.warning("rtp %s: dropped an %s packet from %s:%s that failed SRTP (%s); "
                        "%d bytes", self.label, "SRTCP" if rtcp else "SRTP", addr[0], addr[1],
                        ", ".join(k for k, v in self.srtp.counters.items()
                                  if v and k not in ("srtp_protected", "srtp_unprotected")),
                        len(data))
        return plain

    def _emit(self, data: bytes, rtcp: bool) -> None:
        if self.srtp is not None:
            protected = self.srtp.protect(data, rtcp)
            if protected is None:
                return
            data = protected
        if not rtcp:
            transport, addr = self._rtp, self.session.rtp_destination
        else:
            transport = self._rtp if self.session.rtcp_mux else self._rtcp
            addr = self.session.rtcp_destination
        if transport is not None:
            self._send(transport, data, addr)

    def _send(self, transport: asyncio.DatagramTransport, data: bytes, addr: Address) -> None:
        if _sendable(addr) and not transport.is_closing():
            transport.sendto(data, addr)

    # -- teardown ----------------------------------------------------------------

    async def close(self, *, send_bye: bool = True) -> None:
        """Stop timers, send RTCP BYE, close both sockets and free the ports."""
        if self._closed:
            return
        await self._stop_timers()
        if send_bye and self._rtp is not None:
            self._send_rtcp(self.session.bye(self._now()))
        self._closed = True
        for transport in (self._rtp, self._rtcp):
            if transport is not None:
                transport.close()
        # Free the ports only once the loop has let go of the sockets.
        await asyncio.gather(*(p.closed for p in self._protocols))
        self._allocator.release(self.ports)


CARRIED_SOURCE: Address = ("carried", 0)
"""The source address a carried stream's packets are latched on (there is no socket)."""


class CarriedEndpoint(StreamShell):
    """A stream whose packets another carrier brings: RTP/RTCP interleaved on an RTSP
    TCP connection (RFC 2326 10.12). No socket and no port: the carrier hands packets
    to ``receive``; what the session would send (RTCP receiver reports, BYE) is dropped,
    since the carrier's own keep-alive holds its session up and a receive-only stream
    sends no RTP. Timers, directions and the watchdog are those of every stream."""

    def __init__(
        self,
        session: RtpSession | VideoRtpSession,
        *,
        inactivity_timeout: float,
        on_timeout: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(session, inactivity_timeout=inactivity_timeout, on_timeout=on_timeout)
        self.dropped = 0  # packets the session built that nothing carries back

    @property
    def label(self) -> str:
        return "carried"

    async def start(self) -> None:
        self._start_timers()

    def receive(self, rtp: bool, data: bytes, now: float) -> None:
        if self._closed:
            return
        if rtp:
            self.session.receive_rtp(data, CARRIED_SOURCE, now)
        else:
            self.session.receive_rtcp(data, CARRIED_SOURCE, now)

    def _emit(self, data: bytes, rtcp: bool) -> None:
        self.dropped += 1

    async def close(self, *, send_bye: bool = True) -> None:
        if self._closed:
            return
        await self._stop_timers()
        self._closed = True
