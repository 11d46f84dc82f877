"""A running conference: its participants, their entry, their events, its audio clock.

The conference owns one ``AudioMixer`` and one ``VideoMixer``, each with the
drift-free clock that ticks it (20 ms; one frame period). The clocks run from the
first join until the conference closes. It tells the video mixer what it decides:
who is connected, in the lobby or waiting, the active speaker, the important
participant, layouts and messages. Each participant's Leg events are
consumed by one task; a ``Hangup`` takes the participant out of the mixer between
two ticks, so nobody else's audio skips.

A participant is in one of three states (``mcu.live.ParticipantState``):

* ``lobby``: keying a conference ID (the auto attendant is a conference whose
  callers never leave the lobby) or a PIN. The mixer isolates the leg: it hears its
  prompts, and nothing it says reaches anyone.
* ``waiting``: a guest who arrived before any chairperson; isolated, hearing the
  waiting prompt now and then.
* ``connected``: in the mix.

Text a connected participant sends (``TextReceived``: SIP MESSAGE) goes to ``on_text``
(the MCU stores it in the conference chat); ``send_text`` sends chat text back to every
participant whose leg carries text.

Digits arrive in three forms (RFC 4733 and SIP INFO as Leg events, in-band tones as
mixer events) and pass one ``DtmfMerger`` per participant, so a press heard twice
counts once; then the lobby's ``EntrySession`` or the in-call ``KeyMap`` reads them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from gateway.dtmf.merge import DtmfMerger
from gateway.leg import (
    Dtmf,
    Hangup,
    HoldChanged,
    KeyFrameMethodRefused,
    KeyFrameRequest,
    Leg,
    Refuse,
    RefuseCause,
    TextLeg,
    TextReceived,
)
from gateway.log import log_event
from layouts.registry import LayoutRegistry
from mcu.keys import KeyMap
from mcu.live import ParticipantRole, ParticipantState, ParticipantView, VideoShape
from mcu.lobby import (
    Access,
    Action,
    EndCall,
    Enter,
    EntryRules,
    EntrySession,
    Locked,
    Lookup,
    PinFailed,
    Play,
)
from mcu.metrics import MixerCounts
from mcu.mixer.audio import ActiveSpeakerChanged, AudioMixer, MixOutputs, TonesDetected
from mcu.mixer.clock import MixClock
from mcu.mixer.video.mixer import WATCHING, VideoMixer, video_clock
from mcu.pinguard import PinGuard
from mcu.prompts import PromptPlayer
from mcu.settings import EntrySettings, MixerSettings, VideoSettings

log = logging.getLogger("mcu.conference")

HANGUP_PROMPT_LIMIT_S = 15.0
"""A hang-up waits for its goodbye prompt at most this long."""


@dataclass(frozen=True, slots=True)
class RoomPolicy:
    """How a conference treats its participants (from the store's conference row)."""

    end_when_chair_leaves: bool = False
    guests_send_audio: bool = True
    guests_send_video: bool = True
    participant_layout_control: bool = True
    layout: str | None = None  # the conference's video layout; None: the settings'


@dataclass(slots=True)
class EntryServices:
    """What every conference shares for endpoint entry (one per MCU)."""

    settings: EntrySettings = field(default_factory=EntrySettings)
    guard: PinGuard = field(default_factory=PinGuard)
    # The attendant's lookup of a keyed ID → Access.
    lookup: Lookup = lambda numeric_id: Refuse(RefuseCause.NOT_FOUND, "no lookup")
    on_locked: Callable[[Locked, str], None] = lambda locked, remote: None
    on_transfer: Callable[[Conference, Leg, Enter], None] = lambda room, leg, enter: None
    clock: Callable[[], float] = time.monotonic

    @property
    def rules(self) -> EntryRules:
        s = self.settings
        return EntryRules(pin_attempts=s.pin_attempts, digit_timeout_s=s.digit_timeout_s,
                          timeouts_allowed=s.timeouts_allowed, max_digits=s.max_digits)


@dataclass(slots=True)
class Participant:
    leg: Leg
    keys: KeyMap
    state: ParticipantState = "connected"
    role: ParticipantRole | None = "participant"
    entry: EntrySession | None = None
    player: PromptPlayer = field(default_factory=PromptPlayer)
    merger: DtmfMerger = field(default_factory=DtmfMerger)
    muted: bool = False  # by the web control or *6
    layout: str | None = None  # the participant's own layout choice (keys 2/8)
    hangup_reason: str | None = None  # hang up once the queued prompts have played
    hangup_at: float = 0.0
    message: str | None = None  # text over this participant's picture (web control)
    name: str | None = None  # shown instead of the call's display name (control hook)
    video_format: VideoShape = "widescreen"
    panes: list[str | None] | None = None  # custom layout: who in which cell
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)

    def view(self, speaking: bool, important: bool, everyone: str | None) -> ParticipantView:
        return ParticipantView(self.leg.id, self.name or self.leg.display_name, self.leg.remote,
                               self.state, self.role, self.muted, speaking, important,
                               self.layout, self.message or everyone, self.video_format,
                               self.leg.protocol, bool(getattr(self.leg, "encrypted", False)))


class Conference:
    def __init__(
        self,
        numeric_id: str,
        name: str,
        mixer_settings: MixerSettings,
        executor: Executor,
        on_leave: Callable[[Conference, Leg, str], None] = lambda conference, leg, why: None,
        *,
        access: Access | None = None,
        policy: RoomPolicy | None = None,
        entry: EntryServices | None = None,
        attendant: bool = False,
        video: VideoSettings | None = None,
        video_pool: Executor | None = None,
        layouts: LayoutRegistry | None = None,
        on_text: Callable[[Conference, Leg, str], None] = lambda conference, leg, text: None,
        on_keypad: Callable[[Conference, Leg, str], None] = lambda conference, leg, action: None,
        relay: bool = False,
    ):
        self.numeric_id = numeric_id
        # Text a connected participant sent (SIP MESSAGE): the MCU puts it in the chat.
        self.on_text = on_text
        # Keypad commands the MCU carries out beyond this conference (recording).
        self.on_keypad = on_keypad
        self.name = name
        self.access = access or Access(numeric_id)
        self.attendant = attendant  # the auto attendant's menu room
        # A two-party gateway call (issue 13): media passes through where codecs match.
        self.relay = relay
        self.mixer = AudioMixer(mixer_settings, relay=relay)
        self._clock = MixClock(self, executor=executor)
        self.layouts = layouts or (video.layout_registry() if video else LayoutRegistry())
        self.video: VideoMixer | None = None
        self._video_clock: MixClock | None = None
        if video is not None and video.enabled:
            self.video = VideoMixer(video, video_pool or executor, self.layouts, relay=relay)
            self._video_clock = video_clock(self.video)
        self._entry = entry or EntryServices()
        self.active_speaker: str | None = None
        self._on_leave = on_leave
        self.participants: dict[str, Participant] = {}
        self.ended = False  # closed (ended by an operator or the schedule) since its last join
        self._ending: asyncio.Task[None] | None = None
        # Chosen by the web control; the video mixer reads them (issue 4).
        self.important: str | None = None
        self.message: str | None = None  # text over everyone's picture
        self.policy = policy or RoomPolicy()

    @property
    def policy(self) -> RoomPolicy:
        return self._policy

    @policy.setter
    def policy(self, policy: RoomPolicy) -> None:
        """New settings from the store apply at once (layout, guests' video)."""
        self._policy = policy
        if self.video is not None:
            self.video.set_conference_layout(policy.layout)
            for participant in self.participants.values():
                self._apply_video_mute(participant)

    # ---- joining and leaving

    def join(self, leg: Leg, *, keyed: str = "", role: ParticipantRole | None = None) -> None:
        """A leg arrives: through the lobby, or straight in as ``role`` (already keyed
        its PIN at the attendant)."""
        self.ended = False  # a conference ended by an operator opens again with a call
        self.mixer.add(leg)
        if self.video is not None:
            self.video.add(leg)
        participant = Participant(leg, KeyMap(self._entry.settings.keys))
        self.participants[leg.id] = participant
        self._watch_tones(leg)
        participant.watcher = asyncio.get_running_loop().create_task(self._watch(participant))
        if not self._clock.running:
            self._clock.start()  # runs until close(): an empty static room ticks cheaply
        if self._video_clock is not None and not self._video_clock.running:
            self._video_clock.start()
        log_event(log, "conference.join", conference=self.numeric_id, leg=leg.id,
                  name=leg.display_name, remote=leg.remote,
                  codec=leg.audio_format.name if leg.audio_format else None,
                  participants=len(self.participants))
        if role is not None:
            self._admit(participant, role)
        elif self.attendant or self.access.needs_pin:
            self._enter_lobby(participant, keyed)
        else:
            self._admit(participant, "participant")

    def add_watcher(self, leg: Leg) -> None:
        """A stream's watchers (issue 15) as one leg: it gets the common picture and the
        whole mix, and is no participant (not listed, counted, shown or heard)."""
        self.mixer.add(leg)
        if self.video is not None:
            self.video.add(leg)
            self.video.set_state(leg.id, WATCHING)

    def remove_watcher(self, leg_id: str) -> None:
        self.mixer.remove(leg_id)
        if self.video is not None:
            self.video.remove(leg_id)

    def request_keyframe(self, leg_id: str) -> None:
        """A key frame in what ``leg_id`` receives (a stream starts a segment with one)."""
        if self.video is not None:
            self.video.keyframe_requested(leg_id)

    def leave(self, leg_id: str, reason: str = "left") -> None:
        participant = self.participants.pop(leg_id, None)
        if participant is None:
            return
        self.mixer.remove(leg_id)
        if self.video is not None:
            self.video.remove(leg_id)
        if participant.watcher and participant.watcher is not asyncio.current_task():
            participant.watcher.cancel()
        if self.important == leg_id:
            self.important = None
        log_event(log, "conference.leave", conference=self.numeric_id, leg=leg_id,
                  participants=len(self.participants))
        self._on_leave(self, participant.leg, reason)
        if participant.role == "chair" and participant.state == "connected":
            self._chair_left()

    async def close(self, reason: str = "conference-ended") -> None:
        """Hang up everyone (BYE) and stop the clock."""
        self.ended = True  # its streams and recordings end too (mcu.streaming)
        legs = [p.leg for p in self.participants.values()]
        await asyncio.gather(*(leg.hang_up(reason) for leg in legs), return_exceptions=True)
        for leg in legs:
            self.leave(leg.id, reason)
        await self._clock.stop()
        if self._video_clock is not None:
            await self._video_clock.stop()

    # ---- what the web control asks (mcu.live.LiveControl, per conference)

    def views(self) -> list[ParticipantView]:
        speaking = set(self.mixer.speakers)
        return [p.view(p.leg.id in speaking, p.leg.id == self.important, self.message)
                for p in self.participants.values()]

    def admit_from_lobby(self, leg_id: str) -> bool:
        participant = self.participants.get(leg_id)
        if participant is None or participant.state != "lobby" or self.attendant:
            return False
        self._admit(participant, "guest" if self.access.guest_pin else "participant")
        return True

    def drop(self, leg_id: str) -> bool:
        participant = self.participants.get(leg_id)
        if participant is None:
            return False
        asyncio.get_running_loop().create_task(participant.leg.hang_up("dropped"))
        return True

    def set_muted(self, leg_id: str, muted: bool) -> bool:
        participant = self.participants.get(leg_id)
        if participant is None:
            return False
        participant.muted = muted
        self._apply_mute(participant)
        log_event(log, "conference.mute", conference=self.numeric_id, leg=leg_id, muted=muted)
        return True

    def say_goodbye(self, leg_id: str, reason: str) -> None:
        """End a caller's call after the goodbye prompt (e.g. the attendant's target
        conference turned out to be full)."""
        participant = self.participants.get(leg_id)
        if participant is not None:
            participant.entry = None
            self._apply(participant, [Play(("goodbye",)), EndCall(reason)])

    def set_important(self, leg_id: str, important: bool) -> bool:
        if leg_id not in self.participants:
            return False
        if important:
            self.important = leg_id
        elif self.important == leg_id:
            self.important = None
        if self.video is not None:
            self.video.important = self.important
        return True

    def set_layout(self, leg_id: str, layout: str | None) -> bool:
        """Raises ValueError for a layout name ``layouts`` does not know."""
        if layout is not None and layout not in self.layouts:
            raise ValueError(f"unknown layout {layout!r}")
        participant = self.participants.get(leg_id)
        if participant is None:
            return False
        participant.layout = layout
        if self.video is not None:
            self.video.set_layout(leg_id, layout)
        return True

    def set_panes(self, leg_id: str, panes: list[str | None] | None) -> bool:
        """The participant's custom layout: who they see in which cell of their layout
        (None entries, or None for all: the usual order)."""
        participant = self.participants.get(leg_id)
        if participant is None:
            return False
        participant.panes = panes or None
        if self.video is not None:
            self.video.set_panes(leg_id, participant.panes)
        return True

    def set_video_format(self, leg_id: str, shape: VideoShape) -> bool:
        participant = self.participants.get(leg_id)
        if participant is None:
            return False
        participant.video_format = shape
        if self.video is not None:
            self.video.set_shape(leg_id, shape)
        return True

    def send_message(self, leg_id: str | None, text: str) -> bool:
        """Text over one participant's picture, or everyone's (``None``); "" clears."""
        if leg_id is None:
            self.message = text or None
        else:
            participant = self.participants.get(leg_id)
            if participant is None:
                return False
            participant.message = text or None
        if self.video is not None:
            self.video.set_message(leg_id, text or None)
        return True

    def send_text(self, text: str, exclude: str | None = None) -> int:
        """Text (the conference chat) to every connected participant whose call carries
        text (``TextLeg``: SIP MESSAGE), but `exclude`; returns how many it went to."""
        sent = 0
        for participant in list(self.participants.values()):
            leg = participant.leg
            if participant.state != "connected" or leg.id == exclude:
                continue
            if isinstance(leg, TextLeg) and leg.send_text(text):
                sent += 1
        return sent

    def rename(self, leg_id: str, name: str | None) -> bool:
        """Show ``name`` for a participant (its video label too); None: the call's own."""
        participant = self.participants.get(leg_id)
        if participant is None:
            return False
        participant.name = name or None
        if self.video is not None:
            self.video.set_name(leg_id, participant.name or participant.leg.display_name)
        return True

    def chairs_present(self) -> bool:
        return any(p.role == "chair" and p.state == "connected"
                   for p in self.participants.values())

    def mixer_counts(self) -> dict[str, MixerCounts]:
        """What the audio (and video) mixer's clock has done and the encoders each runs
        now, for the metrics (read-only)."""
        counts = {"audio": _counts(self._clock, self.mixer.encoders, self.mixer.relayed)}
        if self.video is not None and self._video_clock is not None:
            counts["video"] = _counts(self._video_clock, self.video.streams,
                                      int(self.video.counters["relayed"]))
        return counts

    # ---- entry

    def _set_state(self, participant: Participant, state: ParticipantState) -> None:
        participant.state = state
        if self.video is not None:
            self.video.set_state(participant.leg.id, state)

    def _enter_lobby(self, participant: Participant, keyed: str) -> None:
        self._set_state(participant, "lobby")
        participant.role = None
        self.mixer.isolate(participant.leg.id, participant.player)
        participant.entry = EntrySession(
            source=_host(participant.leg.remote), lookup=self._entry.lookup,
            guard=self._entry.guard, rules=self._entry.rules,
            target=None if self.attendant else self.access, keyed=keyed,
        )
        self._apply(participant, participant.entry.start(self._entry.clock()))

    def _apply(self, participant: Participant, actions: list[Action]) -> None:
        leg = participant.leg
        for action in actions:
            match action:
                case Play(prompts=prompts):
                    participant.player.play(*prompts)
                case PinFailed(conference=conference, attempt=attempt):
                    log_event(log, "entry.pin_failed", level=logging.WARNING,
                              conference=conference, leg=leg.id, remote=leg.remote,
                              attempt=attempt)
                case Locked():
                    log_event(log, "entry.locked", level=logging.WARNING,
                              conference=self.numeric_id, remote=leg.remote,
                              scope=action.lock.scope)
                    self._entry.on_locked(action, leg.remote)
                case EndCall(reason=reason):
                    participant.hangup_reason = reason
                    participant.hangup_at = self._entry.clock() + HANGUP_PROMPT_LIMIT_S
                case Enter(access=access, role=role):
                    participant.entry = None
                    if access.numeric_id == self.numeric_id and not self.attendant:
                        self._admit(participant, role)
                    else:
                        self._entry.on_transfer(self, leg, action)

    def _admit(self, participant: Participant, role: ParticipantRole) -> None:
        participant.entry, participant.role = None, role
        if role == "guest" and not self.chairs_present():
            self._set_state(participant, "waiting")
            participant.player.play("waiting_for_chair", loop=True)
            self.mixer.isolate(participant.leg.id, participant.player)
        else:
            self._connect(participant)
        log_event(log, "conference.admitted", conference=self.numeric_id,
                  leg=participant.leg.id, role=role, state=participant.state)
        if role == "chair":
            for waiting in [p for p in self.participants.values() if p.state == "waiting"]:
                self._connect(waiting)

    def _connect(self, participant: Participant) -> None:
        self._set_state(participant, "connected")
        participant.player.stop()
        self.mixer.isolate(participant.leg.id, None)
        self._apply_mute(participant)
        self._apply_video_mute(participant)

    def _apply_video_mute(self, participant: Participant) -> None:
        if self.video is not None:
            hidden = participant.role == "guest" and not self.policy.guests_send_video
            self.video.set_muted(participant.leg.id, hidden)

    def _apply_mute(self, participant: Participant) -> None:
        silenced_guest = participant.role == "guest" and not self.policy.guests_send_audio
        self.mixer.set_mute_in(participant.leg.id, participant.muted or silenced_guest)

    def _chair_left(self) -> None:
        if not self.policy.end_when_chair_leaves or self.chairs_present():
            return
        if self._ending is None or self._ending.done():
            log_event(log, "conference.chair_left", conference=self.numeric_id)
            self._ending = asyncio.get_running_loop().create_task(self.close("chair-left"))

    # ---- digits

    def _watch_tones(self, leg: Leg) -> None:
        """Listen for in-band keys where the peer sends no events; never in a gateway
        call, whose tones are for the far end (an IVR behind it) and reach it as sent."""
        mode = self._entry.settings.inband_dtmf
        wanted = not self.relay and (mode == "always" or (mode == "auto" and not leg.dtmf_events))
        self.mixer.detect_tones(leg.id, wanted)

    def _digit(self, participant: Participant, dtmf: Dtmf) -> None:
        now = self._entry.clock()
        if participant.merger.accept(dtmf, now) is None:
            return
        leg = participant.leg
        log_event(log, "conference.dtmf", conference=self.numeric_id, leg=leg.id,
                  source=dtmf.source, state=participant.state)
        if participant.entry is not None:
            self._apply(participant, participant.entry.digit(dtmf.digit, now))
        elif participant.state == "connected":
            self._key_command(participant, participant.keys.digit(dtmf.digit, now))

    def _key_command(self, participant: Participant, action: str | None) -> None:
        if action == "toggle_recording":
            # Where the conference allows it: one with a chairperson PIN, for its chairs.
            allowed = participant.role == "chair"
            log_event(log, "conference.keypad", conference=self.numeric_id,
                      leg=participant.leg.id, action=action, allowed=allowed)
            if allowed:
                self.on_keypad(self, participant.leg, action)
        elif action == "toggle_mute":
            self.set_muted(participant.leg.id, not participant.muted)
        elif action in ("next_layout", "previous_layout"):
            if not self.policy.participant_layout_control:
                return
            names = self.layouts.available_layouts()
            index = names.index(participant.layout) if participant.layout in names else 0
            step = 1 if action == "next_layout" else -1
            participant.layout = names[(index + step) % len(names)]
            if self.video is not None:
                self.video.set_layout(participant.leg.id, participant.layout)
            log_event(log, "conference.participant_layout", conference=self.numeric_id,
                      leg=participant.leg.id, layout=participant.layout)

    def _lobby_timers(self) -> None:
        """Entry timeouts and hang-ups waiting for their prompt; runs every tick."""
        now = self._entry.clock()
        for participant in list(self.participants.values()):
            if participant.entry is not None and participant.entry.deadline is not None:
                self._apply(participant, participant.entry.on_timer(now))
            reason = participant.hangup_reason
            if reason and (participant.player.finished() or not participant.player.playing
                           or now >= participant.hangup_at):
                participant.hangup_reason = None
                asyncio.get_running_loop().create_task(participant.leg.hang_up(reason))

    # The clock ticks the conference, which ticks its mixer and then reads the mixer's
    # events on the loop, so they never pile up.
    def collect(self) -> object:
        return self.mixer.collect()

    def mix(self, collected: object) -> MixOutputs:
        return self.mixer.mix(collected)  # type: ignore[arg-type]

    def deliver(self, outputs: MixOutputs) -> None:
        self.mixer.deliver(outputs)
        for event in self.mixer.events():
            if isinstance(event, ActiveSpeakerChanged):
                self.active_speaker = event.leg_id
                if self.video is not None:
                    self.video.speaker = event.leg_id
                log_event(log, "conference.speaker", conference=self.numeric_id,
                          leg=event.leg_id)
            elif isinstance(event, TonesDetected):
                participant = self.participants.get(event.leg_id)
                if participant is not None:
                    self._digit(participant, event.dtmf)
        self._lobby_timers()

    async def _watch(self, participant: Participant) -> None:
        leg = participant.leg
        async for event in leg.events():
            if isinstance(event, Hangup):
                self.leave(leg.id, event.reason)
                return
            if isinstance(event, HoldChanged):
                log_event(log, "conference.hold", conference=self.numeric_id, leg=leg.id,
                          on_hold=event.on_hold)
            elif isinstance(event, Dtmf):
                self._digit(participant, event)
            elif isinstance(event, KeyFrameRequest) and self.video is not None:
                self.video.keyframe_requested(leg.id)
            elif isinstance(event, KeyFrameMethodRefused) and self.video is not None:
                self.video.keyframe_method_refused(leg.id, event.method)
            elif isinstance(event, TextReceived) and participant.state == "connected":
                # Callers still in the lobby or waiting say nothing to the conference.
                self.on_text(self, leg, event.text)
            if self.participants.get(leg.id) is not participant:
                return  # moved to another conference (auto attendant): stop reading here


def _counts(clock: MixClock, encoders: int, relayed: int) -> MixerCounts:
    return MixerCounts(ticks=clock.ticks, overruns=clock.dropped, late=clock.late,
                       errors=clock.errors, encoders=encoders, relayed=relayed)


def _host(remote: str) -> str:
    """The address part of "ip:port" or "[v6]:port": what lockouts count by."""
    if remote.startswith("["):
        return remote[1:remote.find("]")]
    return remote.rsplit(":", 1)[0] if remote.count(":") == 1 else remote
