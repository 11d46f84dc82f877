"""One digit stream per leg out of three DTMF sources, sans-IO.

A key press can reach us up to three ways at once: RFC 4733 telephone-events, a SIP
INFO request, and the tones themselves left in the audio (which the in-band detector
hears). Plenty of endpoints send two of them for every press, so a PIN typed once
must not arrive twice. Each source already reports each press once (RFC 4733's
redundant end packets are collapsed in ``gateway/rtp/dtmf.py``, the in-band detector
reports a tone once it ends), so a merger only has to pair reports *across* sources:

* the same digit from a *different* source within ``window_s`` of an accepted press is
  that press, seen again, and is dropped;
* the same digit from the *same* source is always a new press (a user typing 55);
* a source's reports pair with presses in order: once a source has matched (or made)
  a press, it can only pair with later ones, so rapid ``5 6 5`` from RFC 4733 followed
  by the in-band ``5 6 5`` collapses to ``5 6 5``, not ``5 6 5 5``.

Digits outside ``0-9 * # A-D`` are dropped. Time comes in as ``now`` (seconds).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gateway.leg import Dtmf

DIGITS = "0123456789*#ABCD"
DEFAULT_WINDOW_S = 0.5  # in-band detection lags RFC 4733 by a tone's length, ~100-250 ms
MAX_RECENT = 32  # presses remembered; more than this inside one window is not typing


@dataclass(slots=True)
class _Press:
    digit: str
    at: float  # when it was accepted
    sources: set[str] = field(default_factory=set)


class DtmfMerger:
    """Drops the second and third sighting of one key press; see the module docstring."""

    def __init__(self, window_s: float = DEFAULT_WINDOW_S) -> None:
        if window_s < 0:
            raise ValueError("window_s must not be negative")
        self.window_s = window_s
        self._recent: deque[_Press] = deque(maxlen=MAX_RECENT)
        self.duplicates = 0  # reports dropped as another source's copy of a press
        self.invalid = 0  # reports dropped for an unknown digit

    def accept(self, event: Dtmf, now: float) -> Dtmf | None:
        """``event`` when it is a new key press, ``None`` when it is a copy or invalid."""
        if len(event.digit) != 1 or event.digit not in DIGITS:
            self.invalid += 1
            return None
        while self._recent and now - self._recent[0].at > self.window_s:
            self._recent.popleft()
        # Only presses after the last one this source took part in can be its copy.
        candidates: list[_Press] = []
        for press in self._recent:
            if event.source in press.sources:
                candidates.clear()
            else:
                candidates.append(press)
        for press in candidates:
            if press.digit == event.digit:
                press.sources.add(event.source)
                self.duplicates += 1
                return None
        self._recent.append(_Press(event.digit, now, {event.source}))
        return event

    def reset(self) -> None:
        """Forget recent presses (e.g. the leg was re-INVITEd to a new media source)."""
        self._recent.clear()
