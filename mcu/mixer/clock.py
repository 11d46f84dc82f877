"""A drift-free 20 ms tick that keeps mixing off the event loop.

Deadline n is ``start + n * period`` (never "sleep one period"), so oversleeping on
one tick is absorbed by the next sleep instead of accumulating. At each deadline the
clock collects on the loop, runs ``mix`` in a bounded worker pool, then delivers on
the loop. If the previous tick's mix is still running at a deadline, that tick is
dropped and counted: ticks never queue up behind a slow mix (queued audio would only
arrive late; the legs' RTP clocks are theirs, so one missing frame is the lesser harm).

A ``Pipelined`` target (the video mixer) splits its mix in two stages, each in its own
thread: ``prepare`` (decoding) of tick n+1 runs while ``mix`` (compose, encode) of tick
n does, so two cores work where one stage would leave the other idle (issue 14). A
prepared tick waits for the previous mix, and only one ever waits: while it does, the
next deadline is dropped and counted as above. Each tick's latency is unchanged (its
two stages still run one after the other); the rate doubles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
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
    """A target whose mix has a first stage the clock may overlap with the previous
    tick's ``mix``: ``mix`` then takes what ``prepare`` returned."""

    def prepare(self, collected: Any) -> Any: ...


Sleep = Callable[[float], Awaitable[None]]


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
    ) -> None:
        self.target = target
        self.name = name  # for its thread and its log lines
        self.period = period
        self._given_executor = executor
        self._executor: Executor | None = None
        self._sleep = sleep  # injectable so tests can simulate a sloppy timer
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Task[None] | None = None  # mix and deliver
        # Pipelined: a tick in its first stage, or prepared and waiting for the mix.
        self._pipelined = pipelined
        self._prepare_executor: ThreadPoolExecutor | None = None
        self._preparing: asyncio.Task[None] | None = None
        self.ticks = 0  # ticks mixed and delivered
        self.dropped = 0  # deadlines skipped because the previous mix was still running
        self.late = 0  # deadlines skipped because the loop woke a whole period late
        self.errors = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            raise RuntimeError("clock already running")
        # One worker: mixes never overlap, and a slow one drops ticks instead of piling up.
        self._executor = self._given_executor or ThreadPoolExecutor(
            1, thread_name_prefix=self.name
        )
        if self._pipelined:
            self._prepare_executor = ThreadPoolExecutor(
                1, thread_name_prefix=f"{self.name}-prepare")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mix-clock")

    async def stop(self) -> None:
        """Stop ticking, let an in-flight mix finish and deliver, free the worker."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._preparing is not None:
            await self._preparing  # a thread cannot be cancelled; wait for it instead
            self._preparing = None
        if self._inflight is not None:
            await self._inflight
            self._inflight = None
        if self._executor is not None and self._executor is not self._given_executor:
            self._executor.shutdown(wait=True)
        self._executor = None
        if self._prepare_executor is not None:
            self._prepare_executor.shutdown(wait=True)
            self._prepare_executor = None

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
            busy = self._preparing if self._pipelined else self._inflight
            if busy is not None and not busy.done():
                self.dropped += 1
                continue
            collected = self.target.collect()
            if self._pipelined:
                self._preparing = loop.create_task(self._prepare(loop, collected))
            else:
                self._inflight = loop.create_task(self._mix_and_deliver(loop, collected))

    async def _prepare(self, loop: asyncio.AbstractEventLoop, collected: Any) -> None:
        """The first stage, then the mix once the previous tick's is done."""
        try:
            prepared = await loop.run_in_executor(
                self._prepare_executor, self.target.prepare, collected)  # type: ignore[attr-defined]
        except Exception:
            self.errors += 1
            log.exception("%s tick failed", self.name)
            return
        if self._inflight is not None:
            await self._inflight  # never raises: _mix_and_deliver catches its errors
        self._inflight = loop.create_task(self._mix_and_deliver(loop, prepared))

    async def _mix_and_deliver(self, loop: asyncio.AbstractEventLoop, collected: Any) -> None:
        try:
            outputs = await loop.run_in_executor(self._executor, self.target.mix, collected)
            self.target.deliver(outputs)
            self.ticks += 1
        except Exception:  # keep ticking: one bad frame must not end the conference audio
            self.errors += 1
            log.exception("%s tick failed", self.name)
