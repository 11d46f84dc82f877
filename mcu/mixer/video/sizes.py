"""When to ask a sender for pictures of another size, sans-IO (issue 14).

A camera shown in a 426x240 tile need not send 720p: decoding it costs the mixer nine
times what its tile needs. ``SizeAsker`` turns the size a participant is shown at
(``views.shown_sizes``, every tick) into requests to its leg (``VideoSizeLeg``), which
carries them in its protocol's words (a SIP re-INVITE with ``imageattr``/``max-fs``,
RTCP TMMBR for the bit rate, H.245 flowControl). Bigger is asked at once, since the
picture would be blurred until the sender follows; smaller only once it has held for
``shrink_after_s``, so a layout flipping back and forth (a speaker switch) does not
make the sender change sizes, each change costing a key frame. Requests are rounded
up to even sides (4:2:0 pictures have no odd ones), and at most one goes out per
``min_interval_s``. Nothing is ever asked of a participant nobody sees: its pictures
are not decoded at all.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SHRINK_AFTER_S = 3.0
DEFAULT_MIN_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class SizeRequest:
    width: int
    height: int


def rounded(width: int, height: int) -> SizeRequest:
    """Up to even sides: what a 4:2:0 encoder can make."""
    return SizeRequest(width + width % 2, height + height % 2)


class SizeAsker:
    """One sender's requests: ``want`` each tick with the size it is shown at; the
    request to send, if any, comes back."""

    def __init__(self, *, shrink_after_s: float = DEFAULT_SHRINK_AFTER_S,
                 min_interval_s: float = DEFAULT_MIN_INTERVAL_S) -> None:
        if shrink_after_s < 0 or min_interval_s < 0:
            raise ValueError("SizeAsker intervals must not be negative")
        self.shrink_after_s = shrink_after_s
        self.min_interval_s = min_interval_s
        self.asked: SizeRequest | None = None  # last request sent (None: none yet)
        self._smaller_since: float | None = None
        self._asked_at: float | None = None

    def want(self, width: int, height: int, now: float) -> SizeRequest | None:
        wanted = rounded(width, height)
        if wanted == self.asked:
            self._smaller_since = None
            return None
        if self._asked_at is not None and now - self._asked_at < self.min_interval_s:
            return None
        if self.asked is not None and _area(wanted) <= _area(self.asked):
            if self._smaller_since is None:
                self._smaller_since = now
            if now - self._smaller_since < self.shrink_after_s:
                return None
        self.asked, self._asked_at, self._smaller_since = wanted, now, None
        return wanted


def _area(size: SizeRequest) -> int:
    return size.width * size.height
