"""A running conference: its participants, their events, and its audio mixer clock.

The conference owns one ``AudioMixer`` and the drift-free clock that ticks it. The
clock runs only while someone is in the room. Each participant's Leg events are
consumed by one task; a ``Hangup`` takes the participant out of the mixer between
two ticks, so nobody else's audio skips.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from gateway.leg import Dtmf, Hangup, HoldChanged, Leg
from gateway.log import log_event
from mcu.mixer.audio import ActiveSpeakerChanged, AudioMixer, MixOutputs
from mcu.mixer.clock import MixClock
from mcu.settings import MixerSettings

log = logging.getLogger("mcu.conference")


@dataclass(slots=True)
class Participant:
    leg: Leg
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)


class Conference:
    def __init__(
        self,
        numeric_id: str,
        name: str,
        mixer_settings: MixerSettings,
        executor: Executor,
        on_leave: Callable[[Conference, Leg], None] = lambda conference, leg: None,
    ):
        self.numeric_id = numeric_id
        self.name = name
        self.mixer = AudioMixer(mixer_settings)
        self._clock = MixClock(self, executor=executor)
        self.active_speaker: str | None = None
        self._on_leave = on_leave
        self.participants: dict[str, Participant] = {}

    def join(self, leg: Leg) -> None:
        self.mixer.add(leg)
        participant = Participant(leg)
        self.participants[leg.id] = participant
        participant.watcher = asyncio.get_running_loop().create_task(self._watch(leg))
        if not self._clock.running:
            self._clock.start()  # runs until close(): an empty static room ticks cheaply
        log_event(log, "conference.join", conference=self.numeric_id, leg=leg.id,
                  name=leg.display_name, remote=leg.remote,
                  codec=leg.audio_format.name if leg.audio_format else None,
                  participants=len(self.participants))

    def leave(self, leg_id: str) -> None:
        participant = self.participants.pop(leg_id, None)
        if participant is None:
            return
        self.mixer.remove(leg_id)
        if participant.watcher and participant.watcher is not asyncio.current_task():
            participant.watcher.cancel()
        log_event(log, "conference.leave", conference=self.numeric_id, leg=leg_id,
                  participants=len(self.participants))
        self._on_leave(self, participant.leg)

    async def close(self, reason: str = "conference-ended") -> None:
        """Hang up everyone (BYE) and stop the clock."""
        legs = [p.leg for p in self.participants.values()]
        await asyncio.gather(*(leg.hang_up(reason) for leg in legs), return_exceptions=True)
        for leg in legs:
            self.leave(leg.id)
        await self._clock.stop()

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
                log_event(log, "conference.speaker", conference=self.numeric_id,
                          leg=event.leg_id)

    async def _watch(self, leg: Leg) -> None:
        async for event in leg.events():
            if isinstance(event, Hangup):
                self.leave(leg.id)
                return
            if isinstance(event, HoldChanged):
                log_event(log, "conference.hold", conference=self.numeric_id, leg=leg.id,
                          on_hold=event.on_hold)
            elif isinstance(event, Dtmf):
                log_event(log, "conference.dtmf", conference=self.numeric_id, leg=leg.id,
                          source=event.source)
