"""The asyncio shell against a real RTSP server: GStreamer's, serving solid-colour H.264.

Over UDP (the test's own socket pair as client ports) and TCP interleaved, with and
without Digest: H.264 RTP packets must arrive, and TEARDOWN must close cleanly.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from gateway.rtsp.client import (
    Closed,
    Described,
    Event,
    Failed,
    Interleaved,
    Playing,
    Ready,
    Redirected,
    RtspClient,
)
from gateway.rtsp.shell import RtspConnection

from .camera import rtsp_camera
from .test_shell import other_tasks

pytestmark = pytest.mark.peer

WANT_PACKETS = 10


def h264_payload_type(described: Described) -> int:
    for media in described.sdp.media:
        if media.media == "video":
            for pt, rtpmap in media.rtpmaps().items():
                if rtpmap.encoding.upper() == "H264":
                    return pt
    raise AssertionError("no H.264 in the camera's SDP")


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.pt: int | None = None
        self.video_channel: int | None = None
        self.count = 0
        self.enough = asyncio.Event()
        self.failed = asyncio.Event()

    def on_event(self, event: Event) -> None:
        if not isinstance(event, Interleaved):
            self.events.append(event)
        if isinstance(event, Described):
            self.pt = h264_payload_type(event)
        elif isinstance(event, Ready):
            video = [s for s in event.streams if s.kind == "video"][0]
            if video.interleaved is not None:
                self.video_channel = video.interleaved[0]
        elif isinstance(event, Interleaved) and event.channel == self.video_channel:
            self.rtp(event.data)
        elif isinstance(event, Failed):
            self.failed.set()

    def rtp(self, data: bytes) -> None:
        if len(data) >= 12 and data[0] >> 6 == 2 and self.pt is not None:
            if data[1] & 0x7F == self.pt:
                self.count += 1
                if self.count > WANT_PACKETS:
                    self.enough.set()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.recorder.rtp(data)


def udp_pair() -> tuple[socket.socket, socket.socket]:
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp.bind(("127.0.0.1", 0))
    return rtp, rtcp


async def play_and_count(client: RtspClient, recorder: Recorder) -> None:
    conn = RtspConnection(client, recorder.on_event, connect_timeout=3.0)
    await conn.start()
    enough = asyncio.ensure_future(recorder.enough.wait())
    failed = asyncio.ensure_future(recorder.failed.wait())
    try:
        await asyncio.wait({enough, failed}, timeout=6.0, return_when=asyncio.FIRST_COMPLETED)
    finally:
        enough.cancel()
        failed.cancel()
        started = asyncio.get_running_loop().time()
        await conn.close(timeout=3.0)
        closing = asyncio.get_running_loop().time() - started
    failures = [e for e in recorder.events if isinstance(e, Failed)]
    assert not failures, failures
    assert any(isinstance(e, Playing) for e in recorder.events), recorder.events
    assert recorder.count > WANT_PACKETS, f"only {recorder.count} H.264 RTP packets"
    assert isinstance(recorder.events[-1], Closed), recorder.events[-1]
    assert client.state == "closed"
    assert conn.finished.is_set()
    assert closing < 1.0, f"TEARDOWN unanswered: close took {closing:.1f} s"
    assert other_tasks() == []


async def test_udp_h264_arrives_and_teardown_closes() -> None:
    with rtsp_camera() as url:
        recorder = Recorder()
        rtp, rtcp = udp_pair()
        audio_rtp, audio_rtcp = udp_pair()
        loop = asyncio.get_running_loop()
        endpoints = []
        for sock in (rtp, rtcp):
            tr, _ = await loop.create_datagram_endpoint(lambda: _Udp(recorder), sock=sock)
            endpoints.append(tr)
        try:
            ports = {
                "video": (rtp.getsockname()[1], rtcp.getsockname()[1]),
                "audio": (audio_rtp.getsockname()[1], audio_rtcp.getsockname()[1]),
            }
            client = RtspClient(url, transport="udp", client_ports=ports)
            await play_and_count(client, recorder)
            ready = [e for e in recorder.events if isinstance(e, Ready)][0]
            video = [s for s in ready.streams if s.kind == "video"][0]
            assert video.server_ports is not None and video.client_ports == ports["video"]
        finally:
            for tr in endpoints:
                tr.close()
            audio_rtp.close()
            audio_rtcp.close()


async def test_tcp_interleaved_h264_arrives() -> None:
    with rtsp_camera() as url:
        recorder = Recorder()
        await play_and_count(RtspClient(url, transport="tcp"), recorder)
        assert recorder.video_channel is not None


async def test_digest_auth_over_tcp() -> None:
    with rtsp_camera(auth=("cam", "s3cret")) as url:
        recorder = Recorder()
        client = RtspClient(url, username="cam", password="s3cret", transport="tcp")
        await play_and_count(client, recorder)
        assert "s3cret" not in repr(recorder.events) and "s3cret" not in repr(client)


async def test_digest_wrong_password_fails_with_wrong_credentials() -> None:
    with rtsp_camera(auth=("cam", "s3cret")) as url:
        recorder = Recorder()
        client = RtspClient(url, username="cam", password="nope", transport="tcp")
        conn = RtspConnection(client, recorder.on_event, connect_timeout=3.0)
        await conn.start()
        await asyncio.wait_for(conn.finished.wait(), 5.0)
        await conn.close()
        failed = [e for e in recorder.events if isinstance(e, Failed)]
        assert failed and failed[0].reason == "wrong credentials", recorder.events
        assert failed[0].retryable is False
        assert "nope" not in repr(recorder.events)


async def test_redirect_to_the_camera_reconnects() -> None:
    """A front server answers 302 to the camera's URL on another port: the shell reconnects."""
    with rtsp_camera() as url:

        async def front(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = await reader.readuntil(b"\r\n\r\n")
            cseq = [ln for ln in request.split(b"\r\n") if ln.lower().startswith(b"cseq:")][0]
            writer.write(b"RTSP/1.0 302 Found\r\n" + cseq + f"\r\nLocation: {url}\r\n\r\n".encode())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(front, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            recorder = Recorder()
            client = RtspClient(f"rtsp://127.0.0.1:{port}/old", transport="tcp")
            await play_and_count(client, recorder)
        finally:
            server.close()
            await server.wait_closed()
        assert Redirected(url) in recorder.events
