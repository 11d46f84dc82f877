from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from mcu.mixer.audio import AudioMixer
from mcu.mixer.clock import MixClock
from tests.mixer.fakes import PCMU, FakeLeg

PERIOD = 0.01


class Recorder:
    """A Tickable that records when each tick was collected and how mixes overlap."""

    def __init__(self, mix_seconds: float = 0.0) -> None:
        self.mix_seconds = mix_seconds
        self.collected_at: list[float] = []
        self.delivered: list[int] = []
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def collect(self) -> int:
        self.collected_at.append(asyncio.get_running_loop().time())
        return len(self.collected_at)

    def mix(self, n: int) -> int:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(self.mix_seconds)
        with self.lock:
            self.running -= 1
        return n

    def deliver(self, n: int) -> None:
        self.delivered.append(n)


async def run_for(clock: MixClock, seconds: float) -> float:
    start = asyncio.get_running_loop().time()
    clock.start()
    await asyncio.sleep(seconds)
    await clock.stop()
    return start


async def test_deadlines_do_not_drift_even_when_every_sleep_overshoots() -> None:
    async def sloppy_sleep(delay: float) -> None:
        await asyncio.sleep(delay + 0.004)  # a timer that always wakes 4 ms late

    rec = Recorder()
    clock = MixClock(rec, PERIOD, sleep=sloppy_sleep)
    start = await run_for(clock, 0.5)
    times = rec.collected_at
    assert len(times) >= 35  # sleep(period) would manage ~35; we keep the 50 Hz pace
    n_last = round((times[-1] - start) / PERIOD)
    assert n_last >= len(times)
    # Each tick sits at start + n*period plus a bounded lateness; it never accumulates.
    errors = [t - (start + round((t - start - 0.004) / PERIOD) * PERIOD) for t in times]
    assert max(errors) < PERIOD
    assert clock.ticks == len(rec.delivered) == len(times)


async def test_real_loop_pace() -> None:
    rec = Recorder()
    clock = MixClock(rec, PERIOD)
    start = await run_for(clock, 0.3)
    lateness = [t - (start + (i + 1) * PERIOD) for i, t in enumerate(rec.collected_at)]
    assert 25 <= len(rec.collected_at) <= 31
    assert max(lateness) < 0.008 and min(lateness) > -0.001


async def test_busy_mix_drops_ticks_and_never_queues() -> None:
    rec = Recorder(mix_seconds=PERIOD * 2.5)
    clock = MixClock(rec, PERIOD)
    await run_for(clock, 0.4)
    assert rec.max_running == 1  # never two mixes at once
    assert clock.dropped >= 15
    assert clock.ticks == len(rec.delivered) == len(rec.collected_at)  # stop() drained
    assert rec.delivered == sorted(rec.delivered)
    assert 8 <= clock.ticks <= 20


async def test_stalled_loop_skips_missed_deadlines_instead_of_bursting() -> None:
    rec = Recorder()
    clock = MixClock(rec, PERIOD)
    clock.start()
    await asyncio.sleep(0.05)
    time.sleep(0.1)  # the loop blocks for ten periods
    await asyncio.sleep(0.05)
    await clock.stop()
    assert clock.late >= 8
    gaps = [b - a for a, b in zip(rec.collected_at, rec.collected_at[1:], strict=False)]
    assert sum(g < PERIOD / 2 for g in gaps) <= 1  # at most one catch-up tick


async def test_stop_is_clean_and_a_failing_mix_is_survived() -> None:
    class Flaky(Recorder):
        def mix(self, n: int) -> int:
            if n == 3:
                raise RuntimeError("boom")
            return super().mix(n)

    rec = Flaky()
    clock = MixClock(rec, PERIOD)
    await run_for(clock, 0.1)
    assert clock.errors == 1 and clock.ticks >= 5
    assert not clock.running
    count = len(rec.collected_at)
    await asyncio.sleep(0.05)
    assert len(rec.collected_at) == count  # really stopped


async def test_mixer_on_the_clock_with_join_and_leave() -> None:
    mixer = AudioMixer()
    a, b, c = FakeLeg("a", PCMU, 400), FakeLeg("b", PCMU, 700), FakeLeg("c", PCMU, 1000)
    mixer.add(a)
    mixer.add(b)
    clock = MixClock(mixer, PERIOD)
    clock.start()
    await asyncio.sleep(0.1)
    mixer.add(c)
    await asyncio.sleep(0.1)
    mixer.remove("b")
    await asyncio.sleep(0.1)
    await clock.stop()
    assert clock.dropped == 0 and clock.late == 0
    assert len(a.received) == clock.ticks  # no gap for a through the join and the leave
    assert 0 < len(c.received) < clock.ticks and 0 < len(b.received) < clock.ticks


async def test_clock_can_restart_after_stop() -> None:
    rec = Recorder()
    clock = MixClock(rec, PERIOD)
    await run_for(clock, 0.05)
    first = clock.ticks
    await run_for(clock, 0.05)
    assert first >= 3 and clock.ticks >= first + 3


class TwoStages(Recorder):
    """A pipelined Tickable: ``prepare`` and ``mix`` each take ``stage_seconds``."""

    def __init__(self, stage_seconds: float) -> None:
        super().__init__(stage_seconds)
        self.preparing = 0
        self.max_preparing = 0
        self.overlapped = 0  # prepares that started while a mix ran

    def prepare(self, n: int) -> int:
        with self.lock:
            self.preparing += 1
            self.max_preparing = max(self.max_preparing, self.preparing)
            self.overlapped += self.running > 0
        time.sleep(self.mix_seconds)
        with self.lock:
            self.preparing -= 1
        return n

    def stages(self) -> tuple[Callable[[int], int], ...]:
        return (self.prepare, self.mix)


async def test_pipelined_stages_overlap_and_never_queue() -> None:
    """Two stages of 1.6 periods each: a tick's first stage runs beside the previous
    tick's mix (one after the other they would manage a tick every 4 periods,
    overlapped every 2; the rate itself is not asserted, the machine may be busy)."""
    rec = TwoStages(stage_seconds=PERIOD * 1.6)
    clock = MixClock(rec, PERIOD, pipelined=True)
    await run_for(clock, 0.6)
    assert rec.max_running == 1 and rec.max_preparing == 1  # each stage one at a time
    assert rec.overlapped >= 10
    assert rec.delivered == sorted(rec.delivered)  # in order
    assert clock.ticks == len(rec.delivered) == len(rec.collected_at)  # stop() drained
    assert clock.dropped >= 10  # a busy first stage drops the deadline, never queues


async def test_pipelined_first_stage_failure_is_survived() -> None:
    class Flaky(TwoStages):
        def prepare(self, n: int) -> int:
            if n == 3:
                raise RuntimeError("boom")
            return super().prepare(n)

    rec = Flaky(stage_seconds=0.0)
    clock = MixClock(rec, PERIOD, pipelined=True)
    await run_for(clock, 0.1)
    assert clock.errors == 1 and clock.ticks >= 5 and 3 not in rec.delivered
    assert not clock.running


class ThreeStages(Recorder):
    """Three stages of ``seconds`` each, recording which ran at the same time."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.busy: list[int] = [0, 0, 0]
        self.most: list[int] = [0, 0, 0]
        self.all_three = 0  # stage starts that found the other two stages at work
        self.order: list[list[int]] = [[], [], []]

    def _stage(self, index: int, n: int) -> int:
        with self.lock:
            self.busy[index] += 1
            self.most[index] = max(self.most[index], self.busy[index])
            self.all_three += all(self.busy)
            self.order[index].append(n)
        time.sleep(self.seconds)
        with self.lock:
            self.busy[index] -= 1
        return n

    def stages(self) -> tuple[Callable[[int], int], ...]:
        return tuple(lambda n, i=i: self._stage(i, n) for i in range(3))


async def test_three_stages_run_side_by_side_in_order() -> None:
    """Stages of 0.8 periods: one tick after another would manage a tick every three
    periods; overlapped, a tick decodes while the one before composes and the one
    before that encodes."""
    rec = ThreeStages(seconds=PERIOD * 0.8)
    clock = MixClock(rec, PERIOD, pipelined=True)
    await run_for(clock, 0.6)
    assert rec.most == [1, 1, 1]  # each stage one tick at a time
    assert rec.all_three >= 5
    assert all(order == sorted(order) for order in rec.order)
    assert rec.delivered == sorted(rec.delivered)
    assert clock.ticks == len(rec.delivered) == len(rec.collected_at)  # stop() drained


async def test_grace_delays_a_tick_instead_of_dropping_it() -> None:
    """A mix of 1.3 periods: without grace every other deadline is dropped; with half
    a period of grace each deadline waits for it and none is lost, and the deadlines
    stay where they were (no drift: the waits are not added up)."""
    dropped = Recorder(mix_seconds=PERIOD * 1.3)
    plain = MixClock(dropped, PERIOD)
    await run_for(plain, 0.3)
    graced = Recorder(mix_seconds=PERIOD * 1.3)
    clock = MixClock(graced, PERIOD, grace=PERIOD * 0.9)
    start = await run_for(clock, 0.3)
    assert plain.dropped >= 5 and plain.delayed == 0
    assert clock.delayed >= 5
    assert clock.dropped < plain.dropped
    assert graced.max_running == 1
    # The mix runs back to back, and no deadline moved: never more ticks than deadlines.
    deadlines = round(0.3 / PERIOD)
    assert 0.3 / (PERIOD * 1.3) - 4 <= len(graced.collected_at) <= deadlines + 1
    assert graced.collected_at[-1] - start <= 0.3 + PERIOD


async def test_a_clock_started_again_while_its_stop_drains_stops_cleanly() -> None:
    """A conference emptied and joined again at once: stop() is still waiting for a
    slow tick when start() comes. The stop waits for its own run's ticks only (it hung
    for ever on the new run's, and the conference never ended); the new run ticks."""
    rec = Recorder(mix_seconds=PERIOD * 3)
    clock = MixClock(rec, PERIOD)
    clock.start()
    await asyncio.sleep(PERIOD * 1.5)  # a tick is mixing now
    stopping = asyncio.get_running_loop().create_task(clock.stop())
    await asyncio.sleep(0)
    assert not clock.running
    clock.start()
    await asyncio.wait_for(stopping, 1.0)
    assert clock.running
    before = clock.ticks
    await asyncio.sleep(PERIOD * 10)
    assert clock.ticks > before
    await asyncio.wait_for(clock.stop(), 1.0)
    assert not clock.running
    assert not [t for t in threading.enumerate() if t.name.startswith("audio-mix")]


async def test_stop_while_a_deadline_waits_out_its_grace() -> None:
    """The clock stops while a deadline is waiting for a busy tick (its grace), again
    and again at every moment of the wait: every stop ends, none leaves it ticking."""
    for attempt in range(30):
        rec = Recorder(mix_seconds=PERIOD * 1.5)
        clock = MixClock(rec, PERIOD, grace=PERIOD * 0.9)
        clock.start()
        await asyncio.sleep(PERIOD * (2 + attempt / 10))
        await asyncio.wait_for(clock.stop(), 1.0)
        count = len(rec.collected_at)
        await asyncio.sleep(PERIOD * 3)
        assert len(rec.collected_at) == count, attempt  # really stopped
