"""Bad video on the wire: garbage, a codec nobody negotiated, corrupt and truncated
H.264, SSRC hopping and RTCP junk from one caller. The others keep seeing each other,
the bad caller's cell shows a slate, nothing crashes or leaks, and good video from the
same caller afterwards is shown."""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_video_conference import (
    COLOURS,
    VIDEO,
    call_with_relay,
    hang_up,
    join,
    snapshot_until,
)
from tests.peers.baresip import BaresipPeer, baresip_available
from tests.peers.ffmpeg_rtp import H264_MODE1, FfmpegSender, RtpRelay, ffmpeg_available, free_pair
from tests.peers.sip_uac import SipUac

pytestmark = pytest.mark.peer


@pytest.fixture
def relay() -> Iterator[RtpRelay]:
    with RtpRelay() as r:
        yield r


def rtp(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


def garbage(pt: int, rng: random.Random) -> Iterator[bytes]:
    """Every kind of bad packet, interleaved."""
    seq, ts = rng.randrange(65536), rng.randrange(1 << 32)
    for n in range(400):
        kind = n % 6
        if kind == 0:
            yield os.urandom(rng.randrange(1, 200))  # not RTP at all
        elif kind == 1:
            yield rtp(pt + 1, seq + n, ts, 0x1111, os.urandom(100))  # a codec not negotiated
        elif kind == 2:  # our payload type, random NAL units (corrupt H.264)
            yield rtp(pt, seq + n, ts + n * 3000, 0x2222, bytes([0x65]) + os.urandom(900), True)
        elif kind == 3:  # FU-A starts that never end (truncated pictures)
            yield rtp(pt, seq + n, ts + n * 3000, 0x2222, bytes([0x7C, 0x85]) + os.urandom(500))
        elif kind == 4:  # SSRC hopping, huge sequence jumps
            yield rtp(pt, rng.randrange(65536), ts, rng.randrange(1 << 32), os.urandom(300), True)
        else:
            yield rtp(pt, seq + n, ts, 0x2222, b"")  # empty payload


def video_counters(m) -> dict[str, float]:
    """The video sessions' counters, summed over the MCU's calls."""
    total: dict[str, float] = {}
    for call in m.gateway("sip").calls.values():
        if call.media.video is not None:
            for key, value in call.media.video.session.stats.items():
                total[key] = total.get(key, 0) + value
    return total


def test_bad_video_harms_nobody_and_good_video_recovers(start_mcu, tmp_path: Path,
                                                       relay: RtpRelay) -> None:
    if not (baresip_available() and ffmpeg_available()):
        pytest.fail("baresip/ffmpeg are missing: `make test` installs them "
                    "(scripts/install-system-deps.sh)")
    mcu = start_mcu(video=VIDEO | {"stalled_after_s": 1.0})
    peers = [BaresipPeer(tmp_path, name, 0, 440.0, ["pcmu"], video_codec="H264",
                         video_colour=COLOURS[name]).start() for name in ("red", "green")]
    try:
        join(mcu, "7300", peers)
        red, green = peers
        with SipUac("bad") as uac:
            audio_port = free_pair()
            video, audio = call_with_relay(uac, mcu, "7300", relay, H264_MODE1, audio_port)
            rng = random.Random(4)
            for packet in garbage(video.payload_type, rng):
                relay.send_rtp(packet)
                if rng.random() < 0.1:
                    relay.send_rtcp(os.urandom(rng.randrange(1, 80)))
            # The others still see each other; the bad caller's cell is not garbage.
            snapshot_until(red, tmp_path, 2, ["green", None, "black", "black"])
            snapshot_until(green, tmp_path, 2, ["red", None, "black", "black"])
            assert mcu.counts()["calls"] == 3
            seen = mcu.inspect(video_counters)
            assert seen["unknown_pt"] > 0 and seen["malformed"] > 0, seen
            assert seen["ssrc_changes"] > 0 and seen["depacketizer_dropped"] > 0, seen
            # The same caller now sends good video from the same address: it is shown.
            with FfmpegSender(tmp_path, "good", H264_MODE1, ("127.0.0.1", relay.inner_port),
                              free_pair(), colour=COLOURS["blue"], audio_to=audio.rtp,
                              audio_from=audio_port):
                snapshot_until(red, tmp_path, 2, ["green", "blue", "black", "black"])
                uac.hangup()
        hang_up(peers)
    finally:
        for peer in peers:
            peer.close()
    mcu.wait_idle()
