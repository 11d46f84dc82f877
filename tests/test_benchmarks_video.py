"""Smoke tests of benchmarks/video_cp.py, so the script cannot rot.

Tiny inputs (320x180; 2 frames, or a 1 s conference of four); asserts on what was
produced, never on timing (the machine running the suite is busy and small).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import video_cp
from tests.system_deps import require_program


@pytest.fixture(autouse=True)
def ffmpeg_installed() -> None:
    require_program(video_cp.FFMPEG)


def test_ours_path_on_tiny_inputs(tmp_path: Path) -> None:
    paths = video_cp.generate_inputs(tmp_path, video_cp.INPUTS, 320, 180, 30, frames=2)
    streams = [video_cp.read_access_units(path) for path in paths]
    assert all(len(stream) == 2 for stream in streams)
    cpu, result = video_cp.measure_self(lambda: video_cp.compose_ours(streams, 320, 180, 2))
    assert isinstance(result, video_cp.OursResult)
    assert result.frames == 2 and result.keyframes >= 1 and result.bytes_out > 0
    assert cpu >= 0
    command = video_cp.ffmpeg_command(paths, 320, 180, 320, 180, 2)
    assert "xstack=inputs=9" in " ".join(command)
    assert video_cp.measure_child(command) >= 0  # the filtergraph still parses and runs
    assert set(video_cp.SCENARIOS) >= {"ffmpeg", "conference", "gateway_call"}


CONFERENCE_KEYS = {
    "scenario", "participants", "visible", "encoders_running", "compositions_per_tick",
    "output_fps", "frames_encoded_per_second", "deadline_misses", "ticks", "cpu_s",
    "cpu_cores_used", "added_latency_ms", "frame_interval_jitter_ms", "realtime",
}


def test_conference_scenario_delivers_to_everyone() -> None:
    result = video_cp.measure_conference(1.0, participants=4, width=320, height=180,
                                         warm_up_s=0.5)
    json.dumps(result)  # what main() prints
    assert CONFERENCE_KEYS <= set(result)
    assert result["scenario"] == "conference"
    assert result["participants"] == 4 and result["visible"] == 4
    # self-view off: everyone shown gets a picture of the other three of their own
    assert result["encoders_running"] == 4
    assert result["ticks"] > 0 and result["output_fps_min"] > 0  # nobody left dark
    assert result["frames_encoded_per_second"] > 0
    assert set(result["added_latency_ms"]) == {"mean", "p50", "p95", "max"}
    assert {"std_dev", "max_deviation"} <= set(result["frame_interval_jitter_ms"])
    assert isinstance(result["realtime"], bool)


def test_conference_with_senders_that_honour_the_size_request() -> None:
    result = video_cp.measure_conference(1.0, participants=4, width=320, height=180,
                                         warm_up_s=0.5, honour=True)
    json.dumps(result)
    assert result["senders"] == "honour size requests"
    cell = video_cp.get_layout(video_cp.CONFERENCE_LAYOUT).cells(4, 320, 180)[0]
    asked = video_cp.rounded(cell.width, cell.height)
    assert result["size_requests_to_senders"] == [f"{asked.width}x{asked.height}"]
    assert result["ticks"] > 0 and result["output_fps_min"] > 0  # pictures kept coming


def test_a_gateway_call_passes_the_pictures_through() -> None:
    result = video_cp.measure_conference(1.0, participants=2, width=320, height=180,
                                         warm_up_s=2.5, layout="equal-auto", relay=True)
    json.dumps(result)
    assert result["frames_relayed_per_second"] > 0  # after the clip's key frame
    assert result["frames_encoded_per_second"] == 0 and result["encoders_running"] == 0
    assert result["output_fps_min"] > 0
