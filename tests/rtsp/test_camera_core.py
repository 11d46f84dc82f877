"""The camera gateway's sans-IO parts: backoff with injected randomness, and the
decisions of ``CameraCore`` (UDP fallback, stalls, failure, reset), on fake time."""

from __future__ import annotations

import pytest

from gateway.rtsp.backoff import Backoff
from gateway.rtsp.camera import CameraCore, StateChange
from gateway.rtsp.settings import RtspSettings


def test_backoff_doubles_to_the_cap_with_jitter_and_resets() -> None:
    values = iter([0.0, 0.999, 0.5, 0.0, 0.0, 0.0, 0.0])
    backoff = Backoff(1.0, 8.0, random=lambda: next(values))
    delays = [backoff.next_delay() for _ in range(6)]
    assert delays[0] == 0.5  # 1 s step, the lowest jitter
    assert 1.99 < delays[1] < 2.0  # 2 s step, the highest jitter
    assert delays[2] == 3.0  # 4 s x 0.75
    assert delays[3:] == [4.0, 4.0, 4.0]  # capped at 8 s, x 0.5
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_capped_and_bad_bounds() -> None:
    backoff = Backoff(1.0, 30.0, random=lambda: 1.0)
    assert backoff.capped() == 30.0
    with pytest.raises(ValueError):
        Backoff(5.0, 1.0)


def core(**settings: object) -> CameraCore:
    return CameraCore(RtspSettings(**settings), random=lambda: 0.0)  # type: ignore[arg-type]


def test_auto_falls_back_to_tcp_when_udp_brings_nothing_and_stays_there() -> None:
    cam = core(transport="auto", udp_fallback_s=4.0)
    assert cam.begin(0.0) == "udp"
    cam.playing(1.0)
    cam.media(None, 4.9)
    assert cam.check(4.9) is None
    assert cam.check(5.0) == "fallback"
    assert cam.ended("fallback", True, 5.0) == 0.0  # at once
    assert cam.state == "connecting" and cam.changes() == []
    assert cam.begin(5.0) == "tcp"
    cam.playing(5.5)
    cam.media(5.6, 5.7)
    assert cam.state == "live"
    assert cam.changes() == [StateChange("live", "")]
    assert cam.counters["udp_fallbacks"] == 1


def test_udp_that_flows_never_falls_back() -> None:
    cam = core(transport="auto")
    cam.begin(0.0)
    cam.playing(0.1)
    cam.media(0.2, 0.3)
    for t in range(1, 10):
        cam.media(float(t), float(t))
        assert cam.check(float(t)) is None
    assert cam.transport == "udp" and cam.state == "live"


def test_stall_is_offline_then_backoff_grows_and_going_live_resets_it() -> None:
    cam = core(transport="tcp", media_timeout_s=3.0, reconnect_min_s=1.0, reconnect_max_s=30.0)
    cam.begin(0.0)
    cam.playing(0.0)
    cam.media(1.0, 1.0)
    assert cam.check(3.9) is None
    assert cam.check(4.0) == "stalled"
    assert cam.ended("no video from the camera", True, 4.0) == 0.5
    assert (cam.state, cam.reason) == ("offline", "no video from the camera")
    cam.begin(5.0)
    assert cam.ended("connection refused", True, 5.0) == 1.0  # 2 s step x 0.5
    cam.begin(6.0)
    cam.playing(6.0)
    cam.media(6.1, 6.2)
    assert cam.state == "live"
    cam.check(20.0)
    assert cam.ended("connection closed by the server", True, 20.0) == 0.5  # reset
    assert cam.counters["reconnects"] == 2 and cam.counters["stalls"] == 2


def test_tcp_play_without_media_is_a_stall_not_a_fallback() -> None:
    cam = core(transport="tcp", media_timeout_s=3.0)
    cam.begin(0.0)
    cam.playing(0.0)
    assert cam.check(2.9) is None
    assert cam.check(3.0) == "stalled"


def test_a_failure_retrying_cannot_fix_is_failed_and_waits_the_cap() -> None:
    cam = core(reconnect_max_s=30.0)
    cam.begin(0.0)
    assert cam.ended("wrong credentials", False, 0.2) == 15.0  # 30 s x 0.5
    assert (cam.state, cam.reason) == ("failed", "wrong credentials")
    assert cam.changes() == [StateChange("failed", "wrong credentials")]
    cam.begin(15.0)
    cam.ended("wrong credentials", False, 15.2)
    assert cam.changes() == []  # said once
    assert cam.counters["failures"] == 2


def test_settings_reject_a_cap_below_the_start() -> None:
    with pytest.raises(ValueError):
        RtspSettings(reconnect_min_s=5.0, reconnect_max_s=1.0)
