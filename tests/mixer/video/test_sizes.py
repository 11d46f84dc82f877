"""Asking senders for the size they are shown at (issue 14): the pure asker, the
largest-cell rule, and the mixer asking fake legs that follow (or cannot)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from layouts.registry import get_layout
from mcu.mixer.video.sizes import SizeAsker, SizeRequest, rounded
from mcu.mixer.video.views import ViewPlan, shown_sizes
from tests.mixer.video.fakes import SizedFakeLeg
from tests.mixer.video.test_mixer import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    Clock,
    join,
    make_mixer,
    named,
    quadrants,
    tick,
)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def test_requests_have_even_sides() -> None:
    assert rounded(426, 240) == SizeRequest(426, 240)
    assert rounded(213, 119) == SizeRequest(214, 120)


def test_bigger_at_once_smaller_only_when_it_holds() -> None:
    asker = SizeAsker(shrink_after_s=3.0, min_interval_s=1.0)
    assert asker.want(426, 240, now=0.0) == SizeRequest(426, 240)  # the first, at once
    assert asker.want(426, 240, now=0.1) is None  # unchanged: nothing to ask
    assert asker.want(1280, 720, now=0.5) is None  # bigger, but one ask a second
    assert asker.want(1280, 720, now=1.0) == SizeRequest(1280, 720)
    assert asker.want(426, 240, now=2.0) is None  # smaller: wait for it to hold
    assert asker.want(1280, 720, now=3.0) is None  # back: the wait starts again
    assert asker.want(426, 240, now=4.0) is None
    assert asker.want(426, 240, now=6.9) is None
    assert asker.want(426, 240, now=7.0) == SizeRequest(426, 240)


def test_the_largest_cell_anyone_shows_a_participant_in() -> None:
    grid = get_layout("equal-2x2")
    one = get_layout("equal-1x1")
    plans = {"v1": ViewPlan(("shared", "equal-2x2"), "equal-2x2", ("a", "b", "c")),
             "v2": ViewPlan(("viewer", "v2"), "equal-1x1", ("a",)),
             "v3": ViewPlan(("slate", "lobby"), "equal-2x2", slate="lobby")}
    sizes = shown_sizes(plans, {"v1": (1280, 720), "v2": (640, 360), "v3": (1280, 720)},
                        {"equal-2x2": grid, "equal-1x1": one})
    assert sizes == {"a": (640, 360), "b": (640, 360), "c": (640, 360)}
    sizes = shown_sizes(plans, {"v1": (640, 360), "v2": (1280, 720)},
                        {"equal-2x2": grid, "equal-1x1": one})
    assert sizes["a"] == (1280, 720) and sizes["b"] == (320, 180)


def test_the_mixer_asks_each_shown_sender_for_its_cell_and_shows_it_resized(
        pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, layout="equal-2x2", self_view=True)
    legs = [SizedFakeLeg(n, c) for n, c in (("r", RED), ("g", GREEN), ("b", BLUE),
                                            ("y", YELLOW))]
    join(mixer, *legs)
    tick(mixer, clock, 6)
    for leg in legs:  # 2x2 of 320x180: cells of 160x90
        assert leg.size_requests == [(160, 90, 15.0)]
    assert named(quadrants(legs[0].last_picture())) == ["red", "green", "blue", "yellow"]
    assert mixer.counters["size_requests"] == 4


def test_a_leg_that_cannot_ask_is_not_asked_again(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, layout="equal-1x1")
    red, green = SizedFakeLeg("r", RED, honour=False), SizedFakeLeg("g", GREEN)
    join(mixer, red, green)
    tick(mixer, clock, 3)
    mixer.set_conference_layout("equal-2x2")
    tick(mixer, clock, 80)  # past shrink_after_s: green is asked again, red is not
    assert len(red.size_requests) == 1 and len(green.size_requests) == 2
    assert named(quadrants(green.last_picture()))[0] == "red"
