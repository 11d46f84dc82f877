"""H.263+ (RFC 4629) specifics: the payload header, P bits, picture types."""

from __future__ import annotations

from gateway.rtp.payload import h263
from gateway.rtp.payload.h263 import H263Depacketizer
from tests.rtp.payload.cases import MTU
from tests.rtp.payload.media import GOP, encode

GOBS = (("ps", "1000"),)  # ffmpeg writes a GOB header about every 1000 bytes


def p_bits(payloads: list[bytes]) -> list[bool]:
    return [bool(p[0] & 0x04) for p in payloads]


def test_packets_start_at_gobs_and_p_marks_exactly_those() -> None:
    for picture in encode("h263p", GOBS):
        payloads = h263.packetize(picture, MTU)
        assert all(len(p) <= MTU for p in payloads)
        assert all(p[0] & 0xFB == 0 and p[1] == 0 for p in payloads)  # no V, PLEN, PEBIT
        codes = set(h263.start_codes(picture))
        offset, starts = 0, []
        for payload in payloads:
            coded = bool(payload[0] & 0x04)
            starts.append(offset in codes)
            offset += len(payload) - 2 + (2 if coded else 0)
        assert p_bits(payloads) == starts and starts[0]
        assert sum(starts) > 2  # whole GOBs per packet, several packets on GOB starts


def test_plain_mode_sets_p_only_at_the_picture_start() -> None:
    picture = encode("h263p", GOBS)[0]
    payloads = h263.packetize(picture, MTU, gob_boundaries=False)
    assert p_bits(payloads) == [True] + [False] * (len(payloads) - 1)
    assert b"\x00\x00" + b"".join(p[2:] for p in payloads) == picture
    assert all(len(p) == MTU for p in payloads[:-1])  # cut by size alone


def test_reassembly_is_byte_exact() -> None:
    for picture in encode("h263p", GOBS):
        dep = H263Depacketizer()
        payloads = h263.packetize(picture, MTU)
        frames = []
        for seq, payload in enumerate(payloads):
            frames += dep.push(payload, seq, 0, seq == len(payloads) - 1)
        assert [f.data for f in frames] == [picture]


def test_vrc_and_extra_picture_header_are_skipped() -> None:
    picture = encode("h263p")[0]
    body = picture[2:40]
    # P=1, V=1, PLEN=3 (PEBIT 0): then VRC, then the 3-byte extra picture header.
    payload = bytes([0x04 | 0x02, 3 << 3]) + b"\x55" + b"\xaa\xbb\xcc" + body
    dep = H263Depacketizer()
    (frame,) = dep.push(payload, 1, 0, True)
    assert frame.data == b"\x00\x00" + body and frame.keyframe


def test_intra_pictures_are_found_in_plusptype() -> None:
    pictures = encode("h263p")
    assert [h263.picture_is_intra(p) for p in pictures] == [
        n % GOP == 0 for n in range(len(pictures))
    ]


def test_a_follow_on_packet_cannot_start_a_frame() -> None:
    dep = H263Depacketizer()
    assert dep.push(h263.header(False) + b"\x12\x34", 1, 0, True) == []
    assert dep.stats["dropped"] == 1 and dep.needs_keyframe
