"""H.323 call rate against a real ``mcu serve`` (issue 13), beside the SIP rate in the
same run: Setup with Fast Connect, Connect, ReleaseComplete, on loopback.

Starts ``mcu serve`` (``sip_cps.start_mcu``) with its H.323 port on a free loopback
port. For ``--seconds`` keeps ``--concurrency`` calls in flight, each on a TCP
connection of its own: the caller's side of our own H.323 core (``H323Call``,
``caller=True``) sends a Setup proposing PCMU each way (the MCU's RTP goes to one UDP
socket the generator holds and never reads), waits for the Connect that answers it
(Fast Connect accepted), releases with ReleaseComplete and closes. A call fails on a
ReleaseComplete or close before the Connect, or when not done within
``--call-timeout``. Then the SIP load of ``benchmarks/sip_cps.py`` runs for as long
against the same MCU, so the two figures come from one machine state.

Also measured in this process: the PER work per Setup, our encode of one Setup with its
Fast Connect proposals (Q.931 frame, H.225.0 and the OpenLogicalChannels) plus the
callee's decode of it, in microseconds.

Prints one JSON object; ``ok`` when both loads completed with no failed call and
``calls_per_second`` (H.323) is at least 100.

    .venv/bin/python benchmarks/h323_setup.py [--quick] [--seconds 10] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sip_cps  # noqa: E402

from gateway.h323 import call as core  # noqa: E402
from gateway.h323 import h225, h245, q931  # noqa: E402
from gateway.h323.tpkt import TpktReader, frame  # noqa: E402

HOST = sip_cps.HOST
GOAL_CPS = 100.0


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Stats:
    completed: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    setup_ms: list[float] = field(default_factory=list)

    def fail(self, why: str) -> None:
        self.failed += 1
        self.reasons[why] = self.reasons.get(why, 0) + 1


async def one_call(port: int, room: str, sink_port: int, stats: Stats,
                   timeout: float) -> None:
    started = time.perf_counter()
    writer = None
    try:
        reader_stream, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port), timeout)
        call = core.H323Call(time.monotonic(), caller=True, audio_codecs=("PCMU",))
        call.setup(core.Local(HOST, sink_port), time.monotonic(), destination=room,
                   signal_address=(HOST, port))
        tpkt = TpktReader()
        answered = False
        deadline = started + timeout
        while not answered:
            for action in call.actions():
                if isinstance(action, core.SendQ931):
                    writer.write(frame(action.data))
                elif isinstance(action, core.Answered):
                    answered = True
                elif isinstance(action, core.Ended):
                    stats.fail(f"released before Connect: {action.reason}")
                    return
            if answered:
                break
            left = deadline - time.perf_counter()
            if left <= 0:
                stats.fail("timeout")
                return
            data = await asyncio.wait_for(reader_stream.read(65536), left)
            if not data:
                stats.fail("closed before Connect")
                return
            for payload in tpkt.feed(data):
                call.receive(payload, time.monotonic())
        stats.setup_ms.append((time.perf_counter() - started) * 1000)
        call.hang_up("done")
        for action in call.actions():
            if isinstance(action, core.SendQ931):
                writer.write(frame(action.data))
        await writer.drain()
        stats.completed += 1
    except (OSError, TimeoutError) as error:
        stats.fail(type(error).__name__)
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def run_h323_load(port: int, seconds: float, concurrency: int, rooms: int,
                        timeout: float) -> dict[str, object]:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # RTP goes here, unread
    sink.bind((HOST, 0))
    stats = Stats()
    end = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.perf_counter() < end:
            room = str(sip_cps.ROOM_BASE + next(counter) % rooms)
            await one_call(port, room, sink.getsockname()[1], stats, timeout)

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        sink.close()
    elapsed = time.perf_counter() - t0
    return {
        "calls_per_second": round(stats.completed / elapsed, 1),
        "completed_calls": stats.completed,
        "failed_calls": stats.failed,
        "failure_reasons": stats.reasons,
        "seconds": round(elapsed, 3),
        "concurrency": concurrency,
        "conferences": rooms,
        "setup_ms_p50": sip_cps._pct(stats.setup_ms, 50),
        "setup_ms_p99": sip_cps._pct(stats.setup_ms, 99),
    }


def per_setup_us(repeat: int = 300) -> dict[str, float]:
    """Encode one Fast Connect Setup (ours) and decode it (the callee's work), in µs."""
    def encode() -> bytes:
        call = core.H323Call(0.0, caller=True, audio_codecs=("PCMU", "PCMA"))
        call.setup(core.Local(HOST, 40000), 0.0, destination="7000",
                   signal_address=(HOST, 1720))
        return next(a.data for a in call.actions() if isinstance(a, core.SendQ931))

    def decode(data: bytes) -> None:
        pdu = h225.decode(q931.decode(data).user_user or b"")
        for element in pdu.fast_start:
            h245.decode_olc(element)

    data = encode()
    t0 = time.perf_counter()
    for _ in range(repeat):
        encode()
    t1 = time.perf_counter()
    for _ in range(repeat):
        decode(data)
    t2 = time.perf_counter()
    return {"per_setup_encode_us": round((t1 - t0) / repeat * 1e6, 1),
            "per_setup_decode_us": round((t2 - t1) / repeat * 1e6, 1),
            "per_setup_encode_decode_us": round((t2 - t0) / repeat * 1e6, 1),
            "setup_bytes": len(data)}


def wait_h323(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError("the MCU's H.323 port never opened")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="3 s of each load")
    parser.add_argument("--concurrency", type=int, default=20, help="calls in flight")
    parser.add_argument("--call-timeout", type=float, default=8.0)
    args = parser.parse_args(argv)
    seconds = 3.0 if args.quick else args.seconds
    rooms = max(1, args.concurrency // 5)
    sip_port, h323_port = sip_cps.free_sip_port(), free_tcp_port()
    with tempfile.TemporaryDirectory(prefix="h323-setup-") as workdir:
        proc = sip_cps.start_mcu(sip_port, rooms, args.concurrency, workdir, [],
                                 extra_env={"MCU_H323__PORT": str(h323_port),
                                            "MCU_H323__HOST": HOST,
                                            # every call comes from this one address
                                            "MCU_H323__MAX_CONNECTIONS_PER_ADDRESS":
                                                str(max(50, 4 * args.concurrency)),
                                            "MCU_H323__MAX_CONNECTIONS":
                                                str(max(200, 8 * args.concurrency))})
        try:
            sip_cps.wait_ready(proc, sip_port)
            wait_h323(h323_port)
            print(f"h323_setup: mcu on tcp/{h323_port} (H.323) and udp/{sip_port} (SIP), "
                  f"{seconds:g} s each at concurrency {args.concurrency}", file=sys.stderr)
            cpu0 = sip_cps.cpu_seconds(proc.pid)
            h323 = sip_cps._run(run_h323_load(h323_port, seconds, args.concurrency, rooms,
                                              args.call_timeout))
            cpu1 = sip_cps.cpu_seconds(proc.pid)
            sip = sip_cps._run(sip_cps.run_load(sip_port, seconds, args.concurrency, rooms,
                                                args.call_timeout))
            cpu2 = sip_cps.cpu_seconds(proc.pid)
        except BaseException:
            sip_cps.stop_mcu(proc)
            raise
        status = sip_cps.stop_mcu(proc, timeout=60)
    if cpu0 is not None and cpu1 is not None and cpu2 is not None:
        h323["mcu_cpu_percent"] = round(100 * (cpu1 - cpu0) / float(h323["seconds"]), 1)  # type: ignore[arg-type]
        sip["mcu_cpu_percent"] = round(100 * (cpu2 - cpu1) / float(sip["seconds"]), 1)  # type: ignore[arg-type]
    result: dict[str, object] = {
        "calls_per_second": h323["calls_per_second"],
        "failed_calls": h323["failed_calls"],
        "h323": h323,
        "sip": {key: sip[key] for key in ("calls_per_second", "failed_calls",
                                          "completed_calls", "setup_ms_p50",
                                          "setup_ms_p99", "mcu_cpu_percent", "seconds")
                if key in sip},
        "h323_to_sip_cps_ratio": round(float(h323["calls_per_second"])  # type: ignore[arg-type]
                                       / max(float(sip["calls_per_second"]), 1e-9), 3),  # type: ignore[arg-type]
        **per_setup_us(),
        "goal_calls_per_second": GOAL_CPS,
        "mcu_exit_status": status,
    }
    result["ok"] = (status == 0 and h323["failed_calls"] == 0 and sip["failed_calls"] == 0
                    and float(h323["calls_per_second"]) >= GOAL_CPS)  # type: ignore[arg-type]
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
