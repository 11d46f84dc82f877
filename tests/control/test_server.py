"""WebServer: uvicorn inside a running loop, port 0, no signal handlers, any thread."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from typing import Any

import httpx
import pytest

from mcu.control import WebServer


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def handlers() -> tuple[Any, Any]:
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


async def test_serves_on_port_0_and_leaves_signals_alone() -> None:
    before = handlers()
    server = WebServer()
    await server.start(hello, "127.0.0.1", 0)
    try:
        assert server.port > 0
        assert handlers() == before
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{server.port}/")
        assert (r.status_code, r.text) == (200, "hello")
    finally:
        await server.stop()
    assert handlers() == before
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


async def test_busy_port_is_an_oserror() -> None:
    first = WebServer()
    await first.start(hello, "127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            await WebServer().start(hello, "127.0.0.1", first.port)
    finally:
        await first.stop()


def test_runs_in_a_non_main_thread() -> None:
    ready = threading.Event()
    port: list[int] = []
    errors: list[BaseException] = []
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None

    async def main() -> None:
        nonlocal stop, loop
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        server = WebServer()
        await server.start(hello, "127.0.0.1", 0)
        port.append(server.port)
        ready.set()
        await stop.wait()
        await server.stop()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)
            ready.set()

    before = handlers()
    thread = threading.Thread(target=run, name="mcu-loop")
    thread.start()
    try:
        assert ready.wait(10)
        assert not errors, errors
        r = httpx.get(f"http://127.0.0.1:{port[0]}/", timeout=5)
        assert r.text == "hello"
        assert handlers() == before
    finally:
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(10)
    assert not thread.is_alive() and not errors
