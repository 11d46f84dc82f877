"""Who sees what: the planner's rules, without pictures."""

from __future__ import annotations

from layouts.registry import get_layout
from mcu.mixer.video.views import Room, arrange, plan_views, visible

AUTO = {"equal-auto": get_layout("equal-auto")}


def room(*connected: str, **kw: object) -> Room:
    defaults: dict[str, object] = {"layout": "equal-auto", "own_layouts": {}, "slates": {}}
    return Room(tuple(connected), **(defaults | kw))  # type: ignore[arg-type]


def test_nobody_sees_themselves_and_others_keep_join_order() -> None:
    plans = plan_views(room("a", "b", "c"), ["a", "b", "c"], AUTO)
    assert plans["a"].shown == ("b", "c")
    assert plans["b"].shown == ("a", "c")
    assert plans["c"].shown == ("a", "b")
    assert {p.owner for p in plans.values()} == {("viewer", "a"), ("viewer", "b"),
                                                 ("viewer", "c")}


def test_alone_sees_the_waiting_slate() -> None:
    assert plan_views(room("a"), ["a"], AUTO)["a"].slate == "waiting"


def test_self_view_shares_one_picture() -> None:
    plans = plan_views(room("a", "b", self_view=True), ["a", "b"], AUTO)
    assert plans["a"].shown == plans["b"].shown == ("a", "b")
    assert plans["a"].owner == plans["b"].owner == ("shared", "equal-auto")


def test_people_not_shown_share_the_common_picture() -> None:
    grid = {"equal-3x3": get_layout("equal-3x3")}
    people = [f"p{i:02}" for i in range(20)]
    plans = plan_views(room(*people, layout="equal-3x3"), people, grid)
    shared = [p for p in people if plans[p].owner[0] == "shared"]
    assert shared == people[9:]
    assert {plans[p].shown for p in shared} == {tuple(people[:9])}
    # the tenth takes p00's own cell: the rest of p00's picture is the common one
    assert plans["p00"].shown == (people[9], *people[1:9])
    assert len({plans[p].owner for p in people}) == 10  # 9 personal + 1 shared streams
    assert visible(plans) == set(people[:10])


def test_lobby_and_waiting_guests_get_slates() -> None:
    plans = plan_views(room("a", slates={"b": "lobby", "c": "waiting_for_chair"}),
                       ["a", "b", "c"], AUTO)
    assert plans["b"].slate == "lobby" and plans["b"].owner == ("slate", "lobby")
    assert plans["c"].slate == "waiting_for_chair"
    assert "b" not in visible(plans) and "c" not in visible(plans)


def test_important_then_speaker_take_the_large_cells() -> None:
    two = get_layout("two-2+4")
    assert arrange(["a", "b", "c", "d"], two, important="d", speaker="c")[:2] == ["d", "c"]
    strip = get_layout("strip-1+3")
    assert arrange(["a", "b", "c"], strip, important=None, speaker="c")[0] == "c"


def test_equal_grid_does_not_reshuffle_on_speaker_change() -> None:
    grid = get_layout("equal-2x2")
    assert arrange(["a", "b", "c"], grid, None, "c") == ["a", "b", "c"]
    # too many people: a speaker who would not be shown takes the last cell
    assert arrange(["a", "b", "c", "d", "e"], grid, None, "e") == ["a", "b", "c", "e"]


def test_own_layout_is_used_for_that_viewer() -> None:
    layouts = AUTO | {"equal-1x1": get_layout("equal-1x1")}
    plans = plan_views(room("a", "b", "c", own_layouts={"a": "equal-1x1"}), ["a", "b", "c"],
                       layouts)
    assert plans["a"].layout == "equal-1x1" and plans["a"].shown == ("b",)
    assert plans["b"].layout == "equal-auto"


def test_a_custom_layout_puts_named_people_in_their_cells() -> None:
    grid = {"equal-2x2": get_layout("equal-2x2")}
    panes = {"a": ("d", None, "b")}
    plans = plan_views(room("a", "b", "c", "d", layout="equal-2x2", panes=panes),
                       ["a", "b"], grid)
    assert plans["a"].shown == ("d", "c", "b")  # d first, c fills the free cell, b third
    assert plans["a"].owner == ("viewer", "a")
    assert plans["b"].shown == ("a", "c", "d")  # others are untouched


def test_a_custom_layout_ignores_the_absent_the_viewer_and_repeats() -> None:
    grid = {"equal-2x2": get_layout("equal-2x2")}
    panes = {"a": ("zz", "a", "b", "b")}
    plans = plan_views(room("a", "b", "c", layout="equal-2x2", panes=panes), ["a"], grid)
    assert plans["a"].shown == ("c", None, "b")  # nobody left for cell 2: it stays empty
    assert visible(plans) == {"b", "c"}
