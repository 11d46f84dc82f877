"""RFC 4733 telephone-event decoder, sans-IO: payloads in, one Dtmf per key press out.

An event is identified by its RTP timestamp (section 2.5.1.2: every packet of one
event carries the event's start timestamp), so retransmitted starts, continuation
updates and the three redundant end packets all collapse onto one digit, and two
presses of the same key are still two events.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from gateway.leg import Dtmf

EVENT_DIGITS = "0123456789*#ABCD"  # RFC 4733 section 3.2 event codes 0-15
DEFAULT_TIMEOUT = 0.5  # s without a packet that finishes an event whose end was lost
RECENT_EVENTS = 16  # finished event timestamps remembered to ignore their stragglers


@dataclass(slots=True)
class _Event:
    timestamp: int
    code: int
    duration: int  # RTP ticks
    updated: float


class DtmfDecoder:
    def __init__(self, clock_rate: int = 8000, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.clock_rate = clock_rate
        self.timeout = timeout
        self._current: _Event | None = None
        self._finished: deque[int] = deque(maxlen=RECENT_EVENTS)
        self._latest: int | None = None  # newest event timestamp seen
        self.malformed = 0

    def reset(self) -> None:
        """A new source (SSRC change): its timestamps mean nothing to the old one."""
        self._current = None
        self._finished.clear()
        self._latest = None

    def feed(self, payload: bytes, timestamp: int, now: float) -> list[Dtmf]:
        """One telephone-event packet; returns the digits it completes (0, 1 or 2)."""
        if len(payload) < 4:
            self.malformed += 1
            return []
        code, flags, duration = struct.unpack_from("!BBH", payload)
        end = bool(flags & 0x80)
        done = self.poll(now)
        if timestamp in self._finished or self._is_older(timestamp):
            return done  # redundant end or a straggler of an event already reported
        current = self._current
        if current is None or current.timestamp != timestamp:
            if current is not None:
                done += self._finish()  # a new event started: the last one's end was lost
            self._current = current = _Event(timestamp, code, duration, now)
            self._latest = timestamp
        current.duration = max(current.duration, duration)
        current.updated = now
        if end:
            done += self._finish()
        return done

    def poll(self, now: float) -> list[Dtmf]:
        """Finish an event whose packets stopped without an end bit."""
        current = self._current
        if current is not None and now - current.updated > self.timeout:
            return self._finish()
        return []

    def _is_older(self, timestamp: int) -> bool:
        """Before the newest event (serial arithmetic, so wrap is fine)."""
        if self._latest is None:
            return False
        delta = (timestamp - self._latest) & 0xFFFFFFFF
        return delta >= 0x80000000

    def _finish(self) -> list[Dtmf]:
        event, self._current = self._current, None
        if event is None:
            return []
        self._finished.append(event.timestamp)
        if event.code >= len(EVENT_DIGITS):
            return []  # flash, tones: not digits, nothing for the conference to do
        duration_ms = event.duration * 1000 // self.clock_rate
        return [Dtmf(EVENT_DIGITS[event.code], duration_ms, "rfc4733")]
