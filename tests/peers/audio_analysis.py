"""Numpy-only helpers to tell which tones a recorded WAV contains.

Tones that survive G.711 (8 kHz), G.722 (16 kHz) and Opus alike must stay well
below 3.4 kHz; 440, 800, 1300 and 2100 Hz are all clean in each codec, and are
far enough apart (> 100 Hz) for a 1 s FFT window to separate them.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Default test tones: distinct, not harmonics of each other, inside the G.711 band.
SAFE_TONES_HZ: tuple[float, ...] = (440.0, 800.0, 1300.0, 2100.0)

_FULL_SCALE = 32768.0


@dataclass(frozen=True)
class Audio:
    """Mono float samples in [-1, 1] and their sample rate."""

    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    def slice(self, start_s: float = 0.0, end_s: float | None = None) -> Audio:
        start = int(start_s * self.rate)
        end = None if end_s is None else int(end_s * self.rate)
        return Audio(self.samples[start:end], self.rate)


def read_wav(path: str | Path) -> Audio:
    """Read a 16-bit PCM WAV, mixing all channels down to mono.

    Tolerates a header whose data size was never updated (a file still being
    written, e.g. by baresip's sndfile during a call): then it reads to EOF.
    """
    raw = Path(path).read_bytes()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    channels, rate, bits, data = _parse_chunks(raw, str(path))
    if bits != 16:
        raise ValueError(f"{path}: only 16-bit PCM is supported, got {bits}-bit")
    data = data[: len(data) - len(data) % (2 * channels)]
    samples = np.frombuffer(data, dtype="<i2").astype(np.float64) / _FULL_SCALE
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return Audio(samples, rate)


def _parse_chunks(raw: bytes, name: str) -> tuple[int, int, int, bytes]:
    """(channels, rate, bits per sample, data bytes) from a RIFF/WAVE image."""
    fmt: tuple[int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(raw):
        cid = raw[pos : pos + 4]
        size = int.from_bytes(raw[pos + 4 : pos + 8], "little")
        body = pos + 8
        if cid == b"fmt ":
            channels = int.from_bytes(raw[body + 2 : body + 4], "little")
            rate = int.from_bytes(raw[body + 4 : body + 8], "little")
            bits = int.from_bytes(raw[body + 14 : body + 16], "little")
            fmt = (channels, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise ValueError(f"{name}: data chunk before fmt chunk")
            end = len(raw) if size == 0 or body + size > len(raw) else body + size
            return (*fmt, raw[body:end])
        pos = body + size + (size & 1)
    raise ValueError(f"{name}: no data chunk")


def write_tone_wav(
    path: str | Path, freq: float, rate: int, seconds: float, channels: int = 1, level: float = 0.5
) -> Path:
    """Write a 16-bit sine WAV (e.g. as an `aufile` audio source)."""
    t = np.arange(int(rate * seconds)) / rate
    mono = (level * _FULL_SCALE * np.sin(2 * np.pi * freq * t)).clip(-32768, 32767)
    frames = np.repeat(mono.astype("<i2")[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames.tobytes())
    return Path(path)


# Bands quieter than this (dB re a full-scale sine) count as this loud when
# estimating the floor, so digital silence does not make every tone "audible".
_FLOOR_DBFS = -90.0


def _spectrum(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Power per rfft bin, scaled so a full-scale sine's bins sum to 1 (0 dBFS)."""
    window = np.hanning(len(samples))
    spec = np.abs(np.fft.rfft(samples * window)) ** 2
    scale = 2.0 / (len(samples) ** 2 * float(np.mean(window**2))) / 0.5
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    return spec * scale, freqs


def _band_power(power: np.ndarray, freqs: np.ndarray, freq: float, half_width: float) -> float:
    band = (freqs >= freq - half_width) & (freqs <= freq + half_width)
    return float(power[band].sum())


def _band_powers(power: np.ndarray, freqs: np.ndarray, width: float, top: float) -> np.ndarray:
    """Power summed in consecutive bands of `width` Hz from 0 to `top` Hz."""
    edges = np.arange(0.0, top, width)
    idx = np.searchsorted(edges, freqs, side="right") - 1
    keep = (idx >= 0) & (freqs < top)
    return np.bincount(idx[keep], weights=power[keep], minlength=len(edges))


def _db(power: float | np.ndarray) -> float | np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 1e-30))


def _floor(bands: np.ndarray) -> float:
    return max(float(np.median(bands)), 10.0 ** (_FLOOR_DBFS / 10.0))


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to a full-scale sine (a full-scale sine is 0 dBFS)."""
    if len(samples) == 0:
        return -200.0
    return float(_db(2.0 * float(np.mean(samples**2))))


def tone_dbfs(samples: np.ndarray, rate: int, freq: float, half_width: float = 25.0) -> float:
    """Level of the tone at `freq` in dB relative to a full-scale sine."""
    if len(samples) < rate // 10:
        return -200.0
    power, freqs = _spectrum(samples, rate)
    return float(_db(_band_power(power, freqs, freq, half_width)))


def tone_level_db(samples: np.ndarray, rate: int, freq: float, half_width: float = 25.0) -> float:
    """Level of the tone at `freq` above the spectrum's noise floor, in dB.

    The floor is the median power of `2 * half_width`-Hz bands up to 4 kHz (the
    G.711 band) or Nyquist, never taken below -90 dBFS per band, so
    near-silence gives a low value rather than a huge ratio of two tiny numbers.
    """
    if len(samples) < rate // 10:
        return -200.0
    power, freqs = _spectrum(samples, rate)
    width = 2.0 * half_width
    bands = _band_powers(power, freqs, width, min(rate / 2.0, 4000.0))
    tone = _band_power(power, freqs, freq, half_width)
    return float(_db(tone) - _db(_floor(bands)))


def dominant_tones(
    samples: np.ndarray, rate: int, count: int = 3, min_db: float = 20.0, resolution: float = 10.0
) -> list[tuple[float, float]]:
    """Up to `count` strongest spectral peaks as (freq_hz, db_above_floor), strongest first.

    Peaks closer than 5 * `resolution` Hz to a stronger one are skipped.
    """
    if len(samples) < rate // 10:
        return []
    power, freqs = _spectrum(samples, rate)
    bands = _band_powers(power, freqs, resolution, rate / 2.0)
    level = _db(bands) - _db(_floor(bands))
    found: list[tuple[float, float]] = []
    for idx in np.argsort(level)[::-1]:
        if level[idx] < min_db or len(found) >= count:
            break
        centre = (idx + 0.5) * resolution
        if all(abs(centre - f) > 5 * resolution for f, _ in found):
            found.append((float(centre), float(level[idx])))
    return found


def tone_level_in_wav(
    path: str | Path, freq: float, skip_seconds: float = 0.5, max_seconds: float | None = None
) -> float:
    """tone_level_db() of a WAV after skipping its first `skip_seconds`."""
    audio = read_wav(path)
    end = None if max_seconds is None else skip_seconds + max_seconds
    part = audio.slice(skip_seconds, end)
    return tone_level_db(part.samples, part.rate, freq)


def hears(
    path: str | Path,
    freq: float,
    skip_seconds: float = 0.5,
    min_db: float = 20.0,
    min_dbfs: float = -40.0,
) -> bool:
    """True if the WAV holds an audible tone at `freq` (after `skip_seconds`).

    Audible: the tone's 50 Hz band is at least `min_db` above the median band
    and at least `min_dbfs` loud (relative to a full-scale sine), so neither
    codec noise nor a faint leak counts.
    """
    part = read_wav(path).slice(skip_seconds)
    if tone_dbfs(part.samples, part.rate, freq) < min_dbfs:
        return False
    return tone_level_db(part.samples, part.rate, freq) >= min_db
