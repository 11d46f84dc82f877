"""VP8 (RFC 7741) specifics: the payload descriptor and aiortc's reading of it."""

from __future__ import annotations

import pytest
from aiortc.codecs.vpx import VpxPayloadDescriptor

from gateway.rtp.payload import vp8
from gateway.rtp.payload.vp8 import Vp8Depacketizer, Vp8Descriptor
from tests.rtp.payload.cases import MTU
from tests.rtp.payload.media import encode


@pytest.mark.parametrize(
    ("descriptor", "wire"),
    [
        (Vp8Descriptor(start=True), b"\x10"),
        (Vp8Descriptor(start=False, partition_id=3, non_reference=True), b"\x23"),
        (Vp8Descriptor(start=True, picture_id=0x1234), b"\x90\x80\x92\x34"),
        (Vp8Descriptor(start=True, picture_id=0x45, long_picture_id=False), b"\x90\x80\x45"),
        (
            Vp8Descriptor(start=True, picture_id=17, tl0picidx=9, tid=2, layer_sync=True, keyidx=5),
            b"\x90\xf0\x80\x11\x09\xa5",
        ),
    ],
)
def test_descriptor_wire_format(descriptor: Vp8Descriptor, wire: bytes) -> None:
    assert bytes(descriptor) == wire
    assert Vp8Descriptor.parse(wire + b"rest") == (descriptor, b"rest")


def test_picture_id_wraps_at_its_width() -> None:
    assert Vp8Descriptor.parse(bytes(Vp8Descriptor(True, picture_id=0x8001)))[0].picture_id == 1
    short = Vp8Descriptor(True, picture_id=130, long_picture_id=False)
    assert Vp8Descriptor.parse(bytes(short))[0].picture_id == 2


@pytest.mark.parametrize("truncated", [b"", b"\x90", b"\x90\x80", b"\x90\x80\x92", b"\x90\x40"])
def test_truncated_descriptor_is_refused(truncated: bytes) -> None:
    with pytest.raises(ValueError):
        Vp8Descriptor.parse(truncated)


def test_aiortc_reads_our_descriptors() -> None:
    for payload in vp8.packetize(encode("libvpx")[0], MTU, 0x2345):
        ours, data = Vp8Descriptor.parse(payload)
        theirs, their_data = VpxPayloadDescriptor.parse(payload)
        assert (theirs.partition_start, theirs.partition_id, theirs.picture_id) == (
            ours.start,
            ours.partition_id,
            0x2345,
        )
        assert their_data == data


def test_packets_carry_the_frame_in_order_with_s_only_on_the_first() -> None:
    frame = encode("libvpx")[0]
    payloads = vp8.packetize(frame, MTU, 7)
    parsed = [Vp8Descriptor.parse(p) for p in payloads]
    assert [d.start for d, _ in parsed] == [True] + [False] * (len(payloads) - 1)
    assert b"".join(data for _, data in parsed) == frame
    assert all(len(p) <= MTU for p in payloads)


def test_keyframe_comes_from_the_p_bit_of_the_first_partition() -> None:
    key, inter = encode("libvpx")[0], encode("libvpx")[1]
    assert vp8.is_keyframe(key) and not vp8.is_keyframe(inter)
    dep = Vp8Depacketizer()
    (frame,) = dep.push(bytes(Vp8Descriptor(True)) + inter[:50], 1, 0, True)
    assert not frame.keyframe and dep.needs_keyframe


def test_a_keyframe_claim_without_the_start_code_is_malformed() -> None:
    dep = Vp8Depacketizer()
    assert dep.push(b"\x10" + b"\x00" * 20, 1, 0, True) == []
    assert dep.stats["malformed"] == 1 and dep.needs_keyframe


def test_a_frame_starting_in_a_later_partition_is_incomplete() -> None:
    key = encode("libvpx")[0]
    dep = Vp8Depacketizer()
    assert dep.push(bytes(Vp8Descriptor(True, partition_id=1)) + key[:40], 1, 0, True) == []
    assert dep.stats["dropped"] == 1
