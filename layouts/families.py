"""Built-in layout families, after the Codian MCU's continuous-presence layouts.

Every built-in is a grid of equal units with cells spanning whole units:

- equal-1x1 .. equal-4x4: an n x n grid of equal cells (capacity n*n).
- equal-auto: the smallest of 1x1, 2x2, 3x3, 4x4 holding the participant count; this is
  the only family that *shrinks* to the count (capacity 16).
- strip-1+N (N = 3, 4, 5): N small cells along the bottom, one large cell above them;
  the large cell keeps the canvas aspect and is centred (grid of 2N x N units, so the
  centred large cell still lies on unit boundaries).
- surround-1+N (N = 5, 7, 9): one large cell in the top-left corner of a k x k grid
  (k = 3, 4, 5) and the small cells along the right and bottom edges.
- two-2+4 and two-2+8: two large cells side by side on top, small cells below.

Fixed families do not move cells when participants are missing: `cells(count)` returns
the first min(count, capacity) cells of the full layout and the rest of the canvas stays
background (no reshuffle, so no flicker when someone joins or leaves). Participants past
the capacity are not shown.

The unit is even_floor(canvas / grid) in each axis, so all cells of a tier have exactly
the same size (the mixer scales an input once per cell size) and every edge is even; the
at most 2*grid-2 leftover pixels are split as a border around the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from layouts.geometry import Cell, check_canvas, even_floor

# (column, row, column span, row span) in grid units.
Span = tuple[int, int, int, int]


def check_count(count: int) -> None:
    if count < 0:
        raise ValueError(f"participant count must be >= 0, got {count}")


@dataclass(frozen=True)
class GridLayout:
    """A fixed layout: cells spanning whole units of a cols x rows grid, in priority order."""

    name: str
    cols: int
    rows: int
    spans: tuple[Span, ...]

    def __post_init__(self) -> None:
        _check_spans(self.name, self.cols, self.rows, self.spans)

    @property
    def capacity(self) -> int:
        return len(self.spans)

    def cells(self, count: int, canvas_width: int, canvas_height: int) -> list[Cell]:
        check_count(count)
        return self.all_cells(canvas_width, canvas_height)[: min(count, self.capacity)]

    def all_cells(self, canvas_width: int, canvas_height: int) -> list[Cell]:
        """Every cell of the layout, whatever the participant count."""
        width, height = check_canvas(canvas_width, canvas_height)
        unit_w, unit_h = even_floor(width / self.cols), even_floor(height / self.rows)
        if unit_w < 2 or unit_h < 2:
            raise ValueError(
                f"canvas {canvas_width}x{canvas_height} is too small for layout "
                f"{self.name!r} ({self.cols}x{self.rows} grid)"
            )
        off_x = even_floor((width - unit_w * self.cols) / 2)
        off_y = even_floor((height - unit_h * self.rows) / 2)
        tiers = _importance_tiers(self.spans)
        return [
            Cell(off_x + c * unit_w, off_y + r * unit_h, cs * unit_w, rs * unit_h, tiers[i])
            for i, (c, r, cs, rs) in enumerate(self.spans)
        ]


@dataclass(frozen=True)
class AutoGridLayout:
    """Equal grid that grows with the count: 1x1, 2x2, 3x3, then 4x4."""

    name: str = "equal-auto"
    max_side: int = 4

    @property
    def capacity(self) -> int:
        return self.max_side * self.max_side

    def side_for(self, count: int) -> int:
        check_count(count)
        side = 1
        while side * side < count and side < self.max_side:
            side += 1
        return side

    def cells(self, count: int, canvas_width: int, canvas_height: int) -> list[Cell]:
        grid = equal_grid(self.side_for(count))
        return grid.cells(count, canvas_width, canvas_height)


def _importance_tiers(spans: Sequence[Span]) -> list[int]:
    """Importance of each span: the number of distinct smaller areas below it."""
    areas = sorted({cs * rs for _, _, cs, rs in spans})
    return [areas.index(cs * rs) for _, _, cs, rs in spans]


def _check_spans(name: str, cols: int, rows: int, spans: Sequence[Span]) -> None:
    # Built-ins are code, but a wrong span table should fail at import, not mid-call.
    if not spans:
        raise ValueError(f"layout {name!r} has no cells")
    used: set[tuple[int, int]] = set()
    for index, (c, r, cs, rs) in enumerate(spans):
        if cs < 1 or rs < 1 or c < 0 or r < 0 or c + cs > cols or r + rs > rows:
            raise ValueError(f"layout {name!r}: cell {index} {(c, r, cs, rs)} is off the grid")
        units = {(c + i, r + j) for i in range(cs) for j in range(rs)}
        if units & used:
            raise ValueError(f"layout {name!r}: cell {index} {(c, r, cs, rs)} overlaps another")
        used |= units
    tiers = _importance_tiers(spans)
    if tiers != sorted(tiers, reverse=True):
        raise ValueError(f"layout {name!r}: cells are not in priority (largest first) order")


def equal_grid(side: int) -> GridLayout:
    spans = tuple((c, r, 1, 1) for r in range(side) for c in range(side))
    return GridLayout(f"equal-{side}x{side}", side, side, spans)


def strip(small: int) -> GridLayout:
    """1 large + `small` cells along the bottom, on a (2*small) x small unit grid."""
    large: Span = (1, 0, 2 * small - 2, small - 1)
    bottom = tuple((2 * i, small - 1, 2, 1) for i in range(small))
    return GridLayout(f"strip-1+{small}", 2 * small, small, (large, *bottom))


def surround(side: int) -> GridLayout:
    """1 large (side-1 units square) top-left, 2*side-1 small cells right and below."""
    large: Span = (0, 0, side - 1, side - 1)
    right = tuple((side - 1, r, 1, 1) for r in range(side - 1))
    below = tuple((c, side - 1, 1, 1) for c in range(side))
    return GridLayout(f"surround-1+{2 * side - 1}", side, side, (large, *right, *below))


def two_large(small_rows: int) -> GridLayout:
    """2 large side by side (2x2 units each) on a 4-column grid, small rows below."""
    large: tuple[Span, ...] = ((0, 0, 2, 2), (2, 0, 2, 2))
    below = tuple((c, 2 + r, 1, 1) for r in range(small_rows) for c in range(4))
    return GridLayout(f"two-2+{4 * small_rows}", 4, 2 + small_rows, (*large, *below))


def builtin_layouts() -> list[GridLayout | AutoGridLayout]:
    return [
        *(equal_grid(side) for side in (1, 2, 3, 4)),
        AutoGridLayout(),
        *(strip(small) for small in (3, 4, 5)),
        *(surround(side) for side in (3, 4, 5)),
        *(two_large(rows) for rows in (1, 2)),
    ]
