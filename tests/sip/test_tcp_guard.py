"""The TCP connection policy with fake time: cap per address, slow messages, idle."""

from __future__ import annotations

from gateway.sip.message import StreamFramer
from gateway.sip.settings import SipLimits
from gateway.sip.tcp_guard import TcpGuard
from gateway.sip.trusted import TrustedNetworks

INVITE = (b"INVITE sip:1000@mcu SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.9\r\n"
          b"Content-Length: 0\r\n\r\n")


def guard(**limits: object) -> TcpGuard:
    settings = {"tcp_connections": 2, "tcp_message_timeout_s": 2.0,
                "tcp_idle_timeout_s": 10.0} | limits
    return TcpGuard(SipLimits(**settings), quiet_s=30.0)


def no_calls() -> set[int]:
    return set()


def test_connections_beyond_the_cap_are_refused_and_noticed_once_per_episode():
    g = guard(tcp_idle_timeout_s=1000.0)
    assert g.opened(1, "192.0.2.9", 0.0) and g.opened(2, "192.0.2.9", 0.0)
    assert not g.opened(3, "192.0.2.9", 0.1)
    assert not g.opened(4, "192.0.2.9", 0.2)
    assert g.opened(5, "192.0.2.10", 0.2)  # another address has its own cap
    notices = g.notices()
    assert [(n.what, n.address, n.ended) for n in notices] == [
        ("tcp-connections", "192.0.2.9", False)]
    assert g.statistics()["tcp_refused_connections"] == 2
    g.closed(1)
    assert g.opened(6, "192.0.2.9", 0.3)  # a slot freed is a slot to take
    g.expired(20.0, no_calls)
    assert g.notices() == []  # still inside the episode's quiet time
    g.expired(30.2, no_calls)
    ended = g.notices()
    assert [(n.what, n.address, n.ended) for n in ended] == [
        ("tcp-connections", "192.0.2.9", True)]


def test_trusted_networks_are_not_capped():
    g = guard(trusted_networks=["192.0.2.0/28", "2001:db8::/32"])
    assert all(g.opened(i, "192.0.2.3", 0.0) for i in range(10))
    assert all(g.opened(100 + i, "2001:db8::5", 0.0) for i in range(10))
    assert g.notices() == [] and g.statistics()["tcp_refused_connections"] == 0
    assert "192.0.2.16" not in TrustedNetworks(["192.0.2.0/28"])
    assert "not-an-ip" not in TrustedNetworks(["192.0.2.0/28"])
    assert "::ffff:192.0.2.3" in TrustedNetworks(["192.0.2.0/28"])


def test_a_trickled_message_is_closed_after_the_message_timeout():
    g, framer = guard(), StreamFramer()
    g.opened(1, "192.0.2.9", 0.0)
    now = 0.0
    closed: list[int] = []
    for byte in INVITE[:20]:  # one byte every 0.5 s, never completing
        now += 0.5
        framer.feed(bytes([byte]), now)
        g.received(1, now, framer.partial_since)
        closed = g.expired(now, no_calls)
        if closed:
            break
    assert closed == [1]
    assert now == 2.5  # first byte at 0.5, closed 2 s later
    assert g.statistics()["tcp_closed_slow"] == 1
    assert [n.what for n in g.notices()] == ["tcp-slow-message"]
    assert g.open_connections == 0


def test_a_normal_caller_sending_messages_in_pieces_is_never_closed():
    g, framer = guard(), StreamFramer()
    g.opened(1, "192.0.2.9", 0.0)
    now = 0.0
    for _ in range(20):  # a message every 1.5 s, each in two pieces 0.5 s apart
        now += 1.0
        framer.feed(INVITE[:30], now)
        g.received(1, now, framer.partial_since)
        assert g.expired(now, no_calls) == []
        now += 0.5
        framer.feed(INVITE[30:] + INVITE[:10], now)  # the rest, and the next one begins
        g.received(1, now, framer.partial_since)
        assert framer.partial_since == now  # measured from the new message's first byte
        assert g.expired(now, no_calls) == []
        framer.feed(INVITE[10:], now)
        g.received(1, now, framer.partial_since)
        assert framer.partial_since is None
    assert g.statistics() == {"tcp_refused_connections": 0, "tcp_closed_slow": 0,
                              "tcp_closed_idle": 0}


def test_an_idle_connection_is_closed_unless_a_call_is_bound_to_it():
    g = guard()
    g.opened(1, "192.0.2.9", 0.0)
    g.opened(2, "192.0.2.9", 0.0)
    g.received(1, 5.0, None)
    assert g.expired(9.9, no_calls) == []
    assert g.expired(10.0, lambda: {2}) == []  # conn 2 carries a call: kept
    assert g.expired(15.0, lambda: {2}) == [1]
    assert g.expired(19.9, no_calls) == []  # idle counts from when the call left it
    assert g.expired(20.0, no_calls) == [2]
    assert g.statistics()["tcp_closed_idle"] == 2
    assert [(n.what, n.ended) for n in g.notices()] == [("tcp-idle", False)]  # one episode


def test_framer_partial_since_follows_the_incomplete_message():
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n", 1.0) == [] and framer.partial_since is None  # keep-alive
    framer.feed(INVITE[:5], 2.0)
    framer.feed(INVITE[5:9], 3.0)
    assert framer.partial_since == 2.0
    assert framer.feed(INVITE[9:], 4.0) == [INVITE]
    assert framer.partial_since is None
