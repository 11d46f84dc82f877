"""Real bitstreams for the payload tests: a few 320x240 frames of a moving gradient,
encoded by PyAV (libx264, libvpx, h263p), and their decode as the reference."""

from __future__ import annotations

import fractions
from collections.abc import Iterable, Iterator
from functools import cache

import av
import numpy as np

WIDTH, HEIGHT = 320, 240
FRAMES = 8
GOP = 4  # key frames at 0 and 4, so a loss can be recovered from inside the clip
TICKS = 3000  # 90 kHz at 30 fps

# One thread: slices (and so the packets) do not depend on the machine's CPU count.
X264_MODE1 = {"threads": "1"}  # one slice per picture: big ones need FU-A
X264_MODE0 = {
    "x264-params": "slice-max-size=1100",
    "tune": "zerolatency",
    "bframes": "0",
    "threads": "1",
}


def picture(n: int) -> av.VideoFrame:
    """A textured gradient that moves, so P frames carry real residual."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    rgb = np.stack(
        [(x * 3 + n * 7) % 256, (y * 2 + n * 5) % 256, ((x ^ y) + n * 11) % 256], axis=-1
    ).astype(np.uint8)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


@cache
def encode(codec: str, options: tuple[tuple[str, str], ...] = ()) -> tuple[bytes, ...]:
    """One bytes object per coded picture."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    ctx.time_base = fractions.Fraction(1, 30)
    ctx.framerate = fractions.Fraction(30, 1)
    ctx.gop_size = GOP
    ctx.bit_rate = 600_000
    ctx.options = dict(options)
    packets: list[bytes] = []
    for n in range(FRAMES):
        frame = picture(n)
        frame.pts = n
        packets += [bytes(p) for p in ctx.encode(frame)]
    packets += [bytes(p) for p in ctx.encode(None)]
    return tuple(packets)


def decode(codec: str, pictures: Iterable[bytes]) -> list[np.ndarray]:
    ctx = av.CodecContext.create(codec, "r")
    out = []
    for data in pictures:
        out += [f.to_ndarray(format="yuv420p") for f in ctx.decode(av.Packet(data))]
    out += [f.to_ndarray(format="yuv420p") for f in ctx.decode(None)]
    return out


def rtp(frames: Iterable[list[bytes]], seq: int = 65530) -> Iterator[tuple[bytes, int, int, bool]]:
    """(payload, seq, timestamp, marker) per packet; seq starts near the wrap."""
    for n, payloads in enumerate(frames):
        for k, payload in enumerate(payloads):
            yield (
                payload,
                seq & 0xFFFF,
                (n * TICKS + 0xFFFFF000) & 0xFFFFFFFF,
                k == len(payloads) - 1,
            )
            seq += 1
