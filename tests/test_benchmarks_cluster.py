"""Smoke test of benchmarks/cluster.py (issue 18), so the script cannot rot: a short
run with PostgreSQL, Kamailio and real nodes; asserts on the JSON's shape, on every
call completing both ways and on the cascade carrying the bursts, never on rates or
milliseconds (the machine running the suite is busy and small)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "cluster.py"


def test_calls_through_kamailio_and_a_cascade_are_measured() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT), "--seconds", "1.5",
                          "--concurrency", "4"], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["through_kamailio_failed_calls"] == 0, result
    assert result["direct_failed_calls"] == 0, result
    assert result["through_kamailio_calls_per_second"] > 0
    assert result["dispatcher_overhead_ratio"] > 0
    assert result["cascade_bursts_measured"] > 0, result
    assert result["cascade_latency_ms_median"] > 0
    assert {"single_node_latency_ms_median", "cascade_extra_latency_ms",
            "cascade_goal_ms"} <= set(result)
