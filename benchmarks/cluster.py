"""The cluster's costs (issue 18): Kamailio in front, and a cascade leg between nodes.

1. **Dispatcher overhead.** PostgreSQL and one ``mcu serve`` node (cluster on) start on
   loopback, with the project's Kamailio configuration in front (lease lookups and
   takes in the store, dispatcher pings). ``sip_cps``'s load generator (our own UAC
   core: INVITE/200/ACK/BYE/200, ``--concurrency`` calls in flight over a few
   conferences) runs ``--seconds`` through Kamailio and the same load straight to the
   node, in the same run, twice each in the order through, direct, direct, through (so
   a drift of the machine weighs on both alike). ``dispatcher_overhead_ratio`` = direct
   calls per second / calls per second through Kamailio (1.0: free; below 1: Kamailio
   absorbs work the node would do, such as retransmissions).
2. **Cascade latency.** Two nodes run in this process on one uvloop loop, sharing the
   PostgreSQL store. ``audio_latency``'s talkers (20 ms PCMU on a drift-free clock,
   loud bursts timed from A's send to B's arrival) measure A and B in one conference
   on one node, then A on node a and B on node b, whose conference joins a's by a
   cascade leg. ``cascade_extra_latency_ms`` = the cascaded median minus the single
   node's (goal <= 40 ms).

Prints one JSON object on stdout; progress goes to stderr. Needs PostgreSQL's server
and Kamailio with its PostgreSQL module (``scripts/install-system-deps.sh``).

    .venv/bin/python benchmarks/cluster.py [--quick] [--seconds 10] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import audio_latency  # noqa: E402
import sip_cps  # noqa: E402
import uvloop  # noqa: E402

from mcu.app import Mcu  # noqa: E402
from mcu.settings import Settings  # noqa: E402
from tests.peers.kamailio import free_port  # noqa: E402
from tests.peers.kamailio_cluster import ClusterFront  # noqa: E402
from tests.peers.postgres import PostgresServer  # noqa: E402

FRONT_IP = "127.0.0.10"  # PostgreSQL and Kamailio; the nodes are on 127.0.0.1
LEASE_S = 10.0
ROOMS = 4
GOAL_MS = 40.0


def progress(text: str) -> None:
    print(f"cluster: {text}", file=sys.stderr, flush=True)


def dispatcher_overhead(postgres: PostgresServer, seconds: float, concurrency: int,
                        workdir: Path) -> dict[str, object]:
    db = postgres.create_database("bench_cps")
    port = sip_cps.free_sip_port()
    node = sip_cps.start_mcu(port, ROOMS, concurrency, str(workdir), [], extra_env={
        "MCU_DATABASE__URL": postgres.tcp_url(db),
        "MCU_CLUSTER__ENABLED": "true", "MCU_CLUSTER__NODE_ID": "bench",
        "MCU_CLUSTER__LEASE_S": str(LEASE_S),
        # Every call arrives from Kamailio's address: exempt it from per-address limits.
        "MCU_SIP__LIMITS__TRUSTED_NETWORKS": f'["{FRONT_IP}"]'})
    front = ClusterFront(workdir, host=FRONT_IP, db_url=postgres.tcp_url(db, "postgres"),
                         nodes=[f"sip:{sip_cps.HOST}:{port}"], lease_s=LEASE_S)
    try:
        sip_cps.wait_ready(node, port)
        front.start()
        time.sleep(1.5)  # the node's first heartbeat and the dispatcher's first ping
        runs: dict[str, list[dict[str, Any]]] = {"through": [], "direct": []}
        for way in ("through", "direct", "direct", "through"):  # ABBA: drift cancels
            progress(f"{seconds:.0f} s of calls {way}")
            target = (front.port, FRONT_IP) if way == "through" else (port, sip_cps.HOST)
            runs[way].append(uvloop.run(sip_cps.run_load(
                target[0], seconds, concurrency, ROOMS, 10.0, host=target[1])))
    finally:
        front.stop()
        sip_cps.stop_mcu(node)
    through, direct = _merged(runs["through"]), _merged(runs["direct"])
    through_cps, direct_cps = through["calls_per_second"], direct["calls_per_second"]
    return {
        "through_kamailio_calls_per_second": through_cps,
        "through_kamailio_failed_calls": through["failed_calls"],
        "through_kamailio_failure_reasons": through["failure_reasons"],
        "through_kamailio_setup_ms_p50": through["setup_ms_p50"],
        "direct_calls_per_second": direct_cps,
        "direct_failed_calls": direct["failed_calls"],
        "direct_failure_reasons": direct["failure_reasons"],
        "direct_setup_ms_p50": direct["setup_ms_p50"],
        "dispatcher_overhead_ratio": round(direct_cps / through_cps, 2) if through_cps else None,
        "concurrency": concurrency,
    }


def _merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Two runs of one way as one: calls per second over both, failures summed, the
    mean of their median setup times."""
    reasons: dict[str, int] = {}
    for run in runs:
        for reason, count in run["failure_reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    completed = sum(run["completed_calls"] for run in runs)
    elapsed = sum(run["seconds"] for run in runs)
    setups = [run["setup_ms_p50"] for run in runs if run["setup_ms_p50"] is not None]
    return {"calls_per_second": round(completed / elapsed, 1),
            "failed_calls": sum(run["failed_calls"] for run in runs),
            "failure_reasons": reasons,
            "setup_ms_p50": round(sum(setups) / len(setups), 2) if setups else None}


def node_settings(name: str, db_url: str) -> Settings:
    settings = audio_latency.mcu_settings()
    return settings.model_copy(update={
        "sip": settings.sip.model_copy(update={"tls_port": 0}),  # two nodes, one host
        "database": settings.database.model_copy(update={"url": db_url}),
        "cluster": settings.cluster.model_copy(update={
            "enabled": True, "node_id": name, "heartbeat_s": 0.5, "lease_s": LEASE_S}),
    })


async def cascade_latency(db_url: str, seconds: float) -> tuple[list[float], int]:
    """A on node a, B on node b cascaded to a: burst latencies A -> B (ms)."""
    nodes = [Mcu(node_settings(name, db_url)) for name in ("a", "b")]
    uac = audio_latency.Uac()
    a, b = await audio_latency.open_inbox(), await audio_latency.open_inbox()
    try:
        for node in nodes:
            await node.start()
        await uac.start()
        ports = [node.gateway("sip").transport.port for node in nodes]
        handle_a, to_a = await uac.call(ports[0], a.address)
        await _until(lambda: nodes[0].cluster is not None
                     and nodes[0].cluster.holds(audio_latency.ROOM))
        handle_b, to_b = await uac.call(ports[1], b.address)
        # ">=": once b publishes its view, a lists B too (b~ID) beside the cascade leg
        await _until(lambda: len(nodes[0].participants(audio_latency.ROOM)) >= 2)
        run = await audio_latency.talk(a, b, to_a, to_b, seconds)
        await uac.hang_up([handle_a, handle_b])
    finally:
        for node in nodes:
            await node.stop()
        await uac.close()
        for inbox in (a, b):
            if inbox.transport is not None:
                inbox.transport.close()
    onsets = audio_latency.loud_onsets(b.arrivals)
    return audio_latency.latencies_ms(run.bursts, onsets), len(run.bursts)


async def _until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the cascade never came up")
        await asyncio.sleep(0.05)


def cascade(postgres: PostgresServer, seconds: float) -> dict[str, object]:
    progress(f"{seconds:.0f} s of talk on one node")
    single, _ = uvloop.run(audio_latency.measure_mcu(seconds))
    progress(f"{seconds:.0f} s of talk across a cascade")
    db = postgres.create_database("bench_cascade")
    cascaded, bursts = uvloop.run(cascade_latency(postgres.tcp_url(db), seconds))
    one, two = audio_latency.summary(single), audio_latency.summary(cascaded)
    return {
        "single_node_latency_ms_median": round(one["median"], 2),
        "cascade_latency_ms_median": round(two["median"], 2),
        "cascade_latency_ms_p95": round(two["p95"], 2),
        "cascade_extra_latency_ms": round(two["median"] - one["median"], 2),
        "cascade_bursts_measured": len(cascaded),
        "cascade_bursts_sent": bursts,
        "cascade_goal_ms": GOAL_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measured part")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 s parts")
    args = parser.parse_args(argv)
    seconds = 3.0 if args.quick else args.seconds
    postgres = PostgresServer(host=FRONT_IP, port=free_port(FRONT_IP)).start()
    try:
        with tempfile.TemporaryDirectory(prefix="mcu-bench-cluster-") as workdir:
            result = dispatcher_overhead(postgres, seconds, args.concurrency, Path(workdir))
        result.update(cascade(postgres, seconds))
    finally:
        postgres.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
