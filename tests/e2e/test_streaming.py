"""A conference streamed over HLS (issue 15), with a real MCU, two baresips in it and
third-party viewers: ffprobe and ffmpeg read the playlist with a bearer token (H.264 at
the profile's size and AAC; everyone's colour in the picture, everyone's tone in the
audio, since a watcher is nobody), ten ffmpeg viewers at once share one encoder, headless
Chromium plays the watch page, and whoever may not watch gets no stream bytes.
"""

from __future__ import annotations

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
from tests.system_deps import optional_module, require_browser

pytestmark = pytest.mark.peer
sync_api: Any = optional_module("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]

VIDEO = {"enabled": True, "width": 640, "height": 360, "frame_rate": 15}
ROOM, QUIET_ROOM = "6100", "6200"
PROFILE = {"width": 640, "height": 360, "frame_rate": 15, "video_bitrate_bps": 800_000,
           "segment_s": 1, "playlist_size": 4, "idle_stop_s": 4}
VIEWERS = 10


def bearer(api: httpx.Client, username: str, password: str) -> dict[str, str]:
    r = api.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def ffmpeg_headers(headers: dict[str, str]) -> list[str]:
    return ["-headers", "".join(f"{k}: {v}\r\n" for k, v in headers.items())]


def probe_streams(url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    import json

    out = subprocess.run(
        ["ffprobe", "-v", "error", *ffmpeg_headers(headers), "-show_entries",
         "stream=codec_type,codec_name,width,height,sample_rate", "-of", "json", url],
        capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)["streams"]


def record(url: str, headers: dict[str, str], folder: Path, seconds: float) -> tuple[Path, Path]:
    """`seconds` of the stream as ffmpeg decodes it: a WAV and a picture a second."""
    wav, frames = folder / "stream.wav", folder / "frame%02d.png"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *ffmpeg_headers(headers), "-t", str(seconds), "-i", url,
         "-map", "0:a", "-ac", "1", "-ar", "16000", str(wav),
         "-map", "0:v", "-vf", "fps=1", str(frames)],
        check=True, timeout=90)
    return wav, folder


def streams(mcu: RunningMcu) -> tuple[int, int]:
    return mcu.inspect(lambda m: (m.streams.started, m.streams.running))


def test_a_streamed_conference_is_watched_by_players_and_a_browser(
        start_mcu, video_peers, tmp_path: Path) -> None:  # noqa: F811
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe are missing: `make test` installs them "
                    "(scripts/install-system-deps.sh)")
    require_browser(CHROMIUM)
    folder = tmp_path / "streams"
    mcu = start_mcu(video=VIDEO, streaming=PROFILE | {"folder": str(folder)})
    store = mcu.mcu.store
    record_ = mcu.run(store.create_conference("Town hall", ROOM, streaming=True))
    quiet = mcu.run(store.create_conference("Private", QUIET_ROOM))
    mcu.run(store.create_user("viewer", "watch-pw-1", "conference_list_streaming"))
    mcu.run(store.create_user("lister", "list-pw-1", "conference_list_only"))
    mcu.run(mcu.mcu.refresh_conferences())
    base = f"http://127.0.0.1:{mcu.mcu.web.port}"
    playlist = f"/conferences/{record_.id}/stream/index.m3u8"
    red, blue = video_peers("red", "H264", 440.0), video_peers("blue", "H264", 800.0)
    join(mcu, ROOM, [red, blue])

    with httpx.Client(base_url=base, timeout=30) as api:
        viewer = bearer(api, "viewer", "watch-pw-1")
        # Who may not watch gets no stream, and nothing starts for them.
        assert api.get(playlist).status_code == 401
        refused = api.get(playlist, headers=bearer(api, "lister", "list-pw-1"))
        assert refused.status_code == 403 and "#EXT" not in refused.text, refused.text
        off = api.get(f"/conferences/{quiet.id}/stream/index.m3u8", headers=viewer)
        assert off.status_code == 409 and "streaming" in off.text, off.text
        assert api.get("/conferences/999999/stream/index.m3u8",
                       headers=viewer).status_code == 404
        assert streams(mcu) == (0, 0)

        first = api.get(playlist, headers=viewer)
        assert first.status_code == 200 and first.text.startswith("#EXTM3U"), first.text
        segment = next(line for line in first.text.splitlines() if line.endswith(".ts"))
        assert api.get(f"/conferences/{record_.id}/stream/{segment}").status_code == 401
        assert api.get(f"/conferences/{record_.id}/stream/../../etc",
                       headers=viewer).status_code == 404

    url = base + playlist
    found = {s["codec_type"]: s for s in probe_streams(url, viewer)}
    assert found["video"]["codec_name"] == "h264"
    assert (found["video"]["width"], found["video"]["height"]) == (640, 360)
    assert found["audio"]["codec_name"] == "aac"

    # What a watcher gets: both participants seen (nobody is left out), both heard.
    wav, frames = record(url, viewer, tmp_path, seconds=5)
    assert hears(wav, 440.0) and hears(wav, 800.0)
    shots = sorted(frames.glob("frame*.png"))
    assert shots, "ffmpeg decoded no picture"
    seen = [pictures.grid_names(pictures.load_rgb(p), 2) for p in shots]
    assert ["red", "blue", "black", "black"] in seen, seen

    # Ten viewers at once: still the one stream and its one encoder.
    procs = [subprocess.Popen(
        ["ffmpeg", "-v", "error", *ffmpeg_headers(viewer), "-i", url, "-t", "4",
         "-c", "copy", "-f", "null", "-"]) for _ in range(VIEWERS)]
    assert all(p.wait(timeout=90) == 0 for p in procs)
    assert streams(mcu) == (1, 1)

    watch_in_chromium(base, record_.id, tmp_path)
    assert streams(mcu) == (1, 1)

    # Nobody watches any more: the stream stops a while later and its files go.
    mcu.wait_until(lambda m: m.streams.running == 0, timeout=PROFILE["idle_stop_s"] + 10)
    assert not (folder / ROOM).exists()
    for peer in (red, blue):
        peer.hangup()
    mcu.wait_idle()


def watch_in_chromium(base: str, conference_id: int, tmp_path: Path) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/")
            page.fill("input[name=username]", "viewer")
            page.fill("input[name=password]", "watch-pw-1")
            page.click("button[data-action=login]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/conferences/{conference_id}/watch")
            page.wait_for_function("() => document.getElementById('stream').currentTime > 2",
                                   timeout=45_000)
            start = page.evaluate("() => document.getElementById('stream').currentTime")
            time.sleep(1.5)
            assert page.evaluate("() => document.getElementById('stream').currentTime") > start
            path = tmp_path / "watch.png"
            page.locator("#stream").screenshot(path=str(path))
            image = pictures.load_rgb(path)
            assert pictures.grid_names(image, 2)[:2] == ["red", "blue"], \
                pictures.describe(image, pictures.grid(2))
        finally:
            browser.close()

