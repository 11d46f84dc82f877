"""Login throttling per source address, and a per-key rate limit (`RateLimit`, for chat
messages): sans-IO, with an injectable clock.

Each login attempt from a source first asks `begin(source)`. An admitted attempt counts
as a failure straight away (so parallel guesses cannot all slip through before the slow
password hash finishes) and is uncounted by `succeeded(source)` when the password was
right; a success never clears the failures before it. When a source already has `limit`
failures within `window` seconds, it is refused for `lockout` seconds: the answer is an
HTTP 429 with `Retry-After`. During a lockout nothing is counted or extended, and the
password is not even checked.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass(frozen=True)
class Admission:
    """`begin`'s answer. `retry_after` (whole seconds, at least 1) only when refused;
    `lockout_started` is True on the one refusal that started the lockout."""

    allowed: bool
    retry_after: int = 0
    lockout_started: bool = False


@dataclass
class _Source:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class LoginThrottle:
    """Failed logins per source address; `limit` failures in `window` s lock for `lockout` s.

    Memory is bounded by `max_sources`: idle sources are forgotten first, then the ones
    whose latest failure is oldest.
    """

    def __init__(
        self,
        *,
        limit: int = 10,
        window: float = 300.0,
        lockout: float = 300.0,
        max_sources: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or lockout <= 0 or max_sources < 1:
            raise ValueError("limit, window, lockout and max_sources must be positive")
        self.limit = limit
        self.window = window
        self.lockout = lockout
        self.max_sources = max_sources
        self._clock = clock
        self._sources: dict[str, _Source] = {}

    def begin(self, source: str) -> Admission:
        """May an attempt from `source` go ahead? If so it counts as failed until
        `succeeded` says otherwise."""
        now = self._clock()
        state = self._sources.get(source)
        if state is None:
            self._make_room()
            state = self._sources[source] = _Source()
        if state.blocked_until > now:
            return Admission(False, _seconds(state.blocked_until - now))
        self._expire(state, now)
        if len(state.failures) >= self.limit:
            state.failures.clear()
            state.blocked_until = now + self.lockout
            return Admission(False, _seconds(self.lockout), lockout_started=True)
        state.failures.append(now)
        return Admission(True)

    def succeeded(self, source: str) -> None:
        """The attempt `begin` admitted had the right password: uncount that one attempt."""
        state = self._sources.get(source)
        if state is not None and state.failures:
            state.failures.pop()

    def failures(self, source: str) -> int:
        """Failures from `source` still inside the window (for tests and diagnostics)."""
        state = self._sources.get(source)
        if state is None:
            return 0
        self._expire(state, self._clock())
        return len(state.failures)

    def retry_after(self, source: str) -> int:
        """Seconds `source` must still wait; 0 when it is not locked out."""
        state = self._sources.get(source)
        now = self._clock()
        if state is None or state.blocked_until <= now:
            return 0
        return _seconds(state.blocked_until - now)

    def _expire(self, state: _Source, now: float) -> None:
        while state.failures and state.failures[0] <= now - self.window:
            state.failures.popleft()

    def _make_room(self) -> None:
        if len(self._sources) < self.max_sources:
            return
        now = self._clock()
        for key, state in list(self._sources.items()):
            self._expire(state, now)
            if not state.failures and state.blocked_until <= now:
                del self._sources[key]
        while len(self._sources) >= self.max_sources:
            oldest = min(
                self._sources,
                key=lambda k: max(
                    self._sources[k].blocked_until,
                    self._sources[k].failures[-1] if self._sources[k].failures else 0.0,
                ),
            )
            del self._sources[oldest]


class RateLimit:
    """At most `limit` events per `window` seconds per key (a sliding window): chat
    messages per user (issue 17). `hit(key)` counts an event and answers 0, or, over the
    limit, counts nothing and answers the seconds until one more is allowed."""

    def __init__(
        self, *, limit: int, window: float, max_keys: int = 10_000, clock: Clock = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("limit, window and max_keys must be positive")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str) -> int:
        now = self._clock()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:
                self._forget_idle(now)
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return _seconds(events[0] + self.window - now)
        events.append(now)
        return 0

    def _forget_idle(self, now: float) -> None:
        for key, events in list(self._events.items()):
            if not events or events[-1] <= now - self.window:
                del self._events[key]
        while len(self._events) >= self.max_keys:
            del self._events[next(iter(self._events))]


def _seconds(delay: float) -> int:
    return max(1, math.ceil(delay))


__all__ = ["Admission", "Clock", "LoginThrottle", "RateLimit"]
