"""A drift-free 20 ms tick that keeps mixing off the event loop.

Deadline n is ``start + n * period`` (never "sleep one period"), so oversleeping on
one tick is absorbed by the next sleep instead of accumulating. At each deadline the
clock collects on the loop, runs ``mix`` in a bounded worker pool, then delivers on
the loop. If the previous tick's mix is still running at a deadline, that tick is
dropped and counted: ticks never queue up behind a slow mix (queued audio would only
arrive late; the legs' RTP clocks are theirs, so one missing frame is the lesser harm).

A ``Pipelined`` target (the video mixer) splits its mix into stages, each in its own
thread: while tick n encodes, tick n+1 composes and tick n+2 decodes, so both cores
work where one stage at a time would leave the other idle (issue 14). Each stage takes
one tick at a time, in order. A tick that finished a stage and waits for the next is
the only one that ever waits: while one does (or the first stage is still busy), the
next deadline is dropped and counted as above. Each tick's latency is unchanged (its
stages still run one after the other); the rate is that of the slowest stage.

``grace``: a deadline that finds the clock busy waits up to this long before it is
dropped. A stage that overruns its period once by a few milliseconds (the machine was
busy, a sender's key frame) then delays one picture instead of losing it; the next
deadline is where it always was, so nothing drifts and still nothing queues. Such
ticks are counted in ``delayed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.media import FRAME_MS

log = logging.getLogger(__name__)


class Tickable(Protocol):
    """What the clock drives; ``AudioMixer`` is one."""

    def collect(self) -> Any: ...

    def mix(self, collected: Any) -> Any: ...

    def deliver(self, outputs: Any) -> None: ...


class Pipelined(Tickable, Protocol):
    """A target whose mix runs as stages the clock may overlap across ticks: the first
    takes what ``collect`` returned, each next one what the previous returned, and
    ``deliver`` what the last returned."""

    def stages(self) -> Sequence[Callable[[Any], Any]]: ...


Sleep = Callable[[float], Awaitable[None]]


class _Tick:
    """One tick in flight: ``finished[i]`` resolves when its stage i is over (done or
    failed, so the next tick never waits forever)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stages: int) -> None:
        self.finished = [loop.create_future() for _ in range(stages)]

    def finish(self, stage: int) -> None:
        future = self.finished[stage]
        if not future.done():
            future.set_result(None)

    def abandon(self) -> None:
        for stage in range(len(self.finished)):
            self.finish(stage)


@dataclass(eq=False)
class _Run:
    """One start-to-stop of a clock: its stages, their workers and its ticks in flight.
    A clock started again while an old run still drains gets a run of its own, so the
    stop of the old one waits for its own ticks only (never the new run's)."""

    stages: Sequence[Callable[[Any], Any]]
    executors: list[Executor]  # one per stage
    task: asyncio.Task[None] | None = None
    inflight: set[asyncio.Task[None]] = field(default_factory=set)
    previous: _Tick | None = None  # the newest tick
    waiting: int = 0  # ticks between two stages, waiting for the next one


class MixClock:
    """Runs ``target``'s collect/mix/deliver every ``period`` seconds until stopped."""

    def __init__(
        self,
        target: Tickable,
        period: float = FRAME_MS / 1000,
        executor: Executor | None = None,
        sleep: Sleep = asyncio.sleep,
        name: str = "audio-mix",
        pipelined: bool = False,
        grace: float = 0.0,
    ) -> None:
        self.target = target
        self.name = name  # for its thread and its log lines
        self.period = period
        self.grace = grace
        self._given_executor = executor
        self._sleep = sleep  # injectable so tests can simulate a sloppy timer
        self._pipelined = pipelined
        self._run_now: _Run | None = None
        self._progress: asyncio.Future[None] | None = None  # done when a stage starts or ends
        self.ticks = 0  # ticks mixed and delivered
        self.dropped = 0  # deadlines skipped because the previous mix was still running
        self.late = 0  # deadlines skipped because the loop woke a whole period late
        self.delayed = 0  # ticks started within ``grace`` of their deadline, not dropped
        self.errors = 0

    @property
    def running(self) -> bool:
        run = self._run_now
        return run is not None and run.task is not None and not run.task.done()

    def start(self) -> None:
        if self.running:
            raise RuntimeError("clock already running")
        stages = (self.target.stages() if self._pipelined  # type: ignore[attr-defined]
                  else (self.target.mix,))
        # One worker a stage: a stage never overlaps itself, and a slow one drops ticks
        # instead of piling them up. The last stage may run on the executor given.
        executors: list[Executor] = [
            ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-{index}")
            for index in range(len(stages) - 1)]
        executors.append(self._given_executor or ThreadPoolExecutor(
            1, thread_name_prefix=self.name))
        run = self._run_now = _Run(stages, executors)
        run.task = asyncio.get_running_loop().create_task(self._run(run), name="mix-clock")

    async def stop(self) -> None:
        """Stop ticking, let the ticks in flight finish and deliver, free the workers."""
        run, self._run_now = self._run_now, None
        if run is None:
            return
        if run.task is not None:
            run.task.cancel()
            try:
                await run.task
            except asyncio.CancelledError:
                pass
        while run.inflight:  # a thread cannot be cancelled; wait for it instead
            await asyncio.wait(set(run.inflight))
        for executor in run.executors:
            if executor is not self._given_executor:
                executor.shutdown(wait=True)

    async def _run(self, run: _Run) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while True:
            n += 1
            delay = start + n * self.period - loop.time()
            if delay > 0:
                await self._sleep(delay)
            elif -delay >= self.period:
                # The loop stalled: skip the deadlines already gone rather than burst.
                behind = int(-delay // self.period)
                n += behind
                self.late += behind
            if not await self._free(loop, run):
                self.dropped += 1
                continue
            tick = _Tick(loop, len(run.stages))
            previous, run.previous = run.previous, tick
            task = loop.create_task(self._tick(loop, run, tick, previous,
                                               self.target.collect()))
            run.inflight.add(task)
            task.add_done_callback(run.inflight.discard)

    @staticmethod
    def _busy(run: _Run) -> bool:
        """A tick waits between stages, or the first stage is still at work."""
        first = run.previous.finished[0] if run.previous is not None else None
        return run.waiting > 0 or (first is not None and not first.done())

    async def _free(self, loop: asyncio.AbstractEventLoop, run: _Run) -> bool:
        """Whether a tick may start now, waiting up to ``grace`` for the clock to be."""
        if not self._busy(run):
            return True
        until = loop.time() + self.grace
        while (left := until - loop.time()) > 0:
            # asyncio.wait, not wait_for: Python 3.11's wait_for can swallow a cancel
            # that lands as the inner wait ends, and a stopped clock would tick on.
            progress = self._progress = loop.create_future()
            await asyncio.wait([progress], timeout=left)
            if not self._busy(run):
                self.delayed += 1
                return True
        return False

    def _signal(self) -> None:
        """A stage started or ended: a deadline waiting in ``_free`` looks again."""
        if self._progress is not None and not self._progress.done():
            self._progress.set_result(None)

    async def _tick(self, loop: asyncio.AbstractEventLoop, run: _Run, tick: _Tick,
                    previous: _Tick | None, value: Any) -> None:
        """Each stage in its thread once the previous tick has left it, then deliver."""
        try:
            for index, stage in enumerate(run.stages):
                if previous is not None and not previous.finished[index].done():
                    run.waiting += index > 0
                    try:
                        await previous.finished[index]
                    finally:
                        run.waiting -= index > 0
                self._signal()
                try:
                    value = await loop.run_in_executor(run.executors[index], stage, value)
                finally:
                    if index < len(run.stages) - 1:
                        tick.finish(index)
                        self._signal()
            self.target.deliver(value)
            self.ticks += 1
        except Exception:  # keep ticking: one bad frame must not end the conference audio
            self.errors += 1
            log.exception("%s tick failed", self.name)
        finally:
            tick.abandon()
            self._signal()
