"""Capped exponential backoff with jitter, sans-IO (the random source is injected).

The n-th retry waits ``min(cap, base * 2**n)`` scaled by a factor in [0.5, 1.0)
("equal jitter"): cameras that dropped together do not all come back at once, and a
wait never falls below half its step. ``reset()`` after a success.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable


class Backoff:
    def __init__(self, base_s: float, cap_s: float,
                 random: Callable[[], float] = _random.random) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError("backoff needs 0 < base_s <= cap_s")
        self.base_s = base_s
        self.cap_s = cap_s
        self._random = random
        self.attempts = 0  # retries since the last reset

    def next_delay(self) -> float:
        """The wait before the next retry (and count it)."""
        step = min(self.cap_s, self.base_s * 2.0 ** min(self.attempts, 62))
        self.attempts += 1
        return step * (0.5 + 0.5 * self._random())

    def capped(self) -> float:
        """The longest wait, jittered: for failures a quick retry cannot fix."""
        self.attempts += 1
        return self.cap_s * (0.5 + 0.5 * self._random())

    def reset(self) -> None:
        self.attempts = 0
