from __future__ import annotations

import pytest

from layouts import Cell, Rect, fit, get_layout

CANVASES = [(1280, 720), (704, 576), (352, 288), (1920, 1080)]
SOURCES = [(1280, 720), (640, 480), (352, 288), (176, 144), (720, 1280), (1919, 1079), (2, 2)]
LAYOUTS = ["equal-1x1", "equal-3x3", "strip-1+5", "surround-1+7", "two-2+4"]


def _cells() -> list[Cell]:
    return [
        cell
        for canvas in CANVASES
        for name in LAYOUTS
        for cell in get_layout(name).cells(20, *canvas)
    ]


def _all_even(rect: Rect) -> bool:
    return all(v % 2 == 0 for v in (rect.x, rect.y, rect.width, rect.height))


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_letterbox_keeps_aspect_inside_cell(source: tuple[int, int]) -> None:
    sw, sh = source
    for cell in _cells():
        placed = fit(sw, sh, cell, "letterbox")
        dest = placed.dest
        assert cell.rect.contains(dest) and _all_even(dest), (cell, dest)
        assert placed.source == Rect(0, 0, sw - sw % 2, sh - sh % 2)
        # One edge fills the cell, and the other is within a pixel of the exact size.
        assert dest.width == cell.width or dest.height == cell.height
        src = placed.source
        if dest.width == cell.width:
            assert abs(dest.height - src.height * dest.width / src.width) <= 1 or dest.height == 2
        else:
            assert abs(dest.width - src.width * dest.height / src.height) <= 1 or dest.width == 2
        # Centred: bars on both sides differ by at most one chroma step.
        assert abs((dest.x - cell.x) - (cell.x + cell.width - dest.right)) <= 2
        assert abs((dest.y - cell.y) - (cell.y + cell.height - dest.bottom)) <= 2


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_crop_fills_cell(source: tuple[int, int]) -> None:
    sw, sh = source
    for cell in _cells():
        placed = fit(sw, sh, cell, "crop")
        assert placed.dest == cell.rect
        src = placed.source
        assert Rect(0, 0, sw, sh).contains(src) and _all_even(src), (cell, src)
        assert src.width == sw - sw % 2 or src.height == sh - sh % 2
        # Crop aspect matches the cell within a pixel of the source (unless at the 2px floor).
        if src.height == sh - sh % 2:
            assert abs(src.width - src.height * cell.width / cell.height) <= 1 or src.width == 2
        else:
            assert abs(src.height - src.width * cell.height / cell.width) <= 1 or src.height == 2


def test_letterbox_examples() -> None:
    cell = Cell(100, 50, 640, 480)
    assert fit(1280, 720, cell, "letterbox").dest == Rect(100, 110, 640, 360)
    assert fit(480, 640, cell, "letterbox").dest == Rect(240, 50, 360, 480)
    assert fit(640, 480, cell, "letterbox").dest == cell.rect


def test_crop_examples() -> None:
    cell = Cell(0, 0, 640, 480)
    assert fit(1280, 720, cell, "crop").source == Rect(160, 0, 960, 720)
    assert fit(720, 1280, cell, "crop").source == Rect(0, 370, 720, 540)


def test_fit_accepts_rect_and_rejects_bad_input() -> None:
    assert fit(4, 4, Rect(0, 0, 8, 8), "crop").dest == Rect(0, 0, 8, 8)
    with pytest.raises(ValueError, match="unknown fit mode 'stretch'"):
        fit(640, 480, Cell(0, 0, 64, 64), "stretch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source 1x480"):
        fit(1, 480, Cell(0, 0, 64, 64), "letterbox")
    with pytest.raises(ValueError, match="cell 0x64"):
        fit(640, 480, Cell(0, 0, 0, 64), "crop")
