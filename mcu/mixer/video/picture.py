"""YUV 4:2:0 pictures in one numpy buffer, and the one scaling path into them.

A :class:`Picture` is the layout PyAV uses for ``yuv420p`` ndarrays: one contiguous
uint8 buffer of shape ``(h * 3 // 2, w)`` holding Y, then U, then V. Keeping that exact
layout means a picture goes to and from ``av.VideoFrame`` with one memcpy and no
per-plane bookkeeping, while the plane views let composition be plain numpy slicing.

Colours are BT.601 limited range ("TV" levels, Y 16..235, chroma 16..240): what
libx264, libvpx and the H.263 encoders assume when nothing is signalled, and what
baresip and room systems display.

Scaling never loops over pixels in Python: cropping is numpy slicing (views), the
resampling itself is swscale through PyAV's ``VideoReformatter``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from layouts import Rect, even_round

RGB = tuple[int, int, int]

# BT.601 limited range, rows Y, Cb, Cr; columns R, G, B (components in 0..255).
_RGB_TO_YUV = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ]
) / 255.0
_YUV_OFFSET = np.array([16.0, 128.0, 128.0])
_YUV_TO_RGB = np.linalg.inv(_RGB_TO_YUV)


def rgb_to_yuv(rgb: Sequence[int]) -> tuple[int, int, int]:
    """(Y, U, V) of an 8-bit RGB colour, BT.601 limited range, rounded."""
    yuv = _RGB_TO_YUV @ np.asarray(rgb, dtype=np.float64) + _YUV_OFFSET
    y, u, v = (int(c) for c in np.clip(np.rint(yuv), 0, 255))
    return y, u, v


def yuv_to_rgb(yuv: Sequence[float]) -> tuple[int, int, int]:
    """The inverse of :func:`rgb_to_yuv` (clipped to 0..255), for checking decoded colours."""
    rgb = _YUV_TO_RGB @ (np.asarray(yuv, dtype=np.float64) - _YUV_OFFSET)
    r, g, b = (int(c) for c in np.clip(np.rint(rgb), 0, 255))
    return r, g, b


def _check_even(**values: int) -> None:
    odd = {name: value for name, value in values.items() if value % 2}
    if odd:
        raise ValueError(f"4:2:0 needs even values, got {odd}")


class Picture:
    """A yuv420p picture: ``buffer`` (h*3/2, w) and its plane views ``y``, ``u``, ``v``.

    The planes are views into ``buffer``, so writing a plane writes the picture and
    ``buffer`` can be handed to PyAV as it is.
    """

    __slots__ = ("buffer", "width", "height", "y", "u", "v")

    def __init__(self, buffer: np.ndarray) -> None:
        if buffer.dtype != np.uint8 or buffer.ndim != 2 or buffer.shape[0] % 3:
            raise ValueError(f"not a yuv420p buffer: {buffer.dtype} {buffer.shape}")
        if not buffer.flags.c_contiguous:
            raise ValueError("a Picture buffer must be C-contiguous")
        width, height = buffer.shape[1], buffer.shape[0] * 2 // 3
        _check_even(width=width, height=height)
        self.buffer = buffer
        self.width = width
        self.height = height
        flat = buffer.reshape(-1)  # a view: the buffer is contiguous
        luma, chroma = width * height, (width // 2) * (height // 2)
        self.y = flat[:luma].reshape(height, width)
        self.u = flat[luma : luma + chroma].reshape(height // 2, width // 2)
        self.v = flat[luma + chroma :].reshape(height // 2, width // 2)

    # -- constructors ------------------------------------------------------------------

    @classmethod
    def blank(cls, width: int, height: int, rgb: Sequence[int] = (0, 0, 0)) -> Picture:
        """A picture of one solid colour."""
        _check_even(width=width, height=height)
        if width <= 0 or height <= 0:
            raise ValueError(f"picture {width}x{height} is empty")
        picture = cls(np.empty((height * 3 // 2, width), dtype=np.uint8))
        y, u, v = rgb_to_yuv(rgb)
        picture.y[:] = y
        picture.u[:] = u
        picture.v[:] = v
        return picture

    @classmethod
    def from_frame(cls, frame: av.VideoFrame) -> Picture:
        """Copy a decoded frame (any pixel format; swscale converts to yuv420p)."""
        _check_even(width=frame.width, height=frame.height)
        if frame.format.name != "yuv420p":
            return cls(frame.to_ndarray(format="yuv420p", threads=1))
        # One copy per plane, straight from the frame's (padded) memory into the
        # buffer: to_ndarray would copy each plane and then copy them all again.
        picture = cls(np.empty((frame.height * 3 // 2, frame.width), dtype=np.uint8))
        for plane, into in zip(frame.planes, (picture.y, picture.u, picture.v), strict=True):
            into[:] = _plane_array(plane)[: into.shape[0], : into.shape[1]]
        return picture

    @classmethod
    def from_rgb(cls, rgb: np.ndarray) -> Picture:
        """Convert an (h, w, 3) uint8 RGB array; chroma is the mean of each 2x2 block."""
        height, width = rgb.shape[:2]
        _check_even(width=width, height=height)
        yuv = rgb.astype(np.float32) @ _RGB_TO_YUV.T.astype(np.float32)
        yuv += _YUV_OFFSET.astype(np.float32)
        picture = cls(np.empty((height * 3 // 2, width), dtype=np.uint8))
        picture.y[:] = np.clip(np.rint(yuv[..., 0]), 0, 255)
        chroma = yuv[..., 1:].reshape(height // 2, 2, width // 2, 2, 2).mean(axis=(1, 3))
        picture.u[:] = np.clip(np.rint(chroma[..., 0]), 0, 255)
        picture.v[:] = np.clip(np.rint(chroma[..., 1]), 0, 255)
        return picture

    def to_frame(self) -> av.VideoFrame:
        """A new ``av.VideoFrame`` holding a copy (the encoder may keep the frame while
        the mixer already composes the next picture into this buffer)."""
        return av.VideoFrame.from_ndarray(self.buffer, format="yuv420p")

    def as_frame(self) -> av.VideoFrame:
        """An ``av.VideoFrame`` over this picture's own buffer, without a copy: for an
        encoder, which copies the picture in before it returns. The picture must not
        change while the frame is alive (the mixer composes into a new one each tick)."""
        if not self.buffer.flags.writeable:  # a cached overlay: PyAV wants writable memory
            return self.to_frame()
        return av.VideoFrame.from_numpy_buffer(self.buffer, format="yuv420p")

    def copy(self) -> Picture:
        return Picture(self.buffer.copy())

    def freeze(self) -> Picture:
        """Make the picture read-only (cached overlays are shared by every frame)."""
        for array in (self.buffer, self.y, self.u, self.v):
            array.flags.writeable = False
        return self

    # -- composition -------------------------------------------------------------------

    def paste(self, tile: Picture, x: int, y: int) -> None:
        """Copy ``tile`` with its top-left corner at (x, y); what falls outside is cut."""
        _check_even(x=x, y=y)
        area = _clip(Rect(x, y, tile.width, tile.height), self.width, self.height)
        if area is None:
            return
        # The same rectangle in the tile's own coordinates.
        tx, ty = area.x - x, area.y - y
        self.y[area.y : area.bottom, area.x : area.right] = tile.y[
            ty : ty + area.height, tx : tx + area.width
        ]
        cx, cy, cw, ch = area.x // 2, area.y // 2, area.width // 2, area.height // 2
        tx, ty = tx // 2, ty // 2
        self.u[cy : cy + ch, cx : cx + cw] = tile.u[ty : ty + ch, tx : tx + cw]
        self.v[cy : cy + ch, cx : cx + cw] = tile.v[ty : ty + ch, tx : tx + cw]

    def fill(self, rect: Rect, rgb: Sequence[int]) -> None:
        """Paint ``rect`` (even corners and size) one colour, clipped to the picture."""
        _check_even(x=rect.x, y=rect.y, width=rect.width, height=rect.height)
        area = _clip(rect, self.width, self.height)
        if area is None:
            return
        yv, uv, vv = rgb_to_yuv(rgb)
        self.y[area.y : area.bottom, area.x : area.right] = yv
        cx, cy, cr, cb = area.x // 2, area.y // 2, area.right // 2, area.bottom // 2
        self.u[cy:cb, cx:cr] = uv
        self.v[cy:cb, cx:cr] = vv

    def crop(self, rect: Rect) -> Picture:
        """A copy of ``rect`` (even corners and size, inside the picture)."""
        _check_even(x=rect.x, y=rect.y, width=rect.width, height=rect.height)
        if not Rect(0, 0, self.width, self.height).contains(rect):
            raise ValueError(f"crop {rect} is outside the {self.width}x{self.height} picture")
        out = Picture(np.empty((rect.height * 3 // 2, rect.width), dtype=np.uint8))
        out.paste(self, -rect.x, -rect.y)
        return out

    def copy_area(self, source: Picture, rect: Rect) -> None:
        """Copy ``rect`` of ``source`` (a picture of this size) to the same place here."""
        _check_even(x=rect.x, y=rect.y, width=rect.width, height=rect.height)
        self.y[rect.y : rect.bottom, rect.x : rect.right] = source.y[
            rect.y : rect.bottom, rect.x : rect.right]
        cx, cy, cr, cb = rect.x // 2, rect.y // 2, rect.right // 2, rect.bottom // 2
        self.u[cy:cb, cx:cr] = source.u[cy:cb, cx:cr]
        self.v[cy:cb, cx:cr] = source.v[cy:cb, cx:cr]

    def mean_yuv(self, rect: Rect | None = None) -> tuple[float, float, float]:
        """Mean Y, U, V over ``rect`` (the whole picture by default), for checks."""
        r = rect or Rect(0, 0, self.width, self.height)
        y = self.y[r.y : r.bottom, r.x : r.right]
        u = self.u[r.y // 2 : r.bottom // 2, r.x // 2 : r.right // 2]
        v = self.v[r.y // 2 : r.bottom // 2, r.x // 2 : r.right // 2]
        return float(y.mean()), float(u.mean()), float(v.mean())

    def __repr__(self) -> str:
        return f"Picture({self.width}x{self.height})"


def _clip(rect: Rect, width: int, height: int) -> Rect | None:
    """``rect`` cut to a width x height canvas, or None when nothing is left."""
    x0, y0 = max(rect.x, 0), max(rect.y, 0)
    x1, y1 = min(rect.right, width), min(rect.bottom, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return Rect(x0, y0, x1 - x0, y1 - y0)


# -- scaling -------------------------------------------------------------------------

# swscale contexts are costly to build (filter tables) and not thread-safe; the mixer
# scales from a worker pool, so each thread keeps its own reformatter, which PyAV
# rebuilds only when the (size, format, interpolation) of a call differs from its last.
_local = threading.local()


def _reformatter() -> VideoReformatter:
    reformatter = getattr(_local, "reformatter", None)
    if reformatter is None:
        reformatter = _local.reformatter = VideoReformatter()
    return reformatter


def crop_frame(frame: av.VideoFrame, source: Rect) -> av.VideoFrame:
    """The ``source`` part of a frame as a new yuv420p frame (the frame itself when
    ``source`` covers all of it). swscale takes no source rectangle, so the planes are
    cut with numpy views and copied once into a frame of the crop's size."""
    _check_even(x=source.x, y=source.y, width=source.width, height=source.height)
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p", threads=1)
    if source == Rect(0, 0, frame.width, frame.height):
        return frame
    if not Rect(0, 0, frame.width, frame.height).contains(source):
        raise ValueError(f"crop {source} is outside the {frame.width}x{frame.height} frame")
    out = av.VideoFrame(source.width, source.height, "yuv420p")
    for index, (plane, into) in enumerate(zip(frame.planes, out.planes, strict=True)):
        shift = 0 if index == 0 else 1
        src = _plane_array(plane)
        dst = _plane_array(into)
        x, y = source.x >> shift, source.y >> shift
        w, h = source.width >> shift, source.height >> shift
        dst[:h, :w] = src[y : y + h, x : x + w]
    return out


def _plane_array(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """A (rows, line_size) view of one plane's memory (rows may be padded)."""
    rows = plane.buffer_size // plane.line_size
    return np.frombuffer(plane, dtype=np.uint8).reshape(rows, plane.line_size)


def scale(
    frame: av.VideoFrame,
    source: Rect,
    width: int,
    height: int,
    interpolation: str = "BILINEAR",
) -> Picture:
    """Crop ``source`` out of ``frame`` and scale it to ``width`` x ``height``.

    ``source`` is what ``layouts.fit`` returns as ``Fit.source``. swscale runs on one
    thread: the mixer already spreads its inputs over a worker pool.

    Two ways to crop, whichever is cheaper (measured at 720p, see the benchmark): a
    crop that keeps most of the frame (a 16:9 source trimmed by a few pixels for a
    426x240 cell) costs a whole-frame copy before scaling, ~0.12 ms, so it is cheaper to
    scale the whole frame a little larger and cut the small excess off the output; a
    deep crop (4:3 into 16:9, a 16:9 source into a narrow cell) is cheaper cut first,
    since scaling the pixels to be thrown away costs more than copying the rest.
    """
    _check_even(width=width, height=height)
    _check_even(x=source.x, y=source.y, width=source.width, height=source.height)
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p", threads=1)
    if source.area >= SCALE_THEN_CROP_SHARE * frame.width * frame.height:
        return _scale_then_crop(frame, source, width, height, interpolation)
    cropped = crop_frame(frame, source)
    if (cropped.width, cropped.height) == (width, height):
        return Picture.from_frame(cropped)
    return Picture.from_frame(_resize(cropped, width, height, interpolation))


SCALE_THEN_CROP_SHARE = 0.9
"""Crops keeping at least this share of the frame are cut after scaling (see scale)."""


def _resize(frame: av.VideoFrame, width: int, height: int, interpolation: str) -> av.VideoFrame:
    return _reformatter().reformat(
        frame,
        width=width,
        height=height,
        format="yuv420p",
        interpolation=Interpolation[interpolation],
        threads=1,
    )


def _scale_then_crop(
    frame: av.VideoFrame, source: Rect, width: int, height: int, interpolation: str
) -> Picture:
    """Scale the whole frame so that ``source`` becomes (about) width x height, then cut
    the rest off; the rounding to even sizes shifts the picture by under two pixels."""
    sx, sy = width / source.width, height / source.height
    whole_w = max(width, even_round(frame.width * sx))
    whole_h = max(height, even_round(frame.height * sy))
    if (whole_w, whole_h) == (frame.width, frame.height):
        whole = Picture.from_frame(frame)
    else:
        whole = Picture.from_frame(_resize(frame, whole_w, whole_h, interpolation))
    if (whole_w, whole_h) == (width, height):
        return whole
    x = min(whole_w - width, even_round(source.x * sx))
    y = min(whole_h - height, even_round(source.y * sy))
    return whole.crop(Rect(x, y, width, height))


@dataclass(frozen=True, slots=True)
class Patched:
    """A picture that is ``base`` with ``patches`` (tile, x, y) pasted over it, left
    unmade (issue 14: a personal picture is the shared one with one cell redrawn).

    Making each of nine personal 720p pictures would copy 1.4 MB nine times a tick;
    encoders copy their input anyway, so ``Scratch.over`` pastes the patches into one
    copy of the base per thread, lends it to the encoder, and puts the base's pixels
    back. ``make`` builds it whole, for what keeps a picture (thumbnails)."""

    base: Picture
    patches: tuple[tuple[Picture, int, int], ...]

    @property
    def width(self) -> int:
        return self.base.width

    @property
    def height(self) -> int:
        return self.base.height

    def make(self) -> Picture:
        picture = self.base.copy()
        for tile, x, y in self.patches:
            picture.paste(tile, x, y)
        return picture

    def to_frame(self) -> av.VideoFrame:
        return self.make().to_frame()


class Scratch:
    """One thread's canvas for ``Patched`` pictures: a copy of the last base it saw."""

    def __init__(self) -> None:
        self._base: Picture | None = None
        self._canvas: Picture | None = None

    @contextmanager
    def over(self, patched: Patched) -> Iterator[Picture]:
        """The patched picture, valid until the block ends (no one may keep it)."""
        base = patched.base
        if self._base is not base:
            if self._canvas is None or self._canvas.buffer.shape != base.buffer.shape:
                self._canvas = base.copy()
            else:
                np.copyto(self._canvas.buffer, base.buffer)
            self._base = base
        canvas = self._canvas
        assert canvas is not None
        for tile, x, y in patched.patches:
            canvas.paste(tile, x, y)
        try:
            yield canvas
        finally:
            for tile, x, y in patched.patches:
                canvas.copy_area(base, Rect(x, y, tile.width, tile.height))
