"""EntrySession: PIN lobby and auto attendant, driven with explicit ``now``."""

from __future__ import annotations

import pytest

from gateway.leg import Refuse, RefuseCause
from mcu.lobby import (
    Access,
    EndCall,
    Enter,
    EntryRules,
    EntrySession,
    Locked,
    PinFailed,
    Play,
)
from mcu.pinguard import GuardSettings, Lock, PinGuard

SINGLE = Access("1000", pin="1234")
CHAIRED = Access("1000", pin="1234", guest_pin="5678")
OPEN = Access("3000")
OTHER = Access("2000", pin="9999")
DIRECTORY = {a.numeric_id: a for a in (SINGLE, OTHER, OPEN)}


def lookup(numeric_id: str) -> Access | Refuse:
    return DIRECTORY.get(numeric_id) or Refuse(RefuseCause.NOT_FOUND, "Not Found")


def session(
    target: Access | None = SINGLE,
    *,
    source: str = "10.0.0.1",
    guard: PinGuard | None = None,
    rules: EntryRules | None = None,
    keyed: str = "",
    lookup_fn=lookup,
) -> EntrySession:
    return EntrySession(source=source, lookup=lookup_fn, guard=guard or PinGuard(),
                        rules=rules, target=target, keyed=keyed)


def key(s: EntrySession, digits: str, now: float = 0.0) -> list:
    """Key every digit; all but the last must give nothing."""
    for d in digits[:-1]:
        assert s.digit(d, now) == [], d
    return s.digit(digits[-1], now)


# ---- PIN and role --------------------------------------------------------------------


def test_start_prompts_for_the_pin() -> None:
    s = session()
    assert s.start(0.0) == [Play(("enter_pin",))]
    assert s.stage == "pin"
    assert s.deadline == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("access", "pin", "role"),
    [
        (SINGLE, "1234", "participant"),
        (CHAIRED, "1234", "chair"),
        (CHAIRED, "5678", "guest"),
        (Access("1000", guest_pin="5678"), "5678", "guest"),
    ],
)
def test_right_pin_enters_with_its_role(access: Access, pin: str, role: str) -> None:
    s = session(access)
    s.start(0.0)
    assert key(s, pin + "#", 1.0) == [Enter(access, role)]
    assert s.stage == "done" and s.deadline is None


def test_pin_digits_alone_do_nothing_until_hash() -> None:
    s = session()
    s.start(0.0)
    for d in "1234":
        assert s.digit(d, 1.0) == []
    assert s.stage == "pin"
    assert s.digit("#", 1.0) == [Enter(SINGLE, "participant")]


def test_guest_pin_on_a_single_pin_conference_is_wrong() -> None:
    s = session(SINGLE)
    s.start(0.0)
    assert key(s, "5678#") == [PinFailed("1000", 1), Play(("wrong_pin", "enter_pin"))]


def test_empty_pin_is_wrong() -> None:
    s = session()
    s.start(0.0)
    assert s.digit("#", 1.0) == [PinFailed("1000", 1), Play(("wrong_pin", "enter_pin"))]


def test_wrong_pin_reprompts_and_counts() -> None:
    s = session()
    s.start(0.0)
    assert key(s, "1111#", 1.0) == [PinFailed("1000", 1), Play(("wrong_pin", "enter_pin"))]
    assert s.deadline == pytest.approx(11.0)
    assert key(s, "2222#", 2.0) == [PinFailed("1000", 2), Play(("wrong_pin", "enter_pin"))]
    assert s.stage == "pin"
    # The third try may still be right.
    assert key(s, "1234#", 3.0) == [Enter(SINGLE, "participant")]


def test_three_wrong_pins_end_the_call() -> None:
    s = session()
    s.start(0.0)
    key(s, "1#")
    key(s, "2#")
    assert key(s, "3#") == [
        PinFailed("1000", 3),
        Play(("wrong_pin", "goodbye")),
        EndCall("wrong-pin"),
    ]
    assert s.stage == "done" and s.deadline is None


def test_pin_attempts_follow_the_rules() -> None:
    s = session(rules=EntryRules(pin_attempts=1))
    s.start(0.0)
    assert key(s, "9#") == [PinFailed("1000", 1), Play(("wrong_pin", "goodbye")),
                            EndCall("wrong-pin")]


def test_after_a_wrong_pin_the_next_entry_starts_afresh() -> None:
    s = session()
    s.start(0.0)
    key(s, "12#")  # wrong; the buffer starts afresh
    assert key(s, "1234#") == [Enter(SINGLE, "participant")]


def test_two_hundred_digits_are_wrong_even_when_they_start_with_the_pin() -> None:
    pin = "12345678901234567890123456789012"  # exactly max_digits long
    access = Access("1000", pin=pin)
    s = session(access)
    s.start(0.0)
    assert key(s, pin + "#") == [Enter(access, "participant")]  # the PIN itself works

    s = session(access)
    s.start(0.0)
    entry = (pin * 7)[:200]
    assert entry.startswith(pin) and len(entry) == 200
    for d in entry:
        assert s.digit(d, 1.0) == []
        assert len(s._buffer) <= s.rules.max_digits  # memory stays bounded
    assert s.digit("#", 1.0) == [PinFailed("1000", 1), Play(("wrong_pin", "enter_pin"))]
    # The overflow is forgotten: the next entry is judged on its own.
    assert key(s, pin + "#") == [Enter(access, "participant")]


def test_thirty_three_digits_are_wrong() -> None:
    pin = "1" * 32
    access = Access("1000", pin=pin)
    s = session(access)
    s.start(0.0)
    assert key(s, pin + "1#")[0] == PinFailed("1000", 1)


# ---- timeouts ------------------------------------------------------------------------


def test_on_timer_before_the_deadline_does_nothing() -> None:
    s = session()
    s.start(0.0)
    assert s.on_timer(0.0) == []
    assert s.on_timer(9.99) == []
    assert s.deadline == pytest.approx(10.0)


def test_silence_reprompts_then_ends_the_call() -> None:
    s = session()
    s.start(0.0)
    played = s.on_timer(10.0)
    assert Play(("timeout",)) in played or Play(("timeout", "enter_pin")) in played
    assert any(isinstance(a, Play) and a.prompts[-1] == "enter_pin" for a in played)
    assert not any(isinstance(a, EndCall) for a in played)
    assert s.deadline == pytest.approx(20.0)
    assert s.on_timer(19.0) == []
    second = s.on_timer(20.0)
    assert not any(isinstance(a, EndCall) for a in second)
    assert s.deadline == pytest.approx(30.0)
    # timeouts_allowed (2) re-prompts, then the third silence hangs up.
    assert s.on_timer(30.0) == [Play(("timeout", "goodbye")), EndCall("entry-timeout")]
    assert s.stage == "done"
    assert s.on_timer(100.0) == []


def test_timeouts_allowed_zero_hangs_up_on_the_first_silence() -> None:
    s = session(rules=EntryRules(timeouts_allowed=0, digit_timeout_s=5.0))
    s.start(0.0)
    assert s.on_timer(4.9) == []
    assert s.on_timer(5.0) == [Play(("timeout", "goodbye")), EndCall("entry-timeout")]


def test_each_digit_pushes_the_deadline_back() -> None:
    s = session()
    s.start(0.0)
    s.digit("1", 8.0)
    assert s.deadline == pytest.approx(18.0)
    assert s.on_timer(12.0) == []
    assert s.digit("2", 17.0) == []
    assert s.on_timer(18.0) == []


def test_timeout_drops_the_half_keyed_pin() -> None:
    s = session()
    s.start(0.0)
    key(s, "12", 1.0)
    s.on_timer(11.0)
    # "12" was forgotten: "34#" alone is wrong, "1234#" is right.
    assert key(s, "34#", 12.0)[0] == PinFailed("1000", 1)
    assert key(s, "1234#", 13.0) == [Enter(SINGLE, "participant")]


def test_silence_in_the_attendant_reprompts_for_the_id() -> None:
    s = session(None)
    assert s.start(0.0) == [Play(("enter_conference_id",))]
    played = s.on_timer(10.0)
    assert any(isinstance(a, Play) and a.prompts[-1] == "enter_conference_id" for a in played)


# ---- direct entry and open conferences -----------------------------------------------


def test_direct_entry_with_the_right_pin_enters_at_start_without_a_prompt() -> None:
    s = session(keyed="1234")
    assert s.start(0.0) == [Enter(SINGLE, "participant")]
    assert s.stage == "done"


def test_direct_entry_as_chair_and_guest() -> None:
    assert session(CHAIRED, keyed="1234").start(0.0) == [Enter(CHAIRED, "chair")]
    assert session(CHAIRED, keyed="5678").start(0.0) == [Enter(CHAIRED, "guest")]


def test_direct_entry_with_a_wrong_pin_prompts_wrong_pin() -> None:
    s = session(keyed="4321")
    assert s.start(0.0) == [PinFailed("1000", 1), Play(("wrong_pin", "enter_pin"))]
    assert s.stage == "pin"
    assert key(s, "1234#", 1.0) == [Enter(SINGLE, "participant")]


def test_conference_without_pin_enters_at_start() -> None:
    assert session(OPEN).start(0.0) == [Enter(OPEN, "participant")]


# ---- auto attendant ------------------------------------------------------------------


def test_attendant_asks_for_the_id_then_the_pin() -> None:
    s = session(None)
    assert s.start(0.0) == [Play(("enter_conference_id",))]
    assert s.stage == "id"
    assert key(s, "2000#", 1.0) == [Play(("enter_pin",))]
    assert s.stage == "pin" and s.target == OTHER
    assert key(s, "9999#", 2.0) == [Enter(OTHER, "participant")]


def test_attendant_conference_without_pin_enters_after_the_id() -> None:
    s = session(None)
    s.start(0.0)
    assert key(s, "3000#") == [Enter(OPEN, "participant")]


def test_attendant_wrong_pin_counts_against_the_chosen_conference() -> None:
    s = session(None)
    s.start(0.0)
    key(s, "2000#")
    assert key(s, "1234#") == [PinFailed("2000", 1), Play(("wrong_pin", "enter_pin"))]


def test_unknown_id_reprompts_and_three_end_the_call() -> None:
    asked: list[str] = []

    def recording(numeric_id: str) -> Access | Refuse:
        asked.append(numeric_id)
        return lookup(numeric_id)

    s = session(None, lookup_fn=recording)
    s.start(0.0)
    assert key(s, "7777#") == [Play(("unknown_conference", "enter_conference_id"))]
    assert s.digit("#", 0.0) == [Play(("unknown_conference", "enter_conference_id"))]
    assert key(s, "8888#") == [Play(("unknown_conference", "goodbye")), EndCall("unknown-id")]
    assert asked == ["7777", "8888"]  # an empty ID is not looked up
    assert s.stage == "done"


def test_overlong_id_is_unknown_without_a_lookup() -> None:
    asked: list[str] = []
    s = session(None, lookup_fn=lambda nid: asked.append(nid) or SINGLE)
    s.start(0.0)
    for d in "1000" * 10:
        s.digit(d, 0.0)
    assert s.digit("#", 0.0) == [Play(("unknown_conference", "enter_conference_id"))]
    assert asked == []


def test_unknown_id_then_a_good_one() -> None:
    s = session(None)
    s.start(0.0)
    key(s, "1#")
    assert key(s, "1000#") == [Play(("enter_pin",))]
    assert key(s, "1234#") == [Enter(SINGLE, "participant")]


# ---- lockout -------------------------------------------------------------------------


def test_lockout_across_sessions_and_who_it_keeps_out() -> None:
    guard = PinGuard(GuardSettings(max_failures=20))
    now = 0.0
    failures = 0
    locked_actions: list = []
    while failures < 21:
        s = session(guard=guard)
        s.start(now)
        while s.stage != "done":
            now += 1.0
            actions = key(s, "0000#", now)
            failures += 1
            if failures < 21:
                assert not any(isinstance(a, Locked) for a in actions), failures
                assert EndCall("pin-locked") not in actions
            else:
                locked_actions = actions
                assert s.stage == "done"
    assert locked_actions == [
        PinFailed("1000", 3),  # 21 = 6 sessions of 3, then the third of the 7th
        Locked(Lock("source", "10.0.0.1", now + 600.0)),
        Play(("locked", "goodbye")),
        EndCall("pin-locked"),
    ]

    # The locked source, even with the right PIN, is turned away.
    s = session(guard=guard)
    s.start(now)
    assert key(s, "1234#", now + 1) == [Play(("locked", "goodbye")), EndCall("pin-locked")]
    # Direct entry too.
    assert session(guard=guard, keyed="1234").start(now + 1) == [
        Play(("locked", "goodbye")), EndCall("pin-locked")]
    # Another source with the right PIN of another conference still enters.
    s = session(OTHER, source="10.0.0.2", guard=guard)
    s.start(now)
    assert key(s, "9999#", now + 1) == [Enter(OTHER, "participant")]
    # One guesser locks only itself: its failures leave the conference's count, so
    # another source still gets into the attacked conference with its PIN.
    s = session(source="10.0.0.3", guard=guard)
    s.start(now)
    assert key(s, "1234#", now + 1) == [Enter(SINGLE, "participant")]
    # Once the lock is over, the right PIN works again.
    s = session(guard=guard)
    s.start(now + 601)
    assert key(s, "1234#", now + 601) == [Enter(SINGLE, "participant")]


def test_locked_source_is_refused_before_the_pin_is_compared() -> None:
    guard = PinGuard(GuardSettings(max_failures=0))
    s = session(guard=guard, rules=EntryRules(pin_attempts=5))
    s.start(0.0)
    actions = key(s, "1#", 1.0)
    assert actions[0] == PinFailed("1000", 1)
    assert isinstance(actions[1], Locked) and actions[1].lock.scope == "source"
    assert actions[-1] == EndCall("pin-locked")


# ---- after the end -------------------------------------------------------------------


@pytest.mark.parametrize("end", ["enter", "wrong", "timeout", "unknown"])
def test_digits_and_timers_after_done_are_ignored(end: str) -> None:
    if end == "enter":
        s = session()
        s.start(0.0)
        key(s, "1234#")
    elif end == "wrong":
        s = session()
        s.start(0.0)
        for _ in range(3):
            key(s, "0#")
    elif end == "timeout":
        s = session(rules=EntryRules(timeouts_allowed=0))
        s.start(0.0)
        s.on_timer(10.0)
    else:
        s = session(None)
        s.start(0.0)
        for _ in range(3):
            key(s, "5#")
    assert s.stage == "done"
    for d in "1234#":
        assert s.digit(d, 50.0) == []
    assert s.on_timer(1000.0) == []
