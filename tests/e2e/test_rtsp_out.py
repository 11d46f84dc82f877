"""A conference watched over RTSP (issue 15), with a real MCU and two baresips in it:
ffprobe and ffmpeg (which answer our Digest challenge) read
``rtsp://host:{rtsp.port}/{numeric id}`` over interleaved TCP and over UDP -- H.264 at
the profile's size and AAC, both participants seen and heard; several viewers and an
HLS viewer share one encoder; and bad input gets its answer without stream bytes: no
or wrong credentials 401, a user without the right 403, an unknown conference 404,
garbage 400, and a viewer that stops reading is dropped while another keeps watching.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningMcu
from tests.e2e.test_video_conference import join, video_peers  # noqa: F401 -- fixture
from tests.peers import pictures
from tests.peers.audio_analysis import hears
from tests.peers.ffmpeg_rtp import ffmpeg_available

pytestmark = pytest.mark.peer
VIDEO = {"enabled": True, "width": 640, "height": 360, "frame_rate": 15}
PROFILE = {"width": 640, "height": 360, "frame_rate": 15, "video_bitrate_bps": 800_000,
           "segment_s": 1, "idle_stop_s": 4}
ROOM = "6400"
USER, PASSWORD = "viewer", "watch-pw-2"


def rtsp_port(mcu: RunningMcu) -> int:
    return mcu.inspect(lambda m: m.publisher("rtsp").port)


def probe(url: str, transport: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", transport, "-show_entries",
         "stream=codec_type,codec_name,width,height,sample_rate", "-of", "json", url],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["streams"]


def ask(port: int, text: str, read: bool = True) -> bytes:
    """One raw request (CRLFs added) and what comes back before the server pauses."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(text.replace("\n", "\r\n").encode() + b"\r\n")
        if not read:
            return b""
        s.settimeout(2)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data:
                    break
        except TimeoutError:
            pass
        return data


@pytest.fixture(autouse=True)
def need_ffmpeg() -> None:
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe are missing: `make test` installs them "
                    "(scripts/install-system-deps.sh)")


def test_ffmpeg_watches_over_rtsp_tcp_and_udp_and_bad_viewers_get_nothing(
        start_mcu, video_peers, tmp_path: Path) -> None:  # noqa: F811
    mcu = start_mcu(video=VIDEO, streaming=PROFILE | {"folder": str(tmp_path / "hls")},
                    rtsp={"max_send_buffer_bytes": 65_536})
    store = mcu.mcu.store
    record = mcu.run(store.create_conference("Town hall", ROOM, streaming=True))
    mcu.run(store.create_user(USER, PASSWORD, "conference_list_streaming"))
    mcu.run(store.create_user("lister", "list-pw-2", "conference_list_only"))
    mcu.run(mcu.mcu.refresh_conferences())
    red, blue = video_peers("red", "H264", 440.0), video_peers("blue", "H264", 800.0)
    join(mcu, ROOM, [red, blue])
    port = rtsp_port(mcu)
    url = f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{port}/{ROOM}"

    # Who may not watch gets no stream and starts nothing.
    base = f"rtsp://127.0.0.1:{port}/{ROOM}"
    answer = ask(port, f"DESCRIBE {base} RTSP/1.0\nCSeq: 1\n")
    assert answer.startswith(b"RTSP/1.0 401") and b"Digest realm=" in answer
    assert b"v=0" not in answer
    basic = base64.b64encode(b"lister:list-pw-2").decode()
    answer = ask(port, f"DESCRIBE {base} RTSP/1.0\nCSeq: 1\nAuthorization: Basic {basic}\n")
    assert answer.startswith(b"RTSP/1.0 403") and b"v=0" not in answer
    wrong = base64.b64encode(f"{USER}:nope".encode()).decode()
    answer = ask(port, f"DESCRIBE {base} RTSP/1.0\nCSeq: 1\nAuthorization: Basic {wrong}\n")
    assert answer.startswith(b"RTSP/1.0 401")
    good = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    answer = ask(port, f"DESCRIBE rtsp://127.0.0.1:{port}/9999 RTSP/1.0\nCSeq: 1\n"
                       f"Authorization: Basic {good}\n")
    assert answer.startswith(b"RTSP/1.0 404")
    assert ask(port, "HELLO there\n\n").startswith(b"RTSP/1.0 400")
    assert mcu.inspect(lambda m: m.streams.started) == 0
    # Basic is answered too: the SDP names both tracks.
    answer = ask(port, f"DESCRIBE {base} RTSP/1.0\nCSeq: 1\nAuthorization: Basic {good}\n")
    assert answer.startswith(b"RTSP/1.0 200") and b"application/sdp" in answer

    # ffprobe over interleaved TCP and over UDP (ffmpeg answers the Digest challenge).
    for transport in ("tcp", "udp"):
        found = {s["codec_type"]: s for s in probe(url, transport)}
        assert found["video"]["codec_name"] == "h264", found
        assert (found["video"]["width"], found["video"]["height"]) == (640, 360)
        assert found["audio"]["codec_name"] == "aac"

    # What a viewer gets: both participants seen and heard.
    wav = tmp_path / "rtsp.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-rtsp_transport", "udp", "-t", "5", "-i", url,
         "-map", "0:a", "-ac", "1", "-ar", "16000", str(wav),
         "-map", "0:v", "-vf", "fps=1", str(tmp_path / "rtsp%02d.png")],
        check=True, timeout=90)
    assert hears(wav, 440.0) and hears(wav, 800.0)
    seen = [pictures.grid_names(pictures.load_rgb(p), 2)
            for p in sorted(tmp_path.glob("rtsp*.png"))]
    assert ["red", "blue", "black", "black"] in seen, seen

    # A viewer that stops reading is dropped; three others and an HLS viewer keep
    # watching, all from the one encoder.
    started = mcu.inspect(lambda m: m.streams.started)  # the probes' streams, ended since
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the handshake
    stalled.connect(("127.0.0.1", port))
    steps = [f"DESCRIBE {base} RTSP/1.0\nCSeq: 1\nAuthorization: Basic {good}\n",
             f"SETUP {base}/trackID=0 RTSP/1.0\nCSeq: 2\nAuthorization: Basic {good}\n"
             "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\n",
             f"SETUP {base}/trackID=1 RTSP/1.0\nCSeq: 3\nAuthorization: Basic {good}\n"
             "Transport: RTP/AVP/TCP;unicast;interleaved=2-3\n"]
    for step in steps:
        stalled.sendall(step.replace("\n", "\r\n").encode() + b"\r\n")
        time.sleep(0.5)
    reply = stalled.recv(65536).decode(errors="replace")
    session = reply.split("Session: ", 1)[1].split(";", 1)[0]
    stalled.sendall(f"PLAY {base}/ RTSP/1.0\r\nCSeq: 4\r\nSession: {session}\r\n"
                    f"Authorization: Basic {good}\r\n\r\n".encode())
    viewers = [subprocess.Popen(
        ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-t", "8", "-i", url,
         "-c", "copy", "-f", "null", "-"]) for _ in range(3)]
    token = httpx.post(f"http://127.0.0.1:{mcu.mcu.web.port}/api/v1/auth/token",
                       json={"username": USER, "password": PASSWORD}).json()["access_token"]
    hls = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-headers", f"Authorization: Bearer {token}\r\n", "-t", "4",
         "-i", f"http://127.0.0.1:{mcu.mcu.web.port}/conferences/{record.id}/stream/index.m3u8",
         "-c", "copy", "-f", "null", "-"])
    time.sleep(3.0)
    metrics = httpx.get(f"http://127.0.0.1:{mcu.mcu.web.port}/metrics").text
    assert 'mcu_stream_viewers{protocol="rtsp"}' in metrics and "mcu_streams 1.0" in metrics
    assert all(v.wait(timeout=90) == 0 for v in [*viewers, hls])
    # Solid colours encode small: the audio and the picture fill ~200 KB in well under 30 s.
    mcu.wait_until(lambda m: m.publisher("rtsp").statistics()["dropped"] >= 1, timeout=40)
    stalled.close()
    # One more encoder for all of them (the stalled viewer started it).
    assert mcu.inspect(lambda m: m.streams.started) == started + 1

    # Nobody watches: the stream stops, the UDP pair goes back, nothing is left.
    mcu.wait_until(lambda m: m.streams.running == 0, timeout=PROFILE["idle_stop_s"] + 10)
    for peer in (red, blue):
        peer.hangup()
    mcu.wait_idle()
    assert mcu.inspect(lambda m: m.publisher("rtsp").statistics()["viewers"]) == 0
