"""When to make and when to ask for key frames, sans-IO: times in, decisions out.

Two sides of issue 4's key-frame item, both rate-limited because a key frame is several
times the size of a predicted one and a burst of them is what turns one lossy link into
everyone's frozen picture:

* ``KeyFrameGate`` sits in front of one encoder, which is shared by every participant
  who sees the same view. Each of them may ask (RTCP PLI/FIR, SIP INFO fast update) on
  join or after loss, often several at once; the gate turns all of that into at most one
  IDR per ``min_interval_s`` and never drops the last request, so nobody keeps a broken
  picture until the next periodic key frame.
* ``KeyFrameAsker`` sits behind one received video stream: it decides when to ask that
  peer for a key frame (join, becoming visible, loss, a decoder that cannot go on),
  keeps asking once per interval until one arrives, and climbs the leg's own ladder of
  methods when one goes unanswered (a SIP leg's is PLI, FIR, SIP INFO: older room
  systems ignore PLI and some ignore RTCP altogether).

Neither knows about sockets, SSRCs, codecs or protocols: a method is a name the leg
gave. Timers are data: ``next_deadline()`` says
when to call ``due(now)`` next, like the SIP core's ``next_timer()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DEFAULT_MIN_INTERVAL_S = 1.0  # issue 4: at most one IDR per second (to become a setting)
DEFAULT_ESCALATE_AFTER = 2  # unanswered asks with one method before trying the next


class KeyFrameGate:
    """Coalesces key-frame requests to one encoder: at most one IDR per interval.

    ``request`` and ``due`` answering True mean "make the next frame an IDR now" (and
    count as one produced); ``produced`` reports an IDR made for any other reason
    (periodic GOP, a new encoder, a resolution change), which also satisfies any request
    waiting, since the requester gets that IDR too.
    """

    def __init__(self, min_interval_s: float = DEFAULT_MIN_INTERVAL_S) -> None:
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s {min_interval_s} is negative")
        self.min_interval_s = min_interval_s
        self._last: float | None = None  # when the last IDR went out
        self._pending = False
        self.requests = 0  # counters for metrics: asked, granted, folded into another
        self.granted = 0
        self.coalesced = 0

    def request(self, now: float) -> bool:
        """Someone wants a key frame: True to make one now, False when it is deferred
        (remembered, ``due`` will say when)."""
        self.requests += 1
        if self._open(now):
            self._grant(now)
            return True
        if self._pending:
            self.coalesced += 1
        self._pending = True
        return False

    def due(self, now: float) -> bool:
        """True once the interval after the last IDR has passed with a request waiting."""
        if self._pending and self._open(now):
            self._grant(now)
            return True
        return False

    def produced(self, now: float) -> None:
        """An IDR went out anyway: restarts the interval and serves any waiting request."""
        if self._pending:
            self.coalesced += 1
        self._pending = False
        self._last = now

    @property
    def pending(self) -> bool:
        return self._pending

    def next_deadline(self) -> float | None:
        """When ``due`` next turns True, or None when no request is waiting."""
        if not self._pending:
            return None
        return self._last + self.min_interval_s if self._last is not None else 0.0

    def _open(self, now: float) -> bool:
        return self._last is None or now - self._last >= self.min_interval_s

    def _grant(self, now: float) -> None:
        self._pending = False
        self._last = now
        self.granted += 1


class AskReason(StrEnum):
    JOIN = "join"
    VISIBLE = "visible"
    LOSS = "loss"
    DECODE_ERROR = "decode_error"


@dataclass(frozen=True, slots=True)
class AskAction:
    """Send this now. ``repeat`` True means the same request again (unanswered), so a
    FIR keeps its sequence number (``gateway/rtp/feedback.FirSequence.repeat``);
    False means a new request (``new_request``)."""

    method: str  # one of the leg's ``keyframe_methods``
    repeat: bool
    reason: AskReason


class KeyFrameAsker:
    """When to ask one sender for a key frame, and how.

    A want (``ask``) stands until a key frame arrives (``received``) or the stream stops
    mattering (``cancel``); while it stands, one ask goes out per ``min_interval_s``.
    After ``escalate_after`` unanswered asks with one method the next method in the
    ladder is tried. The ladder is the leg's own ``keyframe_methods``, cheapest first
    (a SIP leg says PLI, FIR, INFO; an H.323 one videoFastUpdatePicture): the names
    are the leg's, this class never interprets them; the method that got an
    answer is where later requests start, so a peer that only honours FIR is not sent
    useless PLIs each time. ``refused`` drops a method the peer rejected (an INFO
    answered 415/501, say). A periodic key frame arriving also counts as an answer, which at
    worst stays one rung lower than needed.
    """

    def __init__(
        self,
        methods: tuple[str, ...],
        *,
        min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
        escalate_after: int = DEFAULT_ESCALATE_AFTER,
    ) -> None:
        self._ladder = list(dict.fromkeys(methods))
        if not self._ladder:
            raise ValueError("KeyFrameAsker needs at least one method")
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s {min_interval_s} is negative")
        if escalate_after < 1:
            raise ValueError(f"escalate_after {escalate_after} is less than 1")
        self.min_interval_s = min_interval_s
        self.escalate_after = escalate_after
        self._rung = 0
        self._tries = 0  # asks sent on the current rung for the standing want
        self._wanted: AskReason | None = None
        self._outstanding = False  # an ask went out and no key frame came since
        self._last_ask: float | None = None
        self.counters: dict[str, int] = {"asks": 0, "answered": 0, "escalations": 0}

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self._ladder)

    @property
    def method(self) -> str:
        """The method the next new request would use."""
        return self._ladder[self._rung]

    @property
    def waiting(self) -> bool:
        return self._wanted is not None

    def ask(self, now: float, reason: AskReason) -> AskAction | None:
        """We need a key frame from this peer: what to send now, or None when inside
        the interval (the want stands and ``due`` sends it when allowed)."""
        if self._wanted is None:
            self._wanted = reason
        return self.due(now)

    def due(self, now: float) -> AskAction | None:
        """The ask to send now for a standing want (first or retry), or None."""
        if self._wanted is None:
            return None
        if self._last_ask is not None and now - self._last_ask < self.min_interval_s:
            return None
        repeat = self._outstanding
        if repeat and self._tries >= self.escalate_after and self._rung + 1 < len(self._ladder):
            self._rung += 1
            self._tries = 0
            repeat = False  # a different method is a new request (a fresh FIR number)
            self.counters["escalations"] += 1
        self._tries += 1
        self._outstanding = True
        self._last_ask = now
        self.counters["asks"] += 1
        return AskAction(self._ladder[self._rung], repeat, self._wanted)

    def received(self, now: float) -> None:
        """A key frame arrived from this peer: the want is served."""
        if self._outstanding:
            self.counters["answered"] += 1
        self._wanted = None
        self._outstanding = False
        self._tries = 0

    def cancel(self) -> None:
        """The stream no longer needs a key frame (hidden, left): stop asking."""
        self._wanted = None
        self._outstanding = False
        self._tries = 0

    def refused(self, method: str) -> None:
        """The peer rejected ``method``: never use it again (the last one stays)."""
        if method not in self._ladder or len(self._ladder) == 1:
            return
        current = self._ladder[self._rung]
        self._ladder.remove(method)
        if current == method:
            self._rung = min(self._rung, len(self._ladder) - 1)
            self._tries = 0
            self._outstanding = False  # the next ask is a new request with a new method
        else:
            self._rung = self._ladder.index(current)

    def next_deadline(self) -> float | None:
        """When ``due`` next has something to send, or None when nothing is wanted."""
        if self._wanted is None:
            return None
        if self._last_ask is None:
            return 0.0
        return self._last_ask + self.min_interval_s
