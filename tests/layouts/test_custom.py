from __future__ import annotations

import random
from itertools import combinations
from typing import Any

import pytest

from layouts import Cell, LayoutRegistry, NormCell, Rect, custom_layout, get_layout


def test_mapping_and_list_forms_agree() -> None:
    a = custom_layout("a", [{"x": 0, "y": 0, "width": 0.5, "height": 1}, [0.5, 0, 0.5, 1]])
    assert a.norm_cells == (NormCell(0, 0, 0.5, 1), NormCell(0.5, 0, 0.5, 1))
    assert a.cells(5, 1280, 720) == [Cell(0, 0, 640, 720), Cell(640, 0, 640, 720)]


def test_importance_sorts_stably() -> None:
    layout = custom_layout(
        "pip",
        [[0, 0, 0.25, 0.25], [0, 0.25, 1, 0.75, 2], [0.25, 0, 0.25, 0.25], [0.5, 0, 0.5, 0.25, 1]],
    )
    assert [c.importance for c in layout.norm_cells] == [2, 1, 0, 0]
    assert [c.x for c in layout.norm_cells[2:]] == [0, 0.25]


def test_count_limits_cells() -> None:
    layout = custom_layout("two", [[0, 0, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]])
    assert layout.cells(0, 1280, 720) == []
    assert len(layout.cells(1, 1280, 720)) == 1
    assert len(layout.cells(9, 1280, 720)) == 2


def test_rounded_thirds_touch_without_overlap() -> None:
    # Settings written with 4 decimals: edges within EPSILON are snapped together.
    cells_spec = [[0, 0, 0.3333, 1], [0.3333, 0, 0.3334, 1], [0.6667, 0, 0.3333, 1]]
    layout = custom_layout("thirds", cells_spec)
    for width, height in [(1280, 720), (352, 288), (1921, 1081)]:
        cells = layout.cells(3, width, height)
        for a, b in combinations(cells, 2):
            assert not a.rect.overlaps(b.rect)
        assert cells[-1].x + cells[-1].width <= width


def test_nearly_touching_edges_are_snapped() -> None:
    layout = custom_layout("near", [[0, 0, 0.5000004, 1], [0.5, 0, 0.5, 1]])
    assert layout.norm_cells[0].width == layout.norm_cells[1].x == 0.5
    a, b = layout.cells(2, 1920, 1080)
    assert a.x + a.width == b.x


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([], "at least one cell"),
        ("0,0,1,1", "at least one cell"),
        ([[0, 0, 1]], r"cell 0 must be"),
        ([[0, 0, 1, 1], "x"], r"cell 1 must be"),
        ([{"x": 0, "y": 0, "width": 1}], r"cell 0 is missing 'height'"),
        ([{"x": 0, "y": 0, "width": 1, "height": 1, "z": 3}], r"cell 0 has unknown keys \['z'\]"),
        ([[0, 0, "1", 1]], r"cell 0 has a non-numeric coordinate '1'"),
        ([[0, 0, True, 1]], r"cell 0 has a non-numeric"),
        ([[0, 0, float("nan"), 1]], r"cell 0 has a NaN"),
        ([[0, 0, 1, 1, 1.5]], r"cell 0 has a non-integer importance"),
        ([[0, 0, 0.5, 1], [-0.1, 0, 0.1, 1]], r"cell 1 \(x=-0.1.*outside the canvas"),
        ([[0.6, 0, 0.5, 1]], r"cell 0 \(x=0.6.*past the right edge"),
        ([[0, 0.5, 1, 0.6]], r"cell 0 .*past the bottom edge"),
        ([[0, 0, 0, 1]], r"cell 0 .*too small"),
        ([[0, 0, 1, 0.001]], r"cell 0 .*too small"),
        (
            [[0, 0, 0.5, 0.5], [0.5, 0, 0.5, 0.5], [0.4, 0.4, 0.2, 0.2]],
            r"'bad': cell 2 \(x=0.4, y=0.4, width=0.2, height=0.2\) overlaps cell 0",
        ),
    ],
)
def test_validation_names_the_offending_cell(cells: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        custom_layout("bad", cells)


def test_name_required() -> None:
    with pytest.raises(ValueError, match="name"):
        custom_layout("", [[0, 0, 1, 1]])


def test_registry_holds_builtins_and_custom() -> None:
    registry = LayoutRegistry({"mine": [[0, 0, 1, 1]]})
    assert "mine" in registry and "equal-2x2" in registry
    assert registry.available_layouts()[-1] == "mine"
    assert registry.get_layout("mine").cells(1, 352, 288) == [Cell(0, 0, 352, 288)]
    assert get_layout("mine", registry).capacity == 1
    with pytest.raises(ValueError, match="unknown layout 'mine'"):
        get_layout("mine")  # the default registry has built-ins only


def test_registry_rejects_shadowing_a_builtin() -> None:
    with pytest.raises(ValueError, match="'equal-2x2' has the name of a built-in"):
        LayoutRegistry({"equal-2x2": [[0, 0, 1, 1]]})


def test_registry_reports_bad_custom_layout() -> None:
    with pytest.raises(ValueError, match="custom layout 'oops': cell 1"):
        LayoutRegistry({"oops": [[0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]]})


def test_cell_too_small_for_canvas() -> None:
    layout = custom_layout("tiny", [[0, 0, 1 / 64, 1 / 64]])
    with pytest.raises(ValueError, match="cell 0 .*under 2 pixels on a 32x32 canvas"):
        layout.cells(1, 32, 32)


def _random_partition(rng: random.Random, pieces: int) -> list[list[float]]:
    """Guillotine-split the unit square; split points rounded like hand-written settings."""
    rects = [[0.0, 0.0, 1.0, 1.0]]
    while len(rects) < pieces:
        x, y, w, h = rects.pop(rng.randrange(len(rects)))
        if w >= h:
            cut = round(x + w * rng.uniform(0.3, 0.7), 4)
            rects += [[x, y, cut - x, h], [cut, y, x + w - cut, h]]
        else:
            cut = round(y + h * rng.uniform(0.3, 0.7), 4)
            rects += [[x, y, w, cut - y], [x, cut, w, y + h - cut]]
    return rects


@pytest.mark.parametrize("seed", range(40))
def test_random_partitions_stay_disjoint_in_pixels(seed: int) -> None:
    rng = random.Random(seed)
    layout = custom_layout("random", _random_partition(rng, rng.randint(1, 12)))
    for width, height in [(1280, 720), (704, 576), (352, 288), (1920, 1080), (1023, 767)]:
        cells = layout.cells(layout.capacity, width, height)
        assert len(cells) == layout.capacity
        for cell in cells:
            assert Rect(0, 0, width - width % 2, height - height % 2).contains(cell.rect)
            assert all(v % 2 == 0 for v in (cell.x, cell.y, cell.width, cell.height))
        for a, b in combinations(cells, 2):
            assert not a.rect.overlaps(b.rect), (a, b)
