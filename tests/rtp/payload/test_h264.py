"""H.264 (RFC 6184) specifics: modes, STAP-A/FU-A layout, aiortc interoperation."""

from __future__ import annotations

import random
import struct

import pytest
from aiortc.codecs.h264 import H264Encoder, h264_depayload

from gateway.rtp.payload import h264
from gateway.rtp.payload.h264 import H264Depacketizer
from tests.rtp.payload.cases import MTU
from tests.rtp.payload.media import X264_MODE0, X264_MODE1, decode, encode, rtp


def mode0_clip() -> tuple[bytes, ...]:
    return encode("libx264", tuple(X264_MODE0.items()))


def mode1_clip() -> tuple[bytes, ...]:
    return encode("libx264", tuple(X264_MODE1.items()))


def test_mode0_sends_each_nal_unit_alone() -> None:
    for picture in mode0_clip():
        payloads = h264.packetize(picture, MTU, 0)
        assert payloads == h264.split_annex_b(picture)
        assert all(1 <= p[0] & 0x1F <= 23 and len(p) <= MTU for p in payloads)


def test_mode0_refuses_a_nal_unit_larger_than_the_mtu() -> None:
    keyframe = mode1_clip()[0]  # one slice per picture, bigger than the MTU
    with pytest.raises(ValueError, match="slices that fit"):
        h264.packetize(keyframe, MTU, 0)


def test_mode1_aggregates_parameter_sets_and_fragments_big_slices() -> None:
    keyframe = mode1_clip()[0]
    nals = h264.split_annex_b(keyframe)
    payloads = h264.packetize(keyframe, MTU, 1)
    assert payloads[0][0] & 0x1F == 24  # STAP-A
    size = struct.unpack_from("!H", payloads[0], 1)[0]
    assert payloads[0][3 : 3 + size] == nals[0]  # the SPS, then the PPS...
    fragments = [p for p in payloads if p[0] & 0x1F == 28]
    assert fragments and all(len(p) <= MTU for p in payloads)
    sizes = [len(p) for p in fragments if p[1] & 0x1F == 5]
    assert max(sizes) - min(sizes) <= 1  # near-equal cuts: no runt fragment
    starts = [p for p in fragments if p[1] & 0x80]
    ends = [p for p in fragments if p[1] & 0x40]
    assert len(starts) == len(ends) == sum(len(n) > MTU for n in nals)


def test_list_of_nal_units_and_annex_b_packetize_alike() -> None:
    picture = mode1_clip()[0]
    assert h264.packetize(h264.split_annex_b(picture), 500, 1) == h264.packetize(picture, 500, 1)


def test_split_annex_b_takes_both_start_codes_and_drops_trailing_zeros() -> None:
    stream = b"\x00\x00\x00\x01\x67\x01\x00\x00\x01\x68\x02\x00\x00\x00\x00\x01\x65\x03\x00"
    assert h264.split_annex_b(stream) == [b"\x67\x01", b"\x68\x02", b"\x65\x03"]


@pytest.mark.parametrize("mode", [2, -1])
def test_unknown_mode_is_refused(mode: int) -> None:
    with pytest.raises(ValueError, match="packetization-mode"):
        h264.packetize(b"\x00\x00\x01\x65\x88", MTU, mode)


def test_rtp_only_nal_types_are_not_packetized() -> None:
    with pytest.raises(ValueError):
        h264.packetize([b"\x7c\x85\x00"], MTU, 1)


def test_aiortc_depayloads_what_we_send() -> None:
    for picture in mode1_clip():
        ours = h264.packetize(picture, MTU, 1)
        data = b"".join(h264_depayload(p) for p in ours)
        assert h264.split_annex_b(data) == h264.split_annex_b(picture)


def test_we_depacketize_what_aiortc_sends() -> None:
    pictures = mode1_clip()
    theirs = [H264Encoder._packetize(h264.split_annex_b(p)) for p in pictures]
    dep = H264Depacketizer()
    frames = [f for packet in rtp(theirs) for f in dep.push(*packet)]
    assert len(frames) == len(pictures)
    assert len(decode("h264", [f.data for f in frames])) == len(pictures)


def _fu(nal: bytes, start: bool, end: bool) -> bytes:
    """FU indicator and header for a fragment of ``nal``."""
    return bytes(
        [nal[0] & 0xE0 | 28, nal[0] & 0x1F | (0x80 if start else 0) | (0x40 if end else 0)]
    )


IDR = b"\x65\x88\x84\x00\x33"  # first_mb_in_slice = 0


def test_fu_a_without_its_end_breaks_the_frame_even_without_a_gap() -> None:
    dep = H264Depacketizer()
    assert dep.push(_fu(IDR, True, False) + b"\x88\x84", 1, 90, False) == []
    # The sender skipped the end fragment and went on with another NAL unit.
    assert dep.push(b"\x41\x9a\x00", 2, 90, True) == []
    assert dep.stats["dropped"] == 1 and dep.needs_keyframe


def test_fu_a_continuation_without_a_start_breaks_the_frame() -> None:
    dep = H264Depacketizer()
    assert dep.push(IDR, 1, 90, False) == []
    # An end fragment whose start was never sent (no sequence gap to tell).
    assert dep.push(_fu(IDR, False, True) + b"\x84", 2, 90, True) == []
    assert dep.stats["dropped"] == 1 and dep.needs_keyframe
    # Alone at the start of a frame, likewise.
    assert dep.push(_fu(IDR, False, True) + b"\x84", 3, 180, True) == []
    assert dep.stats["dropped"] == 2


def test_a_single_idr_nal_unit_is_a_keyframe() -> None:
    dep = H264Depacketizer()
    (frame,) = dep.push(IDR, 7, 1234, True)
    assert frame.keyframe and frame.timestamp == 1234
    assert frame.data == b"\x00\x00\x00\x01" + IDR
    assert not dep.needs_keyframe


def test_marker_left_off_ends_the_frame_at_the_next_timestamp() -> None:
    dep = H264Depacketizer()
    assert dep.push(IDR, 1, 0, False) == []
    (frame,) = dep.push(b"\x41\x9a\x00", 2, 3000, False)
    assert frame.timestamp == 0 and frame.keyframe


class _GeneralPathOnly(H264Depacketizer):
    """Every packet through ``_parse``: what the FU-A continuation fast path must match."""

    def _continuation(self, payload: bytes) -> tuple[bytes, bool] | None:
        return None


def _damaged(packets: list[tuple[bytes, int, int, bool]], seed: int
             ) -> list[tuple[bytes, int, int, bool]]:
    """Loss, duplicates, swaps, truncation, flipped header bits and oversized frames."""
    rng = random.Random(seed)
    out: list[tuple[bytes, int, int, bool]] = []
    for payload, seq, ts, marker in packets:
        roll = rng.random()
        if roll < 0.05:
            continue  # lost
        if roll < 0.10:
            payload = payload[: rng.randrange(0, 4)]  # truncated
        elif roll < 0.18 and len(payload) > 1:
            flipped = bytearray(payload)
            flipped[rng.randrange(2)] ^= 1 << rng.randrange(8)  # NAL or FU header bit
            payload = bytes(flipped)
        out.append((payload, seq, ts, marker))
        if roll > 0.97:
            out.append((payload, seq, ts, marker))  # duplicate
        if roll > 0.94 and len(out) > 2:
            out[-1], out[-2] = out[-2], out[-1]  # reordered
    return out


@pytest.mark.parametrize("seed", range(12))
def test_fu_a_fast_path_matches_the_general_path_under_damage(seed: int) -> None:
    packets = list(rtp(h264.packetize(unit, 300) for unit in mode1_clip()))
    packets = _damaged(packets, seed) if seed else packets
    max_bytes = 6000 if seed % 3 == 2 else None  # some frames over the limit
    kwargs = {"max_frame_bytes": max_bytes} if max_bytes else {}
    fast, general = H264Depacketizer(**kwargs), _GeneralPathOnly(**kwargs)
    for packet in packets:
        assert fast.push(*packet) == general.push(*packet)
        assert fast.needs_keyframe == general.needs_keyframe
    assert fast.stats == general.stats
    assert seed or fast.stats["frames"] + fast.stats["keyframes"] > 0


@pytest.mark.parametrize("payload", [
    bytes([0x7C, 0x1C, 0x00]),  # continuation of an FU-A "carrying" an FU-A
    bytes([0x7C, 0x58]),  # end fragment with nothing after the FU header
    bytes([0xFC, 0x05, 0x00]),  # forbidden_zero_bit
])
def test_a_malformed_continuation_breaks_the_frame(payload: bytes) -> None:
    for dep in (H264Depacketizer(), _GeneralPathOnly()):
        assert dep.push(_fu(IDR, True, False) + b"\x88\x84", 1, 90, False) == []
        assert dep.push(payload, 2, 90, False) == []
        assert dep.push(_fu(IDR, False, True) + b"\x00\x33", 3, 90, True) == []
        assert dep.stats["malformed"] == 1 and dep.stats["dropped"] == 1
