"""Smoke test of benchmarks/h323_setup.py, so the script cannot rot: a short run
against a real ``mcu serve``; asserts on the JSON's shape and on every call completing,
never on the rate (the machine running the suite is busy and small)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "h323_setup.py"


def test_h323_and_sip_calls_complete_and_setup_per_is_timed() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT), "--seconds", "1.5",
                          "--concurrency", "4"], capture_output=True, text=True, timeout=180)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    h323, sip = result["h323"], result["sip"]
    assert h323["completed_calls"] > 0 and h323["failed_calls"] == 0, run.stderr[-2000:]
    assert sip["completed_calls"] > 0 and sip["failed_calls"] == 0
    assert result["mcu_exit_status"] == 0
    assert result["per_setup_encode_decode_us"] > 0 and result["setup_bytes"] > 100
    assert {"calls_per_second", "failed_calls", "h323_to_sip_cps_ratio", "ok"} <= set(result)
