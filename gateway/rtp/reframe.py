"""Audio packets of any length cut into the 20 ms frames the jitter buffer plays, sans-IO.

SIP phones send one 20 ms frame a packet, as we ask; IP cameras do not: GStreamer's
``rtppcmupay`` fills packets up to the MTU (1024 samples, 128 ms, from a default
``audiotestsrc``) and cameras send 40 ms or odd sizes. The jitter buffer plays a
20 ms grid and drops what does not fit it, so those would be mostly lost. For codecs
where one payload byte is one RTP clock tick (G.711, G.722) any byte boundary is a
frame boundary: this cuts a continuous stream of packets into exact frames,
carrying the remainder of one packet into the next.

A stream of exact 20 ms packets passes untouched (its own sequence numbers) until
the first packet of another size; from then on frames get sequence numbers that
follow their timestamps, so the jitter buffer's duplicate and restart checks still
hold. A packet that does not continue the previous one (loss, reordering) drops the
unfinished remainder (under one frame) and starts again at its own timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass

_HALF = 1 << 31
_REBASE = 1 << 30  # timestamp distance after which the sequence base moves along


@dataclass(frozen=True, slots=True)
class Cut:
    seq: int
    timestamp: int
    payload: bytes
    marker: bool


class SampleReframer:
    """One source's packets -> 20 ms frames of ``ticks`` bytes (``reset`` on SSRC change)."""

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks
        self.stats = {"reframed": 0, "cut_short": 0}
        self.engaged = False
        self.reset()

    def reset(self) -> None:
        self._pending = bytearray()
        self._pending_ts: int | None = None  # timestamp of the pending bytes' first
        self._base: tuple[int, int] | None = None  # (timestamp, seq) frames count from

    def push(self, seq: int, timestamp: int, payload: bytes, marker: bool) -> list[Cut]:
        if not self.engaged:
            if len(payload) == self.ticks:
                return [Cut(seq, timestamp, payload, marker)]
            self.engaged = True
        self.stats["reframed"] += 1
        if self._base is None:
            self._base = (timestamp, seq)
        expected = None
        if self._pending_ts is not None:
            expected = (self._pending_ts + len(self._pending)) & 0xFFFFFFFF
        if timestamp != expected:
            if self._pending:
                self.stats["cut_short"] += 1
            self._pending = bytearray()
            self._pending_ts = timestamp
        self._pending += payload
        return self._cut(marker)

    def _cut(self, marker: bool) -> list[Cut]:
        cuts = []
        while len(self._pending) >= self.ticks:
            assert self._pending_ts is not None
            ts = self._pending_ts
            cuts.append(Cut(self._seq_of(ts), ts, bytes(self._pending[: self.ticks]),
                            marker and not cuts))
            del self._pending[: self.ticks]
            self._pending_ts = (ts + self.ticks) & 0xFFFFFFFF
        return cuts

    def _seq_of(self, timestamp: int) -> int:
        assert self._base is not None
        base_ts, base_seq = self._base
        delta = ((timestamp - base_ts + _HALF) & 0xFFFFFFFF) - _HALF
        seq = (base_seq + delta // self.ticks) & 0xFFFF
        if abs(delta) > _REBASE:
            self._base = (timestamp, seq)
        return seq
