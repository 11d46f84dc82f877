"""Dial-out by name (RFC 3263, issue 20): dnsmasq on loopback serves the SRV and A
records, the MCU dials ``sip:callee@example.test`` and reaches a baresip, which hears
the conference (FFT). An unresolvable name ends the dial with a reason, holds nothing
and blocks nothing; a first SRV target that does not answer is followed by the next.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mcu.app import Mcu
from tests.e2e.conftest import TONES
from tests.e2e.test_audio_conference import assert_hears_others_not_self, dial_all, hang_up_all
from tests.peers.dnsmasq import Dnsmasq, free_udp_and_tcp_port
from tests.system_deps import require_program

pytestmark = pytest.mark.peer
TALK_SECONDS = 3.0


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[Callable[..., Dnsmasq]]:
    program = require_program("dnsmasq")
    started: list[Dnsmasq] = []

    def serve(*records: str) -> Dnsmasq:
        server = Dnsmasq(program, records, tmp_path / f"dns{len(started)}")
        started.append(server)
        return server.start()

    yield serve
    for server in started:
        server.close()


def dial_out(mcu, conference: str, uri: str) -> str:
    async def on_loop(m: Mcu) -> str:
        return m.dial_out(conference, uri)

    return mcu.run(on_loop(mcu.mcu))


def participant_ids(mcu, conference: str) -> set[str]:
    return mcu.inspect(lambda m: {p.leg.id for p in
                                  m.directory.get(conference).participants.values()})


def test_the_mcu_dials_a_name_found_by_srv_and_the_callee_hears_the_conference(
        start_mcu, peers, dns):
    caller, callee = peers("caller", TONES[0], ["pcmu"]), peers("callee", TONES[1], ["pcmu"])
    server = dns(f"srv-host=_sip._udp.example.test,callee.example.test,{callee.sip_port},0,5",
                 "host-record=callee.example.test,127.0.0.1")
    mcu = start_mcu(sip={"dns_servers": [server.address], "dns_timeout_s": 2.0})
    dial_all([caller], f"sip:7100@{mcu.uri_host}")
    leg_id = dial_out(mcu, "7100", "sip:callee@example.test")  # at once, before any DNS
    callee.wait_established()  # baresip answers automatically
    mcu.wait_until(lambda m: len(m.directory.get("7100").participants) == 2)
    assert leg_id in participant_ids(mcu, "7100")  # the id given out is the leg that joined
    log = server.log_tail(50)
    assert "query[NAPTR] example.test" in log and "query[SRV] _sip._udp.example.test" in log
    time.sleep(TALK_SECONDS)
    hang_up_all([caller, callee])
    assert_hears_others_not_self([caller, callee], TONES[:2])
    mcu.wait_idle()


def test_naptr_leads_to_tcp_and_the_callee_answers_over_it(start_mcu, peers, dns):
    callee = peers("callee", TONES[1], ["pcmu"])
    server = dns("naptr-record=example.test,10,50,s,SIP+D2T,,_sip._tcp.example.test",
                 f"srv-host=_sip._tcp.example.test,callee.example.test,{callee.sip_port},0,5",
                 "host-record=callee.example.test,127.0.0.1")
    mcu = start_mcu(sip={"dns_servers": [server.address], "dns_timeout_s": 2.0})
    leg_id = dial_out(mcu, "7200", "sip:callee@example.test")
    callee.wait_established()
    mcu.wait_until(lambda m: leg_id in {p.leg.id for p in
                                        m.directory.get("7200").participants.values()})
    assert mcu.inspect(lambda m: next(iter(m.gateway("sip").calls.values())).transport) == "tcp"
    hang_up_all([callee])
    mcu.wait_idle()


def test_an_unresolvable_name_fails_with_a_reason_and_holds_nothing(
        start_mcu, peers, dns, caplog):
    caplog.set_level(logging.INFO, logger="gateway.sip")
    caller = peers("caller", TONES[0], ["pcmu"])
    server = dns("host-record=callee.example.test,127.0.0.1")
    mcu = start_mcu(sip={"dns_servers": [server.address], "dns_timeout_s": 2.0})
    dial_all([caller], f"sip:7300@{mcu.uri_host}")
    leg_id = dial_out(mcu, "7300", "sip:nobody@nowhere.example.test")
    assert leg_id.startswith("sip-")
    mcu.wait_until(lambda m: m.gateway("sip").statistics()["calls"] == 1)  # the caller's
    assert mcu.counts()["rtp_ports"] == 1 and mcu.counts()["seats"] == 1  # given back
    failed = [r.getMessage() for r in caplog.records if "sip.dial_failed" in r.getMessage()]
    assert failed and "name=nowhere.example.test" in failed[0]
    assert "cannot resolve nowhere.example.test" in failed[0] and f"leg={leg_id}" in failed[0]
    hang_up_all([caller])
    mcu.wait_idle()


def test_a_dns_server_that_never_answers_blocks_nothing(start_mcu, peers, caplog):
    caplog.set_level(logging.INFO, logger="gateway.sip")
    caller = peers("caller", TONES[0], ["pcmu"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # reads nothing
        silent.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        mcu = start_mcu(sip={"dns_servers": [address], "dns_timeout_s": 2.0})
        dial_all([caller], f"sip:7400@{mcu.uri_host}")

        def received(m: Mcu) -> int:
            call = next(iter(m.gateway("sip").calls.values()))
            return call.media.audio.session.counters["received"]

        before = mcu.inspect(received)
        started = time.monotonic()
        dial_out(mcu, "7400", "sip:callee@slow.example.test")
        slowest = 0.0
        while time.monotonic() - started < 1.5:  # the lookups are still waiting
            asked = time.monotonic()
            assert mcu.inspect(lambda m: m.gateway("sip").statistics()["calls"]) == 2
            slowest = max(slowest, time.monotonic() - asked)
            time.sleep(0.05)
        assert slowest < 0.5, f"the MCU's loop stalled {slowest:.2f} s while resolving"
        assert mcu.inspect(received) > before + 40  # the caller's audio kept coming
        mcu.wait_until(lambda m: m.gateway("sip").statistics()["calls"] == 1, timeout=10)
        assert time.monotonic() - started < 4.0  # sip.dns_timeout_s bounds the whole name
    failed = [r.getMessage() for r in caplog.records if "sip.dial_failed" in r.getMessage()]
    assert failed and "no answer in 2 s" in failed[0], failed
    hang_up_all([caller])
    mcu.wait_idle()


@pytest.mark.parametrize("first", ["tcp-refused", "udp-silent"])
def test_a_first_srv_target_that_does_not_answer_is_followed_by_the_next(
        start_mcu, peers, dns, caplog, first):
    caplog.set_level(logging.INFO, logger="gateway.sip")
    transport = "tcp" if first == "tcp-refused" else "udp"
    callee = peers("callee", TONES[1], ["pcmu"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        if first == "udp-silent":  # takes INVITEs and never answers: Timer B (64*T1)
            silent.bind(("127.0.0.1", 0))
            dead_port = silent.getsockname()[1]
        else:  # nothing listens there: the connection is refused
            dead_port = free_udp_and_tcp_port()
        server = dns(
            f"srv-host=_sip._{transport}.example.test,dead.example.test,{dead_port},10,5",
            f"srv-host=_sip._{transport}.example.test,callee.example.test,"
            f"{callee.sip_port},20,5",
            "host-record=dead.example.test,127.0.0.1",
            "host-record=callee.example.test,127.0.0.1")
        mcu = start_mcu(sip={"dns_servers": [server.address], "dns_timeout_s": 2.0})
        leg_id = dial_out(mcu, "7500", f"sip:callee@example.test;transport={transport}")
        callee.wait_established(timeout=15)
        mcu.wait_until(lambda m: leg_id in {p.leg.id for p in
                                            m.directory.get("7500").participants.values()})
    over = [r.getMessage() for r in caplog.records if "sip.dial_failover" in r.getMessage()]
    assert len(over) == 1 and f"remote=127.0.0.1:{dead_port}" in over[0], over
    assert f"next={transport}:127.0.0.1:{callee.sip_port}" in over[0]
    hang_up_all([callee])
    mcu.wait_idle()
