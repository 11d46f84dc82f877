"""The thin asyncio shell around ``RtspClient``: one TCP connection, one timer.

Written by hand because the core is sans-IO (see client.py); this module only moves
bytes and time. Usage::

    conn = RtspConnection(RtspClient(url, transport="tcp"), on_event)
    await conn.start()        # connects; events arrive at on_event(event)
    ...
    await conn.close()        # TEARDOWN, wait briefly for its answer, close; no task left

``on_event`` is called synchronously for every event, ``Interleaved`` RTP included; it
must not block. Given ``on_interleaved``, the ``Interleaved`` frames go there instead,
all of one read's in one call, before that read's other events (frames come only after
the answer to PLAY, by when the media they go to is set up): a 1080p camera brings
hundreds a second, and the layers above do per read what they need not do per packet
(issue 12). The core gets ``loop.time()`` with every chunk, timer and call.

Paced reading (issue 12): whoever consumes a playing stream at its own pace (the
mixer's tick, through ``CameraLeg``) calls ``pull()``, which reads everything the
server sent since, at once. The first pull pauses the transport's own reading, so a
1080p camera costs one read a tick instead of one each time a few packets land (about
80 a second): each read wakes cold code and data and cost here as much as five or six
packets. Pictures wait for the tick either way, so this adds no latency and keeps every
picture (reading every other tick would halve the cost again, and the frame rate).
Reading goes back to the transport whenever nobody pulled for ``PULL_IDLE_S`` (a
camera no mixer reads still has its RTSP answers read), at the end of the stream, on
an error, and on close.

The connection is an ``asyncio.Protocol`` whose ``data_received`` feeds the client and
hands its events on in the same callback, as ``gateway/sip/transport.py`` does: a
playing camera sends a few hundred interleaved RTP packets a second, and a
``StreamReader`` with a reader task would add a buffer copy and a task wake-up to every
read, which the ingest benchmark (issue 12) counts against us. The only task is the
one that connects; it ends once connected. The timer is re-armed only when the core's
``next_timer()`` changes (a chunk of RTP rarely changes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, cast

from .client import Closed, Connect, Event, Failed, Interleaved, RtspClient, redact_url

log = logging.getLogger("gateway.rtsp.shell")

PULL_IDLE_S = 0.1  # paced reading ends when nobody pulled for this long
PULL_CHUNK = 65536  # bytes a read; below glibc's mmap threshold, so no mmap a read


class _RtspProtocol(asyncio.Protocol):
    """One TCP connection's callbacks, handed to its ``RtspConnection`` while it is the
    connection's current one (a dropped connection's late callbacks are ignored)."""

    def __init__(self, conn: RtspConnection) -> None:
        self._conn = conn
        self.transport: asyncio.Transport | None = None
        self.fd = -1
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        # The socket's descriptor, for paced reading; none for TLS, whose bytes on the
        # wire are not the stream's.
        sock = transport.get_extra_info("socket")
        tls = transport.get_extra_info("sslcontext") is not None
        self.fd = sock.fileno() if sock is not None and not tls else -1
        self._conn._attach(self)

    def data_received(self, data: bytes) -> None:
        self._conn._on_data(self, data)

    def eof_received(self) -> bool:
        return False  # the server is done: close our side too (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self._conn._on_lost(self)


class RtspConnection:
    def __init__(
        self,
        client: RtspClient,
        on_event: Callable[[Event], None],
        *,
        on_interleaved: Callable[[list[Interleaved]], None] | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.client = client
        self.on_event = on_event
        self.on_interleaved = on_interleaved
        self.connect_timeout = connect_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._protocol: _RtspProtocol | None = None  # the current connection
        self._closing: list[_RtspProtocol] = []  # dropped ones not yet closed
        self._connect_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # every task we start, awaited on close
        self._finished = asyncio.Event()
        self._shut = False
        self._paced: _RtspProtocol | None = None  # whose reading ``pull`` does now
        self._pulled_at = 0.0
        self._pace_watch: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<RtspConnection {redact_url(self.client.url)} {self.client.state}>"

    @property
    def finished(self) -> asyncio.Event:
        """Set once the client is closed or failed and the connection is gone."""
        return self._finished

    @property
    def connected(self) -> bool:
        """Whether a TCP connection to the server is up now."""
        return self._protocol is not None

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.client.start(self.now())
        self._flush()

    def pull(self) -> None:
        """Read now whatever the server sent since the last read (a playing stream over
        TCP; see "Paced reading" above). Anything else is left to the transport."""
        protocol = self._paced or self._pace()
        if protocol is None:
            return
        self._pulled_at = self.now()
        fd = protocol.fd
        chunks = []
        while True:
            try:
                chunk = os.read(fd, PULL_CHUNK)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # reset: the transport reads it again and reports it
                self._unpace()
                break
            if not chunk:  # the server closed: the transport sees it the same way
                self._unpace()
                break
            chunks.append(chunk)
            if len(chunk) < PULL_CHUNK:
                break  # the rest is yet to come
        if chunks:
            self._on_data(protocol, b"".join(chunks))

    def _pace(self) -> _RtspProtocol | None:
        """Take over reading from the transport, when the stream plays interleaved on
        a plain TCP connection (over UDP, the connection carries only answers)."""
        protocol = self._protocol
        transport = protocol.transport if protocol is not None else None
        if (protocol is None or transport is None or transport.is_closing() or self._shut
                or self.client.state != "playing" or self.client.transport != "tcp"
                or protocol.fd < 0):
            return None
        transport.pause_reading()
        self._paced = protocol
        self._watch_pace()
        return protocol

    def _watch_pace(self) -> None:
        assert self._loop is not None
        self._pace_watch = self._loop.call_later(PULL_IDLE_S, self._check_pace)

    def _check_pace(self) -> None:
        self._pace_watch = None
        if self._paced is None:
            return
        if self.now() - self._pulled_at >= PULL_IDLE_S:
            self._unpace()  # nobody pulls: the transport reads again
        else:
            self._watch_pace()

    def _unpace(self) -> None:
        protocol, self._paced = self._paced, None
        if self._pace_watch is not None:
            self._pace_watch.cancel()
            self._pace_watch = None
        transport = protocol.transport if protocol is not None else None
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    async def close(self, timeout: float = 3.0) -> None:
        """TEARDOWN (when a session exists), wait for Closed at most ``timeout``, close."""
        if self._loop is None:
            return
        self._unpace()  # its answer is read as it comes
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
        if data:
            protocol = self._protocol
            transport = protocol.transport if protocol is not None else None
            if transport is not None and not transport.is_closing():
                transport.write(data)
        on_event = self.on_event  # (given on_interleaved, frames never come as events)
        for event in self.client.events():
            if isinstance(event, Connect):
                self._start_connect(event.host, event.port)
            try:
                on_event(event)
            except Exception:  # a caller's bug must not kill the connection's plumbing
                log.exception("rtsp event callback failed on %s", type(event).__name__)
            if isinstance(event, Closed | Failed):
                self._finished.set()
                self._drop_connection()
        self._arm_timer()

    def _hand_on(self, run: list[Interleaved]) -> None:
        assert self.on_interleaved is not None
        try:
            self.on_interleaved(run)
        except Exception:  # a caller's bug must not kill the connection's plumbing
            log.exception("rtsp interleaved callback failed")

    def _arm_timer(self) -> None:
        when = self.client.next_timer()
        if when == self._timer_at and (when is None or self._timer is not None):
            return  # unchanged (the usual case while playing)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = when
        if when is not None and self._loop is not None:
            self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
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
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: _RtspProtocol(self), host, port),
                self.connect_timeout,
            )
        except TimeoutError:
            self.client.connection_failed(self.now(), f"no answer in {self.connect_timeout:g} s")
            self._flush()
        except OSError as exc:
            self.client.connection_failed(self.now(), exc.strerror or str(exc))
            self._flush()

    def _attach(self, protocol: _RtspProtocol) -> None:
        """A connection is up (``connection_made``): it becomes the current one."""
        assert protocol.transport is not None
        if self._shut or self.client.done:
            protocol.transport.close()
            self._closing.append(protocol)
            return
        self._drop_connection()
        self._protocol = protocol
        self.client.connection_made(self.now())
        self._flush()

    def _on_data(self, protocol: _RtspProtocol, data: bytes) -> None:
        if protocol is not self._protocol:
            return
        if self.on_interleaved is None:
            self.client.feed(data, self.now())
            self._flush()
            return
        # A playing camera's read is all frames, straight to the media; events, data to
        # send and timers can only be new when something else came.
        frames, other = self.client.feed_media(data, self.now())
        if frames:
            self._hand_on(frames)
        if other:
            self._flush()

    def _on_lost(self, protocol: _RtspProtocol) -> None:
        if protocol in self._closing:
            self._closing.remove(protocol)
        if protocol is self._paced:
            self._unpace()
        if protocol is self._protocol:
            self._protocol = None
            self.client.connection_lost(self.now())
            self._flush()

    def _drop_connection(self) -> None:
        """Close the socket now; its late callbacks are ignored."""
        self._unpace()
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            self._closing.append(protocol)
            protocol.transport.close()

    async def _shutdown(self) -> None:
        self._shut = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = None
        self._drop_connection()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        closing = [p.closed for p in self._closing]
        if closing:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*closing), 1.0)
        self._closing.clear()
