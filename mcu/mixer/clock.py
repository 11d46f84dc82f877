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
        for future in self.finished[stage:stage + 1]:
            if not future.done():
                future.set_result(None)

    def abandon(self) -> None:
        for stage in range(len(self.finished)):
            self.finish(stage)


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
        self._stages: Sequence[Callable[[Any], Any]] = ()
        self._executors: list[Executor] = []  # one per stage
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._previous: _Tick | None = None
        self._waiting = 0  # ticks between two stages, waiting for the next one
        self._progress = asyncio.Event()  # set whenever a stage starts or ends
        self.ticks = 0  # ticks mixed and delivered
        self.dropped = 0  # deadlines skipped because the previous mix was still running
        self.late = 0  # deadlines skipped because the loop woke a whole period late
        self.delayed = 0  # ticks started within ``grace`` of their deadline, not dropped
        self.errors = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            raise RuntimeError("clock already running")
        self._stages = (self.target.stages() if self._pipelined  # type: ignore[attr-defined]
                        else (self.target.mix,))
        # One worker a stage: a stage never overlaps itself, and a slow one drops ticks
        # instead of piling them up. The last stage may run on the executor given.
        self._executors = [
            ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-{index}")
            for index in range(len(self._stages) - 1)]
        self._executors.append(self._given_executor or ThreadPoolExecutor(
            1, thread_name_prefix=self.name))
        self._previous = None
        self._waiting = 0
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mix-clock")

    async def stop(self) -> None:
        """Stop ticking, let the ticks in flight finish and deliver, free the workers."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        while self._inflight:  # a thread cannot be cancelled; wait for it instead
            await asyncio.wait(set(self._inflight))
        for executor in self._executors:
            if executor is not self._given_executor:
                executor.shutdown(wait=True)
        self._executors = []

    async def _run(self) -> None:
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
            if not await self._free(loop):
                self.dropped += 1
                continue
            tick = _Tick(loop, len(self._stages))
            previous, self._previous = self._previous, tick
            run = loop.create_task(self._tick(loop, tick, previous, self.target.collect()))
            self._inflight.add(run)
            run.add_done_callback(self._inflight.discard)

    def _busy(self) -> bool:
        """A tick waits between stages, or the first stage is still at work."""
        first = self._previous.finished[0] if self._previous is not None else None
        return self._waiting > 0 or (first is not None and not first.done())

    async def _free(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether a tick may start now, waiting up to ``grace`` for the clock to be."""
        if not self._busy():
            return True
        until = loop.time() + self.grace
        while (left := until - loop.time()) > 0:
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), left)
            except TimeoutError:
                break
            if not self._busy():
                self.delayed += 1
                return True
        return False

    async def _tick(self, loop: asyncio.AbstractEventLoop, tick: _Tick,
                    previous: _Tick | None, value: Any) -> None:
        """Each stage in its thread once the previous tick has left it, then deliver."""
        try:
            for index, stage in enumerate(self._stages):
                if previous is not None and not previous.finished[index].done():
                    self._waiting += index > 0
                    try:
                        await previous.finished[index]
                    finally:
                        self._waiting -= index > 0
                self._progress.set()
                try:
                    value = await loop.run_in_executor(self._executors[index], stage, value)
                finally:
                    if index < len(self._stages) - 1:
                        tick.finish(index)
                        self._progress.set()
            self.target.deliver(value)
            self.ticks += 1
        except Exception:  # keep ticking: one bad frame must not end the conference audio
            self.errors += 1
            log.exception("%s tick failed", self.name)
        finally:
            tick.abandon()
            self._progress.set()
