"""An MSB-first bit reader for the codec headers we read by hand (H.263 picture
headers here, H.264 sequence parameter sets and the rest in
``mcu.mixer.video.headers``): a few fields each, not worth a bitstream library.
It raises ``ValueError`` past the end of its bytes: a truncated header is a
malformed one, as callers already treat every other bad value."""

from __future__ import annotations


class BitReader:
    """MSB-first bit reader; raises ValueError past the end of its bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._end = len(data) * 8

    @property
    def left(self) -> int:
        """Bits not yet read."""
        return self._end - self._pos

    def u(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def bit(self) -> int:
        if self._pos >= self._end:
            raise ValueError("read past the end")
        byte = self._data[self._pos >> 3]
        bit = (byte >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return bit

    def ue(self) -> int:
        """Unsigned exp-Golomb, ue(v)."""
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:  # beyond any legal ue(v) (2**32 - 2): garbage
                raise ValueError("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """Signed exp-Golomb, se(v): 1, -1, 2, -2, ..."""
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)
