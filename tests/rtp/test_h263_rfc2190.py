"""H.263 (1996) in RFC 2190 (issue 13): our encoder's pictures go out in mode A at GOB
boundaries within the MTU and come back whole, SBIT/EBIT-split packets are merged,
modes B and C are read, and garbage never raises."""

from __future__ import annotations

from gateway.media import VideoSendFormat
from gateway.rtp.payload import h263_rfc2190
from gateway.rtp.payload.h263 import start_codes
from gateway.rtp.payload.h263_rfc2190 import Rfc2190Depacketizer, packetize, picture_fields
from mcu.mixer.video.codecs import VideoDecoder, VideoEncoder, encoder_size
from tests.mixer.video.test_codecs import noisy

CIF = VideoSendFormat("H263", 34, 352, 288, 15.0, 384_000, mtu=1200)


def pictures(count: int = 3) -> list[tuple[bytes, bool]]:
    encoder = VideoEncoder(CIF)
    out = []
    for i in range(count):
        unit = encoder.encode(noisy(352, 288, seed=i), keyframe=i == 2)
        assert unit is not None
        out.append((unit.data, unit.keyframe))
    return out


def test_standard_sizes_only() -> None:
    assert encoder_size("H263", 1280, 720) == (704, 576)
    assert encoder_size("H263", 640, 360) == (352, 288)
    assert encoder_size("H263", 352, 288) == (352, 288)
    assert encoder_size("H263", 100, 80) == (128, 96)


def test_mode_a_at_gob_boundaries_round_trip_and_decode() -> None:
    depacketizer = Rfc2190Depacketizer()
    decoder = VideoDecoder("H263")
    for index, (data, key) in enumerate(pictures()):
        tr, source_format, inter = picture_fields(data)
        assert source_format == 3 and inter == (0 if key else 1)  # CIF; I or P
        payloads = packetize(data, CIF.mtu)
        assert all(len(p) <= CIF.mtu for p in payloads) and len(payloads) > 1
        gobs = set(start_codes(data))
        offset, previous = 0, CIF.mtu
        for payload in payloads:
            assert payload[:4] == h263_rfc2190.mode_a_header(tr, 3, inter)
            # at a GOB start, or the rest of a GOB too big for the previous, full packet
            assert offset in gobs or previous == CIF.mtu
            offset, previous = offset + len(payload) - 4, len(payload)
        frames = []
        for n, payload in enumerate(payloads):
            frames += depacketizer.push(payload, index * 100 + n, index * 6000,
                                        n == len(payloads) - 1)
        [frame] = frames
        assert frame.data == data and frame.keyframe == key
        assert decoder.decode(frame) is not None


def test_sbit_ebit_packets_are_merged_and_modes_b_c_read() -> None:
    data, _ = pictures(1)[0]
    cut = 700
    # Mode B: the split falls 3 bits into byte `cut`: EBIT=5 on the first, SBIT=3 next.
    first = bytes([0x80 | 5, 0, 0, 0, 0, 0, 0, 0]) + data[:cut] + bytes([data[cut] & 0xE0])
    second = bytes([0x80 | 3 << 3, 0, 0, 0, 0, 0, 0, 0]) + bytes([data[cut] & 0x1F]) + \
        data[cut + 1:]
    depacketizer = Rfc2190Depacketizer()
    assert depacketizer.push(first, 1, 3000, False) == []
    [frame] = depacketizer.push(second, 2, 3000, True)
    assert frame.data == data and frame.keyframe
    mode_c = bytes([0xC0, 0, 0, 0]) + bytes(8) + data
    [frame] = Rfc2190Depacketizer().push(mode_c, 1, 0, True)
    assert frame.data == data


def test_garbage_is_counted_never_raised() -> None:
    depacketizer = Rfc2190Depacketizer()
    for n, payload in enumerate([b"", b"\x00\x00", b"\x00" * 4, b"\xff" * 40, b"\x00" * 4
                                 + b"\x00\x00\x80\xff\xff"]):
        assert depacketizer.push(payload, n, n, True) == []
    assert depacketizer.stats["malformed"] >= 3
