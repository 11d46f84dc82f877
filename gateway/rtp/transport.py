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
from gateway.rtp.protection import Plan as ProtectionPlan
from gateway.rtp.protection import Protection
from gateway.rtp.session import Address, RtpSession
from gateway.rtp.video import VideoRtpSession

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
            self._tick(now)
            self._send_rtcp(self.session.rtcp_report(now))
            self._check_inactivity(now)

    def _tick(self, now: float) -> None:
        """Time-driven work of the carrier (DTLS retransmissions)."""

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
    a re-INVITE can turn mux off. Every datagram passes its ``Protection`` (plain,
    SDES-keyed SRTP, or DTLS-SRTP) on the way in and out; a drop or a failed DTLS
    handshake is logged once per stream with the peer's address.
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
        self.protection = Protection()
        self._logged: set[str] = set()

    def set_protection(self, plan: ProtectionPlan) -> None:
        """Plain RTP (None), SRTP with SDES keys, or DTLS-SRTP; a changed plan (new
        keys in a re-INVITE) starts fresh contexts, an unchanged one keeps them."""
        if plan == self.protection.plan and self.session.rtcp_mux == self.protection.rtcp_mux:
            return
        self.protection = Protection(plan, self.session.rtcp_mux)
        if self._started:
            self._send_dtls(self.protection.start(self._now()))

    @property
    def encrypted(self) -> bool:
        """SRTP on this stream: nothing flows in clear (DTLS keys may still be coming,
        and until they are nothing flows at all)."""
        return self.protection.active

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
        self._send_dtls(self.protection.start(self._now()))

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
        plain = self._inbound(data, "rtp", addr)
        if plain is not None:
            self.session.receive_rtp(plain, addr, self._now())

    def _on_rtcp(self, data: bytes, addr: Address) -> None:
        plain = self._inbound(data, "rtcp", addr)
        if plain is not None:
            self.session.receive_rtcp(plain, addr, self._now())

    def _inbound(self, data: bytes, component: str, addr: Address) -> bytes | None:
        protection = self.protection
        if not protection.active:
            return data
        plain, replies = protection.inbound(data, component, self._now())
        transport = self._rtp if component == "rtp" else self._rtcp
        for reply in replies:  # DTLS answers go back where the handshake came from
            if transport is not None:
                self._send(transport, reply, addr)
        if plain is None and not replies:
            self._log_once("drop", "dropped a packet from %s:%s that failed SRTP (%s); %d "
                           "bytes", addr[0], addr[1], _drops(protection), len(data))
        if protection.failure:
            self._log_once("dtls", "%s (peer %s:%s)", protection.failure, addr[0], addr[1])
        return plain

    def _log_once(self, what: str, message: str, *args: object) -> None:
        if what not in self._logged:  # a flood must not flood the log
            self._logged.add(what)
            log.warning("rtp %s: " + message, self.label, *args)

    def _tick(self, now: float) -> None:
        if self.protection.active:
            self._send_dtls(self.protection.tick(now))

    def _send_dtls(self, flights: dict[str, list[bytes]]) -> None:
        for component, datagrams in flights.items():
            rtcp = component == "rtcp"
            transport = self._rtcp if rtcp else self._rtp
            addr = self.session.rtcp_destination if rtcp else self.session.rtp_destination
            for datagram in datagrams:
                if transport is not None:
                    self._send(transport, datagram, addr)

    def _emit(self, data: bytes, rtcp: bool) -> None:
        protected = self.protection.outbound(data, rtcp)
        if protected is None:
            return  # SRTP asked for and its keys not there yet: never in clear
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

    def receive_many(self, rtp: bool, datas: list[bytes], now: float) -> None:
        if self._closed:
            return
        if rtp:
            self.session.receive_rtp_many(datas, CARRIED_SOURCE, now)
        else:
            for data in datas:
                self.session.receive_rtcp(data, CARRIED_SOURCE, now)

    def _emit(self, data: bytes, rtcp: bool) -> None:
        self.dropped += 1

    async def close(self, *, send_bye: bool = True) -> None:
        if self._closed:
            return
        await self._stop_timers()
        self._closed = True


def _drops(protection: Protection) -> str:
    counts = protection.statistics()
    return ", ".join(name for name in ("srtp_replayed", "srtp_auth_failed", "srtp_malformed",
                                       "srtp_dropped_unkeyed") if counts.get(name))
