"""H.265 (RFC 7798) from a real ffmpeg/libx265 RTP stream, and H.264 sprop-parameter-sets."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from gateway.rtp.payload.h264 import split_annex_b
from gateway.rtp.payload.h265 import H265Depacketizer, nal_type
from gateway.rtp.video import depacketizer_for
from mcu.mixer.video.codecs import VideoDecoder
from mcu.mixer.video.picture import Picture, rgb_to_yuv
from tests.rtp.payload.capture import Capture, Packet, capture

GREEN = (0, 128, 0)  # lavfi's "green"
SOURCE = ("-f", "lavfi", "-i", "color=c=green:size=320x240:rate=10", "-t", "1")
X265 = ("-c:v", "libx265", "-preset", "ultrafast",
        "-x265-params", "log-level=none:keyint=5:bframes=0")


def hevc(*extra: str) -> Capture:
    return capture(*SOURCE, *X265, *extra)


def frames_of(dep: H265Depacketizer, packets: list[Packet]) -> list:
    return [f for p in packets for f in dep.push(*p.push_args())]


def assert_green(codec: str, frames: list) -> None:
    dec = VideoDecoder(codec)
    pictures = [dec.decode(f) for f in frames]
    assert all(p is not None for p in pictures) and dec.errors == 0
    first = pictures[0]
    assert first is not None and (first.width, first.height) == (320, 240)
    got = Picture.from_frame(first).mean_yuv()
    assert all(abs(g - w) <= 3 for g, w in zip(got, rgb_to_yuv(GREEN), strict=True)), got


def test_ffmpeg_stream_with_aps_and_fus_decodes_green() -> None:
    stream = hevc("-pkt_size", "600")
    kinds = {nal_type(p.payload) for p in stream.packets}
    assert {48, 49} <= kinds  # AP (VPS+SPS+PPS) and FU (the big IDR and SEI)
    dep = depacketizer_for("H265", stream.fmtp())
    frames = frames_of(dep, list(stream.packets))  # type: ignore[arg-type]
    assert [f.keyframe for f in frames] == [True, False, False, False, False] * 2
    assert dep.stats["malformed"] == dep.stats["dropped"] == 0 and not dep.needs_keyframe
    assert_green("H265", frames)


def test_parameter_sets_only_in_the_sdp_are_prepended() -> None:
    stream = hevc("-flags", "+global_header")
    fmtp = stream.fmtp()
    assert {"sprop-vps", "sprop-sps", "sprop-pps"} <= fmtp.keys()
    bare = frames_of(H265Depacketizer(), list(stream.packets))
    assert 33 not in {nal_type(n) for n in split_annex_b(bare[0].data)}  # no in-band SPS
    frames = frames_of(depacketizer_for("H265", fmtp), list(stream.packets))  # type: ignore[arg-type]
    assert [nal_type(n) for n in split_annex_b(frames[0].data)][:3] == [32, 33, 34]
    assert frames[1].data == bare[1].data  # predicted pictures untouched
    assert_green("H265", frames)


def test_in_band_parameter_sets_are_not_doubled() -> None:
    stream = hevc()
    sps = next(n for f in frames_of(H265Depacketizer(), list(stream.packets))
               for n in split_annex_b(f.data) if nal_type(n) == 33)
    dep = H265Depacketizer(sprop_sps=base64.b64encode(sps).decode())
    frames = frames_of(dep, list(stream.packets))
    assert sum(nal_type(n) == 33 for n in split_annex_b(frames[0].data)) == 1


def test_a_missing_fragment_drops_the_picture_until_the_next_key_frame() -> None:
    packets = list(hevc("-pkt_size", "300").packets)
    fu = [i for i, p in enumerate(packets) if nal_type(p.payload) == 49]
    lost = fu[2]  # a middle fragment of the first IDR
    assert packets[lost].timestamp == packets[0].timestamp
    dep = H265Depacketizer(wait_for_keyframe=True)
    frames = frames_of(dep, packets[:lost] + packets[lost + 1 :])
    assert dep.stats["lost"] == 1 and dep.stats["dropped"] == 1
    assert len(frames) == 5 and frames[0].keyframe  # the second GOP only
    assert dep.stats["withheld"] == 4
    assert_green("H265", frames)


@pytest.mark.parametrize("cut", [1, 2, 50, -1])
def test_fu_reassembly_at_any_split_point(cut: int) -> None:
    idr = next(n for n in split_annex_b(frames_of(H265Depacketizer(), list(hevc().packets))[0].data)
               if nal_type(n) == 19 or nal_type(n) == 20)
    body = idr[2:]
    point = cut % len(body)
    fu_indicator = bytes([(idr[0] & 0x81) | (49 << 1), idr[1]])
    first = fu_indicator + bytes([0x80 | nal_type(idr)]) + body[:point]
    last = fu_indicator + bytes([0x40 | nal_type(idr)]) + body[point:]
    dep = H265Depacketizer()
    assert dep.push(first, 1, 9000, False) == []
    (frame,) = dep.push(last, 2, 9000, True)
    assert frame.keyframe and split_annex_b(frame.data) == [idr]


def test_garbage_never_raises_and_counts_as_malformed() -> None:
    rng = np.random.default_rng(7)
    dep = H265Depacketizer()
    junk = [b"", b"\x00", b"\x80\x01", b"\x60\x01", b"\x62\x01", b"\x62\x01\xc0\x00",
            b"\x60\x01\xff\xff\x40", b"\x64\x01\x00", b"\x02\x00\x80"]
    junk += [rng.bytes(int(rng.integers(1, 300))) for _ in range(300)]
    for seq, payload in enumerate(junk):
        dep.push(payload, seq, seq // 3, seq % 3 == 2)
    assert dep.stats["malformed"] > 100 and dep.needs_keyframe
    stream = hevc()  # and a real stream still decodes afterwards
    frames = [f for k, p in enumerate(stream.packets)
              for f in dep.push(p.payload, len(junk) + k, p.timestamp, p.marker)]
    assert frames and frames[0].keyframe


def test_depacketizer_for_refuses_decoding_order_numbers() -> None:
    with pytest.raises(ValueError, match="DONL"):
        depacketizer_for("H265", {"sprop-max-don-diff": "2"})
    assert isinstance(depacketizer_for("H265", {"sprop-max-don-diff": "0"}), H265Depacketizer)


def test_h264_sprop_parameter_sets_from_the_sdp() -> None:
    stream = capture(*SOURCE, "-c:v", "libx264", "-preset", "ultrafast", "-g", "5",
                     "-bf", "0", "-flags", "+global_header")
    fmtp = stream.fmtp()
    assert "sprop-parameter-sets" in fmtp
    frames = []
    dep = depacketizer_for("H264", fmtp)
    for p in stream.packets:
        frames += dep.push(*p.push_args())
    assert [n[0] & 0x1F for n in split_annex_b(frames[0].data)][:2] == [7, 8]
    assert_green("H264", frames)
