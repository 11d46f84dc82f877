"""Smoke test of benchmarks/video_cp.py's "ours" path, so the script cannot rot.

Tiny inputs (2 frames at 320x180); asserts on what was produced, never on timing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks import video_cp


@pytest.mark.skipif(shutil.which(video_cp.FFMPEG) is None, reason="needs ffmpeg")
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
    assert set(video_cp.SCENARIOS) >= {"ffmpeg"}
