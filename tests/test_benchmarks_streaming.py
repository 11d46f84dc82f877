"""Smoke test of benchmarks/streaming.py, so the script cannot rot: tiny runs, asserts
on the JSON's shape and on work being done (bytes reached the viewers over HLS and
RTSP from one encoder, the recording plays), never on timing."""

from __future__ import annotations

import json

import pytest

from benchmarks import streaming

pytestmark = pytest.mark.peer


def test_viewers_and_recording_figures() -> None:
    result = streaming.viewers(1.0, counts=(1, 2))
    json.dumps(result)
    for kind in ("hls", "rtsp"):
        for count in ("1", "2"):
            assert result[kind][count]["viewer_mbytes"] > 0, result
            assert result[kind][count]["streams_running"] == 1
        assert {"cpu_ratio_2_vs_1", "process_cpu_ratio_2_vs_1"} <= set(result[kind])
        assert "marginal_ms_cpu_per_viewer_second" in result[kind]
    assert result["encoders_started"] == 1
    recorded = streaming.recording(1.0, 2.0)
    json.dumps(recorded)
    assert recorded["ours_plays"] >= 1.5
    assert set(recorded["marginal_ms_cpu_per_media_second"]) == {"ours", "ffmpeg"}
