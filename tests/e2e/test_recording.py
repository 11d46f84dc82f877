"""Recording a conference (issue 15) with real peers: three baresips (colours, tones)
are recorded over the HTTP API; the downloaded file has the expected length, every
tone by FFT and every colour in its frames (a recording sees everyone); ending the
conference closes a running recording cleanly; and ``kill -9`` of ``mcu serve`` in the
middle of a recording leaves a file ffprobe reads up to the last seconds, shown as
interrupted at the next start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MCU_RTP_PORTS
from tests.e2e.test_video_conference import join, video_peers  # noqa: F401 -- fixture
from tests.peers import pictures
from tests.peers.audio_analysis import hears
from tests.peers.baresip import free_sip_port
from tests.peers.ffmpeg_rtp import ffmpeg_available

pytestmark = pytest.mark.peer
MCU = Path(sys.executable).with_name("mcu")
VIDEO = {"enabled": True, "width": 640, "height": 360, "frame_rate": 15}
PROFILE = {"width": 640, "height": 360, "frame_rate": 15, "video_bitrate_bps": 600_000,
           "segment_s": 1}
ROOM = "6300"
RECORD_S = 6.0


@pytest.fixture(autouse=True)
def need_ffmpeg() -> None:
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe are missing: `make test` installs them "
                    "(scripts/install-system-deps.sh)")


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "format=duration:stream=codec_type,codec_name,width,height", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def decode(path: Path, folder: Path) -> tuple[Path, list[Path]]:
    wav = folder / "recording.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(path), "-map", "0:a", "-ac", "1", "-ar",
         "16000", str(wav), "-map", "0:v", "-vf", "fps=1", str(folder / "rec%02d.png")],
        check=True, timeout=90)
    return wav, sorted(folder.glob("rec*.png"))


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_three_baresips_recorded_heard_and_seen_then_the_end_closes_a_recording(
        start_mcu, video_peers, tmp_path: Path) -> None:  # noqa: F811
    mcu = start_mcu(video=VIDEO, streaming=PROFILE | {
        "folder": str(tmp_path / "streams"), "recording_folder": str(tmp_path / "rec")})
    password = mcu.mcu.store.generated_admin_password
    party = [video_peers("red", "H264", 440.0), video_peers("green", "H264", 800.0),
             video_peers("blue", "H264", 1300.0)]
    with httpx.Client(base_url=f"http://127.0.0.1:{mcu.mcu.web.port}", timeout=30) as api:
        token = api.post("/api/v1/auth/token",
                         json={"username": "admin", "password": password}).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        r = api.post("/api/v1/conferences", json={"name": "Board", "numeric_id": ROOM},
                     headers=h)
        assert r.status_code == 201, r.text
        conference_id = r.json()["id"]
        join(mcu, ROOM, party)
        time.sleep(1.0)  # everyone's first key frame in the picture
        r = api.post(f"/api/v1/conferences/{conference_id}/recordings", headers=h)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        time.sleep(RECORD_S)
        metrics = api.get("/metrics").text
        assert "mcu_recordings 1.0" in metrics and "mcu_streams 1.0" in metrics, metrics
        r = api.post(f"/api/v1/recordings/{rid}/stop", headers=h)
        assert r.status_code == 200, r.text
        stopped = r.json()
        assert stopped["state"] == "stopped" and stopped["reason"] == "stopped"
        assert stopped["size_bytes"] > 50_000
        file = tmp_path / "download.mp4"
        r = api.get(f"/api/v1/recordings/{rid}/file", headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        file.write_bytes(r.content)
        assert len(r.content) == stopped["size_bytes"]

        # A second recording, still running when the conference is ended.
        r = api.post(f"/api/v1/conferences/{conference_id}/recordings", headers=h)
        assert r.status_code == 201, r.text
        second = r.json()["id"]
        time.sleep(2.0)
        assert api.post(f"/api/v1/conferences/{conference_id}/end",
                        headers=h).status_code == 204
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            listed = {x["id"]: x for x in api.get("/api/v1/recordings", headers=h).json()}
            if listed[second]["state"] != "recording":
                break
            time.sleep(0.2)
        assert (listed[second]["state"], listed[second]["reason"]) == ("stopped",
                                                                       "conference-ended")
        ended = tmp_path / "ended.mp4"
        ended.write_bytes(api.get(f"/api/v1/recordings/{second}/file", headers=h).content)
        audit = api.get("/api/v1/audit", headers=h).text
        assert "stopped by itself: conference-ended" in audit
    mcu.wait_idle(timeout=15)
    assert mcu.inspect(lambda m: m.streams.running) == 0

    info = probe(file)
    kinds = {s["codec_type"]: s for s in info["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac"
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (640, 360)
    duration = float(info["format"]["duration"])
    assert RECORD_S - 1.5 <= duration <= RECORD_S + 1.0, duration
    wav, frames = decode(file, tmp_path)
    for tone in (440.0, 800.0, 1300.0):
        assert hears(wav, tone), f"no {tone} Hz in the recording"
    seen = [pictures.grid_names(pictures.load_rgb(p), 2) for p in frames]
    assert ["red", "green", "blue", "black"] in seen, seen
    assert float(probe(ended)["format"]["duration"]) >= 1.0  # closed: it plays


def test_kill_9_while_recording_leaves_a_file_that_plays(
        video_peers, tmp_path: Path) -> None:  # noqa: F811
    sip_port, http_port = free_sip_port(), free_tcp_port()
    env = {
        "PATH": os.environ["PATH"],
        "MCU_SIP__PORT": str(sip_port),
        "MCU_SIP__TLS_PORT": "0",
        "MCU_TLS__DIRECTORY": str(tmp_path / "tls"),
        "MCU_HTTP__PORT": str(http_port),
        "MCU_RTSP__PORT": "0",
        "MCU_H323__PORT": "0",
        "MCU_RTP__PORT_MIN": str(MCU_RTP_PORTS[0] + 400),
        "MCU_RTP__PORT_MAX": str(MCU_RTP_PORTS[1] + 400),
        "MCU_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/mcu.db",
        "MCU_ADMIN__PASSWORD": "kill-test-pw",
        "MCU_VIDEO__ENABLED": "true", "MCU_VIDEO__WIDTH": "640", "MCU_VIDEO__HEIGHT": "360",
        "MCU_VIDEO__FRAME_RATE": "15",
        "MCU_STREAMING__WIDTH": "640", "MCU_STREAMING__HEIGHT": "360",
        "MCU_STREAMING__FRAME_RATE": "15", "MCU_STREAMING__SEGMENT_S": "1",
        "MCU_STREAMING__RECORDING_FOLDER": str(tmp_path / "rec"),
    }
    base = f"http://127.0.0.1:{http_port}"

    def serve() -> subprocess.Popen[bytes]:
        log = (tmp_path / "mcu.log").open("ab")
        proc = subprocess.Popen([str(MCU), "serve"], cwd=tmp_path, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/metrics", timeout=1)
                return proc
            except httpx.TransportError:
                time.sleep(0.2)
        proc.kill()
        pytest.fail("mcu serve never answered:\n" + (tmp_path / "mcu.log").read_text())

    proc = serve()
    red = video_peers("red", "H264", 440.0)
    try:
        with httpx.Client(base_url=base, timeout=30) as api:
            token = api.post("/api/v1/auth/token",
                             json={"username": "admin", "password": "kill-test-pw"}).json()
            h = {"Authorization": f"Bearer {token['access_token']}"}
            r = api.post("/api/v1/conferences", json={"name": "Crash", "numeric_id": ROOM},
                         headers=h)
            assert r.status_code == 201, r.text
            red.dial(f"sip:{ROOM}@127.0.0.1:{sip_port}")
            red.wait_established(timeout=15)
            time.sleep(1.0)
            r = api.post(f"/api/v1/conferences/{r.json()['id']}/recordings", headers=h)
            assert r.status_code == 201, r.text
            rid = r.json()["id"]
            time.sleep(RECORD_S)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        file = tmp_path / "rec" / f"recording-{rid}.mp4"
        info = probe(file)
        assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
        # Everything but the last fragment or so (fragments are about a second).
        assert float(info["format"]["duration"]) >= RECORD_S - 3.0, info["format"]
        red.hangup()
        proc = serve()  # the next start shows what the crash left
        with httpx.Client(base_url=base, timeout=30) as api:
            token = api.post("/api/v1/auth/token",
                             json={"username": "admin", "password": "kill-test-pw"}).json()
            h = {"Authorization": f"Bearer {token['access_token']}"}
            [shown] = api.get("/api/v1/recordings", headers=h).json()
            assert shown["state"] == "interrupted" and shown["size_bytes"] == file.stat().st_size
            r = api.get(f"/api/v1/recordings/{rid}/file", headers=h)
            assert r.status_code == 200 and len(r.content) == file.stat().st_size
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def test_a_recording_stops_by_itself_when_the_disk_runs_low(start_mcu, peers,
                                                            tmp_path: Path) -> None:
    """``recording_min_free_mb`` above what the disk has: it stops at the next look,
    with the reason in its row and in the audit log, and its file stays."""
    mcu = start_mcu(video=VIDEO, streaming=PROFILE | {
        "recording_folder": str(tmp_path / "rec"), "recording_min_free_mb": 10**12})
    store = mcu.mcu.store
    record = mcu.run(store.create_conference("Empty room", ROOM))
    mcu.run(mcu.mcu.refresh_conferences())
    caller = peers("caller", 440.0, ["pcmu"])
    caller.dial(f"sip:{ROOM}@{mcu.uri_host}")
    caller.wait_established(timeout=15)
    with httpx.Client(base_url=f"http://127.0.0.1:{mcu.mcu.web.port}", timeout=30) as api:
        token = api.post("/api/v1/auth/token", json={
            "username": "admin", "password": store.generated_admin_password}).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        r = api.post(f"/api/v1/conferences/{record.id}/recordings", headers=h)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        deadline = time.monotonic() + 10
        while (shown := api.get("/api/v1/recordings", headers=h).json()[0])["state"] == \
                "recording" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (shown["id"], shown["state"], shown["reason"]) == (rid, "stopped", "disk-full")
        assert "stopped by itself: disk-full" in api.get("/api/v1/audit", headers=h).text
    assert mcu.inspect(lambda m: m.streams.running) == 0
    caller.hangup()
    mcu.wait_idle()


def test_a_chairperson_records_from_the_keypad_and_a_guest_cannot(start_mcu, peers,
                                                                  tmp_path: Path) -> None:
    """Where the conference allows it -- one with a chairperson PIN -- ``*7`` from a
    chair starts a recording and ``*7`` again stops it; a guest's ``*7`` does nothing.
    The conference has no video: the recording is audio only, everyone in it."""
    mcu = start_mcu(video={"enabled": False},
                    streaming={"recording_folder": str(tmp_path / "rec")})
    store = mcu.mcu.store
    record = mcu.run(store.create_conference("Keyed", ROOM, pin="2468", guest_pin="1357"))
    mcu.run(mcu.mcu.refresh_conferences())
    chair, guest = peers("chair", 440.0, ["pcmu"]), peers("guest", 800.0, ["pcmu"])
    for peer, pin in ((guest, "1357"), (chair, "2468")):
        peer.dial(f"sip:{ROOM}@{mcu.uri_host}")
        peer.wait_established(timeout=15)
        time.sleep(1.0)  # the PIN prompt has started
        peer.send_dtmf(pin + "#")
    mcu.wait_until(lambda m: sorted(p.role or "" for p in m.participants(ROOM)
                                    if p.state == "connected") == ["chair", "guest"],
                   timeout=20)

    def recordings() -> list[Any]:
        return mcu.run(store.list_recordings())

    guest.send_dtmf("*7")
    time.sleep(2.0)
    assert recordings() == []
    chair.send_dtmf("*7")
    deadline = time.monotonic() + 10
    while not recordings() and time.monotonic() < deadline:
        time.sleep(0.2)
    [started] = recordings()
    assert started.state == "recording" and started.conference_id == record.id
    time.sleep(4.0)
    chair.send_dtmf("*7")
    while recordings()[0].state == "recording" and time.monotonic() < deadline + 10:
        time.sleep(0.2)
    [stopped] = recordings()
    assert (stopped.state, stopped.reason) == ("stopped", "stopped")
    audit = [a.outcome for a in mcu.run(store.list_audit(limit=50))]
    assert any(o.startswith(f"started recording:{started.id} from the keypad") for o in audit)
    assert any(o.startswith(f"stopped recording:{started.id} from the keypad") for o in audit)
    file = tmp_path / "rec" / stopped.file_name
    info = probe(file)
    assert [s["codec_type"] for s in info["streams"]] == ["audio"]
    assert 2.5 <= float(info["format"]["duration"]) <= 6.0, info["format"]
    wav = tmp_path / "keyed.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(file), "-ac", "1", "-ar", "16000",
                    str(wav)], check=True, timeout=60)
    assert hears(wav, 440.0) and hears(wav, 800.0)
    for peer in (chair, guest):
        peer.hangup()
    mcu.wait_idle()
