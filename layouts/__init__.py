"""Continuous-presence layout geometry: pure functions of (layout, count, canvas).

No I/O and no state: the conference layout and each participant's own layout are just
different names looked up in the same registry.
"""

from __future__ import annotations

from layouts.custom import CustomLayout, NormCell, custom_layout
from layouts.families import AutoGridLayout, GridLayout, builtin_layouts
from layouts.geometry import FIT_MODES, Cell, Fit, FitMode, Rect, even_floor, even_round, fit
from layouts.registry import (
    DEFAULT_LAYOUT,
    Layout,
    LayoutRegistry,
    available_layouts,
    get_layout,
)

__all__ = [
    "DEFAULT_LAYOUT",
    "FIT_MODES",
    "AutoGridLayout",
    "Cell",
    "CustomLayout",
    "Fit",
    "FitMode",
    "GridLayout",
    "Layout",
    "LayoutRegistry",
    "NormCell",
    "Rect",
    "available_layouts",
    "builtin_layouts",
    "custom_layout",
    "even_floor",
    "even_round",
    "fit",
    "get_layout",
]
