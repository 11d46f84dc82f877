"""Smoke tests of benchmarks/rtsp_ingest.py, so the script cannot rot.

Short windows on the small /360p camera (three cameras in a 1x1 layout for the hidden
scenario); asserts on the JSON's shape and on work being done, never on timing (the
machine running the suite is busy and small).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import rtsp_ingest
from tests.system_deps import missing, require_program


@pytest.fixture(autouse=True)
def programs_installed() -> None:
    require_program(rtsp_ingest.FFMPEG)
    require_program("gst-launch-1.0")
    if not Path(rtsp_ingest.SYSTEM_PYTHON).exists():
        missing(rtsp_ingest.SYSTEM_PYTHON)


INGEST_KEYS = {
    "scenario", "ours_cpu_s", "ffmpeg_cpu_s", "cpu_ratio_vs_ffmpeg", "ours_process_cpu_s",
    "ours_idle_process_cpu_s", "cpu_ratio_vs_ffmpeg_whole_process", "frames_ours",
    "frames_ffmpeg", "fps_ours", "fps_ffmpeg", "seconds", "ffmpeg_1_thread_cpu_s",
    "cpu_ratio_vs_ffmpeg_1_thread", "frames_ffmpeg_1_thread",
}


def test_ingest_scenario_decodes_on_both_sides() -> None:
    result = rtsp_ingest.measure_ingest(1.0, 0.2, mount="/360p")
    json.dumps(result)  # what main() prints
    assert INGEST_KEYS <= set(result)
    assert result["scenario"] == "ingest"
    assert result["frames_ours"] > 0 and result["frames_ffmpeg"] > 0
    assert result["frames_ffmpeg_1_thread"] > 0
    assert "-threads" not in result["ffmpeg_command"]  # the command, as given
    assert " -threads 1 " in result["ffmpeg_1_thread_command"]
    # CPU is read in 10 ms clock ticks: ffmpeg decoding 360p for one second on a busy
    # machine may read 0 (then the ratio is None); the frames above prove the work.
    assert result["ours_process_cpu_s"] >= 0 and result["ffmpeg_cpu_s"] >= 0
    assert result["ffmpeg_cpu_s"] > 0 or result["cpu_ratio_vs_ffmpeg"] is None


def test_hidden_scenario_receives_the_hidden_camera() -> None:
    result = rtsp_ingest.measure_hidden(1.0, 0.2, cameras=3, shown=1,
                                        layout="equal-1x1", mount="/360p")
    json.dumps(result)
    assert result["scenario"] == "hidden"
    assert result["shown"] == 1 and result["hidden"] == 2
    assert set(result["cpu_pct"]) == {"1_cameras", "3_cameras"}
    assert isinstance(result["hidden_camera_cpu_pct_each"], float)
    assert result["decoded_fps"]["3_cameras"] > 0
    assert result["hidden_received_fps_each"] > 0  # received, then dropped unseen
    assert isinstance(result["steady"], bool)
