"""Bad input from RTSP cameras, over the wire, against a running MCU (issue 12).

One MCU per module holds conference 3300 with a baresip viewer (sending red) and a
good camera (a fake RTSP server sending green H.264 over TCP). Each test brings in a
misbehaving camera (tests/rtsp/fake_server.py scripts what it does wrong), waits for
its state and reason to say what happened, checks its cell is a slate (its leg does
not receive video), that the rest of the conference goes on (the good camera live and
counting frames, the viewer's call up) and that removing the bad camera gives back
every port and task. The good camera and the viewer leave at the end: the MCU idle.

Covered here: unreachable host, refused connection, garbage answers, truncated and
enormous responses, an SDP with no usable codec, RTP garbage, a mid-stream resolution
change, a camera that closes TCP or sends TEARDOWN, UDP->TCP fallback under ``auto``,
a frozen-but-connected camera, and a bad URL over the HTTP API. Wrong credentials,
and a camera killed and restarted, are in test_rtsp_camera.py (GStreamer's server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.rtsp.gateway import RtspGateway
from mcu.app import Mcu
from tests.e2e.conftest import RunningMcu, mcu_settings
from tests.e2e.test_video_conference import COLOURS, VIDEO, join, snapshot_until, snapshot_where
from tests.peers import pictures
from tests.peers.baresip import BaresipPeer, baresip_available
from tests.rtsp.camera import free_tcp_port
from tests.rtsp.fake_server import (
    Connection,
    FakeRtspServer,
    blackhole,
    body_bomb,
    encode_solid,
    header_bomb,
    raw,
    rtp_packet,
    running,
    sdp_for,
    truncated,
)

pytestmark = pytest.mark.peer

ROOM = "3300"
# Fast retries; a media timeout long enough that a busy machine never stalls a camera
# that is sending (the tests that want a stall stop the camera's media).
SETTINGS = {"reconnect_min_s": 0.3, "reconnect_max_s": 1.5, "media_timeout_s": 3.0,
            "udp_fallback_s": 1.5}
WAIT = 20.0  # generous: a loaded machine, a connect timeout (5 s), backoff


@dataclass
class Party:
    mcu: RunningMcu
    viewer: BaresipPeer
    good: FakeRtspServer
    good_leg: str
    workdir: Path
    ports: int  # the shared allocator's ports in use with the viewer and the good camera
    tasks: int  # camera and RTP tasks on the MCU's loop then


def rtsp(m: Mcu) -> RtspGateway:
    gateway = m.gateway("rtsp")
    assert isinstance(gateway, RtspGateway)
    return gateway


def media_tasks(m: Mcu) -> int:
    """Tasks of cameras, RTSP connections and RTP streams on the MCU's loop."""
    count = 0
    for task in asyncio.all_tasks():
        name = task.get_name()
        coro = getattr(task.get_coro(), "__qualname__", "")
        if name.startswith(("camera-", "rtp-")) or "RtspConnection" in coro:
            count += 1
    return count


def camera(mcu: RunningMcu, leg_id: str) -> dict[str, object]:
    stats = mcu.inspect(lambda m: m.statistics(ROOM, leg_id))
    assert stats is not None, f"{leg_id} is not in conference {ROOM}"
    return stats["camera"]  # type: ignore[return-value]


def wait_camera(mcu: RunningMcu, leg_id: str, check: Callable[[dict[str, object]], bool],
                what: str, timeout: float = WAIT) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        state = camera(mcu, leg_id)
        if check(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"camera never {what}: {state}")
        time.sleep(0.1)


def wait_state(mcu: RunningMcu, leg_id: str, state: str, reason: str = "",
               timeout: float = WAIT) -> dict[str, object]:
    """The camera's state is ``state`` with ``reason`` in its reason (any case)."""
    return wait_camera(mcu, leg_id, lambda c: c["state"] == state
                       and reason.lower() in str(c["reason"]).lower(),
                       f"{state} ({reason!r})", timeout)


def frames(mcu: RunningMcu, leg_id: str) -> int:
    stats = mcu.inspect(lambda m: m.statistics(ROOM, leg_id))
    assert stats is not None
    video = stats.get("video")
    return int(video["frames_received"]) if isinstance(video, dict) else 0  # type: ignore[arg-type]


def receiving(mcu: RunningMcu, leg_id: str) -> bool:
    return mcu.inspect(lambda m: m.directory.get(ROOM).participants[leg_id].leg.video_receiving)


def wait_for(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what}")
        time.sleep(0.1)


def assert_slate(mcu: RunningMcu, leg_id: str) -> None:
    """Its cell is the camera-off slate: the mixer takes no picture from the leg."""
    wait_for(lambda: not receiving(mcu, leg_id), f"a slate for {leg_id}", timeout=5)


def assert_rest_untouched(party: Party) -> None:
    """The good camera is live and its pictures keep coming; the viewer is still in."""
    mcu = party.mcu
    wait_state(mcu, party.good_leg, "live")
    before = frames(mcu, party.good_leg)
    wait_for(lambda: frames(mcu, party.good_leg) > before + 3, "more good frames", timeout=10)
    assert receiving(mcu, party.good_leg)
    ids = [v.id for v in mcu.inspect(lambda m: m.participants(ROOM))]
    assert party.good_leg in ids and len(ids) >= 2  # the viewer and the good camera


def assert_logged(caplog: pytest.LogCaptureFixture, address: str, *fragments: str) -> None:
    """A log line names the camera's address and says what happened."""
    lines = [r.getMessage() for r in caplog.records]
    assert any(address in line and all(f.lower() in line.lower() for f in fragments)
               for line in lines), (address, fragments, [ln for ln in lines if address in ln])


def picture_size(mcu: RunningMcu, leg_id: str) -> tuple[int, int] | None:
    def read(m: Mcu) -> tuple[int, int] | None:
        video = m.directory.get(ROOM).video
        frame = video.latest_picture(leg_id) if video is not None else None
        return (frame.width, frame.height) if frame is not None else None

    return mcu.inspect(read)


@pytest.fixture(scope="module")
def party() -> Iterator[Party]:
    if not baresip_available():
        pytest.fail("baresip is missing: `make test` installs it (scripts/install-system-deps.sh)")
    workdir = Path(tempfile.mkdtemp(prefix="rtsp-bad-"))
    mcu = RunningMcu(mcu_settings(video=VIDEO, rtsp_client=SETTINGS)).start()
    viewer = BaresipPeer(workdir, "red", 0, 440.0, ["pcmu"], video_codec="H264",
                         video_colour=COLOURS["red"])
    try:
        viewer.start()
        join(mcu, ROOM, [viewer])
        with running(FakeRtspServer(video=encode_solid(COLOURS["green"], 320, 240))) as good:
            leg = mcu.inspect(lambda m: m.dial_out(ROOM, good.url,
                                                   options={"transport": "tcp", "name": "good"}))
            wait_state(mcu, leg, "live")
            snapshot_until(viewer, workdir, 1, ["green"])
            yield Party(mcu, viewer, good, leg, workdir,
                        mcu.inspect(lambda m: m.ports.in_use), mcu.inspect(media_tasks))
            assert mcu.inspect(lambda m: m.drop(ROOM, leg))
            viewer.hangup()
            mcu.wait_idle()
            assert mcu.inspect(lambda m: rtsp(m).statistics()["calls"]) == 0
            assert mcu.inspect(lambda m: rtsp(m).statistics()["rtp_ports_in_use"]) == 0
            assert mcu.inspect(lambda m: m.ports.in_use) == 0
    finally:
        viewer.close()
        mcu.stop()


@contextlib.contextmanager
def bad_camera(party: Party, url: str, transport: str = "tcp") -> Iterator[str]:
    """Dial ``url`` into the conference; on the way out remove it, check the rest of the
    conference went on and that every port and task it had is given back."""
    mcu = party.mcu
    leg_id = mcu.inspect(lambda m: m.dial_out(ROOM, url, options={"transport": transport,
                                                                  "name": "bad"}))
    try:
        yield leg_id
        assert_rest_untouched(party)
    finally:
        mcu.inspect(lambda m: m.drop(ROOM, leg_id))
    wait_for(lambda: leg_id not in {v.id for v in mcu.inspect(lambda m: m.participants(ROOM))},
             "the bad camera gone")
    wait_for(lambda: mcu.inspect(lambda m: rtsp(m).statistics()["calls"]) == 1,
             "one camera left")
    wait_for(lambda: mcu.inspect(lambda m: rtsp(m).statistics()["rtp_ports_in_use"]) == 0,
             "the camera ports back")
    wait_for(lambda: mcu.inspect(lambda m: m.ports.in_use) == party.ports, "every port back")
    wait_for(lambda: mcu.inspect(media_tasks) == party.tasks, "every task gone")


# ---- cannot connect -------------------------------------------------------------------


def test_unreachable_host_is_offline_no_answer(party: Party,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with blackhole() as port, bad_camera(party, f"rtsp://127.0.0.1:{port}/cam") as leg:
        state = wait_state(party.mcu, leg, "offline", "no answer")
        assert f"127.0.0.1:{port}" in str(state["reason"])
        assert_slate(party.mcu, leg)
        assert_logged(caplog, f"127.0.0.1:{port}", "no answer")


def test_refused_connection_is_offline_and_retried(party: Party,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    port = free_tcp_port()
    with bad_camera(party, f"rtsp://127.0.0.1:{port}/cam", transport="auto") as leg:
        wait_state(party.mcu, leg, "offline", "refused")
        assert_slate(party.mcu, leg)
        wait_camera(party.mcu, leg, lambda c: int(c["reconnects"]) >= 2,  # type: ignore[call-overload]
                    "retried")
        assert_logged(caplog, f"127.0.0.1:{port}", "refused")


# ---- bad answers ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "handler", "reason"), [
    ("OPTIONS", raw(b"\x00\x01\xfe\xffnot rtsp at all\r\n\r\n"), "garbage"),
    ("OPTIONS", raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), "not an rtsp"),
    ("DESCRIBE", truncated(), "middle of a response"),
    ("OPTIONS", raw(lambda r: f"RTSP/1.0 200 OK\r\nCSeq: {r.cseq}\r\nPubl".encode(),
                    close=True), "middle of a response"),
    ("OPTIONS", header_bomb(), "headers exceed"),
    ("DESCRIBE", body_bomb(), "exceeds"),
], ids=["binary-garbage", "http-answer", "truncated-body", "truncated-header",
        "enormous-header", "enormous-body"])
def test_bad_answer_is_offline_with_the_reason(party: Party, caplog: pytest.LogCaptureFixture,
                                               method: str, handler: object,
                                               reason: str) -> None:
    caplog.set_level(logging.INFO)
    server = FakeRtspServer(handlers={method: handler})  # type: ignore[dict-item]
    with running(server), bad_camera(party, server.url) as leg:
        state = wait_state(party.mcu, leg, "offline", reason)
        assert_slate(party.mcu, leg)
        assert "PLAY" not in server.methods()
        assert_logged(caplog, f"127.0.0.1:{server.port}", reason)
        # Never a thousand lines for one bad answer: one per attempt, a few per attempt.
        attempts = int(camera(party.mcu, leg)["attempts"])  # type: ignore[call-overload]
        lines = [r for r in caplog.records if f"127.0.0.1:{server.port}" in r.getMessage()
                 and reason.lower() in r.getMessage().lower()]
        assert len(lines) <= 3 * (attempts + 1), [r.getMessage() for r in lines]
        assert state["reason"]


def test_sdp_with_no_usable_codec_is_failed(party: Party,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    server = FakeRtspServer(sdp=sdp_for("98 X-NOTACODEC/90000", 98, "98 mode=1"))
    with running(server), bad_camera(party, server.url) as leg:
        wait_state(party.mcu, leg, "failed", "codec")
        assert_slate(party.mcu, leg)
        # The gateway's chooser judges the SDP before any SETUP: nothing is set up.
        assert "SETUP" not in server.methods() and "PLAY" not in server.methods()
        assert_logged(caplog, f"127.0.0.1:{server.port}", "codec")


# ---- bad media ------------------------------------------------------------------------


def junk_packets(conn: Connection) -> bytes:
    """Each tick: bytes that are no RTP, a payload type never offered, RTCP junk, and a
    frame on a channel nobody set up, all as interleaved frames."""
    channel = conn.channel if conn.channel is not None else 0
    seq = conn.seq & 0xFFFF

    def frame(ch: int, data: bytes) -> bytes:
        return b"$" + bytes([ch]) + len(data).to_bytes(2, "big") + data

    return b"".join([
        frame(channel, b"\x13\x37 not rtp"),
        frame(channel, rtp_packet(111, seq, 0, 0x0BADBAD0, b"\xff" * 200, True)),
        frame(channel + 1, b"\x81\xc9\x00\x07" + b"\xee" * 12),
        frame(channel + 7, b"\x80\x60" + b"\x00" * 30),
        frame(channel, b""),
    ])


def test_rtp_garbage_is_no_video_then_good_video_after_it_is_shown(
        party: Party, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    server = FakeRtspServer(junk=junk_packets)
    with running(server), bad_camera(party, server.url) as leg:
        wait_state(party.mcu, leg, "offline", "no video")
        assert_slate(party.mcu, leg)
        assert frames(party.mcu, leg) == 0
        assert_logged(caplog, f"127.0.0.1:{server.port}", "no video")
        # Good pictures among the junk: shown.
        server.video = encode_solid(COLOURS["blue"], 320, 240)
        wait_state(party.mcu, leg, "live")
        snapshot_until(party.viewer, party.workdir, 2, ["green", "blue", "black", "black"])
        assert len([r for r in caplog.records if "garbage" in r.getMessage()]) < 5


def test_mid_stream_resolution_change_keeps_the_picture(party: Party) -> None:
    server = FakeRtspServer(video=encode_solid(COLOURS["yellow"], 320, 240))
    mcu = party.mcu
    with running(server), bad_camera(party, server.url) as leg:
        wait_state(mcu, leg, "live")
        snapshot_until(party.viewer, party.workdir, 2, ["green", "yellow", "black", "black"])
        wait_for(lambda: picture_size(mcu, leg) == (320, 240), "320x240 decoded")
        server.video = encode_solid(COLOURS["blue"], 640, 360)  # new SPS/PPS and IDR
        snapshot_until(party.viewer, party.workdir, 2, ["green", "blue", "black", "black"])
        wait_for(lambda: picture_size(mcu, leg) == (640, 360), "640x360 decoded")
        before = frames(mcu, leg)
        wait_for(lambda: frames(mcu, leg) > before + 5, "frames after the change")
        state = camera(mcu, leg)
        assert state["state"] == "live" and state["reconnects"] == 0 and state["stalls"] == 0
        assert receiving(mcu, leg)


# ---- the camera ends it ---------------------------------------------------------------


def test_camera_closing_tcp_mid_stream_is_offline_then_back(
        party: Party, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    server = FakeRtspServer(video=encode_solid(COLOURS["blue"], 320, 240))
    mcu = party.mcu
    with running(server), bad_camera(party, server.url) as leg:
        wait_state(mcu, leg, "live")
        snapshot_until(party.viewer, party.workdir, 2, ["green", "blue", "black", "black"])
        # The camera closes TCP and refuses a while (its handlers close at once).
        server.handlers = {"OPTIONS": raw(b"", close=True)}
        server.drop_all()
        wait_state(mcu, leg, "offline", "closed by the server")
        assert_slate(mcu, leg)
        snapshot_where(party.viewer, party.workdir, lambda image: (
            pictures.grid_names(image, 2)[:2] in (["green", None], ["green", "black"])),
            2, "green and the camera's slate (never a frozen blue)")
        assert_logged(caplog, f"127.0.0.1:{server.port}", "closed by the server")
        server.handlers = {}
        wait_state(mcu, leg, "live")
        assert receiving(mcu, leg)


def test_camera_sending_teardown_is_offline_then_back(
        party: Party, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    server = FakeRtspServer(video=encode_solid(COLOURS["blue"], 320, 240))
    mcu = party.mcu
    with running(server), bad_camera(party, server.url) as leg:
        wait_state(mcu, leg, "live")
        connections = server.accepted
        server.teardown_all()
        wait_state(mcu, leg, "offline", "teardown")
        assert_slate(mcu, leg)
        assert_logged(caplog, f"127.0.0.1:{server.port}", "teardown")
        wait_state(mcu, leg, "live")
        assert server.accepted > connections  # a new session on a new connection
        assert receiving(mcu, leg)


# ---- transport and stalls -------------------------------------------------------------


def test_auto_falls_back_to_tcp_when_udp_brings_nothing(party: Party,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    caplog.set_level(logging.INFO)
    server = FakeRtspServer(video=encode_solid(COLOURS["blue"], 320, 240), udp_sends=False)
    mcu = party.mcu
    with running(server), bad_camera(party, server.url, transport="auto") as leg:
        state = wait_state(mcu, leg, "live")
        assert state["transport"] == "tcp" and int(state["udp_fallbacks"]) >= 1  # type: ignore[call-overload]
        setups = [transport for method, transport in server.requests if method == "SETUP"]
        assert "client_port=" in setups[0] and "interleaved=" in setups[-1], setups
        assert mcu.inspect(lambda m: rtsp(m).statistics()["rtp_ports_in_use"]) == 0
        assert mcu.inspect(lambda m: rtsp(m).statistics()["camera_udp_fallbacks"]) >= 1
        snapshot_until(party.viewer, party.workdir, 2, ["green", "blue", "black", "black"])


def test_frozen_but_connected_camera_is_offline_and_recovers(
        party: Party, caplog: pytest.LogCaptureFixture) -> None:
    """PLAYs, then sends no RTP while keeping its TCP session and answering keep-alives."""
    caplog.set_level(logging.INFO)
    server = FakeRtspServer(video=encode_solid(COLOURS["blue"], 320, 240), session_timeout=2)
    mcu = party.mcu
    with running(server), bad_camera(party, server.url) as leg:
        wait_state(mcu, leg, "live")
        wait_for(lambda: "GET_PARAMETER" in server.methods(), "a keep-alive")
        server.paused = True
        state = wait_state(mcu, leg, "offline", "no video")
        assert int(state["stalls"]) >= 1  # type: ignore[call-overload]
        assert_slate(mcu, leg)
        assert_logged(caplog, f"127.0.0.1:{server.port}", "no video")
        server.paused = False
        wait_state(mcu, leg, "live")
        assert receiving(mcu, leg)


# ---- the API --------------------------------------------------------------------------


def test_bad_camera_url_over_the_api_is_422_naming_the_field(party: Party) -> None:
    mcu = party.mcu
    base = f"http://127.0.0.1:{mcu.mcu.web.port}"
    with httpx.Client(base_url=base, timeout=10) as api:
        token = api.post("/api/v1/auth/token", json={
            "username": "admin", "password": mcu.mcu.store.generated_admin_password}).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        r = api.post("/api/v1/conferences", json={"name": "Bad cams", "numeric_id": "3301"},
                     headers=h)
        assert r.status_code == 201, r.text
        conference = f"/api/v1/conferences/{r.json()['id']}"
        cameras = f"{conference}/cameras"
        for url in ("http://127.0.0.1/cam", "rtsp://", "rtsp://u:hush@127.0.0.1:99999/c",
                    "not a url"):
            r = api.post(cameras, headers=h, json={"name": "x", "url": url})
            assert r.status_code == 422, (url, r.text)
            assert r.json()["field"] == "url", r.text
            assert "hush" not in r.text
        assert api.get(cameras, headers=h).json() == []
        assert api.delete(conference, headers=h).status_code == 204
