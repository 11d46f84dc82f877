"""Conference entry end to end, without sockets or timers.

The real ``AudioMixer`` runs; the 20 ms ``MixClock`` is swapped for a stub so the tests
tick the conference themselves (collect, mix, deliver), and ``EntryServices`` gets a
fake clock, so lobby deadlines move only when a test moves them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import numpy as np
import pytest

from gateway.leg import Dtmf, Hangup, HoldChanged, LegEvent, Refuse, RefuseCause
from gateway.media import EncodedAudio
from mcu.conference import Conference, EntryServices, RoomPolicy
from mcu.lobby import Access, Enter, Locked
from mcu.mixer.audio import MixOutputs, TonesDetected
from mcu.pinguard import GuardSettings, PinGuard
from mcu.prompts import FRAME_SAMPLES, load_prompt
from mcu.settings import EntrySettings, MixerSettings
from tests.dtmf import signals
from tests.mixer.fakes import PCMU, FakeLeg, band_db

PIN, GUEST_PIN = "1234", "5678"


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class ManualClock:
    """Stands in for MixClock: the tests tick by hand."""

    def __init__(self, target: object, *args: object, **kwargs: object) -> None:
        self.target = target
        self.running = False

    def start(self) -> None:
        self.running = True

    async def stop(self) -> None:
        self.running = False


@pytest.fixture(autouse=True)
def manual_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mcu.conference.MixClock", ManualClock)


class EntryLeg(FakeLeg):
    """A FakeLeg with what a Conference needs: events, hang_up, remote address."""

    def __init__(
        self,
        leg_id: str,
        *,
        remote: str | None = None,
        freq: float | None = None,
        pcm: np.ndarray | None = None,
        dtmf_events: bool = True,
    ) -> None:
        super().__init__(leg_id, PCMU, freq)
        self.remote = remote or f"192.0.2.{sum(map(ord, leg_id)) % 250 + 1}:5060"
        self.display_name = f"Caller {leg_id}"
        self.dtmf_events = dtmf_events
        self.queue: asyncio.Queue[LegEvent] = asyncio.Queue()
        self.hangups: list[str] = []
        self._frames = signals.frames(pcm, 8000) if pcm is not None else None

    def read_audio(self) -> EncodedAudio | None:
        if self._frames is None:
            return super().read_audio()
        n = self.sent
        self.sent += 1
        frame = self._frames[n] if n < len(self._frames) else np.zeros(self.samples, np.int16)
        return EncodedAudio(self.encoder.encode(frame))

    video_format = None  # audio-only: the video mixer shows its slate
    video_receiving = False
    video_sending = False
    video_needs_keyframe = False
    keyframe_methods: tuple[str, ...] = ()

    def read_video(self) -> list[object]:
        return []

    def write_video(self, frame: object) -> None:
        pass

    def request_keyframe(self, method: str, repeat: bool = False) -> bool:
        return False

    async def events(self) -> AsyncIterator[LegEvent]:
        while True:
            event = await self.queue.get()
            yield event
            if isinstance(event, Hangup):
                return

    async def hang_up(self, reason: str) -> None:
        self.hangups.append(reason)
        self.queue.put_nowait(Hangup(reason, by_remote=False))

    def post(self, event: LegEvent) -> None:
        self.queue.put_nowait(event)


async def settle(rounds: int = 10) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def press(leg: EntryLeg, digits: str, clock: FakeClock, step: float = 0.3,
                source: str = "rfc4733") -> None:
    for d in digits:
        leg.post(Dtmf(d, 100, source))
        await settle()
        clock.t += step


def inband(conference: Conference, leg: EntryLeg, digit: str) -> None:
    """What the mixer raises when it hears the tones in the leg's audio."""
    event = TonesDetected(leg.id, Dtmf(digit, 100, "inband"))
    conference.deliver(MixOutputs(0, (), (event,)))


async def tick(conference: Conference, n: int = 1) -> None:
    for _ in range(n):
        conference.deliver(conference.mix(conference.collect()))
        await settle(3)


def view(conference: Conference, leg: EntryLeg):
    return next(v for v in conference.views() if v.id == leg.id)


def mixer_entry(conference: Conference, leg: EntryLeg):
    """The mixer's snapshot of one leg (isolated, mute_in) as the next tick sees it."""
    return next(e for e in conference.mixer.collect().entries if e.state.id == leg.id)


def make(
    access: Access | None = None,
    *,
    policy: RoomPolicy | None = None,
    clock: FakeClock | None = None,
    left: list | None = None,
    attendant: bool = False,
    **services: object,
) -> tuple[Conference, FakeClock]:
    clock = clock or FakeClock()
    entry = EntryServices(clock=clock, **services)  # type: ignore[arg-type]
    numeric_id = access.numeric_id if access else "1000"
    conference = Conference(
        numeric_id, "Test", MixerSettings(), None,  # type: ignore[arg-type]
        (lambda conf, leg, why: left.append(leg.id)) if left is not None
        else (lambda c, leg, why: None),
        access=access, policy=policy, entry=entry, attendant=attendant,
    )
    return conference, clock


def sequence_frames(*names: str, gap_ms: int = 300) -> int:
    samples = sum(load_prompt(n).size for n in names) + (len(names) - 1) * 48 * gap_ms
    return math.ceil(samples / FRAME_SAMPLES)


# ---- the PIN lobby -------------------------------------------------------------------


async def test_pin_conference_puts_a_joiner_in_the_lobby_then_connects_it() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    leg = EntryLeg("a")
    conference.join(leg)
    v = view(conference, leg)
    assert (v.state, v.role, v.display_name, v.remote) == ("lobby", None, "Caller a", leg.remote)
    participant = conference.participants["a"]
    assert participant.player.playing  # "enter PIN"
    assert mixer_entry(conference, leg).isolated
    await press(leg, PIN + "#", clock)
    v = view(conference, leg)
    assert (v.state, v.role) == ("connected", "participant")
    assert not participant.player.playing
    assert not mixer_entry(conference, leg).isolated
    assert leg.hangups == []
    await conference.close()
    assert leg.hangups == ["conference-ended"]
    assert conference.views() == []


async def test_conference_without_pin_connects_at_once() -> None:
    conference, _ = make()
    leg = EntryLeg("a")
    conference.join(leg)
    assert (view(conference, leg).state, view(conference, leg).role) == ("connected",
                                                                         "participant")
    await conference.close()


async def test_direct_entry_and_join_with_a_role() -> None:
    conference, _ = make(Access("1000", pin=PIN, guest_pin=GUEST_PIN))
    keyed, given = EntryLeg("k"), EntryLeg("r")
    conference.join(keyed, keyed=PIN)
    conference.join(given, role="guest")
    assert (view(conference, keyed).state, view(conference, keyed).role) == ("connected", "chair")
    assert (view(conference, given).state, view(conference, given).role) == ("connected", "guest")
    await conference.close()


async def test_lobby_caller_is_neither_heard_nor_hears_the_room() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    inside, lobby = EntryLeg("in", freq=1000.0), EntryLeg("lobby", freq=400.0)
    listener = EntryLeg("l")
    conference.join(inside, role="participant")
    conference.join(listener, role="participant")
    conference.join(lobby)
    await tick(conference, 30)
    assert band_db(listener.heard(20), 8000, 1000.0) > -25
    assert band_db(listener.heard(20), 8000, 400.0) < -55
    assert band_db(inside.heard(20), 8000, 400.0) < -55
    assert "lobby" not in conference.mixer.speakers
    await conference.close()


async def test_chair_and_guest() -> None:
    conference, clock = make(Access("1000", pin=PIN, guest_pin=GUEST_PIN))
    guest, chair = EntryLeg("g"), EntryLeg("c")
    conference.join(guest)
    await press(guest, GUEST_PIN + "#", clock)
    v = view(conference, guest)
    assert (v.state, v.role) == ("waiting", "guest")
    assert conference.participants["g"].player.playing  # waiting_for_chair, looping
    assert mixer_entry(conference, guest).isolated
    assert not conference.chairs_present()
    conference.join(chair)
    assert view(conference, chair).state == "lobby"
    assert view(conference, guest).state == "waiting"  # a lobby caller is no chair yet
    await press(chair, PIN + "#", clock)
    assert (view(conference, chair).state, view(conference, chair).role) == ("connected",
                                                                           "chair")
    assert (view(conference, guest).state, view(conference, guest).role) == ("connected",
                                                                           "guest")
    assert conference.chairs_present()
    assert not conference.participants["g"].player.playing
    assert not mixer_entry(conference, guest).isolated
    # A guest arriving now goes straight in.
    late = EntryLeg("late")
    conference.join(late)
    await press(late, GUEST_PIN + "#", clock)
    assert view(conference, late).state == "connected"
    await conference.close()


async def test_chair_leaving_ends_the_conference_when_the_policy_says_so() -> None:
    left: list[str] = []
    conference, clock = make(Access("1000", pin=PIN, guest_pin=GUEST_PIN),
                             policy=RoomPolicy(end_when_chair_leaves=True), left=left)
    chair, guest = EntryLeg("c"), EntryLeg("g")
    conference.join(chair, role="chair")
    conference.join(guest, role="guest")
    assert view(conference, guest).state == "connected"
    chair.post(Hangup("bye", by_remote=True))
    await settle(20)
    assert guest.hangups == ["chair-left"]
    assert chair.hangups == []  # it hung up itself
    assert conference.views() == []
    assert sorted(left) == ["c", "g"]
    await conference.close()


async def test_chair_leaving_without_the_policy_keeps_the_guests() -> None:
    conference, clock = make(Access("1000", pin=PIN, guest_pin=GUEST_PIN))
    chair, guest = EntryLeg("c"), EntryLeg("g")
    conference.join(chair, role="chair")
    conference.join(guest, role="guest")
    chair.post(Hangup("bye", by_remote=True))
    await settle(20)
    assert guest.hangups == []
    assert [v.id for v in conference.views()] == ["g"]
    await conference.close()


async def test_guests_without_audio_are_muted_in_the_mixer() -> None:
    conference, clock = make(Access("1000", pin=PIN, guest_pin=GUEST_PIN),
                             policy=RoomPolicy(guests_send_audio=False))
    chair, guest = EntryLeg("c", freq=1000.0), EntryLeg("g", freq=400.0)
    conference.join(chair, role="chair")
    conference.join(guest)
    await press(guest, GUEST_PIN + "#", clock)
    assert view(conference, guest).state == "connected"
    assert mixer_entry(conference, guest).mute_in
    assert not mixer_entry(conference, chair).mute_in
    assert view(conference, guest).muted is False  # a policy, not a mute someone set
    await tick(conference, 30)
    assert band_db(chair.heard(20), 8000, 400.0) < -55
    assert band_db(guest.heard(20), 8000, 1000.0) > -25  # guests still listen
    # Unmuting from the web control does not override the policy.
    conference.set_muted("g", False)
    assert mixer_entry(conference, guest).mute_in
    await conference.close()


async def test_guests_without_audio_are_muted_when_a_chair_releases_them() -> None:
    conference, clock = make(Access("1000", pin=PIN, guest_pin=GUEST_PIN),
                             policy=RoomPolicy(guests_send_audio=False))
    guest, chair = EntryLeg("g"), EntryLeg("c")
    conference.join(guest, role="guest")
    assert view(conference, guest).state == "waiting"
    conference.join(chair, role="chair")
    assert view(conference, guest).state == "connected"
    assert mixer_entry(conference, guest).mute_in
    await conference.close()


# ---- the web control -----------------------------------------------------------------


async def test_admit_from_lobby() -> None:
    conference, _ = make(Access("1000", pin=PIN))
    leg, inside = EntryLeg("a"), EntryLeg("b")
    conference.join(leg)
    conference.join(inside, role="participant")
    assert conference.admit_from_lobby("nobody") is False
    assert conference.admit_from_lobby("b") is False  # not in the lobby
    assert conference.admit_from_lobby("a") is True
    assert (view(conference, leg).state, view(conference, leg).role) == ("connected",
                                                                       "participant")
    assert not mixer_entry(conference, leg).isolated
    assert conference.participants["a"].entry is None
    assert conference.admit_from_lobby("a") is False
    await conference.close()


async def test_admit_from_lobby_with_a_guest_pin_admits_a_guest() -> None:
    conference, _ = make(Access("1000", pin=PIN, guest_pin=GUEST_PIN))
    leg = EntryLeg("a")
    conference.join(leg)
    assert conference.admit_from_lobby("a") is True
    assert (view(conference, leg).state, view(conference, leg).role) == ("waiting", "guest")
    await conference.close()


async def test_admit_from_lobby_is_refused_in_the_attendant() -> None:
    conference, _ = make(Access("0"), attendant=True)
    leg = EntryLeg("a")
    conference.join(leg)
    assert view(conference, leg).state == "lobby"
    assert conference.admit_from_lobby("a") is False
    await conference.close()


async def test_drop() -> None:
    left: list[str] = []
    conference, _ = make(Access("1000", pin=PIN), left=left)
    lobby, inside = EntryLeg("a"), EntryLeg("b")
    conference.join(lobby)
    conference.join(inside, role="participant")
    assert conference.drop("ghost") is False
    assert conference.drop("a") is True
    assert conference.drop("b") is True
    await settle(20)
    assert lobby.hangups == ["dropped"] and inside.hangups == ["dropped"]
    assert conference.views() == [] and sorted(left) == ["a", "b"]
    assert "a" not in conference.mixer and "b" not in conference.mixer
    await conference.close()


async def test_set_muted() -> None:
    conference, _ = make()
    talker, listener = EntryLeg("t", freq=1000.0), EntryLeg("l")
    conference.join(talker)
    conference.join(listener)
    assert conference.set_muted("ghost", True) is False
    assert conference.set_muted("t", True) is True
    assert view(conference, talker).muted and mixer_entry(conference, talker).mute_in
    await tick(conference, 20)
    assert band_db(listener.heard(10), 8000, 1000.0) < -55
    assert conference.set_muted("t", False) is True
    assert not view(conference, talker).muted and not mixer_entry(conference, talker).mute_in
    await tick(conference, 20)
    assert band_db(listener.heard(10), 8000, 1000.0) > -25
    await conference.close()


# ---- digits --------------------------------------------------------------------------


async def test_the_same_digit_from_rfc4733_and_inband_counts_once() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    leg = EntryLeg("a")
    conference.join(leg)
    for d in PIN:
        leg.post(Dtmf(d, 100, "rfc4733"))
        await settle()
        clock.t += 0.2
        inband(conference, leg, d)  # the tones, detected 200 ms later
        clock.t += 0.2
    await press(leg, "#", clock)
    assert view(conference, leg).state == "connected"
    assert conference.participants["a"].merger.duplicates == 4
    await conference.close()


async def test_inband_before_rfc4733_counts_once_too() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    leg = EntryLeg("a")
    conference.join(leg)
    for d in PIN:
        inband(conference, leg, d)
        clock.t += 0.4
        await press(leg, d, clock)
    inband(conference, leg, "#")
    assert view(conference, leg).state == "connected"
    await conference.close()


async def test_the_same_digit_outside_the_window_is_a_second_press() -> None:
    conference, clock = make(Access("1000", pin="11"))
    leg = EntryLeg("a")
    conference.join(leg)
    await press(leg, "1", clock, step=0.0)
    clock.t += 0.6
    inband(conference, leg, "1")
    await press(leg, "#", clock)
    assert view(conference, leg).state == "connected"
    await conference.close()


async def test_pin_keyed_inband_on_a_leg_without_telephone_events() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    audio = signals.sequence(PIN + "#", 8000, on_ms=80, off_ms=80)
    leg = EntryLeg("a", pcm=audio, dtmf_events=False)
    conference.join(leg)
    for _ in range(80):
        await tick(conference)
        clock.t += 0.02
        if view(conference, leg).state == "connected":
            break
    assert (view(conference, leg).state, view(conference, leg).role) == ("connected",
                                                                       "participant")
    await conference.close()


async def test_inband_detection_is_off_for_legs_with_telephone_events() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    audio = signals.sequence(PIN + "#", 8000, on_ms=80, off_ms=80)
    leg = EntryLeg("a", pcm=audio, dtmf_events=True)
    conference.join(leg)
    await tick(conference, 80)
    assert view(conference, leg).state == "lobby"
    await conference.close()


async def test_inband_always_mode_detects_on_every_leg() -> None:
    conference, clock = make(Access("1000", pin=PIN),
                             settings=EntrySettings(inband_dtmf="always"))
    audio = signals.sequence(PIN + "#", 8000, on_ms=80, off_ms=80)
    leg = EntryLeg("a", pcm=audio, dtmf_events=True)
    conference.join(leg)
    await tick(conference, 80)
    assert view(conference, leg).state == "connected"
    await conference.close()


async def test_star_six_toggles_mute_for_a_connected_participant() -> None:
    conference, clock = make()
    leg = EntryLeg("a")
    conference.join(leg)
    await press(leg, "*6", clock)
    assert view(conference, leg).muted and mixer_entry(conference, leg).mute_in
    await press(leg, "*6", clock)
    assert not view(conference, leg).muted and not mixer_entry(conference, leg).mute_in
    await press(leg, "6", clock)  # alone: nothing
    assert not view(conference, leg).muted
    await conference.close()


async def test_star_six_in_the_lobby_is_part_of_the_pin_not_a_command() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    leg = EntryLeg("a")
    conference.join(leg)
    await press(leg, "*6", clock)
    assert not view(conference, leg).muted
    assert view(conference, leg).state == "lobby"
    await conference.close()


async def test_layout_keys_step_the_participant_layout() -> None:
    from layouts.registry import available_layouts

    names = available_layouts()
    conference, clock = make()
    leg = EntryLeg("a")
    conference.join(leg)
    await press(leg, "8", clock)
    assert conference.participants["a"].layout == names[1 % len(names)]
    await press(leg, "2", clock)
    assert conference.participants["a"].layout == names[0]
    await conference.close()


async def test_layout_keys_ignored_without_layout_control() -> None:
    conference, clock = make(policy=RoomPolicy(participant_layout_control=False))
    leg = EntryLeg("a")
    conference.join(leg)
    await press(leg, "88", clock)
    assert conference.participants["a"].layout is None
    await conference.close()


async def test_other_leg_events_are_harmless() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    leg = EntryLeg("a")
    conference.join(leg)
    leg.post(HoldChanged(True))
    await press(leg, PIN + "#", clock)
    assert view(conference, leg).state == "connected"
    await conference.close()


# ---- ending calls from the lobby ----------------------------------------------------


async def test_three_wrong_pins_hang_up_once_the_goodbye_has_played() -> None:
    left: list[str] = []
    conference, clock = make(Access("1000", pin=PIN), left=left)
    leg = EntryLeg("a")
    conference.join(leg)
    await press(leg, "1#2#3#", clock)
    player = conference.participants["a"].player
    assert player.playing
    expected = sequence_frames("wrong_pin", "goodbye")
    ticks = 0
    while not leg.hangups and ticks < expected + 50:
        assert player.playing, ticks  # never cut off mid-goodbye
        await tick(conference)
        ticks += 1
    assert leg.hangups == ["wrong-pin"]
    assert abs(ticks - expected) <= 1
    await settle(10)
    assert left == ["a"] and conference.views() == []
    await tick(conference, 5)
    assert leg.hangups == ["wrong-pin"]  # once
    await conference.close()


async def test_silence_hangs_up_after_the_allowed_timeouts() -> None:
    conference, clock = make(Access("1000", pin=PIN),
                             settings=EntrySettings(digit_timeout_s=5.0, timeouts_allowed=1))
    leg = EntryLeg("a")
    conference.join(leg)
    clock.t += 4.9
    await tick(conference)
    assert view(conference, leg).state == "lobby"
    clock.t += 0.1
    await tick(conference)  # first timeout: asked again
    assert leg.hangups == []
    clock.t += 5.0
    await tick(conference)  # second: goodbye
    assert conference.participants["a"].hangup_reason == "entry-timeout"
    await tick(conference, sequence_frames("timeout", "goodbye") + 2)
    assert leg.hangups == ["entry-timeout"]
    await conference.close()


async def test_a_lobby_timeout_plays_the_timeout_prompt() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    leg = EntryLeg("a")
    conference.join(leg)
    clock.t += 10.0
    await tick(conference)  # the timer fires in deliver; the new prompt starts next tick
    player = conference.participants["a"].player
    frames = 25
    heard = np.concatenate([player.next_frame() for _ in range(frames)])
    assert np.array_equal(heard, load_prompt("timeout")[: frames * FRAME_SAMPLES])
    await conference.close()


async def test_lockout_reports_and_hangs_up_with_pin_locked() -> None:
    locked: list[tuple[Locked, str]] = []
    conference, clock = make(
        Access("1000", pin=PIN), guard=PinGuard(GuardSettings(max_failures=2)),
        on_locked=lambda lock, remote: locked.append((lock, remote)),
        settings=EntrySettings(pin_attempts=5),
    )
    leg = EntryLeg("a", remote="198.51.100.7:5062")
    conference.join(leg)
    await press(leg, "1#2#3#", clock)
    assert len(locked) == 1
    lock, remote = locked[0]
    assert (lock.lock.scope, lock.lock.key, remote) == ("source", "198.51.100.7",
                                                        "198.51.100.7:5062")
    assert conference.participants["a"].hangup_reason == "pin-locked"
    await tick(conference, sequence_frames("locked", "goodbye") + 2)
    assert leg.hangups == ["pin-locked"]
    # The same host from another port, right PIN: turned away.
    again = EntryLeg("b", remote="198.51.100.7:6000")
    conference.join(again)
    await press(again, PIN + "#", clock)
    assert view(conference, again).state == "lobby"
    assert conference.participants["b"].hangup_reason == "pin-locked"
    await conference.close()


async def test_attendant_hands_the_caller_over_with_its_role() -> None:
    other = Access("2000", pin="9999")
    transfers: list[tuple[Conference, str, Enter]] = []
    conference, clock = make(
        Access("0"), attendant=True,
        lookup=lambda nid: other if nid == "2000" else Refuse(RefuseCause.NOT_FOUND, "Not Found"),
        on_transfer=lambda room, leg, enter: transfers.append((room, leg.id, enter)),
    )
    leg = EntryLeg("a")
    conference.join(leg)
    await press(leg, "7#", clock)  # unknown: asked again
    assert view(conference, leg).state == "lobby" and transfers == []
    await press(leg, "2000#9999#", clock)
    assert transfers == [(conference, "a", Enter(other, "participant"))]
    assert view(conference, leg).state == "lobby"  # moving it is the caller's job
    await conference.close()


async def test_say_goodbye_ends_a_lobby_call_after_the_prompt() -> None:
    conference, clock = make(Access("1000", pin=PIN))
    leg = EntryLeg("a")
    conference.join(leg)
    conference.say_goodbye("a", "conference-full")
    await press(leg, PIN + "#", clock)  # the entry is over: digits do nothing
    assert view(conference, leg).state == "lobby"
    await tick(conference, sequence_frames("goodbye") + 2)
    assert leg.hangups == ["conference-full"]
    await conference.close()
