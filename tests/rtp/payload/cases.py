"""The codec/packetization combinations every generic payload test runs over."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.rtp.payload import h263, h264, vp8
from gateway.rtp.payload.base import Depacketizer
from gateway.rtp.payload.h263 import H263Depacketizer
from gateway.rtp.payload.h264 import H264Depacketizer
from gateway.rtp.payload.vp8 import Vp8Depacketizer
from tests.rtp.payload.media import X264_MODE0, X264_MODE1, encode

MTU = 1200


@dataclass(frozen=True)
class Case:
    encoder: str
    options: tuple[tuple[str, str], ...]
    packetize: Callable[[bytes, int], list[bytes]]  # (picture, picture number)
    depacketizer: type[Depacketizer]
    decoder: str

    def pictures(self) -> tuple[bytes, ...]:
        return encode(self.encoder, self.options)

    def payloads(self) -> list[list[bytes]]:
        return [self.packetize(p, n) for n, p in enumerate(self.pictures())]


CASES = {
    "h264-mode1": Case(
        "libx264",
        tuple(X264_MODE1.items()),
        lambda p, n: h264.packetize(p, MTU, 1),
        H264Depacketizer,
        "h264",
    ),
    "h264-mode0": Case(
        "libx264",
        tuple(X264_MODE0.items()),
        lambda p, n: h264.packetize(p, MTU, 0),
        H264Depacketizer,
        "h264",
    ),
    "vp8": Case("libvpx", (), lambda p, n: vp8.packetize(p, MTU, n), Vp8Depacketizer, "vp8"),
    "vp8-short-id": Case(
        "libvpx",
        (),
        lambda p, n: vp8.packetize(p, MTU, n + 120, long_picture_id=False),
        Vp8Depacketizer,
        "vp8",
    ),
    "h263": Case("h263p", (), lambda p, n: h263.packetize(p, MTU), H263Depacketizer, "h263"),
    "h263-gobs": Case(
        "h263p", (("ps", "1000"),), lambda p, n: h263.packetize(p, MTU), H263Depacketizer, "h263"
    ),
    "h263-plain": Case(
        "h263p",
        (),
        lambda p, n: h263.packetize(p, MTU, gob_boundaries=False),
        H263Depacketizer,
        "h263",
    ),
}
