"""Every format, real bitstreams: packetize, depacketize, decode; and what loss and
garbage do to the depacketizer."""

from __future__ import annotations

import random

import numpy as np
import pytest

from gateway.rtp.payload.base import Frame
from gateway.rtp.payload.vp8 import Vp8Descriptor
from tests.rtp.payload.cases import CASES, MTU, Case
from tests.rtp.payload.media import GOP, TICKS, decode, rtp

pytestmark = pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))


def push_all(dep, packets) -> list[Frame]:
    frames: list[Frame] = []
    for packet in packets:
        frames += dep.push(*packet)
    return frames


def assert_same_pictures(case: Case, got: list[bytes], want: list[bytes]) -> None:
    decoded, reference = decode(case.decoder, got), decode(case.decoder, want)
    assert len(decoded) == len(reference) == len(want)
    for a, b in zip(decoded, reference, strict=True):
        assert np.array_equal(a, b)


def test_round_trip_decodes_to_identical_pictures(case: Case) -> None:
    pictures = case.pictures()
    payloads = case.payloads()
    assert all(len(p) <= MTU for frame in payloads for p in frame)
    assert any(len(frame) > 1 for frame in payloads)  # the clip does exercise splitting
    dep = case.depacketizer()
    assert dep.needs_keyframe  # nothing decodable yet
    frames = push_all(dep, rtp(payloads))
    assert [f.keyframe for f in frames] == [n % GOP == 0 for n in range(len(pictures))]
    assert [f.timestamp for f in frames] == [
        (n * TICKS + 0xFFFFF000) & 0xFFFFFFFF for n in range(len(pictures))
    ]
    assert not dep.needs_keyframe
    assert dep.stats["dropped"] == dep.stats["lost"] == dep.stats["malformed"] == 0
    assert_same_pictures(case, [f.data for f in frames], list(pictures))


def _lossy_frame(payloads: list[list[bytes]]) -> int:
    """The first P frame split over several packets, with P frames after it."""
    for k in range(1, GOP - 1):
        if len(payloads[k]) >= 2:
            return k
    pytest.skip("no multi-packet P frame in the clip")


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_one_lost_packet_drops_its_frame_until_a_keyframe(case: Case, which: str) -> None:
    pictures, payloads = case.pictures(), case.payloads()
    k = _lossy_frame(payloads)
    n = len(payloads[k])
    lost = {"first": 0, "middle": n // 2, "last": n - 1}[which]
    packets = list(rtp(payloads))
    index = sum(len(f) for f in payloads[:k]) + lost
    dep = case.depacketizer()
    flags = []
    frames = []
    for i, packet in enumerate(packets):
        if i == index:
            continue
        got = dep.push(*packet)
        frames += got
        flags += [(f.timestamp, dep.needs_keyframe) for f in got]
    stamps = [f.timestamp for f in frames]
    lost_ts = packets[index][2]
    assert lost_ts not in stamps
    assert len(frames) == len(pictures) - 1
    assert dep.stats["dropped"] == 1 and dep.stats["lost"] == 1
    # Set from the lost frame to the next key frame, which clears it.
    needing = [ts for ts, need in flags if need]
    assert needing == stamps[k : GOP - 1]
    assert not dep.needs_keyframe
    # The frames around the loss are untouched: they decode like the originals would
    # up to the loss (the decoder conceals after it).
    assert [f.data for f in frames[:k]] == [f.data for f in _clean(case)[:k]]


def _clean(case: Case) -> list[Frame]:
    return push_all(case.depacketizer(), rtp(case.payloads()))


def test_wait_for_keyframe_withholds_frames_after_a_loss(case: Case) -> None:
    payloads = case.payloads()
    k = _lossy_frame(payloads)
    packets = list(rtp(payloads))
    index = sum(len(f) for f in payloads[:k])
    dep = case.depacketizer(wait_for_keyframe=True)
    frames = push_all(dep, packets[:index] + packets[index + 1 :])
    assert [f.timestamp for f in frames] == [packets[0][2] + TICKS * n for n in range(k)] + [
        (packets[0][2] + TICKS * n) & 0xFFFFFFFF for n in range(GOP, len(payloads))
    ]
    assert dep.stats["withheld"] == GOP - 1 - k


def test_payload_truncated_to_its_header_counts_as_loss(case: Case) -> None:
    payloads = case.payloads()
    k = _lossy_frame(payloads)
    packets = list(rtp(payloads))
    index = sum(len(f) for f in payloads[:k]) + 1
    payload, *rest = packets[index]
    packets[index] = (payload[: _header_size(case, payload)], *rest)
    dep = case.depacketizer()
    frames = push_all(dep, packets)
    assert len(frames) == len(payloads) - 1
    assert dep.stats["malformed"] == 1 and dep.stats["dropped"] == 1


def _header_size(case: Case, payload: bytes) -> int:
    if case.decoder == "h264":
        return 2 if payload[0] & 0x1F == 28 else 1  # FU indicator + header, or NAL header
    if case.decoder == "vp8":
        return len(bytes(Vp8Descriptor.parse(payload)[0]))
    return 2


def test_garbage_never_raises_and_a_clean_stream_recovers(case: Case) -> None:
    rng = random.Random(4)
    real = [p for frame in case.payloads() for p in frame]
    dep = case.depacketizer()
    seq, ts = 1000, 0
    for i in range(3000):
        kind = i % 3
        if kind == 0:
            payload = rng.randbytes(rng.randrange(0, 40))
        elif kind == 1:
            source = rng.choice(real)
            payload = source[: rng.randrange(0, len(source) + 1)]
        else:
            mutable = bytearray(rng.choice(real))
            for _ in range(rng.randrange(1, 4)):
                mutable[rng.randrange(len(mutable))] ^= 1 << rng.randrange(8)
            payload = bytes(mutable)
        out = dep.push(payload, seq, ts, rng.random() < 0.3)
        assert all(isinstance(f, Frame) for f in out)
        seq = (seq + rng.choice((1, 1, 1, 2, -1, 40000))) & 0xFFFF
        ts = (ts + rng.choice((0, 0, TICKS))) & 0xFFFFFFFF
    dep.needs_keyframe = True  # whatever the garbage claimed
    frames = push_all(dep, rtp(case.payloads(), seq=seq + 1))
    assert not dep.needs_keyframe
    clean = [f.data for f in _clean(case)]
    # At most the first clean frame is lost to whatever the garbage left half-built.
    assert [f.data for f in frames][-(len(clean) - 1) :] == clean[1:]
