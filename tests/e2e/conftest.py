"""An MCU running on its own uvloop thread inside the test process.

Baresip peers are driven synchronously from the test, while the MCU keeps running
on its loop; the test reads the MCU's counters (calls, dialogs, transactions,
ports, seats) through ``RunningMcu.inspect`` to prove nothing leaks.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from mcu.app import Mcu
from mcu.settings import Settings
from tests.peers.baresip import BaresipPeer, baresip_available, free_sip_port

T = TypeVar("T")
MCU_RTP_PORTS = (62000, 62199)  # outside Linux's ephemeral range and baresip's RTP ports
TONES = (440.0, 800.0, 1300.0)


class RunningMcu:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.mcu: Mcu

    @property
    def uri_host(self) -> str:
        return f"127.0.0.1:{self.settings.sip.port}"

    @property
    def tls_host(self) -> str:
        """host:port of SIP over TLS (the port chosen at start)."""
        port = self.inspect(lambda m: m.gateway("sip").transport.tls_port)
        return f"127.0.0.1:{port}"

    def start(self) -> RunningMcu:
        self._thread.start()

        async def create() -> Mcu:
            mcu = Mcu(self.settings)
            await mcu.start()
            return mcu

        self.mcu = self.run(create())
        return self

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def inspect(self, read: Callable[[Mcu], T]) -> T:
        async def on_loop() -> T:
            return read(self.mcu)

        return self.run(on_loop())

    def counts(self) -> dict[str, int]:
        def read(mcu: Mcu) -> dict[str, int]:
            endpoint = mcu.gateway("sip").endpoint
            return {
                "calls": len(mcu.gateway("sip").calls),
                "sip_calls": endpoint.call_count,
                "dialogs": endpoint.dialog_count,
                "transactions": endpoint.transaction_count,
                "rtp_ports": mcu.gateway("sip").ports.in_use,
                "seats": mcu.directory.total_seats,
                "conferences": len(mcu.directory.conferences()),
            }

        return self.inspect(read)

    def wait_until(self, predicate: Callable[[Mcu], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inspect(predicate):
                return
            time.sleep(0.05)
        raise AssertionError(f"MCU never reached the expected state: {self.counts()}")

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Every call, dialog, transaction, port and seat has been given back."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = self.counts()
            if not any(counts.values()):
                return
            time.sleep(0.1)
        raise AssertionError(f"MCU did not return to idle: {counts}")

    def stop(self) -> None:
        try:
            self.run(self.mcu.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)


def mcu_settings(**sections: Any) -> Settings:
    sip = {"host": "127.0.0.1", "port": free_sip_port(), "t1": 0.05,
           "tls_port": 0} | sections.pop("sip", {})  # TLS on any free port
    rtp = {"port_min": MCU_RTP_PORTS[0], "port_max": MCU_RTP_PORTS[1],
           "inactivity_timeout": 30.0} | sections.pop("rtp", {})
    # Each MCU gets its own store, so conferences one test creates never reach another.
    database = {"url": f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='mcu-e2e-')}/mcu.db"}
    http = {"port": 0} | sections.pop("http", {})  # any free port: tests run side by side
    rtsp = {"port": 0} | sections.pop("rtsp", {})
    h323 = {"host": "127.0.0.1", "port": 0} | sections.pop("h323", {})
    # The self-signed TLS identity is generated into a folder of its own.
    tls = {"directory": tempfile.mkdtemp(prefix="mcu-e2e-tls-")} | sections.pop("tls", {})
    return Settings(sip=sip, rtp=rtp, database=sections.pop("database", database), http=http,
                    rtsp=rtsp, h323=h323, tls=tls, **sections)


@pytest.fixture
def start_mcu() -> Iterator[Callable[..., RunningMcu]]:
    running: list[RunningMcu] = []

    def start(**sections: Any) -> RunningMcu:
        mcu = RunningMcu(mcu_settings(**sections)).start()
        running.append(mcu)
        return mcu

    yield start
    for mcu in running:
        mcu.stop()


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Callable[..., BaresipPeer]]:
    if not baresip_available():
        pytest.fail("baresip is missing: `make test` installs it (scripts/install-system-deps.sh)")
    started: list[BaresipPeer] = []

    def make(name: str, tone: float, codecs: list[str], transport: str = "udp",
             **options: Any) -> BaresipPeer:
        peer = BaresipPeer(tmp_path, name, 0, tone, codecs, transport=transport, **options)
        started.append(peer)
        return peer.start()

    yield make
    for peer in started:
        peer.close()
