"""One camera's connection decisions, sans-IO: times and outcomes in; the transport
of the next attempt, when to give up on one, the state and how long to wait out.

The gateway's shell (``gateway.py``) runs one attempt at a time (RTSP DESCRIBE, SETUP,
PLAY, media) and asks this core, every tick, whether to end it; it reads no clock.

- ``auto`` tries UDP; PLAYing with no RTP packet for ``udp_fallback_s`` (a firewall or
  NAT eats it) ends the attempt as a fallback: the next one, at once, and every one
  after it, use TCP interleaved.
- A live camera silent for ``media_timeout_s`` is ``offline`` (stalled), and so is one
  that PLAYs but never sends (over TCP, or UDP without ``auto``).
- A retryable failure (refused, dropped, closed, stalled) waits a capped exponential
  backoff with jitter; one that retrying soon cannot fix (wrong credentials, a codec
  we cannot depacketize) is ``failed`` and waits the cap. Going live resets it.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass

from .backoff import Backoff
from .settings import RtspSettings

STATES = ("connecting", "live", "offline", "failed")


@dataclass(frozen=True, slots=True)
class StateChange:
    state: str
    reason: str


class CameraCore:
    def __init__(self, settings: RtspSettings,
                 random: Callable[[], float] = _random.random) -> None:
        self.settings = settings
        self.backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s, random)
        self.state = "connecting"
        self.reason = ""
        self.transport = "tcp" if settings.transport == "tcp" else "udp"  # of this attempt
        self._tcp_only = settings.transport == "tcp"
        self._playing_at: float | None = None
        self._last_packet: float | None = None
        self._changes: list[StateChange] = []
        self.counters = {"attempts": 0, "reconnects": 0, "udp_fallbacks": 0, "stalls": 0,
                         "failures": 0}

    # ---- inputs -------------------------------------------------------------------------

    def begin(self, now: float) -> str:
        """A new attempt starts: the transport it uses ("udp" or "tcp")."""
        if self.counters["attempts"]:
            self.counters["reconnects"] += 1
        self.counters["attempts"] += 1
        self.transport = "tcp" if self._tcp_only else "udp"
        self._playing_at = self._last_packet = None
        return self.transport

    def playing(self, now: float) -> None:
        self._playing_at = now

    def media(self, last_received: float | None, now: float) -> None:
        """The newest packet's arrival time (None: none yet) of this attempt's stream."""
        if last_received is None or self._playing_at is None:
            return
        if self._last_packet is None or last_received > self._last_packet:
            self._last_packet = last_received
            if self.state != "live":
                self.backoff.reset()
                self._set("live", "")

    def check(self, now: float) -> str | None:
        """Whether to end this attempt now: "fallback" (auto: UDP brought nothing, set
        up again over TCP at once), "stalled" (media stopped or never came), or None."""
        if self._playing_at is None:
            return None
        if self._last_packet is None:
            waited = now - self._playing_at
            if self.transport == "udp" and self.settings.transport == "auto":
                if waited < self.settings.udp_fallback_s:
                    return None
                self._tcp_only = True
                self.counters["udp_fallbacks"] += 1
                return "fallback"
            if waited >= self.settings.media_timeout_s:
                self.counters["stalls"] += 1
                return "stalled"
            return None
        if now - self._last_packet >= self.settings.media_timeout_s:
            self.counters["stalls"] += 1
            return "stalled"
        return None

    def transport_refused(self) -> bool:
        """The camera answered SETUP over UDP with 461 Unsupported Transport: under
        ``auto`` that is a fallback to TCP at once (True), else a failure."""
        if self.transport != "udp" or self.settings.transport != "auto":
            return False
        self._tcp_only = True
        self.counters["udp_fallbacks"] += 1
        return True

    def ended(self, reason: str, retryable: bool, now: float) -> float:
        """This attempt is over (``reason`` for people): seconds to wait before the next."""
        self._playing_at = None
        if reason == "fallback":
            return 0.0
        if not retryable:
            self.counters["failures"] += 1
            self._set("failed", reason)
            return self.backoff.capped()
        self._set("offline", reason)
        return self.backoff.next_delay()

    # ---- outputs ------------------------------------------------------------------------

    def changes(self) -> list[StateChange]:
        """State changes since the last call, each once (for the log)."""
        changes, self._changes = self._changes, []
        return changes

    def _set(self, state: str, reason: str) -> None:
        if (state, reason) != (self.state, self.reason):
            self.state, self.reason = state, reason
            self._changes.append(StateChange(state, reason))
