"""In-band DTMF: find keypad tones in decoded G.711/G.722 audio (ITU-T Q.23/Q.24 style).

Sans-IO: the leg's audio path hands every decoded 20 ms frame to ``feed`` and gets back
the key presses that just *ended* (a ``Dtmf`` carries its duration, so it can only be
reported once the tone is over; this also makes one long press one event).

How it decides, per analysis window of 12.5 ms stepped every 2.5 ms:

* single-bin DFTs (what Goertzel computes) at the 8 DTMF frequencies and their second
  harmonics, all in one matrix product against a precomputed basis;
* each tone above a minimum level, twist within limits (high group at most 8 dB above
  the low group, at most 4 dB below), the strongest row and column clearly above the
  other rows/columns, the two tones holding most of the window's energy, and no strong
  second harmonic (speech and music are harmonic; DTMF is not).

Per key press, once the window hits stop: the tone's duration measured on 2.5 ms
sub-block energies must reach ``min_tone_ms``; the frequency measured from the phase
advance of each tone's bin must lie within ``max_deviation`` of nominal (Q.24: accept
+-1.5 %, reject +-3.5 %) and hold still (a voice's pitch glides); the exact twist
limits and a stricter energy share are judged on the whole press, off-bin loss undone.
Gaps shorter than ``bridge_ms`` (a 10 ms drop-out) do not split a press; a 40 ms
pause does.

Known limit: a steady pulse train whose two formants and pitch are tuned onto a key's
two tones (a held, vibrato-free sung vowel) is, to this detector, that key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gateway.leg import Dtmf

ROWS = (697, 770, 852, 941)
COLS = (1209, 1336, 1477, 1633)
KEYS = ("123A", "456B", "789C", "*0#D")
# Basis columns: 4 rows, 4 columns, then the 8 second harmonics in the same order.
FREQS = np.array(ROWS + COLS + tuple(2 * f for f in ROWS + COLS), dtype=np.int64)

WINDOW_S = 0.0125  # 12.5 ms: 80 Hz bins separate 697/770 yet stay short in time
HOP_S = 0.0025  # 2.5 ms: the time quantum of durations and gaps
PHASE_LAG = 2  # hops between phase samples: 5 ms keeps +-100 Hz unambiguous
# Per window, the other tone's side lobes (rectangular window) move a level by up to
# ~1.5 dB depending on the phases; the exact twist limits apply to the press's mean.
TWIST_SLACK_DB = 4.0

# 0 dBm0 is a sine 3.17 dB below the G.711 overload point (+-32124 in 16-bit linear).
DBM0_AMPLITUDE = 32124 * 10 ** (-3.17 / 20)

# (row, col) pairs whose row harmonic lies in the column tone's main lobe.
_ROW_HARMONIC_MASKED = np.array([[abs(2 * r - c) < 150 for c in COLS] for r in ROWS])

Hit = tuple[int, int, complex, complex, float]  # row, column, their bins, window energy

# Picks the 8 tones' real and imaginary parts out of a row of window bins.
_TONE_MASK = np.zeros(32, dtype=np.float32)
_TONE_MASK[[*range(8), *range(16, 24)]] = 1


@functools.cache
def _tables(sample_rate: int, window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-rate constants, shared by every leg's detector (the turns are 100 kB)."""
    # Window DFT basis, X[f] = sum x[n] e^{-j 2 pi f n / fs}, as real then imaginary
    # parts in one float32 matrix: all 16 Goertzel bins of every window of a frame in
    # one real matrix product, where the Goertzel recursion would loop per sample.
    phase = -2 * np.pi * np.outer(np.arange(window), FREQS) / sample_rate
    basis = np.hstack((np.cos(phase), np.sin(phase))).astype(np.float32)
    # Turn of the window starting at hop j to the absolute origin: with whole-Hz
    # frequencies e^{-j 2 pi f j hop / fs} repeats every fs / hop windows.
    starts = np.arange(sample_rate // hop) * hop
    turn = np.exp(-2j * np.pi * (np.outer(starts, FREQS) % sample_rate) / sample_rate)
    basis.flags.writeable = turn.flags.writeable = False
    return basis, turn


def _db(ratio_db: float) -> float:
    return float(10 ** (ratio_db / 10))


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    min_level_dbm0: float = -30.0  # per tone; Q.24 receivers work down to about -25
    normal_twist_db: float = 8.0  # high group above low group
    reverse_twist_db: float = 4.0  # low group above high group
    peak_margin_db: float = 8.0  # best row/column above the others in its group
    harmonic_margin_db: float = 12.0  # tone above its own second harmonic
    min_tone_share: float = 0.6  # the two tones' share of a window's energy
    min_press_share: float = 0.85  # ... and of a press's typical window, loss undone
    max_deviation: float = 0.025  # between Q.24's accept 1.5 % and reject 3.5 %
    max_drift_hz: float = 8.0  # first half of a press against the second half
    min_tone_ms: float = 32.0  # accepts 40 ms, rejects < 23 ms with 2.5 ms quanta
    bridge_ms: float = 25.0  # hit gaps up to this are drop-outs, not pauses


@dataclass(slots=True)
class _Press:
    """One candidate key press: the window hits of a single digit."""

    digit: str
    row: int
    col: int
    first_hit: int  # window index
    last_hit: int
    row_bins: list[complex] = field(default_factory=list)
    col_bins: list[complex] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)  # each hit window's energy
    row_energy: float = 0.0  # summed over the hits
    col_energy: float = 0.0


class InbandDtmfDetector:
    """Finds DTMF key presses in 16-bit mono PCM at 8 or 16 kHz (any rate >= 8 kHz)."""

    def __init__(self, sample_rate: int, settings: DetectorSettings | None = None) -> None:
        if sample_rate < 8000 or sample_rate % 400:
            raise ValueError(f"unsupported sample rate {sample_rate}")
        self.sample_rate = sample_rate
        self.settings = settings or DetectorSettings()
        self._window = round(sample_rate * WINDOW_S)
        self._hop = round(sample_rate * HOP_S)
        self._sub_per_window = self._window // self._hop
        self._basis, self._turn = _tables(sample_rate, self._window, self._hop)
        self._buf = np.zeros(0, dtype=np.float32)  # samples not yet a full window
        self._buf_start = 0  # absolute sample index of _buf[0]
        self._window_index = 0  # index of the next window to analyse
        self._sub_energy: list[float] = []  # per-hop energies, from _sub_base on
        self._sub_base = 0
        self._press: _Press | None = None
        level = DBM0_AMPLITUDE * 10 ** (self.settings.min_level_dbm0 / 20)
        # Energy of a sine of that level over one window, as the bins measure it.
        self._min_energy = level**2 * self._window / 2
        # Screen: squared bins summed over the 8 tones, against the window's energy.
        self._tone_mask = _TONE_MASK
        self._share_scale = self.settings.min_tone_share * self._window / 2
        self._min_total = 2 * self._min_energy

    def feed(self, pcm: np.ndarray) -> list[Dtmf]:
        """Analyse the next block of samples (normally one 20 ms frame)."""
        x = np.asarray(pcm, dtype=np.float32).ravel()
        self._buf = np.concatenate((self._buf, x))
        self._record_sub_energies()
        events: list[Dtmf] = []
        count = (len(self._buf) - self._window) // self._hop + 1
        if count > 0:
            hits = self._analyse(count)
            if hits is None and self._press is None:
                self._window_index += count  # the common case: nothing, and no press
            else:
                for hit in hits or [None] * count:
                    events.extend(self._step(hit))
            drop = count * self._hop
            self._buf = self._buf[drop:]
            self._buf_start += drop
        return events

    def flush(self) -> list[Dtmf]:
        """End of stream: report a press still in progress if it qualifies."""
        return self._finish() if self._press else []

    # -- per-window analysis -------------------------------------------------------------

    def _record_sub_energies(self) -> None:
        # Energies of every complete hop-sized sub-block not yet recorded; they measure
        # durations finer than the window does.
        done = self._sub_base + len(self._sub_energy)
        start = done * self._hop - self._buf_start
        whole = (len(self._buf) - start) // self._hop
        if whole > 0:
            seg = self._buf[start : start + whole * self._hop].reshape(whole, self._hop)
            self._sub_energy.extend(np.einsum("ij,ij->i", seg, seg).tolist())
        if self._press is None:
            self._trim_sub_energies()

    def _trim_sub_energies(self) -> None:
        # Keep one window of history: a press starts at most that far back.
        keep_from = self._window_index - 1
        excess = keep_from - self._sub_base
        if excess > 0:
            del self._sub_energy[:excess]
            self._sub_base = keep_from

    def _analyse(self, count: int) -> list[Hit | None] | None:
        """Bins of ``count`` windows a hop apart; None when none of them is a DTMF pair."""
        stride = self._buf.strides[0]
        # Overlapping windows as a view (np.ndarray directly: as_strided costs 4 us).
        frames = np.ndarray(
            (count, self._window), np.float32, self._buf, 0, (self._hop * stride, stride)
        )
        bins = frames @ self._basis  # (count, 32): real parts, then imaginary parts
        squared = bins * bins
        total = np.einsum("ij,ij->i", frames, frames)
        # Cheap screen, a handful of numpy calls for the whole frame: the 8 tone bins
        # together must hold min_tone_share of the energy, which nearly all speech and
        # silence fail. Only the rare window that passes gets the full checks.
        candidate = (squared @ self._tone_mask >= self._share_scale * total) & (
            total >= self._min_total
        )
        if not np.count_nonzero(candidate):
            return None
        energy = (squared[:, :16] + squared[:, 16:]) * (2 / self._window)
        found = self._classify(energy, total)
        if found is None:
            return None
        ok, row, col = found
        first = self._buf_start // self._hop
        return [
            self._hit(bins[i], (first + i) % len(self._turn), r, c, total[i]) if ok[i] else None
            for i, (r, c) in enumerate(zip(row.tolist(), col.tolist(), strict=True))
        ]

    def _hit(self, bins: np.ndarray, turn: int, row: int, col: int, total: float) -> Hit:
        # Bins are relative to their window's start; turning them to an absolute time
        # origin makes phases of successive windows comparable (the frequency check).
        zr = complex(bins[row], bins[16 + row]) * self._turn[turn, row]
        zc = complex(bins[4 + col], bins[20 + col]) * self._turn[turn, 4 + col]
        return row, col, complex(zr), complex(zc), float(total)

    def _classify(
        self, energy: np.ndarray, total: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Per window (rows of ``energy``): is it a DTMF pair, and which row and column.

        None when no window is: the cheap level and energy-share tests come first, as
        they turn away nearly all speech and silence.
        """
        s = self.settings
        rows, cols = energy[:, :4], energy[:, 4:8]
        er, ec = rows.max(axis=1), cols.max(axis=1)
        ok = (np.minimum(er, ec) >= self._min_energy) & (er + ec >= s.min_tone_share * total)
        if not ok.any():
            return None
        ok &= _twist_ok(er, ec, s, TWIST_SLACK_DB)
        margin = _db(s.peak_margin_db)
        # The runner-up of each group must stay peak_margin_db below the winner.
        ok &= np.partition(rows, 2, axis=1)[:, 2] * margin < er
        ok &= np.partition(cols, 2, axis=1)[:, 2] * margin < ec
        row, col = rows.argmax(axis=1), cols.argmax(axis=1)
        pick = np.arange(len(energy))
        limit = _db(-s.harmonic_margin_db)
        ok &= energy[pick, 12 + col] <= ec * limit
        # Row harmonics 1394/1540/1704 Hz sit 58-71 Hz from a column tone, inside its
        # main lobe: only check them when the column actually present is far away, and
        # against both tones, as a loud column's side lobes still reach them.
        row_harm_ok = energy[pick, 8 + row] <= (er + ec) * limit
        ok &= row_harm_ok | _ROW_HARMONIC_MASKED[row, col]
        return ok, row, col

    # -- per-press state -----------------------------------------------------------------

    def _step(self, hit: Hit | None) -> list[Dtmf]:
        index = self._window_index
        self._window_index += 1
        events: list[Dtmf] = []
        press = self._press
        if press and (hit is None or (hit[0], hit[1]) != (press.row, press.col)):
            # Another key's window inside a press is a glitch, counted as a miss: ending
            # the press on it would report the rest of a long press a second time.
            if (index - press.last_hit) * HOP_S * 1000 <= self.settings.bridge_ms:
                return events
            events.extend(self._finish())
        if hit is not None:
            self._extend(index, hit)
        return events

    def _extend(self, index: int, hit: Hit) -> None:
        row, col, zr, zc, total = hit
        if self._press is None:
            self._press = _Press(KEYS[row][col], row, col, index, index)
        press = self._press
        press.last_hit = index
        press.hits.append(index)
        press.row_bins.append(zr)
        press.col_bins.append(zc)
        press.totals.append(total)
        press.row_energy += abs(zr) ** 2
        press.col_energy += abs(zc) ** 2

    def _finish(self) -> list[Dtmf]:
        press, self._press = self._press, None
        assert press is not None
        duration = self._duration_ms(press)
        ok = duration >= self.settings.min_tone_ms and self._tones_ok(press)
        self._trim_sub_energies()
        return [Dtmf(press.digit, round(duration), "inband")] if ok else []

    def _duration_ms(self, press: _Press) -> float:
        # Sub-blocks inside the hit windows' span that carry at least 30 % of the
        # span's typical (median) energy: the tone itself, not its edges or the noise.
        lo = press.first_hit - self._sub_base
        hi = press.last_hit + self._sub_per_window - self._sub_base
        span = np.asarray(self._sub_energy[max(lo, 0) : hi])
        if span.size == 0:
            return 0.0
        loud = np.count_nonzero(span >= 0.3 * np.median(span))
        return loud * HOP_S * 1000

    def _tones_ok(self, press: _Press) -> bool:
        hop_s = self._hop / self.sample_rate
        losses = []
        for nominal, bins in ((ROWS[press.row], press.row_bins), (COLS[press.col], press.col_bins)):
            offset = _frequency_offset(press.hits, bins, hop_s)
            if offset is None or abs(offset) > self.settings.max_deviation * nominal:
                return False
            if self._drifts(press.hits, bins, hop_s):
                return False
            # An off-bin tone reads low (1.4 dB at 1633 Hz + 1.5 %): undo that before
            # judging twist, or legal twist plus legal deviation would be refused.
            losses.append(float(np.sinc(offset * WINDOW_S) ** 2))
        row_loss, col_loss = losses
        row, col = press.row_energy / row_loss, press.col_energy / col_loss
        return bool(_twist_ok(row, col, self.settings)) and self._pure(press, row_loss, col_loss)

    def _drifts(self, hits: list[int], bins: list[complex], hop_s: float) -> bool:
        # A keypad's oscillator is steady; a voice's harmonic glides with its pitch.
        # Compare the frequency of the press's first and second half.
        half = len(hits) // 2
        first = _frequency_offset(hits[:half], bins[:half], hop_s)
        second = _frequency_offset(hits[half:], bins[half:], hop_s)
        if first is None or second is None:
            return False
        return abs(first - second) > self.settings.max_drift_hz

    def _pure(self, press: _Press, row_loss: float, col_loss: float) -> bool:
        # A voice whose harmonics and formants land near a key's two tones can pass the
        # per-window share (~0.8); a real key, its off-bin loss undone, holds nearly all
        # the energy in the middle of the press. The median skips the edge windows.
        tone = (
            np.abs(np.asarray(press.row_bins)) ** 2 / row_loss
            + np.abs(np.asarray(press.col_bins)) ** 2 / col_loss
        ) * (2 / self._window)
        share = float(np.median(tone / np.maximum(press.totals, 1.0)))
        return share >= self.settings.min_press_share


def _twist_ok(row: Any, col: Any, s: DetectorSettings, slack_db: float = 0.0) -> Any:
    """Works on floats and on arrays (one answer per window)."""
    normal, reverse = _db(s.normal_twist_db + slack_db), _db(s.reverse_twist_db + slack_db)
    return (col <= row * normal) & (row <= col * reverse)


def _frequency_offset(hits: list[int], bins: list[complex], hop_s: float) -> float | None:
    """Tone frequency minus the bin's, in Hz, from the bin's phase advance over time.

    Against an absolute time origin a steady tone's bin turns at the frequency error;
    averaging products of samples PHASE_LAG hops apart weights loud windows most.
    """
    where = {h: z for h, z in zip(hits, bins, strict=True)}
    acc = sum(
        (where[h + PHASE_LAG] * np.conj(z) for h, z in where.items() if h + PHASE_LAG in where),
        start=0j,
    )
    if acc == 0:
        return None
    return float(np.angle(acc)) / (2 * np.pi * PHASE_LAG * hop_s)
