"""Sequence-order restoration for one video RTP stream, sans-IO.

Video depacketizers need packets in order: a packet that arrives after its successor
would otherwise count as a loss, and a loss costs a key frame. Networks reorder
rarely and by little, so a small window is enough: packets after a gap are held
until the missing one comes, for at most ``depth`` packets or ``max_wait_s``; then
the gap counts as lost and the held packets go on in order. Nothing is held while
the stream is in order, so the buffer adds no delay then.

Written here because aiortc's ``JitterBuffer`` assembles whole frames from raw
payloads for its own depayloaders, which our depacketizers (loss handling, key-frame
detection) replace.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

RESTART_DISTANCE = 1000  # a jump this far is a restarted sender, not reordering


class ReorderBuffer(Generic[T]):
    def __init__(self, depth: int = 16, max_wait_s: float = 0.05) -> None:
        self.depth = depth
        self.max_wait_s = max_wait_s
        self.stats = {"reordered": 0, "gave_up": 0}
        self.reset()

    def reset(self) -> None:
        self._expected: int | None = None
        self._held: dict[int, T] = {}
        self._gap_since: float | None = None

    def push(self, seq: int, item: T, now: float) -> list[T]:
        """Take one packet; return those now in order (possibly none, possibly many)."""
        if self._expected is None:
            self._expected = (seq + 1) & 0xFFFF
            return [item]
        delta = ((seq - self._expected + 0x8000) & 0xFFFF) - 0x8000
        if delta < 0:
            return [item]  # a duplicate or too late: the depacketizer counts it
        if delta > RESTART_DISTANCE:
            released = self._release_all(now)
            self._expected = (seq + 1) & 0xFFFF
            return [*released, item]
        if delta > 0:
            self._held[seq] = item
            if self._gap_since is None:
                self._gap_since = now
            if len(self._held) > self.depth or now - self._gap_since >= self.max_wait_s:
                return self._give_up(now)
            return []
        if self._held:
            self.stats["reordered"] += 1
        self._expected = (seq + 1) & 0xFFFF
        return [item, *self._in_order()]

    def poll(self, now: float) -> list[T]:
        """Release what waited too long for a packet that never came."""
        if self._gap_since is not None and now - self._gap_since >= self.max_wait_s:
            return self._give_up(now)
        return []

    def _in_order(self) -> list[T]:
        """Held packets that now follow on, advancing past them."""
        out: list[T] = []
        while self._expected in self._held:
            out.append(self._held.pop(self._expected))
            self._expected = (self._expected + 1) & 0xFFFF
        self._gap_since = None if not self._held else self._gap_since
        return out

    def _give_up(self, now: float) -> list[T]:
        """The missing packets are lost: skip to the oldest held one and go on."""
        self.stats["gave_up"] += 1
        expected = self._expected
        assert expected is not None
        self._expected = min(self._held, key=lambda s: (s - expected) & 0xFFFF)
        out = self._in_order()
        if self._held:  # another gap further on: its wait starts now
            self._gap_since = now
        return out

    def _release_all(self, now: float) -> list[T]:
        out: list[T] = []
        while self._held:
            out += self._give_up(now)
        return out
