"""Per-source admission of new SIP calls (issue 19): the one place for its rules.

An ``AdmissionGuard`` decides, for every new dialog-creating INVITE, from its source
address and ``now`` alone: ``Admit``, ``Refuse503`` (answered 503 with Retry-After,
nothing allocated) or ``Drop`` (no answer at all, not even 100 Trying, so the MCU
cannot be used to reflect traffic). In-dialog requests never come here.

The limits (``SipLimits``) per source address:

- ``drop_above_per_second``: INVITE arrivals, token bucket with burst twice the rate;
  past it requests are dropped (``invite-flood``);
- ``invites_per_second``: INVITEs that get an answer, burst twice the rate
  (``invite-rate``);
- ``pending_calls``: calls answered 2xx and not yet acknowledged (``pending-calls``);
- ``live_calls``: calls confirmed by ACK and not ended (``live-calls``);
- ``seat_share`` x ``total_seats``: pending plus live calls (``seat-share``).

Addresses in ``trusted_networks`` are exempt, except ``trusted_invites_per_second``
when set. Episodes: the first refusal of a limit for an address is ``first`` (say it
once); the address's first INVITE admitted after ``retry_after_s`` without a refusal
ends the episode (``Admit.served_again``), so an address hovering at a limit is one
episode, not a notice (and an audit row) per refusal.
Every refusal and drop is counted under ``EVENT_KEYS``.

Sans-IO: no clock, no sockets, no logging; the SIP core asks ``check`` before an
INVITE creates a transaction, the service reports ``pending``/``confirmed``/``ended``.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field

from .settings import SipLimits

INVITE_FLOOD = "invite-flood"
INVITE_RATE = "invite-rate"
PENDING_CALLS = "pending-calls"
LIVE_CALLS = "live-calls"
SEAT_SHARE = "seat-share"

EVENT_KEYS: dict[str, str] = {  # limit -> statistics() key counting its refusals
    INVITE_FLOOD: "dropped_invite_flood",
    INVITE_RATE: "blocked_invite_rate",
    PENDING_CALLS: "blocked_pending_calls",
    LIVE_CALLS: "blocked_live_calls",
    SEAT_SHARE: "blocked_seat_share",
}

SWEEP_EVERY = 1024  # checks between sweeps of sources with nothing to remember
FORGET_AFTER_S = 3600.0  # a blocked source silent this long is forgotten (bounded memory)


@dataclass(frozen=True, slots=True)
class Episode:
    """An address held back by one limit, from its first refusal until served again."""

    what: str
    detail: str


@dataclass(frozen=True, slots=True)
class Admit:
    served_again: tuple[Episode, ...] = ()  # the episodes this admission ends


@dataclass(frozen=True, slots=True)
class Refuse503:
    what: str
    detail: str
    retry_after: int
    first: bool  # the first refusal of this episode: tell operators


@dataclass(frozen=True, slots=True)
class Drop:
    what: str
    detail: str
    first: bool


Verdict = Admit | Refuse503 | Drop


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens a second, at most ``burst``; starts full."""

    rate: float
    burst: float
    tokens: float
    at: float

    @classmethod
    def full(cls, rate: float, now: float) -> TokenBucket:
        return cls(rate, 2 * rate, 2 * rate, now)

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def give_back(self) -> None:
        """The request this token paid for turned out well: it costs nothing."""
        self.tokens = min(self.burst, self.tokens + 1.0)

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.burst


@dataclass(slots=True)
class _Source:
    trusted: bool
    arrivals: TokenBucket | None  # drop_above_per_second (None: trusted)
    invites: TokenBucket | None  # invites_per_second (None: trusted without a rate)
    last_seen: float
    pending: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)
    blocked: dict[str, Episode] = field(default_factory=dict)  # what -> episode
    last_refused: float = -math.inf


def parse_networks(entries: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses or CIDRs (IPv4, IPv6); raises ValueError naming a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
    return networks


def normal_address(address: str) -> str:
    """One spelling per host: an IPv4-mapped IPv6 address as IPv4, zone dropped."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class AdmissionGuard:
    """See the module docstring. ``total_seats``: the MCU's seats (``seat_share`` of
    them is what one address may hold)."""

    def __init__(self, limits: SipLimits, total_seats: int) -> None:
        self.limits = limits
        self.seat_cap = max(1, math.floor(limits.seat_share * total_seats))
        self._trusted = parse_networks(limits.trusted_networks)
        self._sources: dict[str, _Source] = {}
        self._calls: dict[str, str] = {}  # call handle -> its source's address
        self._checks = 0
        self.counts: dict[str, int] = dict.fromkeys(EVENT_KEYS.values(), 0)

    # ------------------------------------------------------------------ queries
    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(normal_address(address))
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in self._trusted)

    def held(self, address: str) -> tuple[int, int]:
        """(pending, live) calls of ``address`` now."""
        source = self._sources.get(normal_address(address))
        return (len(source.pending), len(source.live)) if source else (0, 0)

    @property
    def sources(self) -> int:
        """Addresses remembered now (for tests: memory stays bounded)."""
        return len(self._sources)

    # ------------------------------------------------------------------ decisions
    def check(self, address: str, now: float) -> Verdict:
        """A new dialog-creating INVITE from ``address`` at ``now``: admit it or not."""
        self._checks += 1
        if self._checks % SWEEP_EVERY == 0:
            self._sweep(now)
        address = normal_address(address)
        source = self._sources.get(address)
        if source is None:
            source = self._sources[address] = self._new_source(address, now)
        source.last_seen = now
        limits = self.limits
        if source.arrivals is not None and not source.arrivals.take(now):
            return self._refuse(source, INVITE_FLOOD, f"more than {limits.drop_above_per_second:g}"
                                " INVITEs a second: dropped unanswered", drop=True)
        if source.invites is not None and not source.invites.take(now):
            rate = source.invites.rate
            return self._refuse(source, INVITE_RATE, f"more than {rate:g} new INVITEs a "
                                f"second (burst {source.invites.burst:g})")
        if not source.trusted:
            pending, live = len(source.pending), len(source.live)
            if pending >= limits.pending_calls:
                return self._refuse(source, PENDING_CALLS, f"{pending} calls answered and "
                                    f"not acknowledged (limit {limits.pending_calls})")
            if live >= limits.live_calls:
                return self._refuse(source, LIVE_CALLS, f"{live} calls up (limit "
                                    f"{limits.live_calls})")
            if pending + live >= self.seat_cap:
                return self._refuse(source, SEAT_SHARE, f"holds {pending + live} seats "
                                    f"(limit {self.seat_cap}: {limits.seat_share:g} of all)")
        if not source.blocked or now - source.last_refused < limits.retry_after_s:
            return Admit()
        served_again = tuple(source.blocked.values())
        source.blocked.clear()
        return Admit(served_again)

    def _new_source(self, address: str, now: float) -> _Source:
        trusted = self.is_trusted(address)
        rate = self.limits.trusted_invites_per_second if trusted else self.limits.invites_per_second
        return _Source(trusted,
                       None if trusted else TokenBucket.full(self.limits.drop_above_per_second,
                                                             now),
                       TokenBucket.full(rate, now) if rate is not None else None, now)

    def _refuse(self, source: _Source, what: str, detail: str,
                drop: bool = False) -> Refuse503 | Drop:
        self.counts[EVENT_KEYS[what]] += 1
        source.last_refused = source.last_seen  # the check's now
        first = what not in source.blocked
        if first:
            source.blocked[what] = Episode(what, detail)
        if drop:
            return Drop(what, detail, first)
        return Refuse503(what, detail, self.limits.retry_after_s, first)

    # ------------------------------------------------------------------ calls
    def pending(self, address: str, call: str) -> None:
        """``call`` from ``address`` was answered 2xx: it holds a seat, unacknowledged."""
        address = normal_address(address)
        source = self._sources.get(address)
        if source is None:  # swept between check and answer (cannot happen in one turn)
            source = self._sources[address] = self._new_source(address, 0.0)
        self._calls[call] = address
        source.pending.add(call)

    def confirmed(self, call: str) -> None:
        """The ACK came: ``call`` is live (a call we do not track is ignored)."""
        source = self._source_of(call)
        if source is not None and call in source.pending:
            source.pending.discard(call)
            source.live.add(call)
            # The rates bound INVITEs that never become calls (a flood never ACKs): a
            # completed handshake gives its tokens back, so a busy SBC or a load test
            # that finishes every call is held only by live_calls and seat_share.
            for bucket in (source.arrivals, source.invites):
                if bucket is not None:
                    bucket.give_back()

    def ended(self, call: str) -> None:
        """``call`` ended, however (BYE, no ACK in time, CANCEL, shutdown)."""
        source = self._source_of(call)
        self._calls.pop(call, None)
        if source is not None:
            source.pending.discard(call)
            source.live.discard(call)

    def _source_of(self, call: str) -> _Source | None:
        address = self._calls.get(call)
        return self._sources.get(address) if address is not None else None

    def _sweep(self, now: float) -> None:
        """Forget sources that have nothing to remember: no calls, buckets full, and no
        episode (or one silent for ``FORGET_AFTER_S``)."""
        for address, source in list(self._sources.items()):
            if source.pending or source.live:
                continue
            if source.blocked and now - source.last_seen < FORGET_AFTER_S:
                continue
            if all(bucket is None or bucket.is_full(now)
                   for bucket in (source.arrivals, source.invites)):
                del self._sources[address]
