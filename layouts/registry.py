"""Name -> layout lookup: the built-in families plus custom layouts from settings.

A registry is an immutable value built once from the settings; the mixer keeps it and
looks layouts up by name whenever the conference or a participant changes layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from layouts.custom import custom_layout
from layouts.families import builtin_layouts
from layouts.geometry import Cell

DEFAULT_LAYOUT = "equal-auto"


class Layout(Protocol):
    """What every layout offers: the mixer needs nothing else."""

    @property
    def name(self) -> str: ...

    @property
    def capacity(self) -> int: ...

    def cells(self, count: int, canvas_width: int, canvas_height: int) -> list[Cell]: ...


class LayoutRegistry:
    """Built-in layouts plus custom ones; custom names may not shadow built-ins."""

    def __init__(self, custom: Mapping[str, Sequence[Any]] | None = None) -> None:
        layouts: dict[str, Layout] = {layout.name: layout for layout in builtin_layouts()}
        for name, cells in (custom or {}).items():
            if name in layouts:
                raise ValueError(f"custom layout {name!r} has the name of a built-in layout")
            layouts[name] = custom_layout(name, cells)
        self._layouts = layouts

    def get_layout(self, name: str) -> Layout:
        try:
            return self._layouts[name]
        except KeyError:
            known = ", ".join(self.available_layouts())
            raise ValueError(f"unknown layout {name!r}; available: {known}") from None

    def available_layouts(self) -> list[str]:
        return list(self._layouts)

    def __contains__(self, name: object) -> bool:
        return name in self._layouts


_BUILTINS = LayoutRegistry()


def get_layout(name: str, registry: LayoutRegistry | None = None) -> Layout:
    """Look a layout up in `registry` (built-ins only when omitted)."""
    return (registry or _BUILTINS).get_layout(name)


def available_layouts(registry: LayoutRegistry | None = None) -> list[str]:
    """Names in `registry` (built-ins only when omitted), built-ins first."""
    return (registry or _BUILTINS).available_layouts()
