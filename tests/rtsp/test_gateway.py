"""RtspGateway without an MCU: a fake seat, the shared port allocator, fake cameras.

Bad URIs and exhausted ports hold nothing; an unreachable camera is a participant at
once (camera-off slate: video, not receiving), goes offline and retries; a codec we
cannot depacketize is ``failed``; hang-up leaves no task, port or socket.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.gateway import GatewayContext, UnsupportedUri
from gateway.leg import Hangup, Leg, Refuse, RefuseCause
from gateway.rtp.ports import PortAllocator, PortsExhausted
from gateway.rtp.settings import RtpSettings
from gateway.rtsp.gateway import RtspGateway
from gateway.rtsp.settings import RtspSettings

from .camera import free_tcp_port


class FakeSeat:
    def __init__(self) -> None:
        self.legs: list[Leg] = []
        self.abandoned = False

    def join(self, leg: Leg) -> None:
        self.legs.append(leg)

    def abandon(self) -> None:
        self.abandoned = True


def refuse(info: object) -> Refuse:
    return Refuse(RefuseCause.NOT_FOUND, "no incoming calls")


def gateway(ports: PortAllocator, **settings: object) -> RtspGateway:
    rtsp = RtspSettings(rtp_host="127.0.0.1", reconnect_min_s=0.1, reconnect_max_s=0.4,
                        **settings)  # type: ignore[arg-type]
    return RtspGateway(rtsp, RtpSettings(), GatewayContext(refuse, ports))


def camera_tasks() -> list[asyncio.Task[object]]:
    names = ("camera-", "rtp-")
    return [t for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and t.get_name().startswith(names)]


async def wait_for(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def test_bad_uris_and_no_ports_hold_nothing() -> None:
    ports = PortAllocator(40000, 40001)
    gw = gateway(ports)
    for uri in ("rtsp://", "http://cam/x", "rtsps://cam/x"):
        with pytest.raises(UnsupportedUri):
            gw.dial(uri, FakeSeat(), conference="1", display_name="x")
    held = ports.allocate("127.0.0.1")
    seat = FakeSeat()
    with pytest.raises(PortsExhausted):
        gw.dial("rtsp://127.0.0.1:9/cam", seat, conference="1", display_name="x")
    assert seat.legs == [] and gw.statistics()["calls"] == 0 and ports.in_use == 1
    ports.release(held)
    await gw.stop()
    assert camera_tasks() == []


async def test_unreachable_camera_joins_at_once_goes_offline_and_hangs_up_clean() -> None:
    ports = PortAllocator(40000, 40009)
    gw = gateway(ports)
    seat = FakeSeat()
    leg_id = gw.dial(f"rtsp://user:pw@127.0.0.1:{free_tcp_port()}/cam", seat, conference="1",
                     display_name="Conference 1")
    [leg] = seat.legs
    assert (leg.id, leg.protocol, leg.display_name) == (leg_id, "rtsp", "127.0.0.1")
    assert leg.audio_format is None and leg.keyframe_methods == ()
    assert leg.video_format is not None  # the camera-off slate, not "audio only"
    assert not leg.video_receiving and not leg.video_sending
    assert gw.statistics()["rtp_ports_in_use"] == 2 and ports.in_use == 1
    await wait_for(lambda: gw.statistics()["camera_reconnects"] >= 2)
    camera = leg.statistics()["camera"]
    assert camera["state"] == "offline" and "cannot connect" in camera["reason"]  # type: ignore[index]
    assert "pw" not in repr(leg.statistics()) and camera["url"].startswith("rtsp://127.0.0.1:")  # type: ignore[index]
    await leg.hang_up("dropped")
    events = [event async for event in leg.events()]
    assert events == [Hangup("dropped", by_remote=False)]
    await wait_for(lambda: gw.statistics()["calls"] == 0 and ports.in_use == 0)
    await wait_for(lambda: camera_tasks() == [])
    await gw.stop()


async def fake_camera(sdp: str) -> asyncio.Server:
    """Answers OPTIONS and DESCRIBE (with ``sdp``); anything else 454."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                lines = request.decode().split("\r\n")
                cseq = next(ln for ln in lines if ln.lower().startswith("cseq:"))
                if lines[0].startswith("OPTIONS"):
                    writer.write(f"RTSP/1.0 200 OK\r\n{cseq}\r\nPublic: DESCRIBE\r\n\r\n"
                                 .encode())
                elif lines[0].startswith("DESCRIBE"):
                    body = sdp.encode()
                    writer.write(f"RTSP/1.0 200 OK\r\n{cseq}\r\nContent-Type: application/sdp"
                                 f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
                else:
                    writer.write(f"RTSP/1.0 454 Session Not Found\r\n{cseq}\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


SDP_MP4V = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
            "m=video 0 RTP/AVP 97\r\na=rtpmap:97 MP4V-ES/90000\r\na=control:track1\r\n")


async def test_a_codec_we_cannot_depacketize_is_failed() -> None:
    ports = PortAllocator(40000, 40009)
    gw = gateway(ports, transport="tcp")
    server = await fake_camera(SDP_MP4V)
    port = server.sockets[0].getsockname()[1]
    seat = FakeSeat()
    gw.dial(f"rtsp://127.0.0.1:{port}/cam", seat, conference="1", display_name="")
    [leg] = seat.legs
    await wait_for(lambda: leg.statistics()["camera"]["state"] == "failed")  # type: ignore[index]
    camera = leg.statistics()["camera"]
    assert camera["reason"] == "unsupported video codec: MP4V-ES"  # type: ignore[index]
    assert gw.statistics()["camera_failures"] >= 1 and ports.in_use == 0
    await gw.stop()
    server.close()
    await server.wait_closed()
    assert camera_tasks() == [] and gw.statistics()["calls"] == 0


async def test_picture_size_from_the_sdp() -> None:
    gw = gateway(PortAllocator(40000, 40009))
    from gateway.sdp.model import parse_sdp

    sdp = parse_sdp((SDP_MP4V.replace("97 MP4V-ES", "96 H264").replace("AVP 97", "AVP 96")
                     + "a=framesize:96 640-480\r\n").encode())
    chosen = gw._choose_video(sdp)
    assert not isinstance(chosen, str)
    fmt = chosen[1].format
    assert (fmt.codec, fmt.payload_type, fmt.width, fmt.height) == ("H264", 96, 640, 480)


SDP_TWO_VIDEOS = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 97\r\na=rtpmap:97 MP4V-ES/90000\r\na=control:track1\r\n"
    "m=audio 0 RTP/AVP 98 0\r\na=rtpmap:98 G726-32/8000\r\na=control:track2\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track3\r\n"
    "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000/2\r\n"
    "a=fmtp:97 streamtype=5; mode=AAC-hbr; config=1410; sizelength=13; indexlength=3;"
    " indexdeltalength=3\r\na=control:track4\r\n")


def _camera(gw: RtspGateway, audio: bool) -> tuple[object, object]:
    from gateway.rtsp.camera import CameraCore
    from gateway.rtsp.gateway import _Attempt, _Camera

    camera = _Camera("rtsp-x", "rtsp://h/x", "rtsp://h/x", CameraCore(gw.settings), audio=audio)
    return camera, _Attempt(None, "tcp")  # type: ignore[arg-type]


def test_the_first_usable_video_stream_is_chosen_whichever_it_is() -> None:
    from gateway.sdp.model import parse_sdp

    gw = gateway(PortAllocator(40000, 40009))
    sdp = parse_sdp(SDP_TWO_VIDEOS.encode())
    camera, attempt = _camera(gw, audio=False)
    assert gw._choose(camera, attempt, sdp) == [2]  # type: ignore[arg-type]
    assert attempt.chosen["video"].format.codec == "H264"  # type: ignore[attr-defined]
    assert "audio" not in attempt.chosen  # type: ignore[attr-defined]


def test_camera_audio_is_set_up_only_when_asked_and_decodable() -> None:
    from gateway.sdp.model import parse_sdp

    gw = gateway(PortAllocator(40000, 40009))
    camera, attempt = _camera(gw, audio=True)
    # G726 is not decoded: the static PCMU (0) of the same stream is.
    assert gw._choose(camera, attempt, parse_sdp(SDP_TWO_VIDEOS.encode())) == [2, 1]  # type: ignore[arg-type]
    pcmu = attempt.chosen["audio"].format  # type: ignore[attr-defined]
    assert (pcmu.name, pcmu.payload_type, pcmu.clock_rate) == ("PCMU", 0, 8000)
    aac_only = SDP_TWO_VIDEOS.replace("RTP/AVP 98 0", "RTP/AVP 98")
    camera, attempt = _camera(gw, audio=True)
    assert gw._choose(camera, attempt, parse_sdp(aac_only.encode())) == [2, 3]  # type: ignore[arg-type]
    aac = attempt.chosen["audio"].format  # type: ignore[attr-defined]
    assert (aac.name, aac.clock_rate, aac.channels, aac.config) == (
        "MPEG4-GENERIC", 16000, 2, bytes.fromhex("1410"))
    assert aac.sample_rate == 48000  # the mixer gets it resampled to 48 kHz
    none = aac_only.replace("config=1410; ", "").replace("mode=AAC-hbr", "mode=CELP-cbr")
    camera, attempt = _camera(gw, audio=True)
    assert gw._choose(camera, attempt, parse_sdp(none.encode())) == [2]  # type: ignore[arg-type]


async def test_audio_option_is_true_or_false() -> None:
    gw = gateway(PortAllocator(40000, 40009))
    with pytest.raises(UnsupportedUri, match="audio"):
        gw.dial("rtsp://127.0.0.1:9/cam", FakeSeat(), conference="1", display_name="",
                options={"audio": "loud"})
    seat = FakeSeat()
    gw.dial("rtsp://127.0.0.1:9/cam", seat, conference="1", display_name="",
            options={"audio": "true"})
    [leg] = seat.legs
    assert leg.audio_format is not None and leg.audio_format.name == "PCMU"  # silent till then
    assert not leg.audio_sending and leg.read_audio() is None
    await gw.stop()
