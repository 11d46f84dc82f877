"""Self-checks of the video test peers, without the MCU: picture analysis (pure), two
baresips showing each other's colour (H.264 and VP8), ffmpeg's RTP sender and receiver
through two relays, and our SIP UAC calling a baresip.

They prove tests/peers/ works before tests/e2e points it at the MCU.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.peers import pictures
from tests.peers.baresip import BaresipPeer, baresip_available, colour_clip
from tests.peers.ffmpeg_rtp import (
    FFPROBE,
    H263_1998,
    H264_MODE0,
    H264_MODE1,
    NAL_IDR,
    NAL_PPS,
    NAL_SPS,
    Answered,
    FfmpegReceiver,
    FfmpegSender,
    RtpRelay,
    answered,
    ffmpeg_available,
    free_pair,
    h264_nal_types,
    parse_rtp,
    video_offer,
)
from tests.peers.sip_uac import SipUac
from tests.system_deps import missing

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


# --------------------------------------------------------------------------- pictures (pure)


def quadrants(tmp_path: Path, colours: list[tuple[int, int, int]], size=(64, 48)) -> Path:
    """A PNG split into a 2x2 grid of `colours`, row-major."""
    width, height = size
    image = np.zeros((height, width, 3), dtype=np.uint8)
    for i, colour in enumerate(colours):
        row, col = divmod(i, 2)
        image[row * height // 2:(row + 1) * height // 2,
              col * width // 2:(col + 1) * width // 2] = colour
    path = tmp_path / "quadrants.png"
    Image.fromarray(image).save(path)
    return path


def test_grid_cells_are_row_major_and_cover_the_picture():
    cells = pictures.grid(2)
    assert cells == [(0.0, 0.0, 0.5, 0.5), (0.5, 0.0, 0.5, 0.5),
                     (0.0, 0.5, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5)]
    assert sum(w * h for _, _, w, h in pictures.grid(3)) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        pictures.grid(0)


def test_centre_keeps_the_middle_fraction():
    assert pictures.centre((0.0, 0.0, 1.0, 1.0), 0.3) == pytest.approx((0.35, 0.35, 0.3, 0.3))
    assert pictures.centre((0.5, 0.5, 0.5, 0.5), 0.5) == pytest.approx((0.625, 0.625, 0.25, 0.25))


def test_each_quadrant_is_named_from_a_png(tmp_path):
    image = pictures.load_rgb(quadrants(tmp_path, [RED, GREEN, BLUE, (0, 0, 0)]))
    assert image.shape == (48, 64, 3)
    assert pictures.grid_names(image, 2) == ["red", "green", "blue", "black"]
    assert pictures.mean_rgb(image, (0.0, 0.0, 0.5, 0.5)) == RED
    # the whole picture averages the four
    assert pictures.mean_rgb(image) == (64, 64, 64)


def test_lossy_colours_match_and_greys_or_mixes_do_not():
    # what H.264 over limited-range YUV made of pure colours between two baresips
    assert pictures.nearest_colour((234, 14, 15)) == "red"
    assert pictures.nearest_colour((16, 15, 235)) == "blue"
    assert pictures.nearest_colour((21, 235, 20)) == "green"
    assert pictures.nearest_colour((235, 235, 16)) == "yellow"
    assert pictures.nearest_colour((128, 128, 128)) is None  # mid grey: no palette colour
    assert pictures.nearest_colour((128, 0, 128)) is None  # a blend, not magenta
    assert pictures.nearest_colour((30, 35, 50)) == "black"  # a dark slate is near black
    assert pictures.nearest_colour((30, 35, 50), tolerance=20) is None


def test_saturation_and_darkness_tell_slates_from_test_colours():
    assert pictures.is_saturated((234, 14, 15)) and not pictures.is_dark((234, 14, 15))
    assert not pictures.is_saturated((40, 44, 60)) and pictures.is_dark((40, 44, 60))
    assert not pictures.is_saturated((128, 128, 128)) and not pictures.is_dark((128, 128, 128))


def test_a_degenerate_rect_still_samples_one_pixel(tmp_path):
    image = pictures.load_rgb(quadrants(tmp_path, [RED, GREEN, BLUE, RED]))
    assert pictures.mean_rgb(image, (0.99, 0.99, 0.0, 0.0)) == RED
    assert "cell 1: (0, 255, 0) green" in pictures.describe(image, pictures.grid(2))


def test_h264_nal_types_of_single_stap_a_and_fu_a_payloads():
    assert h264_nal_types(bytes([0x65, 1, 2])) == [NAL_IDR]
    stap = bytes([0x18, 0, 2, 0x67, 0, 0, 1, 0x68])
    assert h264_nal_types(stap) == [NAL_SPS, NAL_PPS]
    assert h264_nal_types(bytes([0x7C, 0x85, 9])) == [NAL_IDR]  # FU-A start of an IDR
    assert h264_nal_types(bytes([0x7C, 0x05, 9])) == []  # a middle fragment
    header = bytes([0x80, 0xE0, 0, 7]) + (90000).to_bytes(4, "big") + (1234).to_bytes(4, "big")
    packet = parse_rtp(header + b"\x65\x01")
    assert packet is not None and packet.marker and packet.payload_type == 96
    assert (packet.seq, packet.timestamp, packet.ssrc, packet.payload) == (7, 90000, 1234,
                                                                           b"\x65\x01")
    assert parse_rtp(b"\x00" * 12) is None


def test_the_offer_names_the_codec_and_the_answer_reader_reads_it():
    offer = video_offer(40000, 40010, H264_MODE1, rtcp_mux=True)
    text = offer.decode()
    assert "m=video 40010 RTP/AVP 96" in text
    assert "a=fmtp:96 profile-level-id=42e01f;packetization-mode=1" in text
    assert "a=rtcp-fb:96 nack pli" in text and "a=rtcp-mux" in text
    video = answered(offer, "video")
    assert (video.port, video.payload_type, video.encoding, video.rtcp_mux) == (
        40010, 96, "H264", True)
    assert video.rtcp == ("127.0.0.1", 40010)
    h263 = answered(video_offer(40000, 40010, H263_1998), "video")
    assert (h263.encoding, h263.fmtp, h263.rtcp) == ("H263-1998", "CIF=1;QCIF=1",
                                                     ("127.0.0.1", 40011))


# --------------------------------------------------------------------------- baresip video


needs_baresip = pytest.mark.usefixtures("baresip_installed")
needs_ffmpeg = pytest.mark.usefixtures("ffmpeg_installed")


@pytest.fixture
def baresip_installed() -> None:
    if not baresip_available():
        missing("baresip")


@pytest.fixture
def ffmpeg_installed() -> None:
    if not ffmpeg_available():
        missing("ffmpeg")


@pytest.fixture
def video_peers(tmp_path: Path) -> Iterator:
    started: list[BaresipPeer] = []

    def make(name: str, codec: str, colour: tuple[int, int, int], tone: float = 440.0
             ) -> BaresipPeer:
        peer = BaresipPeer(tmp_path, name, 0, tone, ["pcmu"], video_codec=codec,
                           video_colour=colour)
        started.append(peer)
        return peer.start()

    yield make
    for peer in started:
        peer.close()
        assert not peer.alive()


@needs_ffmpeg
def test_the_colour_clip_is_video_only_and_cached():
    clip = colour_clip((1, 2, 3), (64, 48), 5, seconds=2)
    assert clip == colour_clip((1, 2, 3), (64, 48), 5, seconds=2)
    assert clip.name == "010203-64x48-5fps-2s.mp4"
    # baresip's avformat source crashes on a file with an audio track
    probed = subprocess.run([FFPROBE, "-v", "error", "-show_streams", "-of", "json", str(clip)],
                            capture_output=True, check=True, timeout=30)
    streams = json.loads(probed.stdout)["streams"]
    assert [(s["codec_type"], s["width"], s["height"]) for s in streams] == [("video", 64, 48)]


@pytest.mark.peer
@needs_baresip
@needs_ffmpeg
@pytest.mark.parametrize("codec", ["H264", "VP8"])
def test_two_baresips_see_each_others_colour(video_peers, tmp_path, codec):
    red, blue = video_peers("red", codec, RED, 440.0), video_peers("blue", codec, BLUE, 800.0)
    red.dial(blue.aor)
    red.wait_established()
    blue.wait_established()
    for peer, other in ((red, "blue"), (blue, "red")):
        picture = pictures.load_rgb(peer.snapshot(tmp_path / f"{peer.name}.png"))
        assert picture.shape == (240, 320, 3)
        seen = pictures.nearest_colour(pictures.mean_rgb(picture, pictures.centre((0, 0, 1, 1))))
        assert seen == other, f"{peer.name} sees {seen}"
    assert red.count(f"Set video encoder: {codec}") == 1
    red.hangup()
    blue.wait_terminated()


@pytest.mark.peer
@needs_baresip
def test_an_audio_only_peer_loads_no_video_module(tmp_path):
    peer = BaresipPeer(tmp_path, "plain", 0, 440.0, ["pcmu"])
    assert "video" not in peer.config_text() and "video_codecs" not in peer.accounts_text()
    with pytest.raises(ValueError):
        BaresipPeer(tmp_path, "bad", 0, 440.0, ["pcmu"], video_codec="H261")


# --------------------------------------------------------------------------- ffmpeg RTP


def back_to_back(a: RtpRelay, b: RtpRelay, codec) -> None:
    """Each relay treats the other as "the MCU"."""
    for relay, other in ((a, b), (b, a)):
        relay.set_mcu(Answered("video", "127.0.0.1", other.rtp_port, codec.payload_type,
                               codec.name, 90000, codec.fmtp, False))


@pytest.mark.peer
@needs_ffmpeg
@pytest.mark.parametrize("codec", [H264_MODE1, H264_MODE0, H263_1998],
                         ids=["h264", "h264-mode0", "h263p"])
def test_ffmpeg_sends_a_colour_that_ffmpeg_receives_through_relays(tmp_path, codec):
    with RtpRelay() as near, RtpRelay() as far:
        back_to_back(near, far, codec)
        assert far.mcu is not None
        receiver_port = free_pair()
        receiver = FfmpegReceiver(tmp_path, "receiver", far.mcu, receiver_port)
        far.listeners.append(receiver_port)
        sender = FfmpegSender(tmp_path, "sender", codec, ("127.0.0.1", near.inner_port),
                              free_pair(), colour=GREEN)
        with receiver, sender:
            def green(path: Path) -> bool:
                return pictures.grid_names(pictures.load_rgb(path), 1) == ["green"]

            picture = pictures.load_rgb(receiver.wait_until(green, timeout=20))
            assert picture.shape[:2] == (codec.size[1], codec.size[0])
            line = receiver.stream_line() or ""
            assert ("h264" if codec.name == "H264" else "h263") in line, line
        assert near.forwarded > 0
        if codec.name == "H264":  # in-band SPS/PPS before IDRs, as a receiver needs
            types = [t for p in far.packets() for t in h264_nal_types(p.payload)]
            assert NAL_SPS in types and NAL_PPS in types and NAL_IDR in types


# --------------------------------------------------------------------------- SIP UAC


@pytest.mark.peer
@needs_baresip
@needs_ffmpeg
def test_our_uac_calls_a_baresip_gets_its_video_answer_and_hangs_up(video_peers, tmp_path):
    callee = video_peers("callee", "H264", BLUE)
    with RtpRelay() as relay, SipUac("uac") as uac:
        audio = free_pair()
        offer = video_offer(audio, relay.rtp_port, H264_MODE0)  # baresip has no mode 1
        answer = uac.invite(callee.aor, offer)
        video = answered(answer, "video")
        assert video.encoding == "H264"
        relay.set_mcu(video)
        callee.wait_established()
        # baresip sends its picture: SPS/PPS and an IDR reach the relay's port
        relay.wait_packets(5, timeout=10)
        status = uac.fast_update()
        assert 200 <= status < 700  # baresip answers INFO somehow; we read the status
        uac.hangup()
        callee.wait_terminated()
        assert uac.ended()
