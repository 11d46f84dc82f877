"""What encryption costs: SRTP per packet against plain RTP, SIP over TLS against UDP.

Media (``media``), all in this process, CPU time (``time.process_time``):

* ``crypto``: ``SrtpStream.protect`` and ``unprotect`` alone, per suite
  (AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM) on PCMU-sized (172-byte) and video-sized
  (1200-byte) RTP packets, each packet a new sequence number.
* ``path``: the whole media path as the MCU runs it: two ``RtpEndpoint`` s (uvloop,
  like the MCU) on loopback UDP, each sending N packets to the other through
  ``send_packets`` (``_emit``: protect, ``sendto``) and receiving through its socket
  (``_on_rtp``: unprotect, then ``RtpSession``/``VideoRtpSession.receive_rtp``), in
  batches, plain RTP and each suite in the same run. The figure is CPU per packet
  sent and received (both ends are this process), and ``ratio_to_plain`` divides by
  the plain path's figure from the same run.

Every figure is marginal: runs of N and 2N packets (best of ``--repeats`` each),
(cost(2N) - cost(N)) / N, so set-up, teardown and timer ticks cancel out.

SIP (``sip``): a ``mcu serve`` subprocess on loopback (as ``benchmarks/sip_cps.py``
runs it, and with its load generator): INVITE/200/ACK/BYE/200 at a fixed number of
calls in flight, first over UDP (plain RTP offers), then over SIP over TLS with SRTP
(SDES) offers on one TLS connection kept up (``tls``), then with a new TLS connection
(and handshake) per call (``tls_new_connection``). A warm-up over UDP first creates
the conferences. Each mode reports calls per second and the MCU's CPU per call (its
idle CPU rate, measured before the load, subtracted); ratios are against UDP in the
same run. The load generator shares the machine, so calls per second is also bounded
by its own CPU (``generator_cpu_percent``); MCU CPU per call is the steadier figure.
Caveat: after a burst of calls the MCU keeps working for a while (writing call
records: ``mcu_idle_cpu_percent`` is that tail, and ``mcu_shutdown_seconds`` how long
SIGTERM took), so ``mcu_cpu_ms_per_call_raw`` (nothing subtracted) is given too.

Prints one JSON object on stdout; progress goes to stderr.

    .venv/bin/python benchmarks/srtp.py [--quick] [--packets 5000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.sip_cps import (  # noqa: E402
    HOST,
    _run,
    cpu_seconds,
    free_sip_port,
    run_load,
    start_mcu,
    stop_mcu,
    wait_ready,
)
from gateway.media import AudioFormat, VideoSendFormat  # noqa: E402
from gateway.rtp.ports import PortAllocator  # noqa: E402
from gateway.rtp.session import RtpSession  # noqa: E402
from gateway.rtp.srtp import SrtpStream  # noqa: E402
from gateway.rtp.transport import RtpEndpoint  # noqa: E402
from gateway.rtp.video import VideoRtpSession  # noqa: E402
from gateway.sdp.crypto import SUITES, SrtpKeys  # noqa: E402
from gateway.tls import client_context  # noqa: E402

SUITES_MEASURED = ("AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM")
PCMU = AudioFormat("PCMU", 0, 8000)
VP8 = VideoSendFormat("VP8", 96, 640, 360, 30.0, 1_000_000, mtu=1200)
KINDS = {"audio_172": (PCMU.payload_type, 172), "video_1200": (VP8.payload_type, 1200)}
BATCH = 32  # packets each way in flight on the path: well inside a socket buffer
PORT_MIN, PORT_MAX = 31000, 31999


def rtp_packets(payload_type: int, size: int, count: int, ssrc: int) -> list[bytes]:
    """``count`` RTP packets of ``size`` bytes, consecutive sequence numbers, 20 ms
    apart; the video ones are whole VP8 pictures (descriptor S bit, marker set)."""
    body = size - 12
    video = payload_type == VP8.payload_type
    payload = (b"\x10" + b"\x9d" * (body - 1)) if video else b"\xff" * body
    step = 3000 if video else 160
    out = []
    for seq in range(count):
        marker = 0x80 if video else 0
        header = struct.pack("!BBHII", 0x80, marker | payload_type, seq & 0xFFFF,
                             (seq * step) & 0xFFFFFFFF, ssrc)
        out.append(header + payload)
    return out


def key_pair(suite: str) -> tuple[SrtpKeys, SrtpKeys]:
    a, b = bytes(range(1, SUITES[suite] + 1)), bytes(range(101, SUITES[suite] + 101))
    return SrtpKeys(suite, a, b), SrtpKeys(suite, b, a)


def marginal_us(measure: Callable[[int], float], n: int, repeats: int) -> float:
    """Microseconds per unit: (best cost of 2n - best cost of n) / n."""
    short = min(measure(n) for _ in range(repeats))
    long = min(measure(2 * n) for _ in range(repeats))
    return round(max(long - short, 0.0) / n * 1e6, 3)


# --------------------------------------------------------------------------- crypto


def crypto_costs(n: int, repeats: int) -> dict[str, dict[str, dict[str, float]]]:
    """µs per protect and per unprotect, by suite and packet kind."""
    result: dict[str, dict[str, dict[str, float]]] = {}
    for suite in SUITES_MEASURED:
        ours, theirs = key_pair(suite)
        result[suite] = {}
        for kind, (pt, size) in KINDS.items():
            plain = rtp_packets(pt, size, 2 * n, ssrc=0x1111)
            sender = SrtpStream(ours)
            protected = [sender.protect(p, rtcp=False) or b"" for p in plain]

            def protect(count: int, plain: list[bytes] = plain, keys: SrtpKeys = ours) -> float:
                stream = SrtpStream(keys)
                do = stream.protect
                t0 = time.process_time()
                for packet in plain[:count]:
                    do(packet, False)
                return time.process_time() - t0

            def unprotect(count: int, protected: list[bytes] = protected,
                          keys: SrtpKeys = theirs) -> float:
                stream = SrtpStream(keys)
                do = stream.unprotect
                t0 = time.process_time()
                for packet in protected[:count]:
                    do(packet, False)
                cost = time.process_time() - t0
                assert stream.counters["srtp_unprotected"] == count, stream.counters
                return cost

            result[suite][kind] = {
                "protect_us": marginal_us(protect, n, repeats),
                "unprotect_us": marginal_us(unprotect, n, repeats),
            }
    return result


# --------------------------------------------------------------------------- path


class _Pair:
    """Two endpoints on loopback, each the other's peer, SRTP keyed when ``suite``."""

    def __init__(self, kind: str, suite: str | None, allocator: PortAllocator) -> None:
        self.kind = kind
        self.suite = suite
        self.allocator = allocator
        self.ends: list[RtpEndpoint] = []

    def _session(self, remote: tuple[str, int], ssrc: int) -> RtpSession | VideoRtpSession:
        if self.kind == "video_1200":
            return VideoRtpSession(VP8, remote, remote, True, ssrc=ssrc)
        return RtpSession(PCMU, 101, remote, remote, True, ssrc=ssrc)

    async def start(self) -> None:
        a_ports, b_ports = self.allocator.allocate(HOST), self.allocator.allocate(HOST)
        a = RtpEndpoint(self._session((HOST, b_ports.rtp_port), 0xA),
                        a_ports, self.allocator, inactivity_timeout=3600)
        b = RtpEndpoint(self._session((HOST, a_ports.rtp_port), 0xB),
                        b_ports, self.allocator, inactivity_timeout=3600)
        if self.suite is not None:
            ka, kb = key_pair(self.suite)
            a.set_protection(ka)
            b.set_protection(kb)
        self.ends = [a, b]
        for end in self.ends:
            await end.start()

    async def close(self) -> None:
        for end in self.ends:
            await end.close(send_bye=False)


async def _pump(pair: _Pair, packets: list[list[bytes]], count: int) -> tuple[float, int]:
    """Send ``count`` packets each way in batches, waiting for each batch to land;
    returns (CPU seconds, packets lost)."""
    a, b = pair.ends
    lost = 0
    t0 = time.process_time()
    for first in range(0, count, BATCH):
        last = min(first + BATCH, count)
        want = [end.session.counters["received"] + (last - first) for end in (b, a)]
        a.send_packets(packets[0][first:last])
        b.send_packets(packets[1][first:last])
        idle = 0
        while True:
            got = [b.session.counters["received"], a.session.counters["received"]]
            if got[0] >= want[0] and got[1] >= want[1]:
                break
            await asyncio.sleep(0)
            idle += 1
            if idle > 10_000:  # a datagram the kernel dropped: do not wait for it
                lost += int(want[0] - got[0] + want[1] - got[1])
                break
        if isinstance(b.session, VideoRtpSession):
            for end in (a, b):
                end.session.read_frames()  # as the mixer does each tick
    return time.process_time() - t0, lost


async def path_costs(n: int, repeats: int) -> dict[str, dict[str, dict[str, float]]]:
    """µs of CPU per packet (one send, one receive) through two RtpEndpoints."""
    allocator = PortAllocator(PORT_MIN, PORT_MAX)
    result: dict[str, dict[str, dict[str, float]]] = {}
    lost_total = 0
    for kind, (pt, size) in KINDS.items():
        packets = [rtp_packets(pt, size, 2 * n, ssrc=0xA), rtp_packets(pt, size, 2 * n, ssrc=0xB)]
        row: dict[str, dict[str, float]] = {}
        for suite in (None, *SUITES_MEASURED):
            async def one(count: int, suite: str | None = suite, kind: str = kind,
                          packets: list[list[bytes]] = packets) -> float:
                nonlocal lost_total
                pair = _Pair(kind, suite, allocator)
                await pair.start()
                try:
                    await _pump(pair, packets, 64)  # warm: latch, first-packet paths
                    # fresh streams for the timed run (SRTP's replay window)
                    await pair.close()
                    pair = _Pair(kind, suite, allocator)
                    await pair.start()
                    cost, lost = await _pump(pair, packets, count)
                    lost_total += lost
                    return cost / 2  # per packet each way: count sent by each end
                finally:
                    await pair.close()

            short = min([await one(n) for _ in range(repeats)])
            long = min([await one(2 * n) for _ in range(repeats)])
            us = round(max(long - short, 0.0) / n * 1e6, 3)
            row[suite or "plain"] = {"us_per_packet": us}
        plain = row["plain"]["us_per_packet"]
        for suite in SUITES_MEASURED:
            cost = row[suite]["us_per_packet"]
            row[suite]["ratio_to_plain"] = round(cost / plain, 3) if plain else 0.0
            row[suite]["srtp_us_added"] = round(cost - plain, 3)
        result[kind] = row
    result["packets_lost"] = lost_total  # type: ignore[assignment]
    return result


def media(n: int, repeats: int) -> dict[str, object]:
    crypto = crypto_costs(n, repeats)
    path = _run(path_costs(n, repeats))
    return {"packets": [n, 2 * n], "repeats": repeats, "crypto": crypto, "path": path}


# --------------------------------------------------------------------------- SIP


def sip(seconds: float, concurrency: int, call_timeout: float) -> dict[str, object]:
    rooms = max(1, concurrency // 10)
    udp_port, tls_port = free_sip_port(), free_sip_port()
    while tls_port == udp_port:
        tls_port = free_sip_port()
    modes: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="srtp-bench-") as workdir:
        proc = start_mcu(udp_port, rooms, concurrency, workdir, [], tls_port=tls_port)
        try:
            wait_ready(proc, udp_port)
            tls = client_context()
            print(f"srtp: mcu on udp/{udp_port} tls/{tls_port}", file=sys.stderr)
            _run(run_load(udp_port, min(1.0, seconds), concurrency, rooms, call_timeout))
            time.sleep(0.5)  # let the warm-up's tail (call records) settle
            idle0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            time.sleep(1.0)
            idle1, t1 = cpu_seconds(proc.pid), time.perf_counter()
            idle_rate = ((idle1 - idle0) / (t1 - t0)
                         if idle0 is not None and idle1 is not None else 0.0)
            runs = {
                "udp": (udp_port, None, False),
                "tls": (tls_port, tls, False),
                "tls_new_connection": (tls_port, tls, True),
            }
            for name, (port, context, reconnect) in runs.items():
                print(f"srtp: {name} calls for {seconds:g} s", file=sys.stderr)
                mcu0, own0 = cpu_seconds(proc.pid), time.process_time()
                got = _run(run_load(port, seconds, concurrency, rooms, call_timeout,
                                    tls_client=context, reconnect=reconnect))
                mcu1, own = cpu_seconds(proc.pid), time.process_time() - own0
                took = float(got["seconds"])  # type: ignore[arg-type]
                done = int(got["completed_calls"])  # type: ignore[call-overload]
                row = {k: got[k] for k in ("calls_per_second", "completed_calls",
                                           "failed_calls", "failure_reasons", "srtp_answered_calls",
                                           "setup_ms_p50", "call_ms_p50")}
                if mcu0 is not None and mcu1 is not None and done:
                    row["mcu_cpu_ms_per_call"] = round(
                        (mcu1 - mcu0 - idle_rate * took) / done * 1000, 3)
                    row["mcu_cpu_ms_per_call_raw"] = round((mcu1 - mcu0) / done * 1000, 3)
                row["generator_cpu_percent"] = round(100 * own / took, 1)
                modes[name] = row
        except BaseException:
            stop_mcu(proc)
            raise
        stopping = time.perf_counter()
        status = stop_mcu(proc, timeout=60.0)  # it drains its call records first
        shutdown_s = round(time.perf_counter() - stopping, 2)
    udp = modes["udp"]
    for name in ("tls", "tls_new_connection"):
        row = modes[name]
        if udp["calls_per_second"]:
            row["cps_ratio_to_udp"] = round(
                float(row["calls_per_second"]) / float(udp["calls_per_second"]), 3)  # type: ignore[arg-type]
        if row.get("mcu_cpu_ms_per_call") and udp.get("mcu_cpu_ms_per_call"):
            row["mcu_cpu_ratio_to_udp"] = round(
                float(row["mcu_cpu_ms_per_call"]) / float(udp["mcu_cpu_ms_per_call"]), 3)  # type: ignore[arg-type]
    return {"seconds": seconds, "concurrency": concurrency, "conferences": rooms,
            "mcu_idle_cpu_percent": round(100 * idle_rate, 2), **modes,
            "mcu_exit_status": status, "mcu_shutdown_seconds": shutdown_s}


def sip_ok(result: dict[str, object]) -> bool:
    """The MCU exited cleanly, no call failed, and every TLS call was answered with
    SRTP keys (an unencrypted answer would measure the wrong thing)."""
    rows: dict[str, dict[str, object]] = {m: result[m] for m in  # type: ignore[misc]
                                          ("udp", "tls", "tls_new_connection")}
    return (result["mcu_exit_status"] == 0
            and all(row["failed_calls"] == 0 for row in rows.values())
            and all(rows[m]["srtp_answered_calls"] == rows[m]["completed_calls"]
                    for m in ("tls", "tls_new_connection")))


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=5000,
                        help="N: runs of N and 2N packets (each way on the path)")
    parser.add_argument("--repeats", type=int, default=3, help="best of, per run length")
    parser.add_argument("--seconds", type=float, default=5.0, help="of calls per SIP mode")
    parser.add_argument("--concurrency", type=int, default=20, help="SIP calls in flight")
    parser.add_argument("--call-timeout", type=float, default=8.0)
    parser.add_argument("--quick", action="store_true",
                        help="1000 packets, 1 repeat, 2 s per SIP mode")
    parser.add_argument("--no-sip", action="store_true", help="media figures only")
    args = parser.parse_args(argv)
    n, repeats, seconds = args.packets, args.repeats, args.seconds
    if args.quick:
        n, repeats, seconds = 1000, 1, 2.0
    result: dict[str, object] = {"media": media(n, repeats)}
    ok = True
    if not args.no_sip:
        sip_result = sip(seconds, args.concurrency, args.call_timeout)
        result["sip"] = sip_result
        ok = sip_ok(sip_result)
    result["ok"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
