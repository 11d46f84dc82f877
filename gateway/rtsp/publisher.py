"""The RTSP server's asyncio shell (issue 15): ``rtsp://host:{rtsp.port}/{numeric id}``.

Each TCP connection runs a ``server.ServerConnection``; its requests are answered one
after the other (a task per connection), asking the MCU's ``StreamSource`` whether the
viewer may watch. Media for a path is packetized once (``_Fanout``: one RTP sequence
and SSRC per track, however many watch) and delivered to every viewer playing it,
interleaved on its connection or over UDP from one port pair of the shared RTP range
(taken while any viewer uses UDP). A viewer whose connection stops draining is dropped
once its unsent data passes ``rtsp.max_send_buffer_bytes``; nobody waits for it.
Viewers never send media in: what they send besides requests is read and discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from typing import Any

from aiortc.rtp import RtpPacket

from gateway.auth import parse_authorization
from gateway.log import log_event
from gateway.media import EncodedVideo
from gateway.publish import Credentials, PublishContext, Refusal, StreamInfo
from gateway.rtp.payload import aac, h264
from gateway.rtp.ports import PortPair, PortsExhausted
from gateway.rtsp.message import ParseError, RtspRequest
from gateway.rtsp.server import (
    AUDIO_PT,
    AUDIO_TRACK,
    NEEDS_ACCESS,
    VIDEO_PT,
    VIDEO_TRACK,
    Interleaved,
    Play,
    ServerConnection,
    Setup,
    Teardown,
    Transport,
    Udp,
    new_nonce,
    parse_transport,
)
from gateway.rtsp.settings import RtspServerSettings

log = logging.getLogger(__name__)
MTU = 1400
VIDEO_CLOCK = 90_000
SESSION_CHECK_S = 1.0


class _Track:
    """One RTP stream of a path: sequence, SSRC and timestamp base, shared by viewers."""

    def __init__(self, payload_type: int, clock_rate: int) -> None:
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.base = random.getrandbits(32)
        self.last_ts = self.base

    def packets(self, payloads: list[bytes], timestamp: int) -> list[bytes]:
        ts = (self.base + timestamp) & 0xFFFFFFFF
        self.last_ts = ts
        out = []
        for index, payload in enumerate(payloads):
            self.seq = (self.seq + 1) & 0xFFFF
            out.append(RtpPacket(payload_type=self.payload_type,
                                 marker=int(index == len(payloads) - 1),
                                 sequence_number=self.seq, timestamp=ts, ssrc=self.ssrc,
                                 payload=payload).serialize())
        return out

    def rtp_info(self) -> tuple[int, int]:
        return (self.seq + 1) & 0xFFFF, self.last_ts


class _Fanout:
    """A path's media, packetized once and sent to each viewer playing it."""

    def __init__(self, publisher: RtspPublisher, path: str) -> None:
        self.publisher = publisher
        self.path = path
        self.viewers: dict[_Viewer, dict[int, Transport]] = {}
        self.tracks = {VIDEO_TRACK: _Track(VIDEO_PT, VIDEO_CLOCK),
                       AUDIO_TRACK: _Track(AUDIO_PT, 48_000)}
        self._video_origin: float | None = None
        self.unsubscribe: Callable[[], None] | None = None

    # StreamSubscriber
    def video(self, frame: EncodedVideo, at: float) -> None:
        if self._video_origin is None:
            self._video_origin = at
        ts = round((at - self._video_origin) * VIDEO_CLOCK)
        payloads = h264.packetize(h264.split_annex_b(frame.data), MTU, 1)
        self._send(VIDEO_TRACK, self.tracks[VIDEO_TRACK].packets(payloads, ts))

    def audio(self, access_unit: bytes, sample: int) -> None:
        self._send(AUDIO_TRACK, self.tracks[AUDIO_TRACK].packets([aac.packetize(access_unit)],
                                                                sample))

    def ended(self, reason: str) -> None:
        for viewer in list(self.viewers):
            viewer.drop(f"stream ended: {reason}")

    def _send(self, track: int, packets: list[bytes]) -> None:
        # Framed once per interleaved channel, whatever the number of viewers on it.
        framed: dict[int, bytes] = {}
        for viewer, transports in list(self.viewers.items()):
            transport = transports.get(track)
            if isinstance(transport, Interleaved):
                channel = transport.rtp_channel
                if channel not in framed:
                    framed[channel] = b"".join(
                        b"$" + bytes((channel,)) + len(p).to_bytes(2, "big") + p
                        for p in packets)
                viewer.send_interleaved(framed[channel])
            elif transport is not None:
                viewer.send_udp(transport, packets)


class _Viewer(asyncio.Protocol):
    """One viewer's connection: requests answered in order, media sent as it comes."""

    def __init__(self, publisher: RtspPublisher) -> None:
        self.publisher = publisher
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self.core: ServerConnection | None = None
        self._requests: asyncio.Queue[RtspRequest | ParseError | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.fanout: _Fanout | None = None
        self.logged_refusal = False
        self._accepted: tuple[str, str, StreamInfo] | None = None  # header, path, answer

    # ---- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Fixed, not auto-tuned to megabytes: a viewer that stops reading is found,
            # and dropped, within seconds rather than minutes.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                            self.publisher.settings.max_send_buffer_bytes)
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.address = f"{peer[0]}:{peer[1]}"
        publisher = self.publisher
        if len(publisher.viewers) >= publisher.settings.max_viewers:
            transport.write(b"RTSP/1.0 503 Service Unavailable\r\n\r\n")
            transport.close()
            publisher.counts["refused"] += 1
            return
        publisher.viewers.add(self)
        self.core = ServerConnection(
            session_id=os.urandom(8).hex(), nonce=new_nonce(os.urandom(16)),
            realm=publisher.source.digest_realm, host=publisher.host_for(transport),
            timeout_s=publisher.settings.session_timeout_s)
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        if self.core is None:
            return
        for item in self.core.feed(data):
            self._requests.put_nowait(item)

    def connection_lost(self, exc: Exception | None) -> None:
        self._requests.put_nowait(None)
        self._leave()

    # ---- requests

    async def _serve(self) -> None:
        assert self.core is not None and self.transport is not None
        while (item := await self._requests.get()) is not None:
            if isinstance(item, ParseError):
                log_event(log, "rtsp.bad_request", address=self.address, reason=item.reason)
                self.publisher.counts["bad_requests"] += 1
                self.write(b"RTSP/1.0 400 Bad Request\r\nServer: mcu-rtsp/0.1\r\n\r\n")
                self.transport.close()
                return
            try:
                await self._handle(item)
            except PortsExhausted:
                self.write(_unavailable(item))
            except Exception:  # noqa: BLE001 - one viewer's failure ends its connection only
                log.exception("rtsp request from %s failed", self.address)
                self.transport.close()
            if self.transport.is_closing():
                self._leave()
                return

    async def _handle(self, request: RtspRequest) -> None:
        core, transport = self.core, self.transport
        assert core is not None and transport is not None
        access: StreamInfo | Refusal | None = None
        target = core.target(request)
        if request.method in NEEDS_ACCESS and target is not None:
            access = await self._access(request, target[0])
        if request.method == "SETUP" and isinstance(
                parse_transport(request.header("Transport") or ""), Udp):
            core.server_ports = self.publisher.udp_ports()
        if transport.is_closing():
            return  # it left while the source was asked
        answer = core.answer(request, access, time.monotonic())
        self.write(answer.data)
        for action in answer.actions:
            if isinstance(action, Play):
                self._play(action, int(request.header("CSeq") or 0))
            elif isinstance(action, Teardown):
                self._leave()
            elif isinstance(action, Setup):
                log_event(log, "rtsp.setup", address=self.address, track=action.track,
                          transport=type(action.transport).__name__.lower())
        if answer.close:
            transport.close()

    async def _access(self, request: RtspRequest, path: str) -> StreamInfo | Refusal:
        """The source's answer; the same Authorization for the same path on this
        connection is not checked again (Basic costs an argon2 verify each time)."""
        header = request.header("Authorization")
        if header is not None and self._accepted is not None and \
                self._accepted[:2] == (header, path):
            return self._accepted[2]
        access = await self.publisher.source.open(path, self._credentials(request),
                                                  self.address.rpartition(":")[0])
        if isinstance(access, Refusal):
            self._refused(access)
        elif header is not None:
            self._accepted = (header, path, access)
        return access

    def _credentials(self, request: RtspRequest) -> Credentials | None:
        assert self.core is not None
        header = request.header("Authorization")
        parsed = parse_authorization(header) if header else None
        if parsed is None:
            return None
        scheme, basic, params = parsed
        if scheme == "basic" and basic is not None:
            username, _, password = basic.partition(":")
            return Credentials("basic", username, password)
        if params.get("nonce") != self.core.nonce or params.get("realm") != self.core.realm:
            return None  # an old or foreign nonce: challenged again
        return Credentials("digest", params.get("username", ""), params=params,
                           method=request.method)

    def _refused(self, refusal: Refusal) -> None:
        self.publisher.counts["refused"] += 1
        if refusal.status == 401 and not self.logged_refusal:
            self.logged_refusal = True  # the first 401 is the normal challenge
            return
        log_event(log, "rtsp.refused", address=self.address, status=refusal.status,
                  reason=refusal.reason)

    def _play(self, play: Play, cseq: int) -> None:
        assert self.core is not None and self.transport is not None
        fanout = self.publisher.fanout(play.path)
        if fanout is None:
            self.write(self.core.response(404, cseq))
            return
        self._leave()
        self.fanout = fanout
        fanout.viewers[self] = play.tracks
        info = [(track, *fanout.tracks[track].rtp_info()) for track in sorted(play.tracks)]
        self.write(self.core.play_response(cseq, info))
        log_event(log, "rtsp.play", address=self.address, path=play.path,
                  tracks=len(play.tracks), viewers=len(fanout.viewers))

    def write(self, data: bytes) -> None:
        """Send unless the connection is gone (uvloop raises on a closed transport)."""
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # ---- media

    def send_interleaved(self, data: bytes) -> None:
        tcp = self.transport
        if tcp is None or tcp.is_closing():
            return
        tcp.write(data)
        if tcp.get_write_buffer_size() > self.publisher.settings.max_send_buffer_bytes:
            self.drop("stopped reading")

    def send_udp(self, transport: Udp, packets: list[bytes]) -> None:
        self.publisher.send_udp(packets, (self.address.rpartition(":")[0], transport.client_rtp))

    def drop(self, why: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            log_event(log, "rtsp.dropped", address=self.address, reason=why)
            self.publisher.counts["dropped"] += 1
            self.transport.abort()  # its unsent data is nobody's concern any more
        self._leave()

    def expired(self, now: float) -> bool:
        return self.core is not None and self.core.deadline is not None and \
            now > self.core.deadline

    def _leave(self) -> None:
        if self.fanout is not None:
            self.publisher.leave(self.fanout, self)
            self.fanout = None
        if self.transport is not None and self.transport.is_closing():
            self.publisher.viewers.discard(self)


def _unavailable(request: RtspRequest) -> bytes:
    cseq = request.header("CSeq") or "0"
    return f"RTSP/1.0 503 Service Unavailable\r\nCSeq: {cseq}\r\n\r\n".encode()


class RtspPublisher:
    """The RTSP server: a ``gateway.publish.Publisher``."""

    name = "rtsp"

    @classmethod
    def factory(cls, settings: Any, context: PublishContext) -> RtspPublisher | None:
        rtsp: RtspServerSettings = settings.rtsp
        return cls(rtsp, context) if rtsp.enabled else None

    def __init__(self, settings: RtspServerSettings, context: PublishContext) -> None:
        self.settings = settings
        self.source = context.source
        self._ports = context.ports
        self._server: asyncio.Server | None = None
        self.port = settings.port
        self.viewers: set[_Viewer] = set()
        self._fanouts: dict[str, _Fanout] = {}
        self._udp: PortPair | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.counts = {"refused": 0, "dropped": 0, "bad_requests": 0}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Viewer(self), self.settings.host,
                                                self.settings.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._sweeper = loop.create_task(self._sweep())
        log_event(log, "rtsp.listening", host=self.settings.host, port=self.port)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            self._server.close()
        for viewer in list(self.viewers):
            viewer.drop("mcu stopping")
        for fanout in list(self._fanouts.values()):
            self._close_fanout(fanout)
        if self._server is not None:
            await self._server.wait_closed()
        self._release_udp()

    def statistics(self) -> dict[str, int]:
        return {"viewers": sum(len(f.viewers) for f in self._fanouts.values()),
                "connections": len(self.viewers), **self.counts}

    def host_for(self, transport: asyncio.BaseTransport) -> str:
        sockname = transport.get_extra_info("sockname") or (self.settings.host, self.port)
        return f"{sockname[0]}:{sockname[1]}"

    # ---- paths

    def fanout(self, path: str) -> _Fanout | None:
        fanout = self._fanouts.get(path)
        if fanout is not None:
            self.source.keyframe(path)  # the new viewer decodes from the next key frame
        else:
            fanout = _Fanout(self, path)
            fanout.unsubscribe = self.source.subscribe(path, fanout)
            if fanout.unsubscribe is None:
                return None
            self._fanouts[path] = fanout
        return fanout

    def leave(self, fanout: _Fanout, viewer: _Viewer) -> None:
        fanout.viewers.pop(viewer, None)
        if not fanout.viewers and self._fanouts.get(fanout.path) is fanout:
            self._close_fanout(fanout)
        if not any(isinstance(t, Udp) for f in self._fanouts.values()
                   for tracks in f.viewers.values() for t in tracks.values()):
            self._release_udp()

    def _close_fanout(self, fanout: _Fanout) -> None:
        self._fanouts.pop(fanout.path, None)
        if fanout.unsubscribe is not None:
            fanout.unsubscribe()
            fanout.unsubscribe = None

    # ---- UDP

    def udp_ports(self) -> tuple[int, int]:
        if self._udp is None:
            self._udp = self._ports.allocate(self.settings.host)
            self._udp.rtp_sock.setblocking(False)
        return self._udp.rtp_port, self._udp.rtcp_port

    def send_udp(self, packets: list[bytes], address: tuple[str, int]) -> None:
        if self._udp is None:
            return
        for packet in packets:
            with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
                self._udp.rtp_sock.sendto(packet, address)  # a full buffer drops, never waits

    def _release_udp(self) -> None:
        if self._udp is not None:
            self._ports.release(self._udp)
            self._udp = None

    async def _sweep(self) -> None:
        """Sessions nobody kept alive end (a player that vanished without TEARDOWN)."""
        while True:
            await asyncio.sleep(SESSION_CHECK_S)
            now = time.monotonic()
            for viewer in list(self.viewers):
                if viewer.expired(now):
                    viewer.drop("session timed out")


__all__ = ["RtspPublisher"]
