"""CPU cost of one 20 ms audio tick: our mixer against a naive per-listener mixer.

Prints one JSON object. Every participant sends PCMU with a speech-like signal
(noise shaped by a syllable-rate envelope); a few are loud, the rest murmur above the
VAD threshold, so speaker choice has many candidates. Only ``mix()`` is timed (it is
what runs in the worker thread); ``collect()`` and ``deliver()`` are the loop's.

The naive baseline is what a first mixer does: decode every leg, resample every leg
to 48 kHz, and for each participant sum the N-1 others, downsample and encode.

The ``added_latency_*`` / ``raw_relay_*`` keys come from ``audio_latency.py`` (a short
run of it: mouth-to-ear delay through a live MCU on loopback, against a raw relay).

    .venv/bin/python benchmarks/audio_mix.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.audio_latency import measure_added_latency  # noqa: E402
from gateway.media import AudioFormat, EncodedAudio  # noqa: E402
from mcu.mixer.audio import AudioMixer  # noqa: E402
from mcu.mixer.codecs import G711Decoder, G711Encoder, make_encoder  # noqa: E402
from mcu.mixer.resample import Downsampler, Upsampler  # noqa: E402
from mcu.settings import MixerSettings  # noqa: E402

PCMU = AudioFormat("PCMU", 0, 8000)
LATENCY_SECONDS = 5.0  # measured seconds of the added-latency run (2 with --quick)
FRAMES = 50  # one second of audio per leg, replayed in a loop
LOUD = 4


def speech_like(rng: np.random.Generator, dbov: float) -> np.ndarray:
    """1 s of 8 kHz noise, low-passed, gated by a ~4 Hz syllable envelope."""
    noise = rng.standard_normal(8000 + 16)
    voiced = np.convolve(noise, np.hanning(16), mode="valid")[:8000]
    t = np.arange(8000) / 8000
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6))
    x = voiced * envelope
    x *= 32768 * 10 ** (dbov / 20) / np.sqrt(np.mean(x**2))
    return np.clip(x, -32768, 32767).astype(np.int16)


class ReplayLeg:
    def __init__(self, leg_id: str, payloads: list[EncodedAudio]) -> None:
        self.id = leg_id
        self.audio_format = PCMU
        self.audio_sending = True
        self.payloads = payloads
        self.n = 0

    def read_audio(self) -> EncodedAudio:
        self.n += 1
        return self.payloads[self.n % len(self.payloads)]

    def write_audio(self, frame: EncodedAudio) -> None:
        pass


def make_legs(n: int, seed: int = 1) -> list[ReplayLeg]:
    rng = np.random.default_rng(seed)
    enc = G711Encoder(PCMU)
    legs = []
    for i in range(n):
        level = -18.0 if i < LOUD else rng.uniform(-40, -30)
        pcm = speech_like(rng, level)
        payloads = [EncodedAudio(enc.encode(pcm[k * 160 : (k + 1) * 160])) for k in range(FRAMES)]
        legs.append(ReplayLeg(f"leg{i}", payloads))
    return legs


def time_ours(n: int, ticks: int) -> float:
    mixer = AudioMixer(MixerSettings(speakers=3))
    for leg in make_legs(n):
        mixer.add(leg)
    for _ in range(10):  # warm up: encoders, resamplers, VAD state
        mixer.mix(mixer.collect())
    spent = 0.0
    for _ in range(ticks):
        collected = mixer.collect()
        start = time.perf_counter()
        mixer.mix(collected)
        spent += time.perf_counter() - start
    return spent / ticks * 1000


class NaiveMixer:
    """Per listener: its own N-1 sum at 48 kHz, its own downsample and encode."""

    def __init__(self, legs: list[ReplayLeg]) -> None:
        self.legs = legs
        self.decoders = [G711Decoder(PCMU) for _ in legs]
        self.up = [Upsampler(8000) for _ in legs]
        self.down = [Downsampler(8000) for _ in legs]
        self.enc = [make_encoder(PCMU) for _ in legs]

    def tick(self, payloads: list[bytes]) -> list[bytes]:
        hi = np.stack(
            [
                up.process(dec.decode(p))
                for up, dec, p in zip(self.up, self.decoders, payloads, strict=True)
            ]
        ).astype(np.int32)
        out = []
        everyone = np.arange(len(self.legs))
        for i in everyone:
            others = hi[everyone != i].sum(axis=0)
            pcm = np.clip(others, -32768, 32767).astype(np.int16)
            out.append(self.enc[i].encode(self.down[i].process(pcm)))
        return out


def time_naive(n: int, ticks: int) -> float:
    legs = make_legs(n)
    naive = NaiveMixer(legs)
    spent = 0.0
    for _ in range(ticks + 2):
        payloads = [leg.read_audio().payload for leg in legs]
        start = time.perf_counter()
        naive.tick(payloads)
        spent += time.perf_counter() - start
    return spent / (ticks + 2) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (fewer ticks)")
    args = parser.parse_args()
    ours_ticks, naive_ticks = (50, 3) if args.quick else (500, 20)
    result: dict[str, object] = {}
    for n in (10, 50, 200):
        ours = time_ours(n, ours_ticks)
        naive = time_naive(n, naive_ticks if n == 200 else naive_ticks * 5)
        result[str(n)] = {
            "ours_ms_per_tick": round(ours, 3),
            "naive_ms_per_tick": round(naive, 3),
            "ratio": round(naive / ours, 1),
        }
    at200 = result["200"]
    assert isinstance(at200, dict)
    result["core_percent_at_200"] = round(at200["ours_ms_per_tick"] / 20 * 100, 1)
    result["naive_core_percent_at_200"] = round(at200["naive_ms_per_tick"] / 20 * 100, 1)
    result.update(measure_added_latency(2.0 if args.quick else LATENCY_SECONDS))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
