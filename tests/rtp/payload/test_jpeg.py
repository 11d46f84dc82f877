"""Motion JPEG (RFC 2435) from a real ffmpeg RTP stream, and hand-made payloads."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest
from PIL import Image

from gateway.rtp.payload.jpeg import (
    CHROMA_QUANTIZER,
    DHT,
    LUMA_QUANTIZER,
    ZIGZAG,
    JpegDepacketizer,
    quantization_tables,
)
from gateway.rtp.video import depacketizer_for
from mcu.mixer.video.codecs import VideoDecoder
from mcu.mixer.video.picture import Picture, rgb_to_yuv
from tests.rtp.payload.capture import capture

GREEN = (0, 128, 0)
SOURCE = ("-f", "lavfi", "-i", "color=c=green:size=320x240:rate=10", "-t", "1")


def stream(pkt_size: int = 600):  # type: ignore[no-untyped-def]
    return capture(*SOURCE, "-c:v", "mjpeg", "-huffman", "default", "-pix_fmt", "yuvj420p",
                   "-pkt_size", str(pkt_size))


def segments(jpeg: bytes) -> dict[int, bytes]:
    """Marker -> body of each header segment up to SOS (repeated ones joined), and the
    scan after it (key 0)."""
    out, pos = {}, 2
    while True:
        marker, length = jpeg[pos + 1], struct.unpack_from("!H", jpeg, pos + 2)[0]
        out[marker] = out.get(marker, b"") + jpeg[pos + 4 : pos + 2 + length]
        pos += 2 + length
        if marker == 0xDA:
            out[0] = jpeg[pos:]
            return out


def jpeg_picture(
    colour: tuple[int, int, int], subsampling: int, size: tuple[int, int], quality: int = 75,
    **options: int,
) -> bytes:
    """A baseline JPEG as libjpeg (Pillow) makes it: standard Huffman tables and the IJG
    quantization tables scaled by ``quality`` exactly as RFC 2435 scales them by Q.
    ``subsampling`` 1 is 4:2:2 (type 0), 2 is 4:2:0 (type 1)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=quality,
                                        subsampling=subsampling, **options)
    return buffer.getvalue()


def packetize(
    jpeg: bytes, kind: int, cuts: list[int], width: int, height: int, q: int = 255
) -> list[bytes]:
    """RFC 2435 payloads (Q 255: tables in the first packet) cut at ``cuts``."""
    parts = segments(jpeg)
    dqt = parts[0xDB]
    tables, pos = b"", 0
    while pos < len(dqt):  # one or several tables per DQT segment
        tables += dqt[pos + 1 : pos + 65]
        pos += 65
    scan = parts[0].removesuffix(b"\xff\xd9")
    bounds = [0, *cuts, len(scan)]
    payloads = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        head = struct.pack("!B3sBBBB", 0, start.to_bytes(3, "big"), kind, q,
                           width // 8, height // 8)
        if start == 0 and q >= 128:
            head += struct.pack("!BBH", 0, 0, len(tables)) + tables
        payloads.append(head + scan[start:end])
    return payloads


def push_all(dep: JpegDepacketizer, payloads: list[bytes], ts: int = 0, seq: int = 0) -> list:
    return [f for k, p in enumerate(payloads)
            for f in dep.push(p, seq + k, ts, k == len(payloads) - 1)]


def mean_is(frame: av.VideoFrame, colour: tuple[int, int, int], size: tuple[int, int]) -> None:
    assert (frame.width, frame.height) == size
    got = Picture.from_frame(frame).mean_yuv()
    assert all(abs(g - w) <= 3 for g, w in zip(got, rgb_to_yuv(colour), strict=True)), got


def test_ffmpeg_stream_decodes_green_at_full_size() -> None:
    capt = stream()
    assert {p.payload_type for p in capt.packets} == {26}
    dep = depacketizer_for("JPEG")
    frames = [f for p in capt.packets for f in dep.push(*p.push_args())]
    assert len(frames) == 10 and all(f.keyframe for f in frames)
    assert dep.stats["malformed"] == dep.stats["dropped"] == 0
    dec = VideoDecoder("JPEG")
    pictures = [dec.decode(f) for f in frames]
    assert all(p is not None for p in pictures) and dec.errors == 0
    mean_is(pictures[0], GREEN, (320, 240))  # type: ignore[arg-type]
    assert pictures[0].format.name == "yuv420p"  # type: ignore[union-attr]


def test_a_gap_in_the_offsets_drops_only_that_frame() -> None:
    packets = list(stream(300).packets)
    per_frame = sum(1 for p in packets if p.timestamp == packets[0].timestamp)
    assert per_frame >= 3
    dep = JpegDepacketizer()
    del packets[1]  # the second fragment of the first frame
    frames = [f for p in packets for f in dep.push(*p.push_args())]
    assert len(frames) == 9 and dep.stats["dropped"] == 1 and not dep.needs_keyframe
    # A fragment that goes missing with the sequence numbers renumbered: the offsets tell.
    renumbered = [p for p in stream(300).packets][: per_frame]
    del renumbered[1]
    dep = JpegDepacketizer()
    out = [f for k, p in enumerate(renumbered)
           for f in dep.push(p.payload, k, p.timestamp, p.marker)]
    assert out == [] and dep.stats["dropped"] == 1


@pytest.mark.parametrize("cuts", [[], [1], [7, 8, 9], [30, 31, 60]])
def test_type_0_422_reassembles_at_any_split_point(cuts: list[int]) -> None:
    size = (176, 144)
    jpeg = jpeg_picture((200, 40, 90), 1, size)
    (frame,) = push_all(JpegDepacketizer(), packetize(jpeg, 0, cuts, *size))
    assert segments(frame.data)[0xC0][6:9] == bytes([1, 0x21, 0])  # Y sampled 2x1: 4:2:2
    picture = VideoDecoder("JPEG").decode(frame)
    assert picture is not None
    mean_is(picture, (200, 40, 90), size)


def test_tables_sent_once_per_q_are_reused_and_q_below_128_is_computed() -> None:
    jpeg = jpeg_picture((0, 0, 255), 2, (64, 48))
    first = packetize(jpeg, 1, [], 64, 48)[0]
    dep = JpegDepacketizer()
    (a,) = dep.push(first, 0, 0, True)
    length = struct.unpack_from("!H", first, 10)[0]
    without = first[:10] + b"\x00\x00" + first[12 + length :]
    (b,) = dep.push(without, 1, 3000, True)
    assert a.data == b.data
    computed = first[:5] + bytes([50]) + first[6:8] + first[12 + length :]
    (c,) = dep.push(computed, 2, 6000, True)
    assert segments(c.data)[0xDB] == b"\x00" + quantization_tables(50)[:64] + b"\x01" + \
        quantization_tables(50)[64:]
    assert VideoDecoder("JPEG").decode(c) is not None
    fresh = JpegDepacketizer()
    assert fresh.push(without, 0, 0, True) == [] and fresh.stats["malformed"] == 1


def test_standard_tables_match_the_jpeg_spec_and_ffmpeg() -> None:
    at_50 = quantization_tables(50)  # scale 100%: Annex K.1 itself, in zigzag order
    assert list(at_50[:64]) == [LUMA_QUANTIZER[ZIGZAG[i]] for i in range(64)]
    assert list(at_50[64:]) == [CHROMA_QUANTIZER[ZIGZAG[i]] for i in range(64)]
    assert ZIGZAG[:10] == (0, 1, 8, 16, 9, 2, 3, 10, 17, 24)
    assert quantization_tables(1)[0] == 255 and quantization_tables(99)[0] == 1
    # ffmpeg's "-huffman default" writes the Annex K.3 tables: the same bytes as ours.
    ffmpeg = av.CodecContext.create("mjpeg", "w")
    ffmpeg.width, ffmpeg.height, ffmpeg.pix_fmt = 16, 16, "yuvj420p"
    ffmpeg.time_base = 1  # type: ignore[assignment]
    ffmpeg.options = {"huffman": "default"}
    frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
    coded = b"".join(bytes(p) for p in ffmpeg.encode(frame.reformat(format="yuvj420p")))
    theirs = segments(coded)[0xC4]
    ours = DHT[4:]
    assert len(theirs) == len(ours) == 4 * 17 + 12 + 12 + 162 + 162
    assert huffman_tables(ours) == huffman_tables(theirs)


def huffman_tables(body: bytes) -> dict[int, bytes]:
    tables, pos = {}, 0
    while pos < len(body):
        size = 17 + sum(body[pos + 1 : pos + 17])
        tables[body[pos]] = body[pos : pos + size]
        pos += size
    return tables


@pytest.mark.parametrize("quality", [20, 50, 75, 95])
def test_q_below_128_decodes_with_the_computed_tables(quality: int) -> None:
    size = (160, 120)
    jpeg = jpeg_picture((30, 160, 220), 2, size, quality)
    assert segments(jpeg)[0xDB][1:65] == quantization_tables(quality)[:64]  # as libjpeg's
    payloads = packetize(jpeg, 1, [300], *size, q=quality)
    (frame,) = push_all(JpegDepacketizer(), payloads)
    picture = VideoDecoder("JPEG").decode(frame)
    assert picture is not None
    mean_is(picture, (30, 160, 220), size)


def test_restart_markers_in_the_scan_decode() -> None:
    size = (160, 120)
    jpeg = jpeg_picture((250, 200, 10), 2, size, restart_marker_blocks=5)
    interval = struct.unpack("!H", segments(jpeg)[0xDD])[0]
    payload = bytearray(packetize(jpeg, 1, [], *size)[0])
    payload[4] = 65
    payload[8:8] = struct.pack("!HH", interval, 0xFFFF)
    (frame,) = JpegDepacketizer().push(bytes(payload), 0, 0, True)
    assert segments(frame.data)[0xDD] == struct.pack("!H", interval)
    picture = VideoDecoder("JPEG").decode(frame)
    assert picture is not None
    mean_is(picture, (250, 200, 10), size)


def test_restart_marker_header_becomes_dri() -> None:
    jpeg = jpeg_picture((0, 0, 255), 2, (64, 48))
    payload = bytearray(packetize(jpeg, 1, [], 64, 48)[0])
    payload[4] = 65  # type 1 with restart markers: a restart header after the main one
    payload[8:8] = struct.pack("!HH", 0, 0xFFFF)  # interval 0 (none used), F=L=1
    (frame,) = JpegDepacketizer().push(bytes(payload), 0, 0, True)
    assert b"\xff\xdd" not in frame.data.split(b"\xff\xda")[0]
    payload[8:10] = struct.pack("!H", 4)
    (frame,) = JpegDepacketizer().push(bytes(payload), 0, 0, True)
    assert segments(frame.data)[0xDD] == b"\x00\x04"


def test_garbage_never_raises() -> None:
    rng = np.random.default_rng(11)
    dep = JpegDepacketizer()
    junk = [b"", b"\x00" * 7, b"\x00" * 8, b"\x00\x00\x00\x00\x05\x50\x28\x1e\x00",
            b"\x00\x00\x00\x00\x01\xff\x28\x1e\x00\x00\x00\x40"]
    junk += [rng.bytes(int(rng.integers(1, 400))) for _ in range(300)]
    for seq, payload in enumerate(junk):
        for frame in dep.push(payload, seq, seq // 2, seq % 2 == 1):
            VideoDecoder("JPEG").decode(frame)  # never raises either
    assert dep.stats["malformed"] > 100
    frames = [f for k, p in enumerate(stream().packets)
              for f in dep.push(p.payload, len(junk) + k, p.timestamp, p.marker)]
    assert len(frames) == 10
