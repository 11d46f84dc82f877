"""CPU cost of in-band DTMF detection per leg, against decoding the same audio.

Prints one JSON object. Each leg's stream is speech-like audio (vowels through formant
filters) with a key press now and then, so the detector spends its time both in the
per-window checks and in press bookkeeping. ``LEGS`` detectors are fed round-robin,
one 20 ms frame each per tick, like the mixer's tick does; the figure is the mean cost
of one ``feed`` call. The baselines, timed in the same run on the same frames:

* PCMU decode: a 256-entry numpy lookup table indexed by the 160-byte payload;
* G.722 decode: PyAV's ``g722`` decoder context, one 160-byte packet -> 320 samples.

``legs_per_core`` is 20 ms over the per-frame cost: how many legs one core could watch
(or decode) if it did nothing else.

    .venv/bin/python benchmarks/dtmf.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.dtmf import InbandDtmfDetector  # noqa: E402
from tests.dtmf import signals  # noqa: E402

FRAME_US = 20_000.0
LEGS = 32
STREAM_SECONDS = 4.0


def ulaw_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def ulaw_encode(pcm: np.ndarray) -> bytes:
    # Nearest table entry: slow but exact, and only done once to make test payloads.
    table = ulaw_decode_table().astype(np.int32)
    order = np.argsort(table)
    pos = np.clip(np.searchsorted(table[order], pcm.astype(np.int32)), 1, 255)
    lo, hi = order[pos - 1], order[pos]
    pick = np.where(np.abs(table[lo] - pcm) <= np.abs(table[hi] - pcm), lo, hi)
    return pick.astype(np.uint8).tobytes()


def leg_stream(rate: int, seed: int, seconds: float) -> np.ndarray:
    """Speech-like audio with a key press every ~second."""
    speech = signals.speechlike(rate, seed, seconds)[: int(seconds * rate)]
    rng = np.random.default_rng(seed)
    for at in np.arange(0.5, seconds - 0.2, 1.0):
        key = str(rng.choice(list("0123456789*#")))
        tone = signals.tone(key, rate, 80)
        start = int(at * rate)
        speech[start : start + tone.size] = tone
    return signals.to_int16(speech)


def frames_of(pcm: np.ndarray, rate: int) -> list[np.ndarray]:
    n = rate // 50
    return list(pcm[: pcm.size // n * n].reshape(-1, n))


def time_per_call(calls: list[Callable[[], object]], repeat: int) -> float:
    """Mean microseconds per call, best of ``repeat`` passes (least disturbed)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for call in calls:
            call()
        best = min(best, time.perf_counter() - t0)
    return best / len(calls) * 1e6


def detector_cost(rate: int, seconds: float, repeat: int) -> tuple[float, int]:
    streams = [frames_of(leg_stream(rate, leg, seconds), rate) for leg in range(LEGS)]
    best, found = float("inf"), 0
    for _ in range(repeat):
        detectors = [InbandDtmfDetector(rate) for _ in range(LEGS)]
        found = 0
        t0 = time.perf_counter()
        for tick in range(len(streams[0])):
            for det, frames in zip(detectors, streams, strict=True):
                found += len(det.feed(frames[tick]))
        best = min(best, time.perf_counter() - t0)
    return best / (LEGS * len(streams[0])) * 1e6, found


def pcmu_cost(seconds: float, repeat: int) -> float:
    table = ulaw_decode_table()
    payloads = [ulaw_encode(f) for f in frames_of(leg_stream(8000, 0, seconds), 8000)]
    return time_per_call(
        [lambda p=p: table[np.frombuffer(p, dtype=np.uint8)] for p in payloads], repeat
    )


def g722_payloads(seconds: float) -> list[bytes]:
    enc = av.CodecContext.create("g722", "w")
    enc.sample_rate, enc.layout, enc.format = 16000, "mono", "s16"
    out: list[bytes] = []
    for i, pcm in enumerate(frames_of(leg_stream(16000, 0, seconds), 16000)):
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 16000, i * pcm.size
        out += [bytes(p) for p in enc.encode(frame)]
    return out


def g722_cost(seconds: float, repeat: int) -> float:
    dec = av.CodecContext.create("g722", "r")
    dec.sample_rate, dec.layout = 16000, "mono"

    def decode(payload: bytes) -> np.ndarray:
        return np.concatenate([f.to_ndarray()[0] for f in dec.decode(av.Packet(payload))])

    return time_per_call([lambda p=p: decode(p) for p in g722_payloads(seconds)], repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter streams, fewer passes")
    args = parser.parse_args()
    seconds, repeat = (1.0, 2) if args.quick else (STREAM_SECONDS, 5)

    det8, found8 = detector_cost(8000, seconds, repeat)
    det16, found16 = detector_cost(16000, seconds, repeat)
    pcmu = pcmu_cost(seconds, repeat * 4)
    g722 = g722_cost(seconds, repeat * 4)
    result = {
        "legs_fed": LEGS,
        "stream_seconds_per_leg": seconds,
        "digits_found_8k": found8,
        "digits_found_16k": found16,
        "detector_us_per_frame_8k": round(det8, 2),
        "detector_us_per_frame_16k": round(det16, 2),
        "pcmu_decode_us_per_frame": round(pcmu, 2),
        "g722_decode_us_per_frame": round(g722, 2),
        "detector_legs_per_core_8k": int(FRAME_US / det8),
        "detector_legs_per_core_16k": int(FRAME_US / det16),
        "pcmu_decode_legs_per_core": int(FRAME_US / pcmu),
        "g722_decode_legs_per_core": int(FRAME_US / g722),
        "detector_8k_over_pcmu_decode": round(det8 / pcmu, 1),
        "detector_16k_over_g722_decode": round(det16 / g722, 1),
        "pcmu_decode_plus_detector_legs_per_core": int(FRAME_US / (det8 + pcmu)),
        "g722_decode_plus_detector_legs_per_core": int(FRAME_US / (det16 + g722)),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
