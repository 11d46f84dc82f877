"""SipService.dial of a host name (RFC 3263) on loopback, without peers: the Leg id
comes back at once, ports are held while resolving, and every way a resolution ends
early (unresolvable, shutdown) gives the seat and ports back."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gateway.leg import Leg, Refuse, RefuseCause
from gateway.rtp.ports import PortAllocator, PortsExhausted
from gateway.rtp.settings import MediaSettings, RtpSettings
from gateway.sip.resolve import Answer, Query
from gateway.sip.service import SipService
from gateway.sip.settings import SipSettings


class FakeSeat:
    def __init__(self) -> None:
        self.joined: list[Leg] = []
        self.abandoned = 0

    def join(self, leg: Leg) -> None:
        self.joined.append(leg)

    def abandon(self) -> None:
        self.abandoned += 1


def service(dns_servers: list[str], ports: PortAllocator | None = None) -> SipService:
    settings = SipSettings(host="127.0.0.1", tcp=False, tls=False, dns_servers=dns_servers,
                           dns_timeout_s=0.3).model_copy(update={"port": 0})  # any free port
    return SipService(settings, RtpSettings(port_min=40000, port_max=40009), MediaSettings(),
                      lambda info: Refuse(RefuseCause.NOT_FOUND, "test"), ports=ports)


@pytest.fixture
def silent_dns():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # never answers
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


async def test_a_name_is_resolved_in_a_task_and_an_unanswered_lookup_frees_everything(
        silent_dns):
    sip = service([silent_dns])
    await sip.start()
    seat = FakeSeat()
    leg_id = sip.dial("sip:room@nowhere.example.test", seat, conference="7000")
    assert leg_id == "sip-d1"
    assert sip.statistics()["calls"] == 1 and sip.ports.in_use == 1  # held while resolving
    for _ in range(100):  # sip.dns_timeout_s bounds the whole resolution (0.3 s)
        await asyncio.sleep(0.01)
        if seat.abandoned:
            break
    assert seat.abandoned == 1 and sip.ports.in_use == 0 and sip.statistics()["calls"] == 0
    assert sip.endpoint.call_count == 0  # no INVITE was ever sent
    await sip.stop()


async def test_shutdown_while_resolving_gives_the_seat_and_ports_back(silent_dns):
    sip = service([silent_dns])
    await sip.start()
    seat = FakeSeat()
    sip.dial("sip:room@slow.example.test", seat, conference="7000")
    await asyncio.sleep(0.05)
    await sip.stop()
    assert seat.abandoned == 1 and sip.ports.in_use == 0 and sip.statistics()["calls"] == 0


async def test_no_ports_left_is_refused_at_once_for_a_name_too(silent_dns):
    ports = PortAllocator(40000, 40001)  # one pair
    ports.allocate("127.0.0.1")
    sip = service([silent_dns], ports)
    await sip.start()
    with pytest.raises(PortsExhausted):
        sip.dial("sip:room@example.test", FakeSeat(), conference="7000")
    assert sip.statistics()["calls"] == 0
    await sip.stop()


async def test_every_target_failing_at_once_ends_the_dial_with_what_was_tried():
    sip = service(["127.0.0.1:9"])
    sip.resolver.cache.put(Query("_sip._udp.example.test", "SRV"), Answer(ttl=60), 0.0)

    async def zone(query: Query, lifetime: float) -> Answer:
        if query == Query("example.test", "A"):
            return Answer(("127.0.0.1",), 60)
        return Answer(ttl=60)

    sip.resolver._ask = zone  # type: ignore[method-assign]
    await sip.start()
    sip.endpoint.invite = lambda *a, **k: (_ for _ in ()).throw(  # type: ignore[method-assign]
        RuntimeError("no route"))
    seat = FakeSeat()
    sip.dial("sip:room@example.test", seat, conference="7000")
    for _ in range(50):
        await asyncio.sleep(0.01)
        if seat.abandoned:
            break
    assert seat.abandoned == 1 and sip.ports.in_use == 0
    await sip.stop()
