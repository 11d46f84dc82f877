"""SIP call rate against a real ``mcu serve``: INVITE(SDP)/200/ACK/BYE/200 on loopback.

Starts ``mcu serve`` as a subprocess on free loopback ports, waits until it answers an
OPTIONS, then for ``--seconds`` keeps ``--concurrency`` calls in flight, each one
INVITE with an SDP offer, 200 (the core ACKs it), BYE at once, 200. Calls are spread
round robin over a few conference IDs so no room reaches its participant limit. A
call fails on a non-2xx answer to its INVITE, on a BYE not answered 200, or when it
is not done within ``--call-timeout`` seconds. Then the MCU gets SIGTERM and must exit 0.

The load generator is the UAC side of our own SIP core (``SipEndpoint`` behind a
``SipTransport``). Every offer points RTP at one UDP socket the generator holds and
never reads, so the MCU's media goes nowhere else.

For scale the same run measures a raw loop: a UDP echo of an INVITE-sized datagram
through a child process on loopback, with as many datagrams in flight as calls.

Prints one JSON object on stdout; progress and MCU stderr go to stderr.

    .venv/bin/python benchmarks/sip_cps.py [--quick] [--seconds 30] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.sdp.negotiate import LocalSession, make_offer  # noqa: E402
from gateway.sip.endpoint import (  # noqa: E402
    CallAnswered,
    CallEnded,
    CallFailed,
    Event,
    SipCoreConfig,
    SipEndpoint,
)
from gateway.sip.message import SipRequest, SipResponse  # noqa: E402
from gateway.sip.transaction import ClientTransaction, Dest  # noqa: E402
from gateway.sip.transport import SipTransport  # noqa: E402

HOST = "127.0.0.1"
RTP_MIN, RTP_MAX = 40000, 59999
ROOM_BASE = 7000  # conference IDs 7000, 7001, ...
CALLER = "bench"
T = TypeVar("T")


# --------------------------------------------------------------------------- helpers


def free_sip_port() -> int:
    """A loopback port free for both UDP and TCP (the MCU listens on both)."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((HOST, 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((HOST, port))
        except OSError:
            continue
        finally:
            tcp.close()
            udp.close()
        if not RTP_MIN <= port <= RTP_MAX:
            return port
    raise RuntimeError("no free loopback port for SIP")


def mcu_command() -> list[str]:
    venv_mcu = Path(sys.executable).with_name("mcu")
    if venv_mcu.exists():
        return [str(venv_mcu), "serve"]
    found = shutil.which("mcu")
    if found:
        return [found, "serve"]
    return [sys.executable, "-m", "mcu.cli", "serve"]


def start_mcu(port: int, rooms: int, concurrency: int, workdir: str,
              prefix: list[str], tls_port: int | None = None,
              extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``mcu serve`` on loopback; SIP over TLS on ``tls_port`` (a free one when None,
    so the default 5061 never collides), its certificate generated in ``workdir``."""
    per_room = max(50, 4 * concurrency)  # a room also holds calls whose BYE is in flight
    env = dict(os.environ)
    env.update({
        "MCU_SIP__HOST": HOST,
        "MCU_SIP__PORT": str(port),
        "MCU_SIP__TLS_PORT": str(tls_port if tls_port is not None else free_sip_port()),
        "MCU_RTP__PORT_MIN": str(RTP_MIN),
        "MCU_RTP__PORT_MAX": str(RTP_MAX),
        "MCU_CONFERENCES__MAX_PARTICIPANTS": str(per_room),
        "MCU_CONFERENCES__MAX_TOTAL_PARTICIPANTS": str(per_room * rooms),
        "MCU_LOG__LEVEL": "WARNING",
        "MCU_HTTP__PORT": "0",
        "MCU_RTSP__PORT": "0",
        "MCU_H323__PORT": "0",
        "MCU_DATABASE__URL": f"sqlite+aiosqlite:///{workdir}/mcu.db",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    })
    env.update(extra_env or {})
    return subprocess.Popen([*prefix, *mcu_command()], cwd=workdir, env=env,
                            stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (Linux /proc), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def stop_mcu(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int | None:
    """SIGTERM, wait; returns the exit status (None: it had to be killed)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        status = proc.wait(timeout)
        print(f"mcu stopped in {time.monotonic() - started:.1f} s", file=sys.stderr)
        return status
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def options_ping(port: int, timeout: float) -> bool:
    """One OPTIONS by hand; True when any SIP response comes back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        s.settimeout(timeout)
        me = s.getsockname()[1]
        req = SipRequest("OPTIONS", f"sip:{HOST}:{port}")
        req.add("Via", f"SIP/2.0/UDP {HOST}:{me};rport;branch=z9hG4bKping{time.monotonic_ns()}")
        req.add("Max-Forwards", "70")
        req.add("From", f"<sip:{CALLER}@{HOST}:{me}>;tag=ping")
        req.add("To", f"<sip:{HOST}:{port}>")
        req.add("Call-ID", f"ping-{time.monotonic_ns()}@{HOST}")
        req.add("CSeq", "1 OPTIONS")
        try:
            s.sendto(req.to_bytes(), (HOST, port))
            data, _ = s.recvfrom(65535)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 ")


def wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mcu serve exited early with status {proc.returncode}")
        if options_ping(port, 0.2):
            return
    raise RuntimeError("mcu serve did not answer OPTIONS")


# --------------------------------------------------------------------------- load


@dataclass(slots=True)
class _Call:
    started: float
    answered: bool = False
    bye_sent: bool = False


@dataclass(slots=True)
class Stats:
    started: int = 0
    completed: int = 0
    failed: int = 0
    srtp_answered: int = 0  # answers with SDES keys (a=crypto)
    reasons: dict[str, int] = field(default_factory=dict)
    setup_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


class LoadGenerator:
    """Keeps ``concurrency`` calls in flight against ``remote`` until told to stop.

    ``tls_client`` set: calls go over SIP over TLS to ``remote`` (the MCU's TLS port)
    with SRTP (SDES) offers, all on one connection the transport keeps up; with
    ``reconnect`` too, that connection is closed after each call, so the next call
    opens (and handshakes) a new one: give such a generator ``concurrency`` 1."""

    def __init__(self, remote: tuple[str, int], concurrency: int, rooms: int,
                 rtp_sink_port: int, call_timeout: float, *,
                 tls_client: ssl.SSLContext | None = None, reconnect: bool = False,
                 stats: Stats | None = None, first_seq: int = 0) -> None:
        self.remote = remote
        self.concurrency = concurrency
        self.rooms = rooms
        self.call_timeout = call_timeout
        self.stats = stats if stats is not None else Stats()
        self.calls: dict[str, _Call] = {}
        self.launching = False
        self.secure = tls_client is not None
        self.reconnect = reconnect and self.secure
        self.offer = make_offer(HOST, rtp_sink_port, ["PCMU"], LocalSession(),
                                srtp=self.secure)
        self.endpoint = SipEndpoint(SipCoreConfig(user_agent="sip-cps", local_host=HOST))
        # Over TLS no listener of our own: the MCU answers on the connection we open.
        self.transport = SipTransport(self.endpoint, HOST, 0, udp=not self.secure,
                                      tcp=False, on_events=self._on_events,
                                      tls_client=tls_client)
        self._seq = first_seq
        self._now = time.perf_counter
        self.drained = asyncio.Event()

    async def start(self) -> None:
        await self.transport.start()
        # Over TLS our Via/Contact port is nominal (no listener; rport and the
        # connection carry everything back).
        self.endpoint.config.local_port = self.transport.port or 5061

    async def close(self) -> None:
        await self.transport.close()

    def launch(self) -> None:
        self.launching = True
        self._top_up()
        self.transport.flush()

    def stop_launching(self) -> None:
        self.launching = False
        if not self.calls:
            self.drained.set()

    def _top_up(self) -> None:
        while self.launching and len(self.calls) < self.concurrency:
            room = ROOM_BASE + self._seq % self.rooms
            self._seq += 1
            uri = f"sip:{room}@{self.remote[0]}:{self.remote[1]}"
            if self.secure:
                uri += ";transport=tls"
            handle = self.endpoint.invite(uri, self.remote, "tls" if self.secure else "udp",
                                          from_user=CALLER, sdp=self.offer)
            self.calls[handle] = _Call(self._now())
            self.stats.started += 1

    def _finish(self, handle: str, failure: str | None) -> None:
        call = self.calls.pop(handle, None)
        if call is None:
            return
        if failure is None:
            self.stats.completed += 1
            self.stats.total_ms.append((self._now() - call.started) * 1000)
        else:
            self.stats.fail(failure)
        if self.reconnect:
            self._drop_connections()
        self._top_up()
        if not self.calls and not self.launching:
            self.drained.set()

    def _drop_connections(self) -> None:
        """Close our TLS connections (the transport has no public call for it): the
        next request opens a new one."""
        for conn in list(self.transport._conns.values()):
            if conn.transport is not None:
                conn.transport.close()

    def _on_events(self, events: list[Event]) -> None:
        for event in events:
            handle = event.call
            call = self.calls.get(handle)
            if call is None:
                continue
            if isinstance(event, CallAnswered):
                call.answered = True
                if event.sdp and b"a=crypto:" in event.sdp:
                    self.stats.srtp_answered += 1
                self.stats.setup_ms.append((self._now() - call.started) * 1000)
                self._hangup(handle, call)
            elif isinstance(event, CallFailed):
                self._finish(handle, f"INVITE {event.status}")
            elif isinstance(event, CallEnded) and not call.bye_sent:
                self._finish(handle, f"ended: {event.reason}")

    def _hangup(self, handle: str, call: _Call) -> None:
        """BYE, and watch its transaction: the core ends the call without waiting."""
        ep = self.endpoint
        ep.hangup(handle, "bench")
        call.bye_sent = True
        tx: ClientTransaction | None = None
        if ep.layer.client:
            newest = next(reversed(ep.layer.client.values()))
            if newest.request.method == "BYE":
                tx = newest
        if tx is None:
            self._finish(handle, "no BYE sent")
            return

        def on_response(_tx: ClientTransaction, resp: SipResponse) -> None:
            if resp.status >= 200:
                self._finish(handle, None if resp.status == 200 else f"BYE {resp.status}")

        tx.on_response = on_response
        tx.on_timeout = lambda _tx: self._finish(handle, "BYE timeout")

    def sweep(self) -> None:
        """Fail calls that took longer than ``call_timeout``."""
        limit = self._now() - self.call_timeout
        for handle in [h for h, c in self.calls.items() if c.started < limit]:
            call = self.calls[handle]
            if not call.bye_sent:
                self.endpoint.hangup(handle, "bench timeout")
            self._finish(handle, "timeout (answered)" if call.answered else "timeout")
        self.transport.flush()


async def run_load(port: int, seconds: float, concurrency: int, rooms: int,
                   call_timeout: float, *, tls_client: ssl.SSLContext | None = None,
                   reconnect: bool = False, host: str = HOST) -> dict[str, object]:
    """``port`` is the MCU's UDP port, or its TLS port with ``tls_client``; with
    ``reconnect`` each of ``concurrency`` generators runs one call at a time on a new
    TLS connection per call; ``host``: where the calls go (a proxy in front, say)."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # RTP goes here, unread
    sink.bind((HOST, 0))
    stats = Stats()
    sink_port = sink.getsockname()[1]
    if reconnect and tls_client is not None:
        gens = [LoadGenerator((host, port), 1, rooms, sink_port, call_timeout,
                              tls_client=tls_client, reconnect=True, stats=stats, first_seq=i)
                for i in range(concurrency)]
    else:
        gens = [LoadGenerator((host, port), concurrency, rooms, sink_port, call_timeout,
                              tls_client=tls_client, stats=stats)]
    try:
        for gen in gens:
            await gen.start()
        t0 = time.perf_counter()
        for gen in gens:
            gen.launch()
        end = t0 + seconds
        while (now := time.perf_counter()) < end:
            await asyncio.sleep(min(0.25, end - now))
            for gen in gens:
                gen.sweep()
        launched_for = time.perf_counter() - t0
        for gen in gens:
            gen.stop_launching()
        drain_deadline = time.perf_counter() + call_timeout + 1
        while (not all(g.drained.is_set() for g in gens)
               and time.perf_counter() < drain_deadline):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(g.drained.wait() for g in gens)), 0.25)
            for gen in gens:
                gen.sweep()
        elapsed = time.perf_counter() - t0
        left = sum(len(g.calls) for g in gens)
        for gen in gens:
            for handle in list(gen.calls):
                gen._finish(handle, "unfinished")
    finally:
        for gen in gens:
            await gen.close()
        sink.close()
    s = stats
    return {
        "calls_per_second": round(s.completed / elapsed, 1),
        "completed_calls": s.completed,
        "failed_calls": s.failed,
        "srtp_answered_calls": s.srtp_answered,
        "failure_reasons": s.reasons,
        "started_calls": s.started,
        "unfinished_calls": left,
        "seconds": round(elapsed, 3),
        "launch_seconds": round(launched_for, 3),
        "concurrency": concurrency,
        "conferences": rooms,
        "setup_ms_p50": _pct(s.setup_ms, 50),
        "setup_ms_p99": _pct(s.setup_ms, 99),
        "call_ms_p50": _pct(s.total_ms, 50),
        "call_ms_p99": _pct(s.total_ms, 99),
    }


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 2)


# --------------------------------------------------------------------------- raw UDP

_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
recv, send = s.recvfrom, s.sendto
while True:
    data, addr = recv(65535)
    if data == b"stop":
        break
    send(data, addr)
"""


def raw_udp_round_trips(seconds: float, window: int, size: int) -> float:
    """Echo ``size``-byte datagrams through a child process, ``window`` in flight."""
    echo = subprocess.Popen([sys.executable, "-c", _ECHO], stdout=subprocess.PIPE)
    try:
        assert echo.stdout is not None
        addr = (HOST, int(echo.stdout.readline()))
        payload = b"x" * size
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((HOST, 0))
            s.settimeout(0.5)
            send, recv = s.sendto, s.recv
            for _ in range(window):
                send(payload, addr)
            done = 0
            t0 = time.perf_counter()
            end = t0 + seconds
            while True:
                try:
                    recv(65535)
                except TimeoutError:  # a datagram lost: refill the window
                    for _ in range(window):
                        send(payload, addr)
                    continue
                done += 1
                if done & 255 == 0 and time.perf_counter() >= end:
                    break
                send(payload, addr)
            elapsed = time.perf_counter() - t0
            send(b"stop", addr)
        return done / elapsed
    finally:
        try:
            echo.wait(2)
        except subprocess.TimeoutExpired:
            echo.kill()
            echo.wait()


def invite_size(rtp_port: int) -> int:
    """Bytes of one benchmark INVITE, as the generator builds it."""
    ep = SipEndpoint(SipCoreConfig(user_agent="sip-cps", local_host=HOST, local_port=5999))
    sdp = make_offer(HOST, rtp_port, ["PCMU"], LocalSession())
    ep.invite(f"sip:{ROOM_BASE}@{HOST}:5060", (HOST, 5060), from_user=CALLER, sdp=sdp, now=0.0)
    (tx,) = ep.transmissions()
    assert tx.remote == Dest("udp", (HOST, 5060)).addr
    return len(tx.data)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="5 s of load (and 1 s raw UDP)")
    parser.add_argument("--concurrency", type=int, default=50, help="calls in flight")
    parser.add_argument("--conferences", type=int, default=0,
                        help="conference IDs to spread calls over (default: concurrency/10)")
    parser.add_argument("--call-timeout", type=float, default=8.0,
                        help="seconds before an unfinished call counts as failed")
    parser.add_argument("--raw-seconds", type=float, default=3.0)
    parser.add_argument("--profile", metavar="FILE",
                        help="run the MCU under cProfile, writing stats to FILE")
    args = parser.parse_args(argv)
    seconds = 5.0 if args.quick else args.seconds
    raw_seconds = 1.0 if args.quick else args.raw_seconds
    rooms = args.conferences or max(1, args.concurrency // 10)

    port = free_sip_port()
    prefix: list[str] = []
    if args.profile:
        prefix = [sys.executable, "-m", "cProfile", "-o", str(Path(args.profile).resolve())]
    with tempfile.TemporaryDirectory(prefix="sip-cps-") as workdir:
        proc = start_mcu(port, rooms, args.concurrency, workdir, prefix)
        try:
            wait_ready(proc, port)
            print(f"sip_cps: mcu on udp/{port}, {seconds:g} s at concurrency "
                  f"{args.concurrency} over {rooms} conferences", file=sys.stderr)
            mcu_cpu0 = cpu_seconds(proc.pid)
            own_cpu0 = time.process_time()
            result = _run(run_load(port, seconds, args.concurrency, rooms, args.call_timeout))
            mcu_cpu1 = cpu_seconds(proc.pid)
            own_cpu = time.process_time() - own_cpu0
        except BaseException:
            stop_mcu(proc)
            raise
        status = stop_mcu(proc)
    size = invite_size(RTP_MIN)
    raw = raw_udp_round_trips(raw_seconds, args.concurrency, size)
    result["raw_udp_round_trips_per_second"] = round(raw, 1)
    result["raw_udp_datagram_bytes"] = size
    result["cps_to_raw_udp_ratio"] = round(float(result["calls_per_second"]) / raw, 5)  # type: ignore[arg-type]
    load_s = float(result["seconds"])  # type: ignore[arg-type]
    if mcu_cpu0 is not None and mcu_cpu1 is not None and not args.profile:
        result["mcu_cpu_percent"] = round(100 * (mcu_cpu1 - mcu_cpu0) / load_s, 1)
    result["generator_cpu_percent"] = round(100 * own_cpu / load_s, 1)
    result["mcu_exit_status"] = status
    ok = status == 0 and result["failed_calls"] == 0
    result["ok"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """uvloop when present, like the MCU itself."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    sys.exit(main())
