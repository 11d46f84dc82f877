"""Text composed into the continuous-presence picture: name strips, slates, messages.

Rendered with Pillow once per (text, size) and kept (``lru_cache``): the same strip is
pasted into every frame of every view, so rendering must not be per frame. The cached
pictures are frozen (read-only) because they are shared; paste them, never draw on
them.

Backgrounds are dark and low-saturation on purpose: end-to-end tests recognise each
participant by a saturated solid colour (pure red, green, blue, yellow, magenta,
cyan), and no slate may ever be mistaken for one of them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mcu.mixer.video.picture import Picture

ELLIPSIS = "…"
TEXT = (255, 255, 255)
NOTE = (170, 178, 196)
LABEL_BACKGROUND = (24, 26, 32)
MESSAGE_BACKGROUND = (40, 44, 56)
MESSAGE_BORDER = (120, 128, 150)

SLATES: dict[str, tuple[str, tuple[int, int, int]]] = {
    # kind: (fixed note, background); the participant's name (text) goes above the note.
    "waiting": ("Waiting for other participants", (29, 35, 48)),
    "audio_only": ("audio only", (36, 40, 46)),
    "no_video": ("camera off", (44, 38, 46)),
    "lobby": ("Enter the conference PIN", (30, 42, 44)),
    "waiting_for_chair": ("Waiting for the chairperson", (44, 42, 34)),
}
"""Slate kinds. For "waiting", "lobby" and "waiting_for_chair" the note is the main line
and ``text`` (e.g. the conference name) is optional; for "audio_only" and "no_video"
``text`` is the participant's name."""

CACHE_SIZE = 512
MIN_MESSAGE_FONT = 12


def _check_size(width: int, height: int) -> None:
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError(f"overlay size {width}x{height} must be even and at least 2x2")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(6, size))


def _to_picture(image: Image.Image) -> Picture:
    return Picture.from_rgb(np.asarray(image.convert("RGB"))).freeze()


def truncate(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: float) -> str:
    """``text`` cut to fit ``width`` pixels, ending in "…" when anything was cut."""
    if font.getlength(text) <= width:
        return text
    # Binary search on the prefix length: getlength is monotonic in it.
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if font.getlength(text[:mid].rstrip() + ELLIPSIS) <= width:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + ELLIPSIS if low else ""


@lru_cache(maxsize=CACHE_SIZE)
def label(text: str, width: int, height: int) -> Picture:
    """An opaque name strip (white on dark), to paste along the bottom of a cell."""
    _check_size(width, height)
    image = Image.new("RGB", (width, height), LABEL_BACKGROUND)
    font = _font(round(height * 0.62))
    pad = max(2, height // 4)
    fitted = truncate(text, font, width - 2 * pad)
    ImageDraw.Draw(image).text((pad, height / 2), fitted, fill=TEXT, font=font, anchor="lm")
    return _to_picture(image)


@lru_cache(maxsize=CACHE_SIZE)
def slate(kind: str, width: int, height: int, text: str = "") -> Picture:
    """A full-cell slate: what a cell shows instead of someone's video."""
    if kind not in SLATES:
        raise ValueError(f"unknown slate {kind!r}; expected one of {', '.join(SLATES)}")
    _check_size(width, height)
    note, background = SLATES[kind]
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    big = _font(round(min(height / 9, width / 16)))
    small = _font(round(min(height / 13, width / 24)))
    room = width * 0.9
    named = kind in ("audio_only", "no_video")
    lines: list[tuple[str, ImageFont.ImageFont | ImageFont.FreeTypeFont, tuple[int, int, int]]]
    if named:
        lines = [(text or "?", big, TEXT), (note, small, NOTE)]
    else:
        lines = [(note, big, TEXT)] + ([(text, small, NOTE)] if text else [])
    step = height / 7
    top = height / 2 - step * (len(lines) - 1) / 2
    for index, (line, font, colour) in enumerate(lines):
        draw.text((width / 2, top + index * step), truncate(line, font, room), fill=colour,
                  font=font, anchor="mm")
    return _to_picture(image)


@lru_cache(maxsize=CACHE_SIZE)
def message(text: str, width: int, height: int) -> Picture:
    """A boxed control-room message, word-wrapped into as many lines as fit."""
    _check_size(width, height)
    image = Image.new("RGB", (width, height), MESSAGE_BACKGROUND)
    draw = ImageDraw.Draw(image)
    border = max(1, min(width, height) // 60)
    draw.rectangle((0, 0, width - 1, height - 1), outline=MESSAGE_BORDER, width=border)
    pad = border + max(2, height // 10)
    font, lines, line_height = _fit_message(text, width - 2 * pad, height - 2 * pad)
    top = height / 2 - line_height * (len(lines) - 1) / 2
    for index, line in enumerate(lines):
        draw.text((width / 2, top + index * line_height), line, fill=TEXT, font=font,
                  anchor="mm")
    return _to_picture(image)


def _fit_message(
    text: str, width: float, height: float
) -> tuple[ImageFont.ImageFont | ImageFont.FreeTypeFont, list[str], float]:
    """The largest font (down to a readable minimum) at which the wrapped text fits
    the box; at the minimum, the lines that fit, the last one cut with "…"."""
    size = round(min(height / 2.4, width / 12))
    while True:
        font = _font(size)
        line_height = font.getbbox("Ag")[3] * 1.2
        max_lines = max(1, int(height // line_height))
        lines = wrap(text, font, width, max_lines)
        if size <= MIN_MESSAGE_FONT or " ".join(lines) == " ".join(text.split()):
            return font, lines, line_height
        size = max(MIN_MESSAGE_FONT, round(size * 0.85))


def wrap(
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    width: float,
    max_lines: int,
) -> list[str]:
    """Greedy word wrap into at most ``max_lines``; the last line ends in "…" if cut."""
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and font.getlength(f"{line} {words[0]}") <= width:
            line = f"{line} {words.pop(0)}"
        lines.append(truncate(line, font, width))
    if words and lines:
        # The next word did not fit on the last line, so this always cuts (adds "…").
        lines[-1] = truncate(f"{lines[-1]} {' '.join(words)}", font, width)
    return lines
