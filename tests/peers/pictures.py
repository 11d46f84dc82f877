"""Tell which colours a received video picture holds, and where (Pillow + numpy).

Test peers send solid colours; after two lossy codecs (the peer's and the MCU's)
and YUV 4:2:0 with limited range, pure red (255, 0, 0) arrives as roughly
(235, 15, 15) and edges bleed, so pictures are judged by the mean colour of a
rectangle well inside a cell, matched to the nearest colour of a small palette.

Rectangles are normalized (x, y, width, height) in [0, 1], so a test describes a
layout independently of the picture's size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

Rect = tuple[float, float, float, float]  # x, y, width, height; all in [0, 1]
RGB = tuple[int, int, int]

PALETTE: dict[str, RGB] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "magenta": (255, 0, 255),
    "cyan": (0, 255, 255),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
}
# Euclidean RGB distance still counted as a palette colour.  Limited-range video
# moves each channel by up to 16-20 and codecs add a few more (about 40 in all);
# the nearest other palette colour is 255 away, and a mid grey (128, 128, 128)
# is 221 from every entry, so it matches none.
TOLERANCE = 100.0
CENTRE_FRACTION = 0.3  # sample the middle 30% of a cell: clear of label strips and edges


def load_rgb(path: str | Path) -> np.ndarray:
    """A picture as an H x W x 3 uint8 array."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _pixels(image: np.ndarray, rect: Rect) -> np.ndarray:
    """The pixels inside a normalized rect (at least one)."""
    height, width = image.shape[:2]
    x, y, w, h = rect
    left, top = int(round(x * width)), int(round(y * height))
    right = max(left + 1, int(round((x + w) * width)))
    bottom = max(top + 1, int(round((y + h) * height)))
    left, top = min(max(left, 0), width - 1), min(max(top, 0), height - 1)
    return image[top:min(bottom, height), left:min(right, width)]


def mean_rgb(image: np.ndarray, rect: Rect = (0.0, 0.0, 1.0, 1.0)) -> RGB:
    """The mean colour of the pixels inside `rect`."""
    mean = _pixels(image, rect).reshape(-1, 3).mean(axis=0)
    return (int(round(mean[0])), int(round(mean[1])), int(round(mean[2])))


def centre(rect: Rect, fraction: float = CENTRE_FRACTION) -> Rect:
    """The middle `fraction` (of width and of height) of `rect`."""
    x, y, w, h = rect
    return (x + w * (1 - fraction) / 2, y + h * (1 - fraction) / 2, w * fraction, h * fraction)


def grid(n: int) -> list[Rect]:
    """The cells of an n x n equal grid, row-major (left to right, then down)."""
    if n < 1:
        raise ValueError(f"grid size must be at least 1, got {n}")
    size = 1.0 / n
    return [(col * size, row * size, size, size) for row in range(n) for col in range(n)]


def cell_colours(
    image: np.ndarray, cells: list[Rect], fraction: float = CENTRE_FRACTION
) -> list[RGB]:
    """The mean colour near the centre of each cell."""
    return [mean_rgb(image, centre(cell, fraction)) for cell in cells]


def distance(a: RGB, b: RGB) -> float:
    return float(np.linalg.norm(np.subtract(a, b, dtype=np.float64)))


def nearest_colour(
    rgb: RGB, tolerance: float = TOLERANCE, palette: dict[str, RGB] | None = None
) -> str | None:
    """The palette name nearest `rgb`, or None when none is within `tolerance`."""
    palette = PALETTE if palette is None else palette
    name = min(palette, key=lambda n: distance(rgb, palette[n]))
    return name if distance(rgb, palette[name]) <= tolerance else None


def named_cells(
    image: np.ndarray, cells: list[Rect], tolerance: float = TOLERANCE
) -> list[str | None]:
    """The palette name (or None) of each cell's centre colour."""
    return [nearest_colour(rgb, tolerance) for rgb in cell_colours(image, cells)]


def grid_names(image: np.ndarray, n: int, tolerance: float = TOLERANCE) -> list[str | None]:
    """The palette name (or None) at the centre of each cell of an n x n grid."""
    return named_cells(image, grid(n), tolerance)


def is_saturated(rgb: RGB, spread: int = 80) -> bool:
    """Strongly coloured (channels far apart), unlike greys, slates and black."""
    return max(rgb) - min(rgb) >= spread


def is_dark(rgb: RGB, level: int = 90) -> bool:
    """Black, dark grey or a dark slate: every channel below `level`."""
    return max(rgb) < level


def describe(image: np.ndarray, cells: list[Rect]) -> str:
    """One line per cell (colour and name), for assertion messages."""
    return "; ".join(
        f"cell {i}: {rgb} {nearest_colour(rgb)}"
        for i, rgb in enumerate(cell_colours(image, cells))
    )
