"""An RTSP camera as a conference participant, with real peers.

GStreamer's RTSP server (tests/peers/rtsp_camera.py: solid green H.264) is dialled out
with ``rtsp://`` into conference 3000, where a baresip must SEE green in its tile: over
UDP (auto), over TCP interleaved only (``rtsp_client.transport = "tcp"``) with Digest
credentials in the URL (which never reach statistics or the log), and back after the
camera dies (offline: the slate, never a frozen green) and returns on the same port.
Wrong credentials end in state ``failed``. Camera audio (PCMU in 128 ms packets, AAC at
44.1 kHz stereo) is heard by the baresip only for cameras dialled with ``audio``.
Every test ends with the MCU idle.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.rtsp.gateway import RtspGateway
from mcu.app import Mcu
from tests.e2e.conftest import RunningMcu
from tests.e2e.test_video_conference import (
    COLOURS,
    VIDEO,
    join,
    snapshot_until,
    snapshot_where,
)
from tests.peers import pictures
from tests.peers.audio_analysis import hears
from tests.peers.baresip import BaresipPeer, baresip_available
from tests.rtsp.camera import CAMERA_TONES, free_tcp_port, rtsp_camera

pytestmark = pytest.mark.peer

ROOM = "3000"
FAST_RETRY = {"reconnect_min_s": 0.3, "reconnect_max_s": 2.0, "media_timeout_s": 1.5}


def rtsp(m: Mcu) -> RtspGateway:
    gateway = m.gateway("rtsp")
    assert isinstance(gateway, RtspGateway)
    return gateway


def camera_state(mcu: RunningMcu, leg_id: str) -> dict[str, object]:
    stats = mcu.inspect(lambda m: m.statistics(ROOM, leg_id))
    assert stats is not None, f"{leg_id} is not in conference {ROOM}"
    return stats["camera"]  # type: ignore[return-value]


def wait_state(mcu: RunningMcu, leg_id: str, state: str, timeout: float = 15.0
               ) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        camera = camera_state(mcu, leg_id)
        if camera["state"] == state:
            return camera
        if time.monotonic() > deadline:
            raise AssertionError(f"camera never {state}: {camera}")
        time.sleep(0.1)


@pytest.fixture
def viewer(tmp_path: Path) -> Iterator[BaresipPeer]:
    """A baresip sending red H.264, not yet in a call: what it sees is judged."""
    if not baresip_available():
        pytest.fail("baresip is missing: `make test` installs it (scripts/install-system-deps.sh)")
    peer = BaresipPeer(tmp_path, "red", 0, 440.0, ["pcmu"], video_codec="H264",
                       video_colour=COLOURS["red"])
    peer.start()
    yield peer
    peer.close()


def end_idle(mcu: RunningMcu, leg_id: str, peers: list[BaresipPeer]) -> None:
    assert mcu.inspect(lambda m: m.drop(ROOM, leg_id))
    for peer in peers:
        peer.hangup()
    mcu.wait_idle()
    assert mcu.inspect(lambda m: rtsp(m).statistics()["calls"]) == 0
    assert mcu.inspect(lambda m: rtsp(m).statistics()["rtp_ports_in_use"]) == 0
    assert mcu.inspect(lambda m: m.ports.in_use) == 0


def test_udp_camera_is_seen_goes_offline_when_killed_and_comes_back(
        start_mcu, viewer: BaresipPeer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    mcu = start_mcu(video=VIDEO, rtsp_client=FAST_RETRY)
    port = free_tcp_port()
    peer = viewer
    join(mcu, ROOM, [peer])
    with rtsp_camera(port=port) as url:
        leg_id = mcu.inspect(lambda m: m.dial_out(ROOM, url))
        views = mcu.inspect(lambda m: m.participants(ROOM))
        assert {v.id: v.protocol for v in views}[leg_id] == "rtsp"
        snapshot_until(peer, tmp_path, 1, ["green"])
        camera = wait_state(mcu, leg_id, "live")
        assert camera["transport"] == "udp" and camera["url"] == url
        names = {v.id: v.display_name for v in mcu.inspect(lambda m: m.participants(ROOM))}
        assert names[leg_id] == "127.0.0.1"  # the camera's host, not the conference's name
        assert mcu.inspect(lambda m: rtsp(m).statistics()["rtp_ports_in_use"]) == 2
    # The camera is gone: offline, and its tile is a slate, not a frozen green picture.
    camera = wait_state(mcu, leg_id, "offline")
    assert camera["reason"], camera
    snapshot_where(peer, tmp_path, lambda image: pictures.grid_names(image, 1) != ["green"],
                   1, "the camera's slate", timeout=15)
    assert [v.id for v in mcu.inspect(lambda m: m.participants(ROOM))].count(leg_id) == 1
    with rtsp_camera(port=port):
        snapshot_until(peer, tmp_path, 1, ["green"])
        wait_state(mcu, leg_id, "live")
        assert "rtsp.camera.retry" in caplog.text
        assert mcu.inspect(lambda m: rtsp(m).statistics()["camera_reconnects"]) >= 1
        end_idle(mcu, leg_id, [peer])


def test_tcp_only_with_digest_credentials_that_never_show(
        start_mcu, viewer: BaresipPeer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mcu = start_mcu(video=VIDEO, rtsp_client={"transport": "tcp"})
    peer = viewer
    join(mcu, ROOM, [peer])
    with rtsp_camera(auth=("cam", "s3cret-pw")) as url:
        secret_url = url.replace("rtsp://", "rtsp://cam:s3cret-pw@")
        leg_id = mcu.inspect(lambda m: m.dial_out(ROOM, secret_url))
        snapshot_until(peer, tmp_path, 1, ["green"])
        camera = wait_state(mcu, leg_id, "live")
        assert camera["transport"] == "tcp" and camera["url"] == url
        assert mcu.inspect(lambda m: rtsp(m).statistics()["rtp_ports_in_use"]) == 0
        stats = json.dumps(mcu.inspect(lambda m: m.statistics(ROOM, leg_id)))
        views = mcu.inspect(lambda m: [dataclasses.asdict(v) for v in m.participants(ROOM)])
        gateway = json.dumps(mcu.inspect(lambda m: rtsp(m).statistics()))
        for text in (stats, json.dumps(views, default=str), gateway, caplog.text):
            assert "s3cret-pw" not in text
        assert stats.count('"frames_received"') == 1 and '"codec": "H264"' in stats
        end_idle(mcu, leg_id, [peer])
    assert "s3cret-pw" not in caplog.text


def test_wrong_password_is_failed_with_a_reason(start_mcu,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mcu = start_mcu(video=VIDEO, rtsp_client={"transport": "tcp"})
    with rtsp_camera(auth=("cam", "s3cret-pw")) as url:
        wrong = url.replace("rtsp://", "rtsp://cam:not-it@")
        leg_id = mcu.inspect(lambda m: m.dial_out(ROOM, wrong))
        camera = wait_state(mcu, leg_id, "failed")
        assert "credentials" in str(camera["reason"]), camera
        assert "not-it" not in json.dumps(mcu.inspect(lambda m: m.statistics(ROOM, leg_id)))
        end_idle(mcu, leg_id, [])
    assert "not-it" not in caplog.text


@pytest.mark.parametrize(("path", "codec"), [("/mjpeg", "JPEG"), ("/h265", "H265")])
def test_mjpeg_and_h265_cameras_are_seen(start_mcu, viewer: BaresipPeer, tmp_path: Path,
                                         path: str, codec: str) -> None:
    """Motion JPEG (static payload type 26, RFC 2435) and H.265 (RFC 7798) cameras: the
    baresip sees green in the camera's tile."""
    mcu = start_mcu(video=VIDEO)
    peer = viewer
    join(mcu, ROOM, [peer])
    with rtsp_camera() as url:
        leg_id = mcu.inspect(lambda m: m.dial_out(ROOM, url.removesuffix("/cam") + path))
        snapshot_until(peer, tmp_path, 1, ["green"])
        wait_state(mcu, leg_id, "live")
        stats = mcu.inspect(lambda m: m.statistics(ROOM, leg_id))
        assert stats["video"]["codec"] == codec  # type: ignore[index]
        end_idle(mcu, leg_id, [peer])


def hear_cameras(mcu: RunningMcu, peer: BaresipPeer, url: str, heard: str, silent: str,
                 tmp_path: Path) -> None:
    """Dial the camera at path ``heard`` with audio and the one at ``silent`` without;
    the baresip must hear the first's tone only."""
    base = url.removesuffix("/cam")
    legs = [mcu.inspect(lambda m, p=path, a=audio: m.dial_out(
                ROOM, base + p, None, options={"audio": a}))
            for path, audio in ((heard, "true"), (silent, "false"))]
    for leg_id in legs:
        wait_state(mcu, leg_id, "live")
    stats = mcu.inspect(lambda m: m.statistics(ROOM, legs[0]))
    assert stats["audio"]["codec"] == ("MPEG4-GENERIC" if heard == "/aac" else "PCMU")  # type: ignore[index]
    assert "audio" not in mcu.inspect(lambda m: m.statistics(ROOM, legs[1]))
    time.sleep(4.0)
    for leg_id in legs:
        assert mcu.inspect(lambda m, leg=leg_id: m.drop(ROOM, leg))
    peer.hangup()
    time.sleep(0.3)  # sndfile closes the recording
    wav = peer.received_wav_path()
    assert wav is not None, peer.log_tail()
    assert hears(wav, CAMERA_TONES[heard], skip_seconds=2.0), f"{heard} not heard"
    assert not hears(wav, CAMERA_TONES[silent], skip_seconds=2.0), f"{silent} heard"
    mcu.wait_idle()
    assert mcu.inspect(lambda m: rtsp(m).statistics()["rtp_ports_in_use"]) == 0


@pytest.mark.parametrize(("transport", "heard", "silent"),
                         [("udp", "/cam", "/aac"), ("tcp", "/aac", "/cam")])
def test_camera_audio_is_heard_only_when_asked(start_mcu, viewer: BaresipPeer, tmp_path: Path,
                                               transport: str, heard: str, silent: str) -> None:
    """PCMU over UDP (GStreamer's 1024-sample packets, cut into 20 ms frames) and AAC
    over TCP (44.1 kHz stereo, resampled): heard with ``audio``, never without."""
    mcu = start_mcu(video=VIDEO, rtsp_client={"transport": transport})
    join(mcu, ROOM, [viewer])
    with rtsp_camera() as url:
        hear_cameras(mcu, viewer, url, heard, silent, tmp_path)
