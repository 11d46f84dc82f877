"""Custom layouts from the settings file: cells in normalized (0..1) canvas coordinates.

A cell is given as a mapping {"x", "y", "width", "height", optional "importance"} or as a
sequence [x, y, width, height(, importance)]. Validation happens once, when the settings
are loaded, so a bad layout is reported at start-up with the offending cell named.
Cells keep the order given except that a stable sort puts higher importance first, so
every layout lists its cells in priority order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from layouts.families import check_count
from layouts.geometry import Cell, check_canvas, even_round

# Cell edges within this of each other count as touching, so settings written with
# rounded thirds (0.3333 + 0.6667) are not rejected as overlapping or off the canvas.
EPSILON = 1e-6
# Smallest cell side, as a fraction of the canvas: keeps every cell at least a few
# pixels on the smallest canvas we send (QCIF 176x144 -> 1/64 is over 2 pixels).
MIN_SIDE = 1 / 64


@dataclass(frozen=True, slots=True)
class NormCell:
    """A cell in normalized canvas coordinates (0..1 on both axes)."""

    x: float
    y: float
    width: float
    height: float
    importance: int = 0

    def overlaps(self, other: NormCell) -> bool:
        return (
            self.x < other.x + other.width - EPSILON
            and other.x < self.x + self.width - EPSILON
            and self.y < other.y + other.height - EPSILON
            and other.y < self.y + self.height - EPSILON
        )

    def describe(self) -> str:
        return f"(x={self.x:g}, y={self.y:g}, width={self.width:g}, height={self.height:g})"


@dataclass(frozen=True)
class CustomLayout:
    """A validated custom layout; build it with `custom_layout`."""

    name: str
    norm_cells: tuple[NormCell, ...]

    @property
    def capacity(self) -> int:
        return len(self.norm_cells)

    def cells(self, count: int, canvas_width: int, canvas_height: int) -> list[Cell]:
        check_count(count)
        width, height = check_canvas(canvas_width, canvas_height)
        shown = self.norm_cells[: min(count, self.capacity)]
        return [self._to_pixels(i, c, width, height) for i, c in enumerate(shown)]

    def _to_pixels(self, index: int, cell: NormCell, width: int, height: int) -> Cell:
        # Edges are rounded, not sizes: rounding is monotonic, so cells that touch in
        # normalized space share a pixel edge and never overlap after rounding.
        left, right = even_round(cell.x * width), even_round((cell.x + cell.width) * width)
        top, bottom = even_round(cell.y * height), even_round((cell.y + cell.height) * height)
        right, bottom = min(right, width), min(bottom, height)
        if right - left < 2 or bottom - top < 2:
            raise ValueError(
                f"custom layout {self.name!r}: cell {index} {cell.describe()} is under "
                f"2 pixels on a {width}x{height} canvas"
            )
        return Cell(left, top, right - left, bottom - top, cell.importance)


def custom_layout(name: str, cells: Sequence[Any]) -> CustomLayout:
    """Parse and validate a custom layout; raises ValueError naming the offending cell."""
    if not name:
        raise ValueError("custom layout needs a non-empty name")
    if isinstance(cells, str | bytes) or not isinstance(cells, Sequence) or not cells:
        raise ValueError(f"custom layout {name!r} must have a list of at least one cell")
    parsed = [_parse_cell(name, index, raw) for index, raw in enumerate(cells)]
    for index, cell in enumerate(parsed):
        _check_bounds(name, index, cell)
        for other_index in range(index):
            if cell.overlaps(parsed[other_index]):
                raise ValueError(
                    f"custom layout {name!r}: cell {index} {cell.describe()} overlaps "
                    f"cell {other_index} {parsed[other_index].describe()}"
                )
    snapped = _snap_edges(parsed)
    ordered = sorted(snapped, key=lambda c: -c.importance)  # stable: ties keep given order
    return CustomLayout(name, tuple(ordered))


def _snap_edges(cells: list[NormCell]) -> list[NormCell]:
    """Make edges that agree within EPSILON exactly equal (and clamp to 0..1).

    Two nearly-touching edges could otherwise round to different even pixels on either
    side of the same boundary and overlap by two pixels on some canvas.
    """
    xs = _snap_table([v for c in cells for v in (c.x, c.x + c.width)])
    ys = _snap_table([v for c in cells for v in (c.y, c.y + c.height)])
    out = []
    for c in cells:
        left, right = xs[c.x], xs[c.x + c.width]
        top, bottom = ys[c.y], ys[c.y + c.height]
        out.append(NormCell(left, top, right - left, bottom - top, c.importance))
    return out


def _snap_table(values: list[float]) -> dict[float, float]:
    # Single linkage (gap to the previous value, not to the anchor): any two edges that
    # validation accepted as touching end up in the same cluster.
    table: dict[float, float] = {}
    anchor = 0.0
    previous: float | None = None
    for value in sorted(set(values)):
        if previous is None or value - previous > EPSILON:
            anchor = value
        previous = value
        table[value] = min(1.0, max(0.0, anchor))
    return table


def _parse_cell(name: str, index: int, raw: Any) -> NormCell:
    where = f"custom layout {name!r}: cell {index}"
    if isinstance(raw, NormCell):
        return raw
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"x", "y", "width", "height", "importance"}
        if unknown:
            raise ValueError(f"{where} has unknown keys {sorted(unknown)}")
        try:
            values = [raw["x"], raw["y"], raw["width"], raw["height"]]
        except KeyError as exc:
            raise ValueError(f"{where} is missing {exc.args[0]!r}") from None
        importance = raw.get("importance", 0)
    elif isinstance(raw, Sequence) and not isinstance(raw, str | bytes) and len(raw) in (4, 5):
        values, importance = list(raw[:4]), (raw[4] if len(raw) == 5 else 0)
    else:
        raise ValueError(
            f"{where} must be {{x, y, width, height[, importance]}} or a list of 4 or 5 "
            f"numbers, got {raw!r}"
        )
    return _checked_numbers(where, values, importance)


def _checked_numbers(where: str, values: list[Any], importance: Any) -> NormCell:
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where} has a non-numeric coordinate {value!r}")
        if value != value:  # NaN passes every comparison below
            raise ValueError(f"{where} has a NaN coordinate")
    if isinstance(importance, bool) or not isinstance(importance, int):
        raise ValueError(f"{where} has a non-integer importance {importance!r}")
    x, y, width, height = (float(v) for v in values)
    return NormCell(x, y, width, height, importance)


def _check_bounds(name: str, index: int, cell: NormCell) -> None:
    where = f"custom layout {name!r}: cell {index} {cell.describe()}"
    if cell.width < MIN_SIDE or cell.height < MIN_SIDE:
        raise ValueError(f"{where} is too small (width and height must be >= 1/64)")
    if cell.x < -EPSILON or cell.y < -EPSILON:
        raise ValueError(f"{where} starts outside the canvas (x and y must be >= 0)")
    if cell.x + cell.width > 1 + EPSILON:
        raise ValueError(f"{where} extends past the right edge (x + width > 1)")
    if cell.y + cell.height > 1 + EPSILON:
        raise ValueError(f"{where} extends past the bottom edge (y + height > 1)")
