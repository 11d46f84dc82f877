"""Integer-ratio resampling between a codec's rate and INTERNAL_RATE (48 kHz).

Every codec rate we carry divides 48 kHz (8k: x6, 16k: x3, 48k: x1), so a polyphase
FIR does the job with one small matrix product per 20 ms frame, no fractional phase
bookkeeping. Each instance keeps the tail of the previous frame (the filter history),
so consecutive frames join without clicks; one instance per stream, never shared.

Measured on the dev box (2-core VM, one 20 ms frame at 8 kHz): this polyphase up
~30 us, down ~25 us; av.AudioResampler ~50-60 us per call (frame wrapping included)
and less predictable output sizes per call, hence numpy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

from gateway.media import INTERNAL_RATE

TAPS_PER_PHASE = 24
"""Filter length per output phase; 24 gives ~70 dB stop-band with a Kaiser window."""

_KAISER_BETA = 7.0


def lowpass(ratio: int, taps_per_phase: int = TAPS_PER_PHASE) -> np.ndarray:
    """Windowed-sinc low-pass cutting at the lower rate's Nyquist (a bit below it)."""
    n = ratio * taps_per_phase
    cutoff = 0.92 / ratio  # fraction of the high rate's Nyquist; leaves a transition band
    t = np.arange(n) - (n - 1) / 2
    h = cutoff * np.sinc(cutoff * t) * np.kaiser(n, _KAISER_BETA)
    return (h / h.sum()).astype(np.float32)


@lru_cache(maxsize=16)
def _window_index(frames: int, taps: int, step: int) -> np.ndarray:
    """Gather index of every filter window over [history | frame]."""
    return np.arange(0, frames * step, step)[:, None] + np.arange(taps)[None, :]


def _saturate(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


class Upsampler:
    """``rate`` -> 48 kHz for one stream: zero-stuffing and filtering as a polyphase product."""

    def __init__(self, rate: int) -> None:
        if INTERNAL_RATE % rate:
            raise ValueError(f"{rate} Hz does not divide {INTERNAL_RATE}")
        self.ratio = INTERNAL_RATE // rate
        h = lowpass(self.ratio) * self.ratio  # zero-stuffing loses 1/ratio of the gain
        taps = h.size // self.ratio
        # phases[k, p] = h[p + k*ratio]; output n*ratio+p = sum_k x[n-k] * phases[k, p]
        self.phases = np.ascontiguousarray(h.reshape(taps, self.ratio)[::-1])
        self.history = np.zeros(taps - 1, np.float32)

    def process(self, pcm: np.ndarray) -> np.ndarray:
        if self.ratio == 1:
            return pcm.astype(np.int16, copy=False)
        x = np.concatenate([self.history, pcm.astype(np.float32)])
        self.history = x[-self.history.size :]
        # A contiguous gather + one BLAS product beats sliding_window_view ~7x here.
        windows = x[_window_index(pcm.shape[0], self.phases.shape[0], 1)]
        return _saturate((windows @ self.phases).reshape(-1))


class Downsampler:
    """48 kHz -> ``rate`` for one stream: low-pass then keep every ratio-th sample."""

    def __init__(self, rate: int) -> None:
        if INTERNAL_RATE % rate:
            raise ValueError(f"{rate} Hz does not divide {INTERNAL_RATE}")
        self.ratio = INTERNAL_RATE // rate
        self.taps = lowpass(self.ratio)[::-1].copy()
        self.history = np.zeros(self.taps.size - 1, np.float32)

    def copy_state(self, other: Downsampler) -> None:
        """Continue from another stream's history (a listener moving between mixes)."""
        self.history = other.history.copy()

    def process(self, pcm: np.ndarray) -> np.ndarray:
        if self.ratio == 1:
            return _saturate(pcm) if pcm.dtype != np.int16 else pcm
        x = np.concatenate([self.history, pcm.astype(np.float32)])
        self.history = x[-self.history.size :]
        count = pcm.shape[0] // self.ratio
        # x is fresh and contiguous, so a strided view over it is safe and copy-free.
        windows = as_strided(x, (count, self.taps.size), (x.strides[0] * self.ratio, x.strides[0]))
        return _saturate(np.dot(windows, self.taps))
