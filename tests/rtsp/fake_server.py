"""A scriptable fake RTSP camera for bad-input tests (asyncio, 127.0.0.1 only).

By default it is a well-behaved camera: OPTIONS, DESCRIBE (an H.264 SDP), SETUP over
UDP (``client_port``) or TCP (``interleaved``), PLAY, GET_PARAMETER keep-alives and
TEARDOWN, and once PLAYing it sends ``video`` (Annex B access units, e.g. from
``encode_solid``) as RFC 6184 RTP, interleaved on the TCP connection or by UDP to the
client's ports, at ``fps``. Everything a misbehaving camera does is scripted:

- ``handlers={"DESCRIBE": raw(b"...", close=True)}``: answer a method with given bytes
  (garbage, a truncated response, an enormous header or body), or close, or anything a
  ``Handler`` coroutine does with the ``Connection``;
- ``udp_sends=False``: accept SETUP over UDP but never send a UDP packet;
- ``paused``: keep the session (and answer keep-alives) but send no RTP;
- ``junk``: what else to put on the wire each tick (``Connection`` in, bytes written);
- ``video = [...]``: switch the picture mid-stream (starts at its first, IDR, frame);
- ``teardown_all()``: the server sends a TEARDOWN request; ``drop_all()``: closes TCP.

``running(server)`` runs it on a loop thread of its own (for tests whose MCU runs on
another thread); its control methods are safe to call from the test's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from gateway.rtp.payload import h264

H264_PT = 96
MTU = 1200
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"


def sdp_for(rtpmap: str = f"{H264_PT} H264/90000", pt: int = H264_PT,
            fmtp: str = f"{H264_PT} packetization-mode=1") -> str:
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fake camera\r\nc=IN IP4 0.0.0.0\r\n"
            "t=0 0\r\na=control:*\r\n"
            f"m=video 0 RTP/AVP {pt}\r\na=rtpmap:{rtpmap}\r\na=fmtp:{fmtp}\r\n"
            "a=control:track1\r\n")


H264_SDP = sdp_for()


def encode_solid(rgb: tuple[int, int, int], width: int, height: int, frames: int = 10,
                 gop: int = 5) -> list[bytes]:
    """``frames`` Annex B access units of one colour (x264, an IDR with SPS/PPS every
    ``gop``); played in a loop from the first they stay decodable."""
    import av
    import numpy as np

    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, 10)
    codec.gop_size = gop
    codec.options = {"preset": "ultrafast", "tune": "zerolatency", "bframes": "0",
                     "keyint": str(gop), "min-keyint": str(gop), "scenecut": "0"}
    picture = np.zeros((height, width, 3), dtype=np.uint8)
    picture[:, :] = rgb
    units: list[bytes] = []
    for index in range(frames):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        units += [bytes(packet) for packet in codec.encode(frame)]
    units += [bytes(packet) for packet in codec.encode(None)]
    return units


def rtp_packet(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def cseq(self) -> str:
        return self.headers.get("cseq", "0")


Handler = Callable[["Connection", Request], Awaitable[None]]


class Connection:
    """One client's TCP connection and its session."""

    def __init__(self, server: FakeRtspServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        self.session = f"{id(self) & 0xFFFFFF:06X}"
        self.channel: int | None = None  # interleaved RTP channel (tcp)
        self.udp_target: tuple[str, int] | None = None
        self.udp: socket.socket | None = None
        self.playing = False
        self.seq = 0
        self.ts = 0
        self.ssrc = 0x1234ABCD
        self.frame = 0
        self.generation = -1
        self._pump: asyncio.Task[None] | None = None

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def reply(self, request: Request, status: int = 200, reason: str = "OK",
              headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> None:
        lines = [f"RTSP/1.0 {status} {reason}", f"CSeq: {request.cseq}"]
        lines += [f"{name}: {value}" for name, value in headers or []]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def interleaved(self, channel: int, data: bytes) -> None:
        self.write(b"$" + bytes([channel]) + struct.pack("!H", len(data)) + data)

    def send_rtp(self, packet: bytes) -> None:
        if self.channel is not None:
            self.interleaved(self.channel, packet)
        elif self.udp is not None and self.udp_target is not None and self.server.udp_sends:
            with contextlib.suppress(OSError):
                self.udp.sendto(packet, self.udp_target)

    def start_media(self) -> None:
        self.playing = True
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run_media())

    def stop_media(self) -> None:
        self.playing = False
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None

    def close(self) -> None:
        self.stop_media()
        if self.udp is not None:
            self.udp.close()
            self.udp = None
        self.writer.close()

    async def _run_media(self) -> None:
        server = self.server
        step = 90000 // server.fps
        while self.playing:
            if server.junk is not None:
                self.write(server.junk(self))
            video = server.video
            if not server.paused and video:
                if self.generation != server.generation:  # a new picture: its IDR first
                    self.generation, self.frame = server.generation, 0
                unit = video[self.frame % len(video)]
                self.frame += 1
                payloads = h264.packetize(unit, MTU)
                for index, payload in enumerate(payloads):
                    self.seq += 1
                    self.send_rtp(rtp_packet(H264_PT, self.seq, self.ts, self.ssrc, payload,
                                             index == len(payloads) - 1))
                server.frames_sent += 1
            self.ts += step
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()
            await asyncio.sleep(1 / server.fps)


# ---- scripted answers -----------------------------------------------------------------


def raw(data: bytes | Callable[[Request], bytes], close: bool = False) -> Handler:
    """Answer with these bytes (or bytes made from the request), then maybe close."""

    async def handler(conn: Connection, request: Request) -> None:
        conn.write(data(request) if callable(data) else data)
        await conn.writer.drain()
        if close:
            conn.close()

    return handler


async def close_now(conn: Connection, request: Request) -> None:
    conn.close()


def header_bomb(size: int = 64 * 1024) -> Handler:
    """A response whose one header line is ``size`` bytes long."""
    return raw(lambda r: (f"RTSP/1.0 200 OK\r\nCSeq: {r.cseq}\r\nX-Pad: ".encode()
                          + b"a" * size + b"\r\n\r\n"))


def body_bomb(declared: int = 64 * 1024 * 1024, sent: int = 256 * 1024) -> Handler:
    """A 200 that announces a ``declared``-byte body and starts sending it."""
    return raw(lambda r: (f"RTSP/1.0 200 OK\r\nCSeq: {r.cseq}\r\nContent-Type: application/sdp"
                          f"\r\nContent-Length: {declared}\r\n\r\n".encode() + b"v" * sent))


def truncated(close: bool = True) -> Handler:
    """A DESCRIBE answer cut off in its body, then the connection closed."""
    body = H264_SDP.encode()
    return raw(lambda r: (f"RTSP/1.0 200 OK\r\nCSeq: {r.cseq}\r\nContent-Type: application/sdp"
                          f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:40]),
               close=close)


# ---- the server -------------------------------------------------------------------------


@dataclass
class FakeRtspServer:
    video: list[bytes] = field(default_factory=list)
    sdp: str = H264_SDP
    handlers: dict[str, Handler] = field(default_factory=dict)
    udp_sends: bool = True
    session_timeout: int = 60
    fps: int = 10
    paused: bool = False
    junk: Callable[[Connection], bytes] | None = None
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, transport)
    connections: list[Connection] = field(default_factory=list)  # open now
    accepted: int = 0
    frames_sent: int = 0
    generation: int = 0
    _server: asyncio.Server | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def __setattr__(self, name: str, value: object) -> None:
        if name == "video" and "video" in self.__dict__:
            self.__dict__["generation"] = self.__dict__.get("generation", 0) + 1
        super().__setattr__(name, value)

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}/cam"

    def methods(self) -> list[str]:
        return [method for method, _ in self.requests]

    async def start(self) -> FakeRtspServer:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for conn in list(self.connections):
            conn.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- control, from any thread

    def _call(self, fn: Callable[[], None]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn)

    def teardown_all(self) -> None:
        """The camera ends every session: a TEARDOWN request, media stopped, TCP kept."""

        def go() -> None:
            for conn in self.connections:
                conn.stop_media()
                conn.write(f"TEARDOWN {self.url} RTSP/1.0\r\nCSeq: 1\r\n"
                           f"Session: {conn.session}\r\n\r\n".encode())

        self._call(go)

    def drop_all(self) -> None:
        """The camera closes every TCP connection, mid-stream."""
        self._call(lambda: [conn.close() for conn in list(self.connections)])

    # -- serving

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer)
        self.connections.append(conn)
        self.accepted += 1
        try:
            while not writer.is_closing():
                request = await self._read_request(reader)
                if request is None:
                    break
                self.requests.append((request.method, request.headers.get("transport", "")))
                handler = self.handlers.get(request.method) or getattr(
                    self, f"_on_{request.method.lower()}", None)
                if handler is None:
                    conn.reply(request, 501, "Not Implemented")
                else:
                    await handler(conn, request)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            conn.close()
            self.connections.remove(conn)

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"RTSP/"):  # the client's answer to our TEARDOWN
                continue
            break
        lines = head.decode("latin-1").split("\r\n")
        method, url, _ = (lines[0].split(" ") + ["", ""])[:3]
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        return Request(method, url, headers, body)

    async def _on_options(self, conn: Connection, request: Request) -> None:
        conn.reply(request, headers=[("Public", PUBLIC)])

    async def _on_describe(self, conn: Connection, request: Request) -> None:
        conn.reply(request, headers=[("Content-Type", "application/sdp"),
                                     ("Content-Base", f"{self.url}/")], body=self.sdp.encode())

    async def _on_setup(self, conn: Connection, request: Request) -> None:
        transport = request.headers.get("transport", "")
        params = dict(p.partition("=")[::2] for p in transport.split(";"))
        session = [("Session", f"{conn.session};timeout={self.session_timeout}")]
        if "interleaved" in params:
            conn.channel = int(params["interleaved"].split("-")[0])
            conn.reply(request, headers=[*session, (
                "Transport", f"RTP/AVP/TCP;unicast;interleaved={params['interleaved']}")])
            return
        rtp_port = int(params["client_port"].split("-")[0])
        conn.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        conn.udp.bind((self.host, 0))
        server_port = conn.udp.getsockname()[1]
        conn.udp_target = (self.host, rtp_port)
        conn.reply(request, headers=[*session, (
            "Transport", f"RTP/AVP;unicast;client_port={params['client_port']};"
                         f"server_port={server_port}-{server_port + 1}")])

    async def _on_play(self, conn: Connection, request: Request) -> None:
        conn.reply(request, headers=[("Session", conn.session), ("Range", "npt=0.000-")])
        conn.start_media()

    async def _on_get_parameter(self, conn: Connection, request: Request) -> None:
        conn.reply(request, headers=[("Session", conn.session)])

    async def _on_teardown(self, conn: Connection, request: Request) -> None:
        conn.stop_media()
        conn.reply(request, headers=[("Session", conn.session)])


@contextlib.contextmanager
def running(server: FakeRtspServer) -> Iterator[FakeRtspServer]:
    """Serve on a loop thread of its own until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="fake-rtsp")
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
        yield server
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@contextlib.contextmanager
def blackhole() -> Iterator[int]:
    """A port whose SYNs are never answered (a full accept queue drops them): for the
    camera, an unreachable host; yields the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
