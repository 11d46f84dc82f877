"""H.261 in RFC 4587 (issue 13): our pictures go out at start codes within the MTU and
come back whole and decodable; SBIT/EBIT splits are merged; garbage never raises."""

from __future__ import annotations

from gateway.media import VideoSendFormat
from gateway.rtp.payload.h261 import H261Depacketizer, is_picture_start, packetize
from mcu.mixer.video.codecs import VideoDecoder, VideoEncoder, encoder_size
from tests.mixer.video.test_codecs import noisy

CIF = VideoSendFormat("H261", 31, 352, 288, 15.0, 384_000, mtu=1200)


def test_cif_and_qcif_only() -> None:
    assert encoder_size("H261", 1280, 720) == (352, 288)
    assert encoder_size("H261", 320, 240) == (176, 144)


def test_round_trip_decodes() -> None:
    encoder, decoder, depacketizer = VideoEncoder(CIF), VideoDecoder("H261"), H261Depacketizer()
    for index in range(3):
        unit = encoder.encode(noisy(352, 288, seed=index), keyframe=index == 2)
        assert unit is not None and is_picture_start(unit.data)
        payloads = packetize(unit.data, CIF.mtu)
        assert all(len(p) <= CIF.mtu for p in payloads) and payloads[0][:4] == b"\x01\0\0\0"
        frames = []
        for n, payload in enumerate(payloads):
            frames += depacketizer.push(payload, index * 100 + n, index * 6000,
                                        n == len(payloads) - 1)
        [frame] = frames
        assert frame.data == unit.data and frame.keyframe
        picture = decoder.decode(frame)
        assert picture is not None and (picture.width, picture.height) == (352, 288)


def test_bit_split_packets_are_merged() -> None:
    unit = VideoEncoder(CIF).encode(noisy(352, 288))
    assert unit is not None
    data, cut = unit.data, 500
    # The split falls 6 bits into byte `cut`: EBIT=2 on the first, SBIT=6 on the second.
    first = bytes([2 << 2 | 1, 0, 0, 0]) + data[:cut] + bytes([data[cut] & 0xFC | 0x03])
    second = bytes([6 << 5 | 1, 0, 0, 0]) + bytes([data[cut] & 0x03 | 0xF0]) + data[cut + 1:]
    depacketizer = H261Depacketizer()
    assert depacketizer.push(first, 1, 0, False) == []
    [frame] = depacketizer.push(second, 2, 0, True)
    assert frame.data == data


def test_garbage_is_counted_never_raised() -> None:
    depacketizer = H261Depacketizer()
    for n, payload in enumerate([b"", b"\x01\0\0\0", b"\xff" * 30, b"\x01\0\0\0\x00"]):
        assert depacketizer.push(payload, n, n, True) == []
    assert depacketizer.stats["malformed"] >= 2
