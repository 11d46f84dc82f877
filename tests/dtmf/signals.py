"""Test signals for the in-band DTMF detector: key tones, noise, speech- and music-like."""

from __future__ import annotations

import wave

import numpy as np

from gateway.dtmf.inband import COLS, DBM0_AMPLITUDE, KEYS, ROWS

FRAME_MS = 20


def amplitude(dbm0: float) -> float:
    return DBM0_AMPLITUDE * 10 ** (dbm0 / 20)


def key_freqs(digit: str) -> tuple[int, int]:
    for r, keys in enumerate(KEYS):
        if digit in keys:
            return ROWS[r], COLS[keys.index(digit)]
    raise ValueError(digit)


def tone(
    digit: str,
    rate: int,
    ms: float,
    level_dbm0: float = -10.0,
    twist_db: float = 0.0,
    deviation: float = 0.0,
) -> np.ndarray:
    """One key's two tones; twist_db > 0 makes the high (column) tone louder."""
    low, high = key_freqs(digit)
    t = np.arange(round(rate * ms / 1000)) / rate
    a_low = amplitude(level_dbm0 - twist_db / 2)
    a_high = amplitude(level_dbm0 + twist_db / 2)
    f = 1 + deviation
    return a_low * np.sin(2 * np.pi * low * f * t + 0.3) + a_high * np.sin(
        2 * np.pi * high * f * t + 1.1
    )


def silence(rate: int, ms: float) -> np.ndarray:
    return np.zeros(round(rate * ms / 1000))


def sequence(digits: str, rate: int, on_ms: float = 60, off_ms: float = 60) -> np.ndarray:
    parts = [silence(rate, 40)]
    for d in digits:
        parts += [tone(d, rate, on_ms), silence(rate, off_ms)]
    parts.append(silence(rate, 100))
    return np.concatenate(parts)


def add_noise(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    """White noise at snr_db below the signal's power while the tones are on."""
    rng = np.random.default_rng(seed)
    on = np.abs(x) > 0
    power = float(np.mean(x[on] ** 2)) if on.any() else 1.0
    return x + rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), x.shape)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def frames(x: np.ndarray, rate: int) -> list[np.ndarray]:
    n = rate * FRAME_MS // 1000
    pcm = to_int16(x)
    pad = (-len(pcm)) % n
    pcm = np.concatenate((pcm, np.zeros(pad, dtype=np.int16)))
    return list(pcm.reshape(-1, n))


def resonate(x: np.ndarray, freq: float, bw: float, rate: int) -> np.ndarray:
    """Two-pole resonator (a formant), run sample by sample: fine for test lengths."""
    r = np.exp(-np.pi * bw / rate)
    a1, a2 = -2 * r * np.cos(2 * np.pi * freq / rate), r * r
    y = np.zeros_like(x)
    y1 = y2 = 0.0
    for i, v in enumerate(x):
        y0 = v - a1 * y1 - a2 * y2
        y[i], y2, y1 = y0, y1, y0
    return y


VOWELS = {  # F1, F2, F3 in Hz
    "a": (730, 1090, 2440),
    "i": (270, 2290, 3010),
    "u": (300, 870, 2240),
    "e": (530, 1840, 2480),
    "o": (570, 840, 2410),
}


def vowel(name: str, rate: int, ms: float, f0_from: float, f0_to: float) -> np.ndarray:
    """A glottal pulse train with a gliding pitch through three formant filters."""
    n = round(rate * ms / 1000)
    f0 = np.linspace(f0_from, f0_to, n)
    phase = np.cumsum(f0 / rate)
    pulses = np.diff(np.floor(phase), prepend=0.0)
    # A little jitter-free shimmer: the source is a decaying pulse, not a click.
    src = np.convolve(pulses, np.exp(-np.arange(20) / 4.0))[:n]
    y = src
    for fc in VOWELS[name]:
        y = resonate(y, fc, 80 + fc / 20, rate)
    return y / (np.max(np.abs(y)) + 1e-9) * amplitude(-6)


def speechlike(rate: int, seed: int = 0, seconds: float = 4.0) -> np.ndarray:
    """Syllables: random vowels of 80-300 ms, pitch gliding 90-280 Hz, short gaps."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    total = 0.0
    while total < seconds * 1000:
        ms = float(rng.uniform(80, 300))
        f0a, f0b = rng.uniform(90, 280, 2)
        parts.append(vowel(str(rng.choice(list(VOWELS))), rate, ms, f0a, f0b))
        gap = float(rng.uniform(10, 80))
        parts.append(silence(rate, gap))
        total += ms + gap
    return np.concatenate(parts)


def note(freq: float, rate: int, ms: float, partials: int = 4) -> np.ndarray:
    t = np.arange(round(rate * ms / 1000)) / rate
    y = sum(
        np.sin(2 * np.pi * freq * k * t) / k for k in range(1, partials + 1) if freq * k < rate / 2
    )
    env = np.minimum(1, np.minimum(t / 0.01, (t[-1] - t + 1e-9) / 0.02))
    return np.asarray(y) * env


def midi(n: int) -> float:
    return 440.0 * 2 ** ((n - 69) / 12)


def melody(rate: int) -> np.ndarray:
    notes = [67, 69, 71, 72, 74, 76, 77, 79, 81, 79, 76, 72, 67, 64, 60, 84, 88, 91]
    y = np.concatenate([note(midi(n), rate, 180) for n in notes])
    return y / np.max(np.abs(y)) * amplitude(-6)


def chords(rate: int) -> np.ndarray:
    triads = [
        (60, 64, 67),
        (65, 69, 72),
        (67, 71, 74),
        (72, 76, 79),
        (79, 83, 86),
        (76, 79, 83),
        (74, 77, 81),
        (81, 84, 88),
    ]
    parts = [sum(note(midi(n), rate, 400) for n in triad) for triad in triads]
    y = np.concatenate(parts)
    return y / np.max(np.abs(y)) * amplitude(-6)


def sweep(rate: int, partials: int = 3) -> np.ndarray:
    """A complex tone gliding 200 Hz -> 2 kHz over 3 s."""
    n = rate * 3
    f = np.geomspace(200, 2000, n)
    phase = 2 * np.pi * np.cumsum(f) / rate
    y = sum(np.sin(k * phase) / k for k in range(1, partials + 1))
    return np.asarray(y) / partials * amplitude(-6)


def mulaw_roundtrip(x: np.ndarray) -> np.ndarray:
    """G.711 mu-law encode and decode (continuous companding law, 8-bit steps)."""
    y = np.clip(x / 32768, -1, 1)
    code = np.round(np.sign(y) * np.log1p(255 * np.abs(y)) / np.log(256) * 127)
    return np.sign(code) * (np.expm1(np.abs(code) / 127 * np.log(256)) / 255) * 32768


def read_wav(path: object, rate: int) -> np.ndarray:
    """Mono 16-bit WAV, resampled to rate by linear interpolation (enough for talk-off)."""
    with wave.open(str(path), "rb") as w:
        src_rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(float)
    t = np.arange(int(len(data) * rate / src_rate)) / rate
    return np.interp(t, np.arange(len(data)) / src_rate, data)
