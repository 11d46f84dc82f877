"""Who sees what, sans-IO: the conference's state in, one plan per viewer out.

A plan says which participants fill which cells of which layout, and which encoder
stream (``owner``) carries it to the viewer. Pure functions of their arguments, so
the rules are tested without pictures or codecs:

* Order: participants in join order; the "important" participant and then the active
  speaker take the large cells of a layout that has them. An equal grid never
  reshuffles on a speaker change (that is flicker); when it is too small for
  everyone, a speaker who would not be shown takes the last cell.
* Self-view off: a viewer does not see themselves, so a viewer who is shown in the
  common picture gets a personal view (owner ``("viewer", id)``), composed and encoded
  for them alone. Everyone else of that layout sees the same common picture and
  shares its encoder (owner ``("shared", layout)``). Owners are stable across joins
  and leaves, so a layout change is a new picture in the same stream (no key frame,
  no stall), and a viewer changes stream only when they start or stop being shown.
* A viewer's custom layout (``Room.panes``) names who goes in which cell; a cell left
  ``None``, or naming someone absent (or the viewer, with self-view off), is filled in
  the usual order. Such a picture is the viewer's own.
* Someone with nobody to see gets the "waiting" slate; the lobby and guests waiting
  for the chairperson get their slates (owner ``("slate", kind)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from layouts.geometry import Cell
from layouts.registry import Layout

Owner = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ViewPlan:
    """One viewer's picture: participants in cell order, or a whole-picture slate.

    Cells depend on the picture size, which depends on the viewer's codec, so they
    are computed where the picture is composed (``cells``)."""

    owner: Owner
    layout: str
    shown: tuple[str | None, ...] = ()  # None: an empty cell (custom layouts only)
    slate: str | None = None  # "waiting", "lobby", "waiting_for_chair"

    def cells(self, layout: Layout, width: int, height: int) -> list[tuple[str, Cell]]:
        """Who fills which cell (empty cells left out)."""
        return self.seat(layout.cells(len(self.shown), width, height))

    def seat(self, cells: Sequence[Cell]) -> list[tuple[str, Cell]]:
        """Who fills which of ``cells``, the layout's cells for ``len(shown)``."""
        return [(p, c) for p, c in zip(self.shown, cells, strict=False) if p is not None]


@dataclass(frozen=True, slots=True)
class Room:
    """What planning needs to know about the conference, snapshotted on the loop."""

    connected: tuple[str, ...]  # join order
    layout: str  # the conference's layout
    own_layouts: dict[str, str]  # viewer -> their own layout choice
    slates: dict[str, str]  # viewer -> whole-picture slate (lobby, waiting guests)
    important: str | None = None
    speaker: str | None = None
    self_view: bool = False
    panes: dict[str, tuple[str | None, ...]] | None = None  # viewer -> who in which cell


def arrange(
    candidates: Sequence[str], layout: Layout, important: str | None, speaker: str | None
) -> list[str]:
    """The participants shown, in cell order (at most the layout's capacity)."""
    capacity = layout.capacity
    promoted = [p for p in dict.fromkeys((important, speaker)) if p in candidates]
    large = _large_cells(layout, min(len(candidates), capacity))
    if large:
        head = promoted[:large]
        order = head + [p for p in candidates if p not in head]
        return order[:capacity]
    order = list(candidates[:capacity])
    for person in promoted:  # an equal grid keeps its order; only make sure they show
        if person not in order and order:
            replaceable = [i for i, p in enumerate(order) if p not in promoted]
            if replaceable:
                order[replaceable[-1]] = person
    return order


def _large_cells(layout: Layout, count: int) -> int:
    """How many of the cells for ``count`` are more prominent than the smallest."""
    cells = layout.cells(max(count, 1), 64 * 16, 36 * 16)
    if not cells:
        return 0
    smallest = min(cell.importance for cell in cells)
    return sum(1 for cell in cells if cell.importance > smallest)


def _without(viewer: str, common: list[str], room: Room, layout: Layout) -> list[str]:
    """The common picture with the viewer left out. A full equal grid with people left
    over puts the next of them in the viewer's own cell, so the personal picture
    differs from the common one in that cell alone and is made from it (issue 14);
    otherwise the others are arranged again (a grid that fits the count shrinks)."""
    spare = [p for p in room.connected if p not in common and p != viewer]
    if spare and len(common) == layout.capacity and not _large_cells(layout, len(common)):
        return [spare[0] if p == viewer else p for p in common]
    others = [p for p in room.connected if p != viewer]
    return arrange(others, layout, room.important, room.speaker)


def plan_views(
    room: Room, viewers: Sequence[str], layouts: dict[str, Layout]
) -> dict[str, ViewPlan]:
    """A plan for each viewer (who takes video); ``layouts`` maps every layout name
    in use to its geometry."""
    common: dict[str, list[str]] = {}
    plans: dict[str, ViewPlan] = {}
    for viewer in viewers:
        slate = room.slates.get(viewer)
        name = room.own_layouts.get(viewer) or room.layout
        if slate is not None:
            plans[viewer] = ViewPlan(("slate", slate), name, slate=slate)
            continue
        layout = layouts[name]
        pinned = (room.panes or {}).get(viewer)
        if pinned:
            shown = _pinned(room, viewer, layout, pinned)
            plans[viewer] = ViewPlan(("viewer", viewer), name, tuple(shown),
                                     None if shown else "waiting")
            continue
        if name not in common:
            common[name] = arrange(room.connected, layout, room.important, room.speaker)
        shown = common[name]
        if room.self_view or viewer not in shown:
            owner: Owner = ("shared", name)
        else:
            shown = _without(viewer, shown, room, layout)
            owner = ("viewer", viewer)
        plans[viewer] = ViewPlan(owner, name, tuple(shown), None if shown else "waiting")
    return plans


def _pinned(room: Room, viewer: str, layout: Layout,
            panes: tuple[str | None, ...]) -> list[str | None]:
    """Cells as the viewer's custom layout names them, the rest in the usual order;
    ``None`` is a cell left empty because nobody is left to fill it."""
    candidates = [p for p in room.connected if room.self_view or p != viewer]
    wanted: list[str | None] = []
    for person in panes[: layout.capacity]:  # each person once, only if present
        wanted.append(person if person in candidates and person not in wanted else None)
    usual = arrange(candidates, layout, room.important, room.speaker)
    order = usual + [p for p in candidates if p not in usual]
    rest = iter([p for p in order if p not in wanted])
    wanted += [None] * (layout.capacity - len(wanted))
    shown = [person or next(rest, None) for person in wanted]
    while shown and shown[-1] is None:
        shown.pop()
    return shown


def visible(plans: dict[str, ViewPlan]) -> set[str]:
    """Participants whose picture some viewer sees (the inputs worth decoding)."""
    return {leg_id for plan in plans.values() for leg_id in plan.shown if leg_id is not None}


def shown_sizes(plans: dict[str, ViewPlan], canvases: dict[str, tuple[int, int]],
                layouts: dict[str, Layout]) -> dict[str, tuple[int, int]]:
    """The largest cell each visible participant fills in any viewer's picture
    (``canvases``: each viewer's picture size): what their camera need send (issue 14:
    a sender shown in a 426x240 tile need not send 720p)."""
    largest: dict[str, tuple[int, int]] = {}
    for viewer, plan in plans.items():
        if plan.slate is not None or viewer not in canvases:
            continue
        for leg_id, cell in plan.cells(layouts[plan.layout], *canvases[viewer]):
            size = (cell.width, cell.height)
            if size[0] * size[1] > _area(largest.get(leg_id)):
                largest[leg_id] = size
    return largest


def _area(size: tuple[int, int] | None) -> int:
    return 0 if size is None else size[0] * size[1]
