"""A worker pool that runs the job with the earliest deadline first.

The video mixer's stages overlap across ticks (issue 14): while tick n encodes, tick
n+1 composes and tick n+2 decodes, and all three hand their jobs to the same few
workers (one per core). A first-in-first-out pool serves whoever asked first, so the
oldest tick's encodes, the ones closest to their deadline, could wait behind the
decodes of a tick two periods younger, and every stage's time would stretch to the
whole queue's. Here each job carries its tick's time and the workers always take the
oldest: earliest deadline first, across every conference sharing the pool.

``concurrent.futures.ThreadPoolExecutor`` has no priorities (its queue is a private
``SimpleQueue``), and no maintained library offers a prioritised ``Executor``; this
one is small. ``submit`` without a deadline (thumbnails, anything else) counts as due
now, so it waits for older ticks and goes before younger ones: nothing starves.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class DeadlinePool(Executor):
    """``workers`` threads taking jobs by deadline (``time.monotonic`` seconds)."""

    def __init__(self, workers: int, name: str = "pool") -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self._jobs: list[tuple[float, int, Future[Any], Callable[..., Any],
                               tuple[Any, ...], dict[str, Any]]] = []
        self._order = itertools.count()  # equal deadlines: first come, first served
        self._changed = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{index}",
                                          daemon=True) for index in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self.submit_by(time.monotonic(), fn, *args, **kwargs)

    def submit_by(self, deadline: float, fn: Callable[..., Any], /, *args: Any,
                  **kwargs: Any) -> Future[Any]:
        """Run ``fn`` before every job with a later deadline."""
        future: Future[Any] = Future()
        with self._changed:
            if self._closed:
                raise RuntimeError("cannot schedule new jobs after shutdown")
            heapq.heappush(self._jobs, (deadline, next(self._order), future, fn, args, kwargs))
            self._changed.notify()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._changed:
            self._closed = True
            if cancel_futures:
                for job in self._jobs:
                    job[2].cancel()
                self._jobs.clear()
            self._changed.notify_all()
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._jobs and not self._closed:
                    self._changed.wait()
                if not self._jobs:
                    return  # closed and drained
                _, _, future, fn, args, kwargs = heapq.heappop(self._jobs)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # handed to whoever waits, as the stdlib does
                future.set_exception(error)
            else:
                future.set_result(result)
