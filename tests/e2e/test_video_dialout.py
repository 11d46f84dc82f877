"""Dial-out with video: the MCU's own offer carries m=video, and a room system it
calls (a baresip answering automatically) sees the conference and is seen."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mcu.app import Mcu
from tests.peers import pictures
from tests.peers.baresip import BaresipPeer, baresip_available
from tests.peers.ffmpeg_rtp import ffmpeg_available

pytestmark = pytest.mark.peer

VIDEO = {"enabled": True, "width": 640, "height": 360, "frame_rate": 15}


def see(peer: BaresipPeer, workdir: Path, want: list[str | None], timeout: float = 30.0
        ) -> None:
    deadline = time.monotonic() + timeout
    seen: list[str | None] = []
    while time.monotonic() < deadline:
        shot = peer.snapshot(workdir / f"{peer.name}-{time.monotonic_ns()}.png")
        seen = pictures.grid_names(pictures.load_rgb(shot), 1)
        if seen == want:
            return
        time.sleep(0.5)
    raise AssertionError(f"{peer.name} saw {seen}, wanted {want}")


def thumbnail_colour(mcu, room: str, leg_id: str, *, view: bool) -> str | None:
    jpeg = mcu.run(mcu.mcu.thumbnail(room, leg_id, view))
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8", "no JPEG thumbnail"
    image = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    assert image.shape[1] <= 160
    return pictures.nearest_colour(pictures.mean_rgb(image, pictures.centre((0, 0, 1, 1))))


def test_a_dialled_room_system_gets_video_both_ways(start_mcu, tmp_path: Path) -> None:
    if not (baresip_available() and ffmpeg_available()):
        pytest.fail("baresip/ffmpeg are missing: `make test` installs them "
                    "(scripts/install-system-deps.sh)")
    mcu = start_mcu(video=VIDEO)
    with BaresipPeer(tmp_path, "room", 0, 440.0, ["pcmu"], video_codec="H264",
                     video_colour=(255, 0, 0)) as room, \
         BaresipPeer(tmp_path, "caller", 0, 800.0, ["pcmu"], video_codec="VP8",
                     video_colour=(0, 0, 255)) as caller:
        caller.dial(f"sip:7100@{mcu.uri_host}")
        caller.wait_established(timeout=15)
        mcu.wait_until(lambda m: m.directory.get("7100") is not None, timeout=15)

        async def dial(m: Mcu) -> str:
            return m.dial_out("7100", room.aor)

        leg_id = mcu.run(dial(mcu.mcu))
        room.wait_established(timeout=15)

        def video_of(m: Mcu) -> str | None:
            call = m.gateway("sip").calls.get(leg_id.removeprefix("sip-"))
            video = call.negotiated.video if call and call.negotiated else None
            return video.format.name if video else None

        mcu.wait_until(lambda m: video_of(m) == "H264", timeout=10)
        # two people: each sees the other alone, full picture (equal-auto 1x1)
        see(room, tmp_path, ["blue"])
        see(caller, tmp_path, ["red"])
        # the web control's thumbnails: the room's camera, and the picture it is sent
        assert thumbnail_colour(mcu, "7100", leg_id, view=False) == "red"
        assert thumbnail_colour(mcu, "7100", leg_id, view=True) == "blue"
        # statistics and diagnostics: both streams, both directions
        stats = mcu.inspect(lambda m: m.statistics("7100", leg_id))
        assert stats["audio"]["codec"] == "PCMU" and stats["audio"]["received"] > 0
        video = stats["video"]
        assert video["codec"] == "H264" and video["frames_sent"] > 0
        assert video["frames_received"] > 0 and video["send_size"] == [640, 360]
        room.hangup()
        caller.hangup()
    mcu.wait_idle(timeout=15)


def test_hold_stops_video_to_the_holder_and_resume_brings_it_back(start_mcu,
                                                                   tmp_path: Path) -> None:
    if not (baresip_available() and ffmpeg_available()):
        pytest.fail("baresip/ffmpeg are missing: `make test` installs them "
                    "(scripts/install-system-deps.sh)")
    mcu = start_mcu(video=VIDEO)
    with BaresipPeer(tmp_path, "holder", 0, 440.0, ["pcmu"], video_codec="H264",
                     video_colour=(255, 0, 0)) as holder, \
         BaresipPeer(tmp_path, "other", 0, 800.0, ["pcmu"], video_codec="H264",
                     video_colour=(0, 0, 255)) as other:
        for peer in (holder, other):
            peer.dial(f"sip:7200@{mcu.uri_host}")
            peer.wait_established(timeout=15)
        see(holder, tmp_path, ["blue"])

        def holder_call(m: Mcu):  # the holder's SIP call in the MCU
            return next(c for c in m.gateway("sip").calls.values()
                        if c.info.remote.endswith(f":{holder.sip_port}"))

        def streams(m: Mcu) -> int:
            room = m.directory.get("7200")
            return room.video.streams if room and room.video else -1

        holder.hold()
        mcu.wait_until(lambda m: holder_call(m).negotiated.on_hold, timeout=10)
        assert mcu.inspect(lambda m: holder_call(m).media.video.sending) is False
        mcu.wait_until(lambda m: streams(m) == 1, timeout=10)  # no encoder for the holder
        holder.resume()
        mcu.wait_until(lambda m: not holder_call(m).negotiated.on_hold, timeout=10)
        mcu.wait_until(lambda m: streams(m) == 2, timeout=10)
        see(holder, tmp_path, ["blue"])
        see(other, tmp_path, ["red"])
        holder.hangup()
        other.hangup()
    mcu.wait_idle(timeout=15)
