"""Participant thumbnails for the conference page.

A participant with video gets a small JPEG of its newest decoded picture (the video
mixer keeps it; ``LiveControl.thumbnail``). Otherwise the thumbnail is a slate: the
participant's name and "audio only" (or the lobby state) on a dark background,
rendered once per (name, state) and kept. Seed 003: thumbnails are never shown when a
conference requires encryption — the route checks `authorize` (VIEW_THUMBNAILS)
before anything comes here.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

SIZE = (160, 90)
BACKGROUND = (29, 35, 48)
NAME_COLOUR = (255, 255, 255)
NOTE_COLOUR = (160, 170, 190)
NOTES = {"lobby": "in the PIN lobby", "waiting": "waiting for the chair",
         "no video": "no picture yet"}
MAX_NAME = 24


def _fit(text: str) -> str:
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"


@lru_cache(maxsize=512)
def slate(name: str, state: str) -> bytes:
    """A small JPEG naming the participant, with "audio only" or their entry state."""
    image = Image.new("RGB", SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    big = ImageFont.load_default(size=15)
    small = ImageFont.load_default(size=11)
    width, height = SIZE
    draw.text((width / 2, height / 2 - 9), _fit(name or "?"), fill=NAME_COLOUR, font=big,
              anchor="mm")
    draw.text((width / 2, height / 2 + 14), NOTES.get(state, "audio only"), fill=NOTE_COLOUR,
              font=small, anchor="mm")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
