"""Adaptive audio playout buffer, sans-IO: packets and times in, 20 ms frames out.

Not aiortc's ``JitterBuffer``: that one is built for video (it assembles frames from
packets, has a fixed power-of-two capacity, releases a frame as soon as the next one
starts and has no notion of playout time), so it can neither hold audio for an
adaptive delay nor tell the mixer "nothing is due this tick".

Model: a playout cursor (an RTP timestamp) advances one frame per ``pop``. The
packet stamped with the cursor is returned, anything else gives ``None`` (loss or
silence: the mixer conceals). Each arriving packet's *wait* (how long before its
pop it arrived) is measured; the buffer keeps the average wait near a target that
follows the RFC 3550 interarrival jitter, by pausing the cursor one tick (adds
20 ms) or skipping a frame (removes 20 ms). Timestamps rather than sequence numbers
drive playout so that DTX/VAD silence (timestamp jumps, sequence numbers do not)
costs nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from gateway.media import FRAME_MS, EncodedAudio

JITTER_FACTOR = 3.0  # target wait = this x jitter (J is ~1/3 of a uniform delay spread)
TARGET_DECAY = 1 / 128  # per packet: a lower target takes a few seconds to settle
WAIT_SMOOTHING = 1 / 16  # EMA weight of one packet's wait, like RFC 3550's jitter filter
ADJUST_COOLDOWN = 10  # pops between two delay adjustments, so they do not oscillate
CATCH_UP_MARGIN_S = 0.1  # queued beyond the normal depth before dropping in bulk
RESET_SKEW_S = 2.0  # timestamp vs arrival disagreement that means a new timeline
MAX_DROPOUT = 3000  # RFC 3550 A.1: a larger sequence jump is a restarted source
LATE_RUN_S = 0.1  # s of nothing but late packets that means the timeline moved
RECENT_SEQS = 128  # played sequence numbers remembered to tell duplicates from late


@dataclass(slots=True)
class _Packet:
    seq: int  # extended
    payload: bytes
    arrival: float


class JitterBuffer:
    """Adaptive playout buffer for one audio source (``reset`` on SSRC change)."""

    def __init__(self, clock_rate: int, *, min_ms: int = 20, max_ms: int = 200) -> None:
        self.clock_rate = clock_rate
        self.ticks = clock_rate * FRAME_MS // 1000
        self.min_s = min_ms / 1000
        self.max_s = max(max_ms, min_ms) / 1000
        self.stats = {
            "pushed": 0,
            "played": 0,
            "late": 0,
            "duplicates": 0,
            "missing": 0,
            "resets": 0,
            "stretched": 0,
            "skipped": 0,
        }
        self.jitter_s = 0.0
        self._target = self.min_s
        self.reset()

    def reset(self) -> None:
        """Forget the current source's timeline (SSRC change, timestamp jump)."""
        self._packets: dict[int, _Packet] = {}  # extended timestamp -> packet
        self._cursor: int | None = None  # extended timestamp of the next pop
        self._ts_ref = 0  # last extended timestamp, to extend the next one
        self._seq_ref: int | None = None  # highest extended sequence number
        self._start_at = 0.0  # pops before this return None and hold the cursor
        self._anchor_time = 0.0  # when the cursor frame is expected to be popped
        self._played: deque[int] = deque(maxlen=RECENT_SEQS)
        self._last: tuple[float, int] | None = None  # (arrival, ext ts), for jitter
        self._wait = 0.0
        self._cooldown = 0
        self._late_since: float | None = None  # arrival of the first of a run of late ones

    @property
    def target_s(self) -> float:
        return self._target

    @property
    def buffered(self) -> int:
        return len(self._packets)

    @property
    def delay_s(self) -> float:
        """Smoothed time packets wait here before being played."""
        return self._wait

    def push(
        self, seq: int, timestamp: int, payload: bytes, arrival_time: float, marker: bool = False
    ) -> None:
        self.stats["pushed"] += 1
        if self._cursor is None:
            self._start(seq, timestamp, payload, arrival_time)
            return
        ext_seq = self._extend_seq(seq)
        ext_ts = self._extend_ts(timestamp)
        if self._is_new_timeline(ext_seq, ext_ts, arrival_time):
            self._restart(seq, timestamp, payload, arrival_time)
            return
        if ext_ts in self._packets or ext_seq in self._played:
            self.stats["duplicates"] += 1
            return
        self._update_jitter(ext_ts, arrival_time)
        if ext_ts < self._cursor:
            if not self._timeline_moved(marker, arrival_time):
                self.stats["late"] += 1
                return
            self._restart(seq, timestamp, payload, arrival_time)
            return
        self._late_since = None
        if marker and not self._packets and not self._wait_in_band(ext_ts, arrival_time):
            self._anchor(ext_ts, arrival_time)  # talkspurt start: a free moment to re-time
        self._packets[ext_ts] = _Packet(ext_seq, payload, arrival_time)
        if self._seq_ref is None or ext_seq > self._seq_ref:
            self._seq_ref = ext_seq
        self._observe_wait(ext_ts, arrival_time)

    def pop(self, now: float) -> EncodedAudio | None:
        """The frame due at this 20 ms tick, or None (loss, silence, not started)."""
        if self._cursor is None or now < self._start_at:
            return None
        self._anchor_time = now + FRAME_MS / 1000
        if self._adapt():
            return None  # stretched: the cursor frame waits one more tick
        packet = self._take_due()
        self._cursor += self.ticks
        if packet is None:
            if self._packets:
                self.stats["missing"] += 1
            return None
        self.stats["played"] += 1
        self._played.append(packet.seq)
        return EncodedAudio(packet.payload)

    def _take_due(self) -> _Packet | None:
        """The packet for the cursor's frame; also drops packets stamped off the 20 ms
        grid that fell behind it (another ptime), so they cannot pile up."""
        end = self._cursor + self.ticks
        due = sorted(ts for ts in self._packets if ts < end)
        for ts in due[:-1]:
            del self._packets[ts]
        if not due:
            return None
        packet = self._packets.pop(due[-1])
        return packet if due[-1] >= self._cursor else None

    def _timeline_moved(self, marker: bool, arrival: float) -> bool:
        """Late packets that keep arriving at their normal pace mean the sender's clock
        or the path delay moved (a burst flushed after a stall arrives all at once and
        is just dropped); a late talkspurt start is never worth waiting for either."""
        if self._late_since is None:
            self._late_since = arrival
        return marker or arrival - self._late_since >= LATE_RUN_S

    def _restart(self, seq: int, timestamp: int, payload: bytes, arrival: float) -> None:
        self.stats["resets"] += 1
        self.reset()
        self._start(seq, timestamp, payload, arrival)

    def _start(self, seq: int, timestamp: int, payload: bytes, arrival: float) -> None:
        self._ts_ref = timestamp
        self._seq_ref = seq
        self._last = (arrival, timestamp)
        self._packets[timestamp] = _Packet(seq, payload, arrival)
        self._anchor(timestamp, arrival)

    def _anchor(self, ext_ts: int, arrival: float) -> None:
        """Play ``ext_ts`` at the first tick once it has waited the target delay."""
        self._cursor = ext_ts
        self._start_at = arrival + self.target_s
        self._anchor_time = self._start_at
        self._wait = self.target_s
        self._cooldown = ADJUST_COOLDOWN

    def _extend_seq(self, seq: int) -> int:
        ref = self._seq_ref if self._seq_ref is not None else seq
        delta = ((seq - ref + 0x8000) & 0xFFFF) - 0x8000
        return ref + delta

    def _extend_ts(self, timestamp: int) -> int:
        delta = ((timestamp - self._ts_ref + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        ext = self._ts_ref + delta
        self._ts_ref = max(self._ts_ref, ext)
        return ext

    def _is_new_timeline(self, ext_seq: int, ext_ts: int, arrival: float) -> bool:
        """A restarted sender: its timestamps or sequence numbers no longer follow."""
        if self._seq_ref is not None and abs(ext_seq - self._seq_ref) > MAX_DROPOUT:
            return True
        if self._last is None:
            return False
        last_arrival, last_ts = self._last
        skew = (ext_ts - last_ts) / self.clock_rate - (arrival - last_arrival)
        return abs(skew) > RESET_SKEW_S

    def _update_jitter(self, ext_ts: int, arrival: float) -> None:
        """RFC 3550 6.4.1 interarrival jitter, kept in seconds."""
        if self._last is not None:
            last_arrival, last_ts = self._last
            d = (arrival - last_arrival) - (ext_ts - last_ts) / self.clock_rate
            # Clipped: one stall should not pin the target at its maximum for seconds.
            self.jitter_s += (min(abs(d), self.max_s) - self.jitter_s) / 16
        self._update_target()
        self._last = (arrival, ext_ts)

    def _update_target(self) -> None:
        """Up at once when jitter grows (late packets are lost audio), down slowly
        (each step down costs a dropped frame, so do not chase every lull)."""
        wanted = min(self.max_s, max(self.min_s, JITTER_FACTOR * self.jitter_s))
        if wanted > self._target:
            self._target = wanted
        else:
            self._target += (wanted - self._target) * TARGET_DECAY

    def _observe_wait(self, ext_ts: int, arrival: float) -> None:
        due = self._anchor_time + (ext_ts - self._cursor) / self.clock_rate
        self._wait += (due - arrival - self._wait) * WAIT_SMOOTHING

    def _wait_in_band(self, ext_ts: int, arrival: float) -> bool:
        due = self._anchor_time + (ext_ts - self._cursor) / self.clock_rate
        return self._band()[0] <= due - arrival <= self._band()[1]

    def _band(self) -> tuple[float, float]:
        """Average waits left alone: [target - 1/4 frame, target + 5/4 frame]. Wider
        than one frame, since one adjustment moves the wait by a whole frame."""
        frame = FRAME_MS / 1000
        return self.target_s - frame / 4, self.target_s + 1.25 * frame

    def _adapt(self) -> bool:
        """Nudge the average wait into the band; True when this tick is stretched."""
        frame = FRAME_MS / 1000
        if self._catch_up(frame):
            return False
        if self._cooldown > 0:
            self._cooldown -= 1
            return False
        low, high = self._band()
        if self._wait < low and self._wait + frame <= self.max_s + frame / 2:
            self._wait += frame
            self._adjusted("stretched")
            return True
        if self._wait > high and self._wait - frame >= self.min_s - frame / 2:
            self._skip(frame)
        return False

    def _catch_up(self, frame: float) -> bool:
        """A burst or a stalled mixer left far more queued than the jitter explains:
        drop the oldest frames at once rather than one per cooldown."""
        if not self._packets or self._cursor is None:
            return False
        held = (max(self._packets) - self._cursor) / self.clock_rate + frame
        # The newest packet normally waits the target plus about half the spread.
        normal = self.target_s + frame + 1.5 * self.jitter_s
        if held <= normal + max(self.target_s, CATCH_UP_MARGIN_S):
            return False
        while held > normal:
            self._skip(frame)
            held -= frame
        return True

    def _skip(self, frame: float) -> None:
        self._packets.pop(self._cursor, None)
        self._cursor += self.ticks
        self._wait -= frame
        self._adjusted("skipped")

    def _adjusted(self, what: str) -> None:
        self._cooldown = ADJUST_COOLDOWN
        self.stats[what] += 1
