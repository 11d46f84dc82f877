"""Endpoint entry by keypad: conference ID (auto attendant), PIN, role. Sans-IO.

One ``EntrySession`` per caller who must key something before joining. It takes
digits and time and gives actions (play these prompts, enter the conference as this
role, hang up); the conference carries them out. Nothing here touches a socket, a
clock or the mixer, so every path (wrong PIN three times, lockout, timeouts, a PIN of
200 digits) is tested with a fake clock.

Seed 003: ownership plays no part in endpoint entry; the PINs do. The conference PIN
makes a caller the chairperson when the conference also has a guest PIN, else a plain
participant; the guest PIN makes a guest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gateway.leg import Refuse
from mcu.live import ParticipantRole
from mcu.pinguard import Lock, PinGuard, pins_equal


@dataclass(frozen=True, slots=True)
class Access:
    """What entry needs to know of a conference."""

    numeric_id: str
    pin: str | None = None
    guest_pin: str | None = None

    @property
    def needs_pin(self) -> bool:
        return bool(self.pin or self.guest_pin)


@dataclass(frozen=True, slots=True)
class EntryRules:
    pin_attempts: int = 3
    id_attempts: int = 3
    digit_timeout_s: float = 10.0  # silence after a prompt before we ask again
    timeouts_allowed: int = 2  # re-prompts for silence before hanging up
    max_digits: int = 32  # longer entries are wrong whatever they hold


# ---- actions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play:
    prompts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Enter:
    """Join ``access``'s conference as ``role``."""

    access: Access
    role: ParticipantRole


@dataclass(frozen=True, slots=True)
class EndCall:
    """End the call once the prompts already queued have played."""

    reason: str


@dataclass(frozen=True, slots=True)
class PinFailed:
    """One wrong PIN (for the log and metrics; the PIN itself is never carried)."""

    conference: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Locked:
    """This failure imposed a lockout (for the audit log and metrics)."""

    lock: Lock


Action = Play | Enter | EndCall | PinFailed | Locked

Lookup = Callable[[str], Access | Refuse]
"""Numeric ID → the conference's access rules, or why it cannot be entered."""

Stage = Literal["id", "pin", "done"]


class EntrySession:
    """Collects digits until a conference and a role are known, or the caller is out.

    ``target`` is the dialled conference; None means the auto attendant asks for the
    conference ID first. ``keyed`` holds digits already dialled with the number
    (``1234*5678`` direct entry): they are tried as the PIN without prompting.
    """

    def __init__(
        self,
        *,
        source: str,
        lookup: Lookup,
        guard: PinGuard,
        rules: EntryRules | None = None,
        target: Access | None = None,
        keyed: str = "",
    ) -> None:
        self.source = source  # the caller's IP address: what lockouts count by
        self._lookup = lookup
        self._guard = guard
        self.rules = rules or EntryRules()
        self.target = target
        self.stage: Stage = "pin" if target is not None else "id"
        self._keyed = keyed
        self._buffer = ""
        self._overflow = False
        self._pin_failures = 0
        self._id_failures = 0
        self._timeouts = 0
        self.deadline: float | None = None

    # ---- inputs

    def start(self, now: float) -> list[Action]:
        if self.stage == "pin":
            assert self.target is not None
            if self._keyed:
                too_long = len(self._keyed) > self.rules.max_digits
                return self._check_pin(None if too_long else self._keyed, now)
            if not self.target.needs_pin:
                return self._enter("participant")
        return self._prompt(now)

    def digit(self, digit: str, now: float) -> list[Action]:
        if self.stage == "done":
            return []
        if digit != "#":
            if len(self._buffer) >= self.rules.max_digits:
                self._overflow = True
            else:
                self._buffer += digit
            self.deadline = now + self.rules.digit_timeout_s
            return []
        entered, overflow = self._buffer, self._overflow
        self._buffer, self._overflow = "", False
        if self.stage == "id":
            return self._choose_conference(entered, overflow, now)
        return self._check_pin(None if overflow else entered, now)

    def on_timer(self, now: float) -> list[Action]:
        if self.stage == "done" or self.deadline is None or now < self.deadline:
            return []
        self._timeouts += 1
        self._buffer, self._overflow = "", False
        if self._timeouts > self.rules.timeouts_allowed:
            return self._finish(Play(("timeout", "goodbye")), EndCall("entry-timeout"))
        return self._prompt(now, "timeout")

    # ---- steps

    def _prompt(self, now: float, *before: str) -> list[Action]:
        self.deadline = now + self.rules.digit_timeout_s
        ask = "enter_conference_id" if self.stage == "id" else "enter_pin"
        return [Play((*before, ask))]

    def _choose_conference(self, entered: str, overflow: bool, now: float) -> list[Action]:
        found = self._lookup(entered) if entered and not overflow else None
        if isinstance(found, Access):
            self.target = found
            self.stage = "pin"
            if not found.needs_pin:
                return self._enter("participant")
            return self._prompt(now)
        self._id_failures += 1
        if self._id_failures >= self.rules.id_attempts:
            return self._finish(Play(("unknown_conference", "goodbye")), EndCall("unknown-id"))
        return self._prompt(now, "unknown_conference")

    def _check_pin(self, entered: str | None, now: float) -> list[Action]:
        assert self.target is not None
        conference = self.target.numeric_id
        if self._guard.locked(self.source, conference, now) is not None:
            return self._finish(Play(("locked", "goodbye")), EndCall("pin-locked"))
        role = self._role_for(entered)
        if role is not None:
            self._guard.success(self.source, conference, now)
            return self._enter(role)
        self._pin_failures += 1
        actions: list[Action] = [PinFailed(conference, self._pin_failures)]
        lock = self._guard.failure(self.source, conference, now)
        if lock is not None:
            actions.append(Locked(lock))
            return actions + self._finish(Play(("locked", "goodbye")), EndCall("pin-locked"))
        if self._pin_failures >= self.rules.pin_attempts:
            return actions + self._finish(Play(("wrong_pin", "goodbye")), EndCall("wrong-pin"))
        return actions + self._prompt(now, "wrong_pin")

    def _role_for(self, entered: str | None) -> ParticipantRole | None:
        assert self.target is not None
        pin, guest_pin = self.target.pin, self.target.guest_pin
        if entered is None:
            return None
        # Both comparisons always run, so timing says nothing about which PIN was close.
        is_pin = bool(pin) and pins_equal(entered, pin or "")
        is_guest = bool(guest_pin) and pins_equal(entered, guest_pin or "")
        if is_pin:
            return "chair" if guest_pin else "participant"
        return "guest" if is_guest else None

    def _enter(self, role: ParticipantRole) -> list[Action]:
        assert self.target is not None
        return self._finish(Enter(self.target, role))

    def _finish(self, *actions: Action) -> list[Action]:
        self.stage = "done"
        self.deadline = None
        return list(actions)
