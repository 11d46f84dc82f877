"""The thin asyncio shell around ``RtspClient``: one TCP connection, one timer.

Written by hand because the core is sans-IO (see client.py); this module only moves
bytes and time. Usage::

    conn = RtspConnection(RtspClient(url, transport="tcp"), on_event)
    await conn.start()        # connects; events arrive at on_event(event)
    ...
    await conn.close()        # TEARDOWN, wait briefly for its answer, close; no task left

``on_event`` is called synchronously for every event, ``Interleaved`` RTP included; it
must not block. The core gets ``loop.time()`` with every chunk, timer and call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from .client import Closed, Connect, Event, Failed, RtspClient, redact_url

log = logging.getLogger("gateway.rtsp.shell")

READ_CHUNK = 65536


class RtspConnection:
    def __init__(
        self,
        client: RtspClient,
        on_event: Callable[[Event], None],
        *,
        connect_timeout: float = 5.0,
    ) -> None:
        self.client = client
        self.on_event = on_event
        self.connect_timeout = connect_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # every task we start, awaited on close
        self._finished = asyncio.Event()

    def __repr__(self) -> str:
        return f"<RtspConnection {redact_url(self.client.url)} {self.client.state}>"

    @property
    def finished(self) -> asyncio.Event:
        """Set once the client is closed or failed and the connection is gone."""
        return self._finished

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.client.start(self.now())
        self._flush()

    async def close(self, timeout: float = 3.0) -> None:
        """TEARDOWN (when a session exists), wait for Closed at most ``timeout``, close."""
        if self._loop is None:
            return
        if not self.client.done:
            if self._connect_task is not None and not self._connect_task.done():
                self._connect_task.cancel()
            self.client.stop(self.now())
            self._flush()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._finished.wait(), timeout)
        await self._shutdown()

    # ---- internals ------------------------------------------------------------------------

    def _flush(self) -> None:
        data = self.client.data_to_send()
        if data and self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)
        for event in self.client.events():
            if isinstance(event, Connect):
                self._start_connect(event.host, event.port)
            try:
                self.on_event(event)
            except Exception:  # a caller's bug must not kill the connection's plumbing
                log.exception("rtsp event callback failed on %s", type(event).__name__)
            if isinstance(event, Closed | Failed):
                self._finished.set()
                self._drop_connection()
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.client.next_timer()
        if when is not None and self._loop is not None:
            self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.client.handle_timer(self.now())
        self._flush()

    def _start_connect(self, host: str, port: int) -> None:
        self._drop_connection()
        self._connect_task = self._spawn(self._connect(host, port))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _connect(self, host: str, port: int) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=READ_CHUNK), self.connect_timeout
            )
        except TimeoutError:
            self.client.connection_failed(self.now(), f"no answer in {self.connect_timeout:g} s")
            self._flush()
            return
        except OSError as exc:
            self.client.connection_failed(self.now(), exc.strerror or str(exc))
            self._flush()
            return
        self._writer = writer
        self._reader_task = self._spawn(self._read(reader))
        self.client.connection_made(self.now())
        self._flush()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                self.client.feed(data, self.now())
                self._flush()
        except (ConnectionError, OSError):
            pass
        if asyncio.current_task() is self._reader_task:
            self._reader_task = None
            self.client.connection_lost(self.now())
            self._flush()

    def _drop_connection(self) -> None:
        """Close the socket now; the reader task ends on its own (or is cancelled)."""
        writer, self._writer = self._writer, None
        task, self._reader_task = self._reader_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if writer is not None:
            writer.close()

    async def _shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        tasks = list(self._tasks)
        writer = self._writer
        self._drop_connection()
        for task in tasks:
            if task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.wait_closed()
