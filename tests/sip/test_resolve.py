"""RFC 3263 resolution (gateway/sip/resolve.py): which queries, in which order, and the
targets they lead to; RFC 2782 weights with a fixed random; the TTL cache."""

from __future__ import annotations

import asyncio
import random

import pytest

from gateway.sip.resolve import (
    Answer,
    DnsCache,
    Naptr,
    Query,
    Resolution,
    ResolveError,
    SipResolver,
    Srv,
    Target,
    parse_nameserver,
    srv_order,
)
from gateway.sip.settings import SipSettings


class FixedDraws(random.Random):
    """randint returns the scripted draws, in order (RFC 2782's random number)."""

    def __init__(self, *draws: int) -> None:
        super().__init__(0)
        self.draws = list(draws)
        self.asked: list[tuple[int, int]] = []

    def randint(self, a: int, b: int) -> int:
        self.asked.append((a, b))
        return self.draws.pop(0) if self.draws else a


def run(resolution: Resolution, zone: dict[Query, Answer]) -> list[list[Query]]:
    """Answer every pending query from ``zone`` (missing: no such name) until done;
    returns the queries asked at each step."""
    steps = []
    while not resolution.done:
        queries = resolution.pending()
        assert queries, "a resolution that is not done must ask something"
        steps.append(queries)
        for query in queries:
            resolution.feed(query, zone.get(query, Answer(ttl=30)))
    return steps


def q(name: str, rdtype: str) -> Query:
    return Query(name, rdtype)


def test_a_numeric_host_needs_no_dns_and_takes_the_default_port():
    r = Resolution("sip", "192.0.2.7")
    assert r.done and r.pending() == []
    assert r.targets == [Target("udp", "192.0.2.7", 5060)]
    assert Resolution("sip", "[2001:db8::1]", 5080, "tcp").targets == [
        Target("tcp", "2001:db8::1", 5080)]
    assert Resolution("sips", "192.0.2.7").targets == [Target("tls", "192.0.2.7", 5061)]


def test_a_name_with_a_port_asks_only_a_and_aaaa():
    r = Resolution("sip", "Callee.Example.TEST.", 5070)
    zone = {q("callee.example.test", "A"): Answer(("192.0.2.1", "192.0.2.2"), 60),
            q("callee.example.test", "AAAA"): Answer(("2001:db8::5",), 60)}
    steps = run(r, zone)
    assert steps == [[q("callee.example.test", "A"), q("callee.example.test", "AAAA")]]
    assert r.targets == [Target("udp", "192.0.2.1", 5070), Target("udp", "192.0.2.2", 5070),
                         Target("udp", "2001:db8::5", 5070)]


def test_a_transport_parameter_without_port_asks_srv_of_that_transport():
    r = Resolution("sip", "example.test", None, "TCP")
    zone = {q("_sip._tcp.example.test", "SRV"): Answer((Srv(0, 0, 5090, "pbx.example.test."),), 60),
            q("pbx.example.test", "A"): Answer(("192.0.2.9",), 60)}
    steps = run(r, zone)
    assert steps[0] == [q("_sip._tcp.example.test", "SRV")]
    assert r.targets == [Target("tcp", "192.0.2.9", 5090)]


def test_naptr_orders_transports_and_leads_to_srv_then_addresses():
    r = Resolution("sip", "example.test")
    zone = {
        q("example.test", "NAPTR"): Answer((
            Naptr(20, 10, "s", "SIP+D2U", "", "_sip._udp.example.test."),
            Naptr(10, 10, "S", "SIP+D2T", "", "_sip._tcp.example.test."),
            Naptr(10, 5, "s", "SIP+D2X", "", "_sip._x.example.test."),  # unknown service
            Naptr(10, 1, "u", "SIP+D2U", "!^.*$!sip:a@b!", "."),  # not for SRV
        ), 300),
        q("_sip._tcp.example.test", "SRV"): Answer((Srv(0, 0, 5060, "tcp.example.test."),), 60),
        q("_sip._udp.example.test", "SRV"): Answer((Srv(0, 0, 5062, "udp.example.test."),), 60),
        q("tcp.example.test", "A"): Answer(("192.0.2.1",), 60),
        q("udp.example.test", "A"): Answer(("192.0.2.2",), 60),
    }
    steps = run(r, zone)
    assert steps[0] == [q("example.test", "NAPTR")]
    assert steps[1] == [q("_sip._tcp.example.test", "SRV"), q("_sip._udp.example.test", "SRV")]
    assert r.targets == [Target("tcp", "192.0.2.1", 5060), Target("udp", "192.0.2.2", 5062)]


def test_naptr_for_transports_we_lack_is_skipped():
    r = Resolution("sip", "example.test", transports=("udp", "tcp"))
    zone = {q("example.test", "NAPTR"): Answer((
                Naptr(10, 10, "s", "SIPS+D2T", "", "_sips._tcp.example.test."),
                Naptr(20, 10, "s", "SIP+D2U", "", "_sip._udp.example.test.")), 60),
            q("_sip._udp.example.test", "SRV"): Answer((Srv(0, 0, 5060, "a.example.test"),), 60),
            q("a.example.test", "A"): Answer(("192.0.2.3",), 60)}
    steps = run(r, zone)
    assert steps[1] == [q("_sip._udp.example.test", "SRV")]
    assert r.targets == [Target("udp", "192.0.2.3", 5060)]


def test_without_naptr_srv_of_every_transport_we_have_in_our_order():
    r = Resolution("sip", "example.test")
    zone = {q("_sip._udp.example.test", "SRV"): Answer((Srv(0, 0, 5070, "u.example.test"),), 60),
            q("_sips._tcp.example.test", "SRV"): Answer((Srv(0, 0, 5071, "t.example.test"),), 60),
            q("u.example.test", "A"): Answer(("192.0.2.4",), 60),
            q("t.example.test", "A"): Answer(("192.0.2.5",), 60)}
    steps = run(r, zone)
    assert steps[1] == [q("_sip._udp.example.test", "SRV"), q("_sip._tcp.example.test", "SRV"),
                        q("_sips._tcp.example.test", "SRV")]
    assert r.targets == [Target("udp", "192.0.2.4", 5070), Target("tls", "192.0.2.5", 5071)]


def test_sips_uses_only_tls():
    r = Resolution("sips", "example.test")
    zone = {q("example.test", "NAPTR"): Answer((
                Naptr(10, 10, "s", "SIP+D2U", "", "_sip._udp.example.test."),), 60),
            q("_sips._tcp.example.test", "SRV"): Answer((Srv(0, 0, 5061, "t.example.test"),), 60),
            q("t.example.test", "A"): Answer(("192.0.2.5",), 60)}
    steps = run(r, zone)
    assert steps[1] == [q("_sips._tcp.example.test", "SRV")]
    assert r.targets == [Target("tls", "192.0.2.5", 5061)]
    without_tls = Resolution("sips", "example.test", transports=("udp", "tcp"))
    assert without_tls.done and not without_tls.targets and "transport" in without_tls.reason


def test_no_srv_falls_back_to_the_name_on_the_default_port():
    r = Resolution("sip", "host.example.test")
    zone = {q("host.example.test", "A"): Answer(("192.0.2.6",), 60)}
    steps = run(r, zone)
    assert steps[-1] == [q("host.example.test", "A"), q("host.example.test", "AAAA")]
    assert r.targets == [Target("udp", "192.0.2.6", 5060)]
    tls = Resolution("sips", "host.example.test")
    run(tls, zone)
    assert tls.targets == [Target("tls", "192.0.2.6", 5061)]


def test_srv_priorities_first_then_every_target_s_addresses_for_failover():
    r = Resolution("sip", "example.test", None, "udp", rng=FixedDraws())
    zone = {q("_sip._udp.example.test", "SRV"): Answer((
                Srv(20, 0, 5062, "backup.example.test."),
                Srv(10, 0, 5060, "main.example.test."),
                Srv(5, 0, 9, "."),  # "not offered here"
                Srv(30, 0, 5064, "192.0.2.99")), 60),
            q("main.example.test", "A"): Answer(("192.0.2.1", "192.0.2.11"), 60),
            q("backup.example.test", "A"): Answer(("192.0.2.2",), 60),
            q("backup.example.test", "AAAA"): Answer(("2001:db8::2",), 60)}
    run(r, zone)
    assert r.targets == [Target("udp", "192.0.2.1", 5060), Target("udp", "192.0.2.11", 5060),
                         Target("udp", "192.0.2.2", 5062), Target("udp", "2001:db8::2", 5062),
                         Target("udp", "192.0.2.99", 5064)]


def test_rfc2782_weights_pick_by_running_sum_of_a_fixed_draw():
    a, b, c = Srv(1, 10, 1, "a"), Srv(1, 30, 2, "b"), Srv(1, 0, 3, "c")
    # Weight 0 first in the list: running sums c=0, a=10, b=40.
    assert srv_order([a, b, c], FixedDraws(0, 0, 0)) == [c, a, b]
    rng = FixedDraws(11, 5)  # 11 > 10: b; then a=10 (c=0): 5 picks a; c last
    assert srv_order([a, b, c], rng) == [b, a, c]
    assert rng.asked[:2] == [(0, 40), (0, 10)]
    # Over many draws the heavier record comes first about three times in four.
    seeded = random.Random(7)
    firsts = [srv_order([a, b], seeded)[0] for _ in range(4000)]
    assert 0.7 < firsts.count(b) / len(firsts) < 0.8


def test_an_unresolvable_name_fails_with_the_reasons():
    r = Resolution("sip", "nowhere.example.test")
    zone = {q("nowhere.example.test", "NAPTR"): Answer(error="no answer in 2 s")}
    run(r, zone)
    assert r.targets == [] and r.done
    assert "NAPTR nowhere.example.test: no answer in 2 s" in r.reason
    plain = Resolution("sip", "nowhere.example.test", 5060)
    run(plain, {})
    assert plain.reason == "no such name or no address"


def test_answers_to_queries_not_asked_are_ignored():
    r = Resolution("sip", "example.test", 5060)
    r.feed(q("evil.example.test", "A"), Answer(("203.0.113.1",), 60))
    assert not r.done and len(r.pending()) == 2


def test_the_cache_honours_ttls_and_keeps_no_errors():
    cache = DnsCache()
    query = q("a.example.test", "A")
    cache.put(query, Answer(("192.0.2.1",), 30), now=100.0)
    assert cache.get(query, 129.9) == Answer(("192.0.2.1",), 30)
    assert cache.get(query, 130.0) is None and len(cache) == 0  # expired, dropped
    cache.put(query, Answer(error="refused"), now=0.0)
    cache.put(q("b.example.test", "A"), Answer(("192.0.2.2",), 0), now=0.0)
    assert len(cache) == 0
    cache.put(q("none.example.test", "A"), Answer((), 30), now=0.0)  # negative answers too
    assert cache.get(q("none.example.test", "A"), 10.0) == Answer((), 30)


def test_the_cache_is_bounded_dropping_the_soonest_to_expire():
    cache = DnsCache(max_entries=2)
    cache.put(q("a", "A"), Answer(("192.0.2.1",), 10), now=0.0)
    cache.put(q("b", "A"), Answer(("192.0.2.2",), 100), now=0.0)
    cache.put(q("c", "A"), Answer(("192.0.2.3",), 50), now=0.0)
    assert len(cache) == 2 and cache.get(q("a", "A"), 1.0) is None
    assert cache.get(q("b", "A"), 1.0) is not None and cache.get(q("c", "A"), 1.0) is not None


def test_nameserver_entries():
    assert parse_nameserver("127.0.0.53") == ("127.0.0.53", 53)
    assert parse_nameserver("127.0.0.53:5353") == ("127.0.0.53", 5353)
    assert parse_nameserver("[::1]:5353") == ("::1", 5353)
    assert parse_nameserver("::1") == ("::1", 53)
    for bad in ("dns.example.test", "127.0.0.1:0", "127.0.0.1:x"):
        with pytest.raises(ValueError):
            parse_nameserver(bad)
    with pytest.raises(ValueError, match="sip.dns_servers"):
        SipSettings(dns_servers=["resolver.local"])


class ScriptedResolver(SipResolver):
    """The shell over a zone instead of the network, counting what it asks."""

    def __init__(self, zone: dict[Query, Answer]) -> None:
        super().__init__(["127.0.0.1:1"])
        self.zone = zone
        self.asked: list[Query] = []

    async def _ask(self, query: Query, lifetime: float) -> Answer:
        self.asked.append(query)
        await asyncio.sleep(0)
        return self.zone.get(query, Answer(ttl=30))


async def test_the_shell_resolves_through_its_cache():
    zone = {q("_sip._udp.example.test", "SRV"): Answer((Srv(0, 0, 5070, "h.example.test"),), 60),
            q("h.example.test", "A"): Answer(("127.0.0.1",), 60)}
    resolver = ScriptedResolver(zone)
    first = await resolver.resolve_uri("sip", "example.test")
    assert first == [Target("udp", "127.0.0.1", 5070)]
    asked = len(resolver.asked)
    assert await resolver.resolve_uri("sip", "example.test") == first
    assert len(resolver.asked) == asked  # all from the cache
    with pytest.raises(ResolveError) as failed:
        await resolver.resolve_uri("sip", "missing.example.test", 5060)
    assert failed.value.name == "missing.example.test"
