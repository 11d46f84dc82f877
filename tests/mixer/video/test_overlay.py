from __future__ import annotations

import numpy as np
import pytest

from mcu.mixer.video import overlay
from mcu.mixer.video.picture import Picture, rgb_to_yuv, yuv_to_rgb

SATURATED = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255)]


def test_label_size_cache_and_readonly() -> None:
    strip = overlay.label("Alice", 426, 28)
    assert (strip.width, strip.height) == (426, 28)
    assert overlay.label("Alice", 426, 28) is strip
    assert overlay.label("Alice", 426, 30) is not strip
    with pytest.raises(ValueError):
        strip.y[0, 0] = 0
    # White text on a dark strip.
    assert strip.y.max() > 200
    assert np.median(strip.y) < 40


def test_label_truncates_long_names() -> None:
    font = overlay._font(17)
    name = "Dr. Bartholomew Featherstonehaugh-Cholmondeley, Department of Examples"
    cut = overlay.truncate(name, font, 200)
    assert cut.endswith("…") and font.getlength(cut) <= 200
    assert overlay.truncate("Bob", font, 200) == "Bob"
    strip = overlay.label(name, 200, 28)
    # The text stops before the right padding (nothing drawn in the last 4 columns).
    assert strip.y[:, -4:].max() < 60


@pytest.mark.parametrize("kind", sorted(overlay.SLATES))
def test_slates(kind: str) -> None:
    card = overlay.slate(kind, 320, 180, "Carol")
    assert (card.width, card.height) == (320, 180)
    assert overlay.slate(kind, 320, 180, "Carol") is card
    assert card.y.max() > 200  # there is text
    # The background is dark and close to grey: never a saturated test colour.
    background = yuv_to_rgb((float(card.y[2, 2]), float(card.u[1, 1]), float(card.v[1, 1])))
    assert max(background) < 80
    assert max(background) - min(background) < 30
    for colour in SATURATED:
        assert max(abs(a - b) for a, b in zip(background, colour, strict=True)) > 100


def test_slates_differ_and_unknown_kind() -> None:
    pictures = [overlay.slate(kind, 160, 90) for kind in overlay.SLATES]
    colours = {p.mean_yuv() for p in pictures}
    assert len(colours) == len(pictures)
    with pytest.raises(ValueError):
        overlay.slate("dancing", 160, 90)


def test_message_wraps_into_the_box() -> None:
    box = overlay.message("The conference ends in five minutes, please finish up", 640, 120)
    assert (box.width, box.height) == (640, 120)
    assert overlay.message("The conference ends in five minutes, please finish up", 640,
                           120) is box
    font = overlay._font(20)
    lines = overlay.wrap("one two three four five six seven", font, 80, 2)
    assert len(lines) == 2 and lines[-1].endswith("…")
    assert all(font.getlength(line) <= 80 for line in lines)


def test_odd_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        overlay.label("x", 101, 20)
    with pytest.raises(ValueError):
        overlay.message("x", 100, 21)


def test_label_pastes_into_a_cell() -> None:
    cell = Picture.blank(320, 180, (255, 0, 0))
    strip = overlay.label("Dave", 320, 24)
    cell.paste(strip, 0, 180 - 24)
    assert cell.y[0, 0] == rgb_to_yuv((255, 0, 0))[0]
    assert np.array_equal(cell.y[-24:], strip.y)
