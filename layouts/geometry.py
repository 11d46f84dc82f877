"""Rectangles, cells and aspect-ratio fitting, all in even integer pixels.

Every coordinate and size produced here is even: composed pictures are YUV 4:2:0, whose
chroma planes have half the luma resolution, so an odd edge would split a chroma sample
between two cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

FitMode = Literal["letterbox", "crop"]
FIT_MODES: tuple[FitMode, ...] = ("letterbox", "crop")


def even_floor(value: float) -> int:
    """Largest even integer <= value."""
    return 2 * math.floor(value / 2)


def even_round(value: float) -> int:
    """Nearest even integer (halves go up, so rounding is monotonic)."""
    return 2 * math.floor(value / 2 + 0.5)


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in integer pixels; (x, y) is the top-left corner."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    def overlaps(self, other: Rect) -> bool:
        """True when the two share a positive area (touching edges do not count)."""
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )

    def contains(self, other: Rect) -> bool:
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.right <= self.right
            and other.bottom <= self.bottom
        )


@dataclass(frozen=True, slots=True)
class Cell:
    """One picture slot of a layout on a canvas, in even integer pixels.

    importance is a size tier: higher means a more prominent cell (the large cells of a
    1+N layout are 1, the small ones 0; every cell of an equal grid is 0). Layouts list
    cells with non-increasing importance, so the mixer fills them in order: the active
    speaker first, then the "important" participant, then the rest.
    """

    x: int
    y: int
    width: int
    height: int
    importance: int = 0

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def rect(self) -> Rect:
        return Rect(self.x, self.y, self.width, self.height)

    @property
    def area(self) -> int:
        return self.width * self.height


@dataclass(frozen=True, slots=True)
class Fit:
    """Where a source picture goes: `dest` is in canvas coordinates (inside the cell),
    `source` is the part of the source picture to scale into it."""

    dest: Rect
    source: Rect


def check_canvas(canvas_width: int, canvas_height: int) -> tuple[int, int]:
    """Validate a canvas size; returns the even area actually used (an odd last
    column/row stays unused rather than producing odd cells)."""
    if canvas_width < 2 or canvas_height < 2:
        raise ValueError(f"canvas {canvas_width}x{canvas_height} is too small (need >= 2x2)")
    return even_floor(canvas_width), even_floor(canvas_height)


def fit(source_width: int, source_height: int, cell: Cell | Rect, mode: FitMode) -> Fit:
    """Place a source picture in a cell keeping its aspect ratio.

    letterbox: the whole (even-trimmed) picture, scaled to fit inside the cell and centred;
    the rest of the cell is bars. crop: the picture scaled to fill the whole cell, with
    the excess trimmed equally from both sides of the source.
    """
    if source_width < 2 or source_height < 2:
        raise ValueError(f"source {source_width}x{source_height} is too small (need >= 2x2)")
    if cell.width < 2 or cell.height < 2:
        raise ValueError(f"cell {cell.width}x{cell.height} is too small (need >= 2x2)")
    # An odd source edge is trimmed by one pixel: the crop must be even for 4:2:0 too.
    sw, sh = even_floor(source_width), even_floor(source_height)
    if mode == "letterbox":
        return _letterbox(sw, sh, cell)
    if mode == "crop":
        return _crop(sw, sh, cell)
    raise ValueError(f"unknown fit mode {mode!r}; expected one of {', '.join(FIT_MODES)}")


def _letterbox(sw: int, sh: int, cell: Cell | Rect) -> Fit:
    cw, ch = cell.width, cell.height
    if cw * sh <= ch * sw:  # source relatively wider: full width, bars top and bottom
        dw, dh = cw, _clamp_even(sh * cw / sw, ch)
    else:  # source relatively taller: full height, bars left and right
        dw, dh = _clamp_even(sw * ch / sh, cw), ch
    dest = Rect(cell.x + even_floor((cw - dw) / 2), cell.y + even_floor((ch - dh) / 2), dw, dh)
    return Fit(dest=dest, source=Rect(0, 0, sw, sh))


def _crop(sw: int, sh: int, cell: Cell | Rect) -> Fit:
    cw, ch = cell.width, cell.height
    if sw * ch >= cw * sh:  # source relatively wider: keep its height, trim the sides
        crop_w, crop_h = _clamp_even(sh * cw / ch, sw), sh
    else:  # source relatively taller: keep its width, trim top and bottom
        crop_w, crop_h = sw, _clamp_even(sw * ch / cw, sh)
    source = Rect(even_floor((sw - crop_w) / 2), even_floor((sh - crop_h) / 2), crop_w, crop_h)
    return Fit(dest=Rect(cell.x, cell.y, cw, ch), source=source)


def _clamp_even(value: float, limit: int) -> int:
    """Round to even, but never past `limit` nor below 2 (a sliver still shows)."""
    return max(2, min(limit, even_round(value)))
