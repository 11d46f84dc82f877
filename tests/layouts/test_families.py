from __future__ import annotations

from itertools import combinations

import pytest

from layouts import Cell, LayoutRegistry, available_layouts, builtin_layouts, get_layout
from layouts.families import AutoGridLayout, GridLayout

CANVASES = [(1280, 720), (704, 576), (352, 288), (1920, 1080)]
COUNTS = range(21)

# Custom layouts checked by the same invariants as the built-ins.
CUSTOM = {
    "thirds": [[0, 0, 1 / 3, 1], [1 / 3, 0, 1 / 3, 1], [2 / 3, 0, 1 / 3, 1]],
    "pip": [
        {"x": 0, "y": 0, "width": 1, "height": 0.75, "importance": 1},
        {"x": 0, "y": 0.75, "width": 0.25, "height": 0.25},
        {"x": 0.75, "y": 0.75, "width": 0.25, "height": 0.25},
    ],
}
REGISTRY = LayoutRegistry(CUSTOM)
ALL_NAMES = REGISTRY.available_layouts()

EXPECTED_CAPACITY = {
    "equal-1x1": 1,
    "equal-2x2": 4,
    "equal-3x3": 9,
    "equal-4x4": 16,
    "equal-auto": 16,
    "strip-1+3": 4,
    "strip-1+4": 5,
    "strip-1+5": 6,
    "surround-1+5": 6,
    "surround-1+7": 8,
    "surround-1+9": 10,
    "two-2+4": 6,
    "two-2+8": 10,
    "thirds": 3,
    "pip": 3,
}


def _assert_valid(cells: list[Cell], width: int, height: int, largest_first: bool = True) -> None:
    for cell in cells:
        assert cell.width >= 2 and cell.height >= 2, cell
        assert 0 <= cell.x and cell.x + cell.width <= width, cell
        assert 0 <= cell.y and cell.y + cell.height <= height, cell
        assert cell.x % 2 == cell.y % 2 == cell.width % 2 == cell.height % 2 == 0, cell
    for a, b in combinations(cells, 2):
        assert not a.rect.overlaps(b.rect), (a, b)
    if cells and largest_first:
        assert cells[0].area == max(c.area for c in cells)
    importances = [c.importance for c in cells]
    assert importances == sorted(importances, reverse=True)


def test_every_builtin_is_listed() -> None:
    names = available_layouts()
    assert names == [layout.name for layout in builtin_layouts()]
    assert set(ALL_NAMES) == set(EXPECTED_CAPACITY)
    assert ALL_NAMES[: len(names)] == names  # built-ins first


@pytest.mark.parametrize("canvas", CANVASES, ids=lambda c: f"{c[0]}x{c[1]}")
@pytest.mark.parametrize("name", ALL_NAMES)
def test_cells_geometry_for_every_count(name: str, canvas: tuple[int, int]) -> None:
    layout = REGISTRY.get_layout(name)
    assert layout.capacity == EXPECTED_CAPACITY[name]
    for count in COUNTS:
        cells = layout.cells(count, *canvas)
        assert len(cells) == min(count, layout.capacity), count
        # Custom cells come in the settings' order (by importance), rounded per edge, so
        # only built-ins promise that the first cell is the largest.
        _assert_valid(cells, *canvas, largest_first=name not in CUSTOM)


@pytest.mark.parametrize("canvas", CANVASES, ids=lambda c: f"{c[0]}x{c[1]}")
@pytest.mark.parametrize("name", [n for n in ALL_NAMES if n != "equal-auto"])
def test_fixed_layouts_do_not_move_cells(name: str, canvas: tuple[int, int]) -> None:
    # Joins and leaves must not reshuffle the picture: fewer participants = a prefix.
    layout = REGISTRY.get_layout(name)
    full = layout.cells(layout.capacity, *canvas)
    for count in COUNTS:
        assert layout.cells(count, *canvas) == full[:count]


@pytest.mark.parametrize(
    ("count", "side"), [(0, 1), (1, 1), (2, 2), (4, 2), (5, 3), (9, 3), (10, 4), (16, 4), (20, 4)]
)
def test_auto_picks_smallest_grid(count: int, side: int) -> None:
    auto = get_layout("equal-auto")
    assert isinstance(auto, AutoGridLayout)
    assert auto.side_for(count) == side
    expected = get_layout(f"equal-{side}x{side}").cells(count, 1280, 720)
    assert auto.cells(count, 1280, 720) == expected


@pytest.mark.parametrize("name", ["equal-2x2", "equal-3x3", "equal-4x4", "two-2+8"])
def test_equal_tiers_have_identical_sizes(name: str) -> None:
    # One scaled copy per (input, cell size) in the mixer depends on this.
    for canvas in CANVASES:
        cells = get_layout(name).cells(16, *canvas)
        small = {(c.width, c.height) for c in cells if c.importance == 0}
        assert len(small) == 1


def test_grid_keeps_leftover_within_a_border() -> None:
    cells = get_layout("equal-3x3").cells(9, 704, 576)
    assert min(c.x for c in cells) <= 2 and 704 - max(c.x + c.width for c in cells) <= 4
    assert {(c.width, c.height) for c in cells} == {(234, 192)}


def test_two_2_8_matches_codian_shape() -> None:
    cells = get_layout("two-2+8").cells(10, 1280, 720)
    assert cells[:2] == [Cell(0, 0, 640, 360, 1), Cell(640, 0, 640, 360, 1)]
    assert all((c.width, c.height) == (320, 180) for c in cells[2:])


def test_surround_large_in_corner() -> None:
    cells = get_layout("surround-1+5").cells(6, 1920, 1080)
    assert cells[0] == Cell(0, 0, 1280, 720, 1)
    assert len(cells) == 6


def test_strip_small_cells_along_bottom() -> None:
    cells = get_layout("strip-1+4").cells(5, 1280, 720)
    assert cells[0] == Cell(160, 0, 960, 540, 1)
    assert [c.y for c in cells[1:]] == [540] * 4
    assert [c.x for c in cells[1:]] == [0, 320, 640, 960]


def test_odd_canvas_uses_even_area() -> None:
    cells = get_layout("equal-2x2").cells(4, 1281, 721)
    _assert_valid(cells, 1280, 720)


@pytest.mark.parametrize("name", ["equal-1x1", "equal-auto", "strip-1+3", "two-2+4"])
def test_negative_count_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="count"):
        get_layout(name).cells(-1, 1280, 720)


def test_tiny_canvas_rejected() -> None:
    with pytest.raises(ValueError, match="too small"):
        get_layout("equal-4x4").cells(4, 6, 6)
    with pytest.raises(ValueError, match="too small"):
        get_layout("equal-1x1").cells(1, 1, 100)


def test_unknown_layout_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown layout 'nope'.*equal-2x2"):
        get_layout("nope")


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ((), "no cells"),
        (((0, 0, 3, 1),), "off the grid"),
        (((0, 0, 2, 2), (1, 1, 1, 1)), "overlaps"),
        (((0, 0, 1, 1), (1, 0, 1, 2)), "priority"),
    ],
)
def test_grid_layout_rejects_bad_spans(spans: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GridLayout("bad", 2, 2, spans)
