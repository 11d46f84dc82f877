"""The [video] settings: defaults that work, and bad values named at start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcu.settings import Settings, VideoSettings


def test_defaults_work_with_no_file() -> None:
    video = Settings().video
    assert video.enabled and (video.width, video.height) == (1280, 720)
    assert video.layout in video.layout_registry()


def test_environment_overrides_nested_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCU_VIDEO__FRAME_RATE", "15")
    monkeypatch.setenv("MCU_VIDEO__LAYOUT", "strip-1+4")
    video = Settings().video
    assert video.frame_rate == 15 and video.layout == "strip-1+4"


@pytest.mark.parametrize(("values", "named"), [
    ({"layout": "nope"}, "video.layout"),
    ({"codecs": ["H265"]}, "video.codecs"),
    ({"h264_modes": [2]}, "video.h264_modes"),
    ({"width": 641}, "even"),
    ({"custom_layouts": {"bad": [[0, 0, 2, 1]]}}, "custom layout 'bad'"),
    ({"custom_layouts": {"equal-2x2": [[0, 0, 1, 1]]}}, "built-in"),
])
def test_bad_values_are_refused_with_the_field_named(values: dict[str, object],
                                                      named: str) -> None:
    with pytest.raises(ValidationError, match=named.replace("+", r"\+")):
        VideoSettings(**values)  # type: ignore[arg-type]


def test_custom_layouts_join_the_registry() -> None:
    video = VideoSettings(custom_layouts={"side": [[0, 0, 0.5, 1], [0.5, 0, 0.5, 1]]},
                          layout="side")
    assert "side" in video.layout_registry().available_layouts()
