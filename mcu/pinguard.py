"""Guessing protection for conference PINs, sans-IO.

A 4-6 digit PIN is only as good as the number of guesses an attacker gets. Two
counters bound that:

* per source address (the caller passes the IP, without the port, so one host cannot
  reset its count by changing ports): stops one host trying every PIN;
* per conference: stops many hosts (or spoofed UDP sources) sharing the work on one
  conference. Locking a conference also keeps its legitimate callers out for
  ``lock_s``; that is the price of not letting a botnet enumerate its PIN. A source
  that gets locked takes its failures out of the conference's count, so one guesser
  locks only itself and cannot lock everyone else out of a meeting.

More than ``max_failures`` failures inside a sliding ``window_s`` locks that source or
conference for ``lock_s``. A correct PIN does not clear anything: failures age out of
the window on their own, so a guesser who finally hits still leaves its count behind.

Memory stays bounded whatever the callers do: timestamps older than the window are
dropped, keys with no recent failures and expired locks are pruned as time passes,
and each scope tracks at most ``max_keys`` keys (the least recently failing go first).

PINs are compared with ``pins_equal``, which takes the same time whatever the entered
digits and whatever their length. Time comes in as ``now`` (seconds, monotonic).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Literal

Scope = Literal["source", "conference"]
SCOPES: tuple[Scope, ...] = ("source", "conference")


def pins_equal(entered: str, expected: str) -> bool:
    """Constant-time PIN comparison; hashing first hides the expected PIN's length too."""
    a = hashlib.sha256(entered.encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest()
    return hmac.compare_digest(a, b)


@dataclass(frozen=True, slots=True)
class GuardSettings:
    max_failures: int = 20  # this many failures in the window are allowed; one more locks
    window_s: float = 600.0
    lock_s: float = 600.0
    max_keys: int = 10_000  # per scope

    def __post_init__(self) -> None:
        if self.max_failures < 0:
            raise ValueError("max_failures must not be negative")
        if self.window_s <= 0 or self.lock_s < 0:
            raise ValueError("window_s must be positive and lock_s not negative")
        if self.max_keys < 1:
            raise ValueError("max_keys must be at least 1")


@dataclass(frozen=True, slots=True)
class Lock:
    scope: Scope
    key: str
    until: float


class PinGuard:
    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.settings = settings or GuardSettings()
        # Per scope, key -> (failure time, source), ordered by latest failure (oldest first).
        self._failures: dict[Scope, OrderedDict[str, deque[tuple[float, str]]]] = {
            s: OrderedDict() for s in SCOPES
        }
        # Per scope, key -> lock, in the order imposed (with a fixed lock_s: by expiry).
        self._locks: dict[Scope, OrderedDict[str, Lock]] = {s: OrderedDict() for s in SCOPES}

    def locked(self, source: str, conference: str, now: float) -> Lock | None:
        """The lock that refuses this attempt (the source's first), or ``None``."""
        self._prune(now)
        for scope, key in (("source", source), ("conference", conference)):
            lock = self._active_lock(scope, key, now)
            if lock is not None:
                return lock
        return None

    def failure(self, source: str, conference: str, now: float) -> Lock | None:
        """Count one wrong PIN against both; the lock it newly imposed, if any.

        A locked source's failures (this one and those before) stop counting against the
        conference: the source lock already answers that guesser.
        """
        self._prune(now)
        lock = self._record("source", source, source, now)
        if lock is not None or self._active_lock("source", source, now) is not None:
            times = self._failures["conference"].get(conference)
            if times:
                kept = [entry for entry in times if entry[1] != source]
                times.clear()
                times.extend(kept)
            return lock
        return self._record("conference", conference, source, now)

    def success(self, source: str, conference: str, now: float) -> None:
        """A correct PIN. Deliberately clears nothing (see the module docstring)."""
        self._prune(now)

    def failures(self, scope: Scope, key: str, now: float) -> int:
        """Failures of ``key`` inside the window ending at ``now`` (for tests and metrics).

        Saturates at ``max_failures + 1``: no more are kept, so a flood costs no memory.
        """
        times = self._failures[scope].get(key)
        if times is None:
            return 0
        cutoff = now - self.settings.window_s
        return sum(1 for t, _ in times if t > cutoff)

    def tracked(self) -> int:
        """Keys with recent failures or live locks, all scopes (memory bound checks)."""
        return sum(len(d) for d in self._failures.values()) + sum(
            len(d) for d in self._locks.values()
        )

    def _record(self, scope: Scope, key: str, source: str, now: float) -> Lock | None:
        table = self._failures[scope]
        times = table.get(key)
        if times is None:
            times = table[key] = deque()
            while len(table) > self.settings.max_keys:
                table.popitem(last=False)
        else:
            table.move_to_end(key)
        cutoff = now - self.settings.window_s
        while times and times[0][0] <= cutoff:
            times.popleft()
        times.append((now, source))
        # The deque never needs more than max_failures + 1 entries to decide a lock.
        while len(times) > self.settings.max_failures + 1:
            times.popleft()
        if len(times) <= self.settings.max_failures:
            return None
        if self._active_lock(scope, key, now) is not None:
            return None
        locks = self._locks[scope]
        lock = locks[key] = Lock(scope, key, now + self.settings.lock_s)
        while len(locks) > self.settings.max_keys:
            locks.popitem(last=False)
        return lock

    def _active_lock(self, scope: Scope, key: str, now: float) -> Lock | None:
        locks = self._locks[scope]
        lock = locks.get(key)
        if lock is None:
            return None
        if now >= lock.until:
            del locks[key]
            return None
        return lock

    def _prune(self, now: float) -> None:
        """Drop keys whose newest failure left the window and locks that expired.

        Both tables are kept oldest first, so this stops at the first live entry:
        amortised O(1) per call however many keys are tracked.
        """
        cutoff = now - self.settings.window_s
        for scope in SCOPES:
            table = self._failures[scope]
            while table:
                key, times = next(iter(table.items()))
                if times and times[-1][0] > cutoff:
                    break
                del table[key]
            locks = self._locks[scope]
            while locks:
                key, lock = next(iter(locks.items()))
                if now < lock.until:
                    break
                del locks[key]
