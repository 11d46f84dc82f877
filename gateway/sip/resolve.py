"""Locating SIP servers (RFC 3263): a SIP URI to an ordered list of targets to try.

Sans-IO core plus a thin asyncio shell. ``Resolution`` is the procedure of RFC 3263
section 4 for one URI: it says which DNS queries it needs next (``pending``), is fed
their answers (``feed``), and ends with ``targets`` — (transport, IP, port) in the
order to try them, the next one being where a request goes when the one before fails
(section 4.3: a transport error, a timeout or a 503). The steps:

- a numeric host is its own target (no DNS);
- a name with a port: A and AAAA of the name (transport from ``;transport=``, else
  UDP, TLS for ``sips:``);
- a name with ``;transport=`` and no port: the SRV records of that transport;
- otherwise NAPTR (``SIP+D2U``, ``SIP+D2T``, ``SIPS+D2T``, only the transports we
  have; only ``SIPS+D2T`` for ``sips:``), ordered by order and preference, each
  replacement an SRV name; without usable NAPTR records, SRV ``_sip._udp``,
  ``_sip._tcp`` and ``_sips._tcp`` (``_sips._tcp`` alone for ``sips:``);
- SRV records ordered by priority and, within one, by the weighted random choice of
  RFC 2782 (the random source is injected); their targets' A and AAAA records;
- no SRV records at all: A and AAAA of the name on the default port (5060, or 5061
  for TLS).

``DnsCache`` keeps answers (positive or negative) keyed by (name, type) until their
TTL runs out; the time is passed in, the core reads no clock.

``SipResolver`` is the shell: it runs the queries with dnspython's
``dns.asyncresolver`` (never a blocking lookup on the event loop), all the queries of
a step at once, all under one timeout, through the cache. ``resolve_uri`` is what
dial-out (and an outbound proxy) call.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

log = logging.getLogger("gateway.sip.resolve")

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}
# NAPTR services (RFC 3263 section 4.1) and the transport each one means.
NAPTR_SERVICES = {"SIP+D2U": "udp", "SIP+D2T": "tcp", "SIPS+D2T": "tls"}
SRV_PREFIXES = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp"}
NEGATIVE_TTL_S = 30.0  # a name or record that does not exist, when the server gives no TTL
MAX_CACHE_ENTRIES = 4096


class ResolveError(Exception):
    """A SIP URI that leads to no target: ``name`` and why, for the log and the user."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send a request: transport ("udp" | "tcp" | "tls"), IP address, port."""

    transport: str
    ip: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.transport}:{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Query:
    name: str  # lower case, no trailing dot
    rdtype: str  # "NAPTR" | "SRV" | "A" | "AAAA"


@dataclass(frozen=True, slots=True)
class Naptr:
    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str


@dataclass(frozen=True, slots=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


Record = Naptr | Srv | str  # A and AAAA records are their address


@dataclass(frozen=True, slots=True)
class Answer:
    """What one query gave: records (none for NXDOMAIN / no data), how long they hold,
    or ``error`` (a timeout, SERVFAIL, REFUSED: not cached, the name may work later)."""

    records: tuple[Record, ...] = ()
    ttl: float = 0.0
    error: str | None = None


def normal_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def srv_order(records: Iterable[Srv], rng: random.Random) -> list[Srv]:
    """RFC 2782: lowest priority first; within a priority, repeatedly pick one at
    random with probability proportional to its weight (weight 0 records first in the
    running sum, so they are picked only when the draw is 0). Targets "." (service
    not offered there) are left out."""
    usable = [r for r in records if r.target not in ("", ".")]
    ordered: list[Srv] = []
    for priority in sorted({r.priority for r in usable}):
        group = sorted((r for r in usable if r.priority == priority),
                       key=lambda r: r.weight != 0)  # weight 0 at the beginning
        while group:
            total = sum(r.weight for r in group)
            draw = rng.randint(0, total)
            running = 0
            for index, record in enumerate(group):
                running += record.weight
                if running >= draw:
                    ordered.append(group.pop(index))
                    break
    return ordered


@dataclass(slots=True)
class _Step:
    """One SRV name to look up, the transport it stands for."""

    name: str
    transport: str


@dataclass(slots=True)
class Resolution:
    """RFC 3263 for one URI, sans-IO: ``pending()`` queries in, ``feed()`` answers,
    until ``done``; then ``targets`` (ordered) or, when empty, ``reason``.

    ``transports`` are those we can use (a "tls" only with a TLS client). ``rng``
    orders SRV records of equal priority by weight (inject one for tests).
    """

    scheme: str
    host: str
    port: int | None = None
    transport: str | None = None  # the URI's ;transport= parameter, lower case
    transports: tuple[str, ...] = ("udp", "tcp", "tls")
    rng: random.Random = field(default_factory=random.Random)
    targets: list[Target] = field(default_factory=list)
    reason: str = ""
    done: bool = False
    _phase: str = ""
    _asked: dict[Query, Answer | None] = field(default_factory=dict)
    _srv_names: list[_Step] = field(default_factory=list)
    _hosts: list[tuple[str, str, int]] = field(default_factory=list)  # name, transport, port
    _errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scheme = self.scheme.lower()
        self.host = normal_name(self.host.strip("[]"))
        if self.transport is not None:
            self.transport = self.transport.lower()
        secure = self.scheme == "sips"
        if secure:  # RFC 3261 26.2: sips is TLS end to end (";transport=tcp" says so too)
            if self.transport in ("tcp", "tls"):
                self.transport = "tls"
            self.transports = tuple(t for t in self.transports if t == "tls")
        if self.transport is not None and self.transport not in self.transports:
            self._fail(f"transport {self.transport} is not available")
            return
        if not self.transports:
            self._fail("no transport available")
            return
        if is_ip(self.host):  # section 4.1/4.2: a numeric host needs no DNS
            transport = self.transport or ("tls" if secure else "udp")
            self._finish([Target(transport, self.host, self.port or DEFAULT_PORTS[transport])])
        elif self.port is not None:  # section 4.2: a port means A/AAAA, no SRV
            transport = self.transport or ("tls" if secure else "udp")
            self._hosts = [(self.host, transport, self.port)]
            self._ask_addresses()
        elif self.transport is not None:  # section 4.2: transport known, SRV of it
            self._srv_names = [_Step(f"{SRV_PREFIXES[self.transport]}.{self.host}",
                                     self.transport)]
            self._ask_srv()
        else:
            self._phase = "naptr"
            self._asked[Query(self.host, "NAPTR")] = None

    # -- the procedure ----------------------------------------------------------------

    def pending(self) -> list[Query]:
        """The queries whose answers the next step needs (asked all at once)."""
        return [query for query, answer in self._asked.items() if answer is None]

    def feed(self, query: Query, answer: Answer) -> None:
        """An answer to one of ``pending()``; the procedure moves on when a step has
        all of its answers."""
        if self.done or query not in self._asked or self._asked[query] is not None:
            return
        self._asked[query] = answer
        if answer.error:
            self._errors.append(f"{query.rdtype} {query.name}: {answer.error}")
        if self.pending():
            return
        answers = {q: a for q, a in self._asked.items() if a is not None}
        self._asked = {}
        if self._phase == "naptr":
            self._after_naptr(answers)
        elif self._phase == "srv":
            self._after_srv(answers)
        else:
            self._after_addresses(answers)

    def _after_naptr(self, answers: dict[Query, Answer]) -> None:
        records = [r for a in answers.values() for r in a.records if isinstance(r, Naptr)]
        steps: list[_Step] = []
        for record in sorted(records, key=lambda r: (r.order, r.preference)):
            transport = NAPTR_SERVICES.get(record.service.upper())
            # RFC 3263 4.1: flag "s" (the replacement is an SRV name), no regexp.
            if (transport in self.transports and record.flags.lower() == "s"
                    and not record.regexp and record.replacement not in ("", ".")):
                steps.append(_Step(normal_name(record.replacement), transport))
        if not steps:  # no (usable) NAPTR: SRV of every transport we have, ours first
            steps = [_Step(f"{SRV_PREFIXES[t]}.{self.host}", t) for t in self.transports]
        self._srv_names = steps
        self._ask_srv()

    def _ask_srv(self) -> None:
        self._phase = "srv"
        for step in self._srv_names:
            self._asked[Query(step.name, "SRV")] = None

    def _after_srv(self, answers: dict[Query, Answer]) -> None:
        hosts: list[tuple[str, str, int]] = []
        for step in self._srv_names:
            answer = answers.get(Query(step.name, "SRV"))
            records = [r for r in (answer.records if answer else ()) if isinstance(r, Srv)]
            for record in srv_order(records, self.rng):
                hosts.append((normal_name(record.target), step.transport, record.port))
        if not hosts:  # section 4.2: no SRV records, the name itself on the default port
            transport = self.transport or ("tls" if self.scheme == "sips" else "udp")
            if transport not in self.transports:
                transport = self.transports[0]
            hosts = [(self.host, transport, DEFAULT_PORTS[transport])]
        self._hosts = hosts
        self._ask_addresses()

    def _ask_addresses(self) -> None:
        self._phase = "addresses"
        for name, _, _ in self._hosts:
            if is_ip(name):  # an SRV target may be written as an address
                continue
            for rdtype in ("A", "AAAA"):
                self._asked[Query(name, rdtype)] = None
        if not self._asked:
            self._after_addresses({})

    def _after_addresses(self, answers: dict[Query, Answer]) -> None:
        targets: list[Target] = []
        for name, transport, port in self._hosts:
            if is_ip(name):
                addresses: list[str] = [name.strip("[]")]
            else:
                addresses = [r for rdtype in ("A", "AAAA")
                             for r in answers.get(Query(name, rdtype), Answer()).records
                             if isinstance(r, str)]
            for address in addresses:
                target = Target(transport, address, port)
                if target not in targets:
                    targets.append(target)
        if targets:
            self._finish(targets)
        else:
            why = "; ".join(self._errors) if self._errors else "no such name or no address"
            self._fail(why)

    def _finish(self, targets: list[Target]) -> None:
        self.targets = targets
        self.done = True

    def _fail(self, reason: str) -> None:
        self.reason = reason
        self.done = True


# -- the cache --------------------------------------------------------------------------


@dataclass(slots=True)
class DnsCache:
    """Answers by (name, type) until their TTL runs out; ``now`` is passed in. Errors
    are never kept. At most ``max_entries`` (the soonest to expire go first)."""

    max_entries: int = MAX_CACHE_ENTRIES
    _entries: dict[Query, tuple[float, Answer]] = field(default_factory=dict)

    def get(self, query: Query, now: float) -> Answer | None:
        entry = self._entries.get(query)
        if entry is None:
            return None
        expires, answer = entry
        if now >= expires:
            del self._entries[query]
            return None
        return answer

    def put(self, query: Query, answer: Answer, now: float) -> None:
        if answer.error or answer.ttl <= 0:
            return
        if query not in self._entries and len(self._entries) >= self.max_entries:
            self._evict(now)
        self._entries[query] = (now + answer.ttl, answer)

    def _evict(self, now: float) -> None:
        for query in [q for q, (expires, _) in self._entries.items() if now >= expires]:
            del self._entries[query]
        while len(self._entries) >= self.max_entries:
            soonest = min(self._entries, key=lambda q: self._entries[q][0])
            del self._entries[soonest]

    def __len__(self) -> int:
        return len(self._entries)


# -- the asyncio shell --------------------------------------------------------------------


def parse_nameserver(entry: str) -> tuple[str, int]:
    """"ip", "ip:port", "[v6]:port" or a bare IPv6 address, to (ip, port)."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        port = int(port_text)
    else:
        host, port = entry, 53
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return host, port


class SipResolver:
    """RFC 3263 over dnspython's async resolver, through a ``DnsCache``.

    ``nameservers`` are "ip" or "ip:port" strings; none: the system's
    (/etc/resolv.conf, read once, when the first query is made). ``timeout`` bounds
    the whole resolution of one URI (all of a step's queries run at once; a query
    still unanswered when it runs out counts as failed).
    """

    def __init__(self, nameservers: Sequence[str] = (), timeout: float = 5.0, *,
                 rng: random.Random | None = None, cache: DnsCache | None = None) -> None:
        self._nameservers = [parse_nameserver(entry) for entry in nameservers]
        self.timeout = timeout
        self.rng = rng or random.Random()
        self.cache = cache or DnsCache()
        self._resolver: dns.asyncresolver.Resolver | None = None

    def _dns(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            if self._nameservers:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)
                                        for host, port in self._nameservers]
            else:
                try:
                    resolver = dns.asyncresolver.Resolver()
                except dns.resolver.NoResolverConfiguration:
                    resolver = dns.asyncresolver.Resolver(configure=False)
                    resolver.nameservers = []
            resolver.cache = None  # ours honours TTLs with the loop's clock
            self._resolver = resolver
        return self._resolver

    async def resolve_uri(self, scheme: str, host: str, port: int | None = None,
                          transport: str | None = None,
                          transports: tuple[str, ...] = ("udp", "tcp", "tls")) -> list[Target]:
        """The targets of a SIP URI's parts, in the order to try them; raises
        ResolveError naming the host and why when there are none."""
        resolution = Resolution(scheme, host, port, transport, transports, self.rng)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while not resolution.done:
            queries = resolution.pending()
            lifetime = deadline - loop.time()
            answers = await asyncio.gather(*(self.query(q, lifetime) for q in queries))
            for query, answer in zip(queries, answers, strict=True):
                resolution.feed(query, answer)
        if not resolution.targets:
            raise ResolveError(resolution.host, resolution.reason)
        return resolution.targets

    async def query(self, query: Query, lifetime: float | None = None) -> Answer:
        """One query, from the cache when it holds a live answer; at most ``lifetime``
        seconds (default: the timeout) on the wire."""
        loop = asyncio.get_running_loop()
        cached = self.cache.get(query, loop.time())
        if cached is not None:
            return cached
        lifetime = self.timeout if lifetime is None else lifetime
        if lifetime <= 0:
            return Answer(error=f"no answer in {self.timeout:g} s")
        answer = await self._ask(query, lifetime)
        self.cache.put(query, answer, loop.time())
        return answer

    async def _ask(self, query: Query, lifetime: float) -> Answer:
        resolver = self._dns()
        if not resolver.nameservers:
            return Answer(error="no DNS server configured")
        try:
            result = await resolver.resolve(query.name + ".", query.rdtype, search=False,
                                            lifetime=lifetime, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Answer(ttl=NEGATIVE_TTL_S)
        except dns.exception.Timeout:
            return Answer(error=f"no answer in {self.timeout:g} s")
        except dns.exception.DNSException as error:  # REFUSED, SERVFAIL, malformed
            return Answer(error=_short(error))
        if result.rrset is None:  # no records of that type: the SOA's negative TTL
            chaining = getattr(result, "chaining_result", None)
            ttl = float(getattr(chaining, "minimum_ttl", NEGATIVE_TTL_S))
            return Answer(ttl=min(ttl, NEGATIVE_TTL_S))
        return Answer(tuple(_record(r) for r in result.rrset), float(result.rrset.ttl))


def _record(rdata: Any) -> Record:
    kind = type(rdata).__name__
    if kind == "NAPTR":
        return Naptr(rdata.order, rdata.preference, _text(rdata.flags), _text(rdata.service),
                     _text(rdata.regexp), rdata.replacement.to_text())
    if kind == "SRV":
        return Srv(rdata.priority, rdata.weight, rdata.port, rdata.target.to_text())
    return str(rdata.address)


def _text(value: bytes | str) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def _short(error: Exception) -> str:
    """A resolver error in a few words (dnspython's messages list every server)."""
    text = str(error)
    if "REFUSED" in text:
        return "refused by the DNS server"
    if "SERVFAIL" in text:
        return "the DNS server failed (SERVFAIL)"
    return text.split(":")[0] if len(text) > 120 else text
