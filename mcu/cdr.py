"""Call detail records: one row per participation, written when a leg joins a
conference and closed when it leaves, so a crash still leaves a trace.

The store is async and the conference is not, so each write is a task; the closing
write waits for the opening one (it needs its row id). Failures are logged and never
reach the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from gateway.leg import Leg
from gateway.log import log_event
from mcu.store import Store

log = logging.getLogger("mcu.cdr")
T = TypeVar("T")


class CallRecorder:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._open: dict[str, asyncio.Task[int | None]] = {}  # leg id -> its row id
        self._tasks: set[asyncio.Task[Any]] = set()

    def started(self, numeric_id: str, leg: Leg) -> None:
        self._open[leg.id] = self._spawn(self._start(numeric_id, leg))

    def ended(self, leg_id: str, reason: str) -> None:
        opening = self._open.pop(leg_id, None)
        if opening is not None:
            self._spawn(self._finish(opening, reason))

    async def drain(self) -> None:
        """Wait for every pending write (shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _start(self, numeric_id: str, leg: Leg) -> int | None:
        try:
            entry = await self._store.record_call(numeric_id, leg.remote, _now(),
                                                  display_name=leg.display_name or None)
            return entry.id
        except Exception as error:
            log_event(log, "cdr.failed", level=logging.WARNING, leg=leg.id, error=str(error))
            return None

    async def _finish(self, opening: asyncio.Task[int | None], reason: str) -> None:
        row = await opening
        if row is None:
            return
        try:
            await self._store.finish_call(row, _now(), reason)
        except Exception as error:
            log_event(log, "cdr.failed", level=logging.WARNING, row=row, error=str(error))


def _now() -> datetime:
    return datetime.now(UTC)
