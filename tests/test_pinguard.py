"""PinGuard: sliding-window failure counts per source and per conference, locks, bounds."""

from __future__ import annotations

import pytest

from mcu.pinguard import GuardSettings, Lock, PinGuard, pins_equal


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def tick(self, dt: float) -> float:
        self.t += dt
        return self.t


def fail(g: PinGuard, clock: Clock, n: int, source: str, conf: str, dt: float = 1.0) -> list[Lock]:
    locks: list[Lock] = []
    for _ in range(n):
        lock = g.failure(source, conf, clock.tick(dt))
        if lock is not None:
            locks.append(lock)
    return locks


# -- pins_equal ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entered", "expected", "equal"),
    [
        ("1234", "1234", True),
        ("", "", True),
        ("1234", "1235", False),
        ("123", "1234", False),
        ("12345", "1234", False),
        ("", "1234", False),
        ("٣", "3", False),
        ("\udcff", "\udcff", True),  # never raises, even on lone surrogates
    ],
)
def test_pins_equal(entered: str, expected: str, equal: bool) -> None:
    assert pins_equal(entered, expected) is equal


# -- settings -------------------------------------------------------------------------


def test_defaults() -> None:
    s = GuardSettings()
    assert (s.max_failures, s.window_s, s.lock_s) == (20, 600.0, 600.0)


@pytest.mark.parametrize(
    "kw", [{"max_failures": -1}, {"window_s": 0}, {"lock_s": -1}, {"max_keys": 0}]
)
def test_bad_settings(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        GuardSettings(**kw)


# -- locking --------------------------------------------------------------------------


def test_21st_failure_from_one_source_locks_that_source_only() -> None:
    g, clock = PinGuard(), Clock()
    assert fail(g, clock, 20, "10.0.0.1", "1000") == []
    assert g.locked("10.0.0.1", "1000", clock()) is None
    assert g.failures("source", "10.0.0.1", clock()) == 20
    assert g.failures("conference", "1000", clock()) == 20

    now = clock.tick(1)
    lock = g.failure("10.0.0.1", "1000", now)
    assert lock == Lock("source", "10.0.0.1", now + 600)
    assert g.locked("10.0.0.1", "1000", now) == lock
    # One guesser cannot lock everyone out: its failures left the conference's count.
    assert g.locked("10.0.0.2", "1000", now) is None
    assert g.failures("conference", "1000", now) == 0
    # The source is refused in any conference.
    assert g.locked("10.0.0.1", "2000", now) == lock
    # Further failures while locked impose nothing new.
    assert g.failure("10.0.0.1", "1000", clock.tick(1)) is None


def test_failures_spread_over_sources_lock_the_conference_only() -> None:
    g, clock = PinGuard(), Clock()
    locks: list[Lock] = []
    for i in range(21):
        lock = g.failure(f"10.0.{i}.1", "1000", clock.tick(1))
        if lock is not None:
            locks.append(lock)
    assert locks == [Lock("conference", "1000", clock() + 600)]
    for i in range(21):
        assert g.failures("source", f"10.0.{i}.1", clock()) == 1
        assert g.locked(f"10.0.{i}.1", "2000", clock()) is None  # other conferences fine
    assert g.locked("192.0.2.9", "1000", clock()) == locks[0]


def test_locked_source_does_not_lock_other_sources_elsewhere() -> None:
    g, clock = PinGuard(), Clock()
    # Source A guesses across many conferences: no conference reaches its limit.
    locks: list[Lock] = []
    for i in range(21):
        lock = g.failure("10.0.0.1", f"{1000 + i}", clock.tick(1))
        if lock is not None:
            locks.append(lock)
    assert locks == [Lock("source", "10.0.0.1", clock() + 600)]
    assert g.locked("10.0.0.1", "5000", clock()) is not None
    assert g.locked("10.0.0.2", "5000", clock()) is None
    assert g.locked("10.0.0.2", "1000", clock()) is None


def test_window_ageing() -> None:
    g, clock = PinGuard(), Clock()
    fail(g, clock, 20, "10.0.0.1", "1000", dt=1.0)  # at t+1 .. t+20
    # 600 s after the first failure it no longer counts: the 21st makes only 20.
    clock.t = 1000.0 + 1 + 600
    assert g.failures("source", "10.0.0.1", clock()) == 19
    assert g.failure("10.0.0.1", "1000", clock()) is None
    assert g.locked("10.0.0.1", "1000", clock()) is None
    assert g.failures("source", "10.0.0.1", clock()) == 20
    # Long after, everything has aged out and the keys are pruned.
    clock.tick(10_000)
    assert g.failures("conference", "1000", clock()) == 0
    assert g.locked("10.0.0.1", "1000", clock()) is None
    assert g.tracked() == 0


def test_slow_guessing_never_locks() -> None:
    g, clock = PinGuard(), Clock()
    # One guess every 31 s: at most 20 inside any 600 s window.
    assert fail(g, clock, 200, "10.0.0.1", "1000", dt=31.0) == []


def test_lock_expires_after_lock_s() -> None:
    g, clock = PinGuard(GuardSettings(lock_s=300.0)), Clock()
    locks = fail(g, clock, 21, "10.0.0.1", "1000")
    assert [lk.scope for lk in locks] == ["source"]
    start = clock()
    assert g.locked("10.0.0.1", "1000", start + 299.9) is not None
    assert g.locked("10.0.0.1", "1000", start + 300.0) is None
    assert g.locked("10.0.0.2", "1000", start + 300.0) is None


def test_failure_right_after_expiry_relocks_while_counts_are_in_window() -> None:
    g, clock = PinGuard(GuardSettings(lock_s=60.0)), Clock()
    fail(g, clock, 21, "10.0.0.1", "1000")
    now = clock.tick(60)
    assert g.locked("10.0.0.1", "1000", now) is None
    lock = g.failure("10.0.0.1", "1000", now)
    assert lock == Lock("source", "10.0.0.1", now + 60)
    assert g.locked("10.0.0.2", "1000", now) is None


def test_success_does_not_reset_counts() -> None:
    g, clock = PinGuard(), Clock()
    fail(g, clock, 20, "10.0.0.1", "1000")
    g.success("10.0.0.1", "1000", clock.tick(1))
    assert g.failures("source", "10.0.0.1", clock()) == 20
    assert g.failure("10.0.0.1", "1000", clock.tick(1)) is not None


def test_max_failures_zero_locks_on_first_failure() -> None:
    g, clock = PinGuard(GuardSettings(max_failures=0)), Clock()
    assert g.failure("10.0.0.1", "1000", clock()) == Lock("source", "10.0.0.1", clock() + 600)


# -- memory bounds --------------------------------------------------------------------


def test_keys_capped_oldest_dropped() -> None:
    g, clock = PinGuard(GuardSettings(max_keys=100)), Clock()
    for i in range(1000):
        g.failure(f"10.{i // 256}.{i % 256}.1", f"c{i}", clock.tick(0.01))
    assert len(g._failures["source"]) == 100
    assert len(g._failures["conference"]) == 100
    assert g.failures("source", "10.0.0.1", clock()) == 0  # the oldest went
    assert g.failures("source", "10.3.231.1", clock()) == 1  # the newest stayed


def test_refailing_key_is_not_the_oldest() -> None:
    g, clock = PinGuard(GuardSettings(max_keys=3)), Clock()
    for source in ("a", "b", "c"):
        g.failure(source, "1000", clock.tick(1))
    g.failure("a", "1000", clock.tick(1))  # a is now the most recent
    g.failure("d", "1000", clock.tick(1))  # evicts b
    assert g.failures("source", "a", clock()) == 2
    assert g.failures("source", "b", clock()) == 0
    assert g.failures("source", "c", clock()) == 1


def test_flood_on_one_key_keeps_little() -> None:
    g, clock = PinGuard(), Clock()
    fail(g, clock, 100_000, "10.0.0.1", "1000", dt=0.001)
    assert len(g._failures["source"]["10.0.0.1"]) == 21
    assert g.failures("source", "10.0.0.1", clock()) == 21


def test_idle_keys_and_expired_locks_pruned() -> None:
    g, clock = PinGuard(), Clock()
    for i in range(500):
        g.failure(f"s{i}", f"c{i % 7}", clock.tick(0.1))
    fail(g, clock, 21, "x", "y")
    assert g.tracked() > 500
    clock.tick(601)
    g.success("z", "w", clock())
    assert g.tracked() == 0
