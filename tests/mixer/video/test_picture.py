from __future__ import annotations

import av
import numpy as np
import pytest

from layouts import Cell, Rect, fit, get_layout
from mcu.mixer.video.picture import (
    Patched,
    Picture,
    Scratch,
    crop_frame,
    rgb_to_yuv,
    scale,
    yuv_to_rgb,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
SATURATED = [RED, GREEN, BLUE, (255, 255, 0), (255, 0, 255), (0, 255, 255), WHITE, (0, 0, 0)]


def test_bt601_limited_range_levels() -> None:
    assert rgb_to_yuv((0, 0, 0)) == (16, 128, 128)
    assert rgb_to_yuv(WHITE) == (235, 128, 128)
    assert rgb_to_yuv(RED) == (81, 90, 240)


@pytest.mark.parametrize("rgb", SATURATED)
def test_rgb_round_trip_and_swscale_agree(rgb: tuple[int, int, int]) -> None:
    back = yuv_to_rgb(rgb_to_yuv(rgb))
    assert max(abs(a - b) for a, b in zip(back, rgb, strict=True)) <= 2
    # swscale's own RGB -> yuv420p conversion uses the same matrix and range.
    image = np.full((8, 8, 3), rgb, dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    assert Picture.from_frame(frame).mean_yuv() == tuple(float(c) for c in rgb_to_yuv(rgb))
    assert Picture.from_rgb(image).mean_yuv() == tuple(float(c) for c in rgb_to_yuv(rgb))


def test_planes_are_views_of_one_buffer() -> None:
    picture = Picture.blank(8, 4, RED)
    assert picture.buffer.shape == (6, 8)
    for plane in (picture.y, picture.u, picture.v):
        assert np.shares_memory(plane, picture.buffer)
    assert picture.y.shape == (4, 8) and picture.u.shape == picture.v.shape == (2, 4)
    picture.u[:] = 1
    assert (picture.buffer[4, :4] == 1).all()


def test_odd_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Picture.blank(7, 4)
    with pytest.raises(ValueError):
        Picture.blank(8, 4).paste(Picture.blank(2, 2), 1, 0)


def test_frame_round_trip() -> None:
    picture = Picture(np.random.default_rng(1).integers(0, 256, (36, 32), dtype=np.uint8))
    frame = picture.to_frame()
    assert (frame.width, frame.height, frame.format.name) == (32, 24, "yuv420p")
    assert np.array_equal(Picture.from_frame(frame).buffer, picture.buffer)
    picture.y[:] = 0  # the frame holds its own copy
    assert Picture.from_frame(frame).y.max() > 0


def test_from_frame_converts_other_formats() -> None:
    frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), BLUE, np.uint8), format="rgb24")
    assert Picture.from_frame(frame).mean_yuv() == tuple(float(c) for c in rgb_to_yuv(BLUE))


def colour_at(picture: Picture, x: int, y: int) -> tuple[int, int, int]:
    return (int(picture.y[y, x]), int(picture.u[y // 2, x // 2]), int(picture.v[y // 2, x // 2]))


def test_paste_and_clip() -> None:
    canvas = Picture.blank(20, 10, BLUE)
    canvas.paste(Picture.blank(4, 4, RED), 2, 2)
    assert colour_at(canvas, 2, 2) == colour_at(canvas, 5, 5) == rgb_to_yuv(RED)
    assert colour_at(canvas, 6, 2) == colour_at(canvas, 2, 6) == rgb_to_yuv(BLUE)
    # Over the bottom-right corner: only the part inside stays, nothing raises.
    canvas.paste(Picture.blank(6, 6, GREEN), 16, 6)
    assert colour_at(canvas, 19, 9) == colour_at(canvas, 16, 6) == rgb_to_yuv(GREEN)
    assert colour_at(canvas, 15, 9) == rgb_to_yuv(BLUE)
    # Over the top-left corner: the tile's bottom-right part lands at (0, 0).
    tile = Picture.blank(6, 6, GREEN)
    tile.fill(Rect(4, 4, 2, 2), WHITE)
    canvas.paste(tile, -4, -4)
    assert colour_at(canvas, 0, 0) == rgb_to_yuv(WHITE)
    assert colour_at(canvas, 2, 2) == rgb_to_yuv(RED)
    canvas.paste(tile, 40, 40)  # entirely outside: a no-op
    canvas.paste(tile, -40, 0)


def test_fill_clips() -> None:
    canvas = Picture.blank(10, 10, BLUE)
    canvas.fill(Rect(6, -2, 8, 6), RED)
    assert (canvas.y[:4, 6:] == rgb_to_yuv(RED)[0]).all()
    assert (canvas.u[:2, 3:] == rgb_to_yuv(RED)[1]).all()
    assert (canvas.y[4:, :] == rgb_to_yuv(BLUE)[0]).all()
    assert (canvas.y[:, :6] == rgb_to_yuv(BLUE)[0]).all()
    canvas.fill(Rect(20, 20, 2, 2), RED)


def test_frozen_picture_cannot_change() -> None:
    picture = Picture.blank(4, 4).freeze()
    with pytest.raises(ValueError):
        picture.y[0, 0] = 1
    Picture.blank(8, 8).paste(picture, 0, 0)  # still a fine source


def quadrants(width: int, height: int) -> av.VideoFrame:
    """Left half red, right half green."""
    picture = Picture.blank(width, height, RED)
    picture.fill(Rect(width // 2, 0, width // 2, height), GREEN)
    return picture.to_frame()


def test_scale_letterbox_keeps_whole_picture() -> None:
    frame = quadrants(640, 480)
    cell = Cell(0, 0, 320, 180)
    placed = fit(640, 480, cell, "letterbox")
    assert placed.dest == Rect(40, 0, 240, 180)
    tile = scale(frame, placed.source, placed.dest.width, placed.dest.height)
    assert (tile.width, tile.height) == (240, 180)
    assert colour_at(tile, 10, 90) == rgb_to_yuv(RED)
    assert colour_at(tile, 230, 90) == rgb_to_yuv(GREEN)
    canvas = Picture.blank(cell.width, cell.height)
    canvas.paste(tile, placed.dest.x, placed.dest.y)
    assert colour_at(canvas, 20, 90) == rgb_to_yuv((0, 0, 0))  # the bar


def test_scale_crop_trims_the_sides() -> None:
    # A 4:3 frame, red except a 40-pixel blue band on top and bottom; a 16:9 crop Fit
    # trims exactly those bands away.
    picture = Picture.blank(640, 480, RED)
    picture.fill(Rect(0, 0, 640, 60), BLUE)
    picture.fill(Rect(0, 420, 640, 60), BLUE)
    placed = fit(640, 480, Cell(0, 0, 320, 180), "crop")
    assert placed.source == Rect(0, 60, 640, 360)
    tile = scale(picture.to_frame(), placed.source, 320, 180)
    y, u, v = tile.mean_yuv()
    assert abs(y - rgb_to_yuv(RED)[0]) < 1 and abs(v - rgb_to_yuv(RED)[2]) < 1


def test_scale_shallow_crop_is_scaled_then_cut() -> None:
    # 1280x720 into a 426x240 cell trims 2 columns; the content stays in place.
    frame = quadrants(1280, 720)
    cell = get_layout("equal-3x3").cells(9, 1280, 720)[0]
    placed = fit(1280, 720, cell, "crop")
    tile = scale(frame, placed.source, cell.width, cell.height)
    assert (tile.width, tile.height) == (cell.width, cell.height)
    assert colour_at(tile, 4, 100) == rgb_to_yuv(RED)
    assert colour_at(tile, cell.width - 4, 100) == rgb_to_yuv(GREEN)
    # The red/green edge is within 2 pixels of the middle.
    row = tile.y[100].astype(int)
    edge = int(np.argmax(np.abs(np.diff(row))))
    assert abs(edge - cell.width // 2) <= 2


def test_crop_frame_cuts_exact_pixels() -> None:
    rng = np.random.default_rng(2)
    picture = Picture(rng.integers(0, 256, (48, 40), dtype=np.uint8))
    cut = Picture.from_frame(crop_frame(picture.to_frame(), Rect(10, 4, 20, 16)))
    assert np.array_equal(cut.y, picture.y[4:20, 10:30])
    assert np.array_equal(cut.u, picture.u[2:10, 5:15])
    assert np.array_equal(cut.v, picture.crop(Rect(10, 4, 20, 16)).v)
    with pytest.raises(ValueError):
        crop_frame(picture.to_frame(), Rect(30, 0, 20, 8))


def test_scale_same_size_is_a_copy() -> None:
    frame = quadrants(64, 36)
    tile = scale(frame, Rect(0, 0, 64, 36), 64, 36)
    assert np.array_equal(tile.buffer, Picture.from_frame(frame).buffer)


def test_a_patched_picture_is_lent_whole_and_the_scratch_forgets_its_patches() -> None:
    """Issue 14: personal pictures are the shared one with a cell redrawn, pasted into
    one canvas per thread for the encoder and taken out again after."""
    base = Picture.blank(64, 32, (0, 0, 255))
    red, green = Picture.blank(16, 16, (255, 0, 0)), Picture.blank(16, 16, (0, 255, 0))
    first, second = Patched(base, ((red, 0, 0),)), Patched(base, ((green, 32, 16),))
    scratch = Scratch()
    with scratch.over(first) as canvas:
        assert np.array_equal(canvas.buffer, first.make().buffer)
        lent = canvas
    with scratch.over(second) as canvas:
        assert canvas is lent  # one canvas a thread, not a copy a picture
        assert np.array_equal(canvas.buffer, second.make().buffer)  # red is gone
    assert np.array_equal(lent.buffer, base.buffer)
    other = Picture.blank(64, 32, (255, 255, 255))  # the next tick's base
    with scratch.over(Patched(other, ())) as canvas:
        assert np.array_equal(canvas.buffer, other.buffer)
    assert first.to_frame().width == 64 and not np.array_equal(first.make().buffer,
                                                               base.buffer)
