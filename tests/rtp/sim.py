"""A synthetic clock for the jitter buffer: a sender, a network and a 20 ms mixer."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.rtp.jitter import JitterBuffer

FRAME = 0.020
TICKS = 160  # 8 kHz


@dataclass
class Sent:
    index: int
    seq: int
    ts: int
    send_time: float
    arrival: float
    marker: bool = False


@dataclass
class Played:
    index: int
    pop_time: float
    arrival: float


@dataclass
class Result:
    played: list[Played] = field(default_factory=list)
    empty_pops: list[float] = field(default_factory=list)

    def indexes(self) -> list[int]:
        return [p.index for p in self.played]

    def waits(self, after: float = 0.0) -> list[float]:
        return [p.pop_time - p.arrival for p in self.played if p.arrival >= after]


def stream(
    count: int,
    delay: Callable[[int], float] = lambda i: 0.030,
    *,
    period: float = FRAME,
    seq0: int = 1000,
    ts0: int = 5000,
) -> list[Sent]:
    return [
        Sent(
            i,
            (seq0 + i) & 0xFFFF,
            (ts0 + i * TICKS) & 0xFFFFFFFF,
            i * period,
            i * period + delay(i),
        )
        for i in range(count)
    ]


def jittery(spread: float, base: float = 0.020, seed: int = 1) -> Callable[[int], float]:
    rng = random.Random(seed)
    return lambda i: base + rng.uniform(0, spread)


def run(
    jb: JitterBuffer,
    packets: list[Sent],
    *,
    phase: float = 0.007,
    start: float = 0.0,
    until: float | None = None,
) -> Result:
    """Deliver ``packets`` and tick the mixer every 20 ms, in time order."""
    end = until if until is not None else max(p.arrival for p in packets) + 0.5
    events: list[tuple[float, int, Sent | None]] = [(p.arrival, 0, p) for p in packets]
    tick = start + phase
    while tick < end:
        events.append((tick, 1, None))
        tick += FRAME
    events.sort(key=lambda e: (e[0], e[1]))
    result = Result()
    for time, _kind, packet in events:
        if packet is not None:
            payload = struct.pack("!Id", packet.index, packet.arrival)
            jb.push(packet.seq, packet.ts, payload, time, packet.marker)
            continue
        frame = jb.pop(time)
        if frame is None:
            result.empty_pops.append(time)
        else:
            index, arrival = struct.unpack("!Id", frame.payload)
            result.played.append(Played(index, time, arrival))
    return result
