"""The asyncio shell on loopback: connect failures, its one timer, no task left behind."""

from __future__ import annotations

import asyncio

from gateway.rtsp.client import Closed, Connect, Event, Failed, Interleaved, Playing, RtspClient
from gateway.rtsp.shell import PULL_IDLE_S, RtspConnection

from .camera import free_tcp_port
from .fake_server import FakeRtspServer, encode_solid


def other_tasks() -> list[asyncio.Task[object]]:
    """Tasks the shell started and left behind (the test servers' own handlers excluded)."""
    return [
        t
        for t in asyncio.all_tasks()
        if "RtspConnection" in getattr(t.get_coro(), "__qualname__", "")
    ]


async def test_refused_connection_fails_retryable() -> None:
    events: list[Event] = []
    port = free_tcp_port()  # nobody listens there
    conn = RtspConnection(RtspClient(f"rtsp://127.0.0.1:{port}/x", transport="tcp"), events.append)
    await conn.start()
    await asyncio.wait_for(conn.finished.wait(), 3.0)
    await conn.close()
    assert events[0] == Connect("127.0.0.1", port)
    assert isinstance(events[-1], Failed) and events[-1].retryable
    assert "cannot connect" in events[-1].reason
    assert other_tasks() == []


async def test_silent_server_times_out_through_the_shell_timer() -> None:
    received: list[bytes] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(1000))
        await reader.read(1000)  # until the client hangs up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    events: list[Event] = []
    client = RtspClient(f"rtsp://127.0.0.1:{port}/x", transport="tcp", response_timeout=0.3)
    conn = RtspConnection(client, events.append)
    try:
        await conn.start()
        await asyncio.wait_for(conn.finished.wait(), 3.0)
        await conn.close()
    finally:
        server.close()
        await server.wait_closed()
    assert received and received[0].startswith(b"OPTIONS rtsp://127.0.0.1:")
    assert events[-1] == Failed("no answer to OPTIONS within 0.3 s", True)
    assert other_tasks() == []


async def test_close_before_any_session_is_immediate() -> None:
    async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        await reader.read(1000)
        writer.close()

    server = await asyncio.start_server(idle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    events: list[Event] = []
    conn = RtspConnection(RtspClient(f"rtsp://127.0.0.1:{port}/x", transport="tcp"), events.append)
    try:
        await conn.start()
        await asyncio.sleep(0.1)
        # Connected and waiting for the answer to OPTIONS: the socket is read by a
        # protocol's callbacks, so no task is left running, only the connection.
        assert conn.connected and conn.client.state == "options"
        assert other_tasks() == []
        await asyncio.wait_for(conn.close(), 1.0)
        assert not conn.connected
    finally:
        server.close()
        await server.wait_closed()
    assert events[-1] == Closed()
    assert other_tasks() == []


async def test_interleaved_packets_come_in_runs_in_order() -> None:
    """Issue 12: with ``on_interleaved`` the packets of a read are handed on in one call
    (none through ``on_event``), every one of them, in sequence order, and the other
    events still come to ``on_event``."""
    server = await FakeRtspServer(video=encode_solid((0, 255, 0), 160, 120), fps=100).start()
    events: list[Event] = []
    runs: list[list[Interleaved]] = []
    conn = RtspConnection(RtspClient(server.url, transport="tcp"), events.append,
                          on_interleaved=runs.append)
    try:
        await conn.start()
        for _ in range(200):
            if sum(map(len, runs)) >= 50:
                break
            await asyncio.sleep(0.01)
        await conn.close()
    finally:
        await server.stop()
    assert not any(isinstance(event, Interleaved) for event in events)
    assert isinstance(events[-1], Closed) and any(isinstance(e, Playing) for e in events)
    rtp = [frame.data for run in runs for frame in run if frame.channel == 0]
    assert len(rtp) >= 50 and all(runs)
    sequence = [int.from_bytes(data[2:4], "big") for data in rtp]
    assert sequence == [(sequence[0] + k) & 0xFFFF for k in range(len(sequence))]


async def test_a_puller_reads_the_stream_at_its_own_pace() -> None:
    """Issue 12: while someone pulls (the mixer's tick), a playing stream is read only
    in ``pull`` -- everything since the last pull at once, in order -- and once nobody
    pulled for ``PULL_IDLE_S`` the transport reads it again; TEARDOWN's answer is read
    on close either way."""
    server = await FakeRtspServer(video=encode_solid((0, 0, 255), 160, 120), fps=100).start()
    events: list[Event] = []
    runs: list[tuple[bool, list[Interleaved]]] = []  # (inside a pull, the run)
    conn = RtspConnection(RtspClient(server.url, transport="tcp"), events.append,
                          on_interleaved=lambda run: runs.append((pulling, run)))
    pulling = False
    try:
        await conn.start()
        for _ in range(200):
            if runs:
                break
            await asyncio.sleep(0.01)
        for _ in range(20):  # a tick's pace
            await asyncio.sleep(0.03)
            pulling = True
            conn.pull()
            pulling = False
        paced = len(runs)
        await asyncio.sleep(3 * PULL_IDLE_S)  # nobody pulls
        await asyncio.sleep(0.1)
        await conn.close()
    finally:
        await server.stop()
    first_pulled = next(k for k, (inside, _) in enumerate(runs) if inside)
    assert all(inside for inside, _ in runs[first_pulled + 1 : paced])  # only in pulls
    assert len(runs[first_pulled:paced]) <= 20 and sum(
        len(run) for _, run in runs[first_pulled:paced]) >= 20  # several packets a read
    assert runs[paced:] and not any(inside for inside, _ in runs[paced:])  # read again
    rtp = [frame.data for _, run in runs for frame in run if frame.channel == 0]
    sequence = [int.from_bytes(data[2:4], "big") for data in rtp]
    assert sequence == [(sequence[0] + k) & 0xFFFF for k in range(len(sequence))]
    assert isinstance(events[-1], Closed)
