"""Long calls with a third-party peer (issue 20): SIPp runs RFC 4028 session timer
scenarios against a running MCU (short intervals: sip.session_expires_s 4, min_se_s 2).

- The caller refreshes (refresher=uac) with UPDATE three times, past several
  intervals, and the call stays; then it stops, and the MCU ends the call with BYE.
- The MCU refreshes (refresher=uas): SIPp receives and answers its UPDATEs.
- A Session-Expires below our Min-SE gets 422 with Min-SE.
The INVITEs also carry ``Require: 100rel``, which is accepted (it was refused with 420).
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningMcu
from tests.peers.baresip import free_udp_port
from tests.system_deps import require_program

pytestmark = pytest.mark.peer
SCENARIOS = Path(__file__).resolve().parents[1] / "peers" / "sipp"
TIMERS = {"session_expires_s": 4, "min_se_s": 2}


def sipp(mcu: RunningMcu, scenario: str, tmp_path: Path, timeout: int = 40) -> None:
    """Run one SIPp call of ``scenario``; fail with SIPp's own error log if it fails."""
    program = require_program("sipp")
    args = [program, "-sf", str(SCENARIOS / scenario), "-s", "2000", mcu.uri_host,
            "-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", "1", "-nostdin",
            "-timeout", str(timeout), "-timeout_error", "-trace_err",
            "-error_file", str(tmp_path / "sipp-errors.log")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 10,
                          cwd=tmp_path)
    errors = (tmp_path / "sipp-errors.log")
    detail = errors.read_text()[-2000:] if errors.exists() else done.stdout[-2000:]
    assert done.returncode == 0, f"sipp {scenario} failed ({done.returncode}):\n{detail}"


def test_the_caller_refreshes_and_a_missing_refresh_ends_the_call(
        start_mcu, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    mcu = start_mcu(sip=TIMERS)
    sipp(mcu, "session_timer_uac.xml", tmp_path)
    assert "session timer of call" in caplog.text
    mcu.wait_idle()


def test_the_mcu_refreshes_when_asked(start_mcu, tmp_path: Path) -> None:
    mcu = start_mcu(sip=TIMERS)
    sipp(mcu, "session_timer_uas.xml", tmp_path)
    mcu.wait_idle()


def test_an_interval_below_min_se_is_422(start_mcu, tmp_path: Path) -> None:
    mcu = start_mcu(sip=TIMERS)
    sipp(mcu, "too_short.xml", tmp_path)
    mcu.wait_idle()
