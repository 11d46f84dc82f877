"""SIP over TCP under abuse (issue 19), over real sockets against a running MCU.

Abusers connect from 127.0.0.2 (or the trusted 127.0.0.3) while a real baresip calls
over TCP from 127.0.0.1: the cap, the slow-message and the idle timeouts close the
abuser's connections and never the caller's.
"""

from __future__ import annotations

import select
import socket
import threading
import time

from mcu.app import Mcu
from tests.e2e.conftest import TONES, RunningMcu

ABUSER = "127.0.0.2"
TRUSTED = "127.0.0.3"
INVITE = (b"INVITE sip:2000@127.0.0.1 SIP/2.0\r\n"
          b"Via: SIP/2.0/TCP 127.0.0.2:5099;branch=z9hG4bKslow\r\n"
          b"From: <sip:slow@127.0.0.2>;tag=1\r\nTo: <sip:2000@127.0.0.1>\r\n"
          b"Call-ID: slow@127.0.0.2\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
          b"Contact: <sip:slow@127.0.0.2:5099;transport=tcp>\r\nContent-Length: 0\r\n\r\n")


def _open(mcu: RunningMcu, source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", mcu.settings.sip.port))
    return sock


def _closed_by_mcu(sock: socket.socket, within: float) -> bool:
    """True when the MCU closes the connection within ``within`` seconds."""
    readable, _, _ = select.select([sock], [], [], within)
    if not readable:
        return False
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def _guard(mcu: Mcu):
    return mcu.gateway("sip").transport.guard


def _event(m: Mcu, event: str) -> float:
    return m.metrics.value("mcu_gateway_events_total", protocol="sip", event=event)


def _blocks(m: Mcu, what: str) -> float:
    return m.metrics.value("mcu_blocks_total", protocol="sip", what=what)


def _audit(mcu: RunningMcu, what: str) -> list[str]:
    rows = mcu.run(mcu.mcu.store.list_audit())
    return [f"{r.operation} {r.target}" for r in rows if r.outcome.startswith(what + ":")]


def _tcp_call(mcu: RunningMcu, peers):
    caller = peers("tcp", TONES[0], ["pcmu"], transport="tcp")
    caller.dial(f"sip:2000@{mcu.uri_host};transport=tcp")
    caller.wait_established()
    mcu.wait_until(lambda m: len(m.gateway("sip").calls) == 1)
    return caller


def test_connections_beyond_the_cap_are_closed_at_once_and_a_tcp_caller_gets_through(
        start_mcu, peers):
    mcu = start_mcu(sip={"limits": {"tcp_connections": 3,
                                    "trusted_networks": [f"{TRUSTED}/32"]}})
    held: list[socket.socket] = []
    try:
        held += [_open(mcu, ABUSER) for _ in range(3)]
        mcu.wait_until(lambda m: _guard(m).open_connections == 3)
        extra = [_open(mcu, ABUSER) for _ in range(3)]
        held += extra
        assert all(_closed_by_mcu(s, 10.0) for s in extra)
        assert not any(_closed_by_mcu(s, 0.2) for s in held[:3])  # the first three stay
        # a trusted address is not capped
        trusted = [_open(mcu, TRUSTED) for _ in range(5)]
        held += trusted
        mcu.wait_until(lambda m: _guard(m).open_connections == 8)
        assert not any(_closed_by_mcu(s, 0.2) for s in trusted)
        # meanwhile a real TCP call from another address gets through
        caller = _tcp_call(mcu, peers)
        caller.hangup()
        mcu.wait_until(lambda m: _event(m, "tcp_refused_connections") == 3)
        assert mcu.inspect(lambda m: _blocks(m, "tcp-connections")) == 1  # one episode
        assert mcu.inspect(lambda m: _event(m, "tcp_closed_slow")
                           + _event(m, "tcp_closed_idle")) == 0
        assert _audit(mcu, "tcp-connections") == [f"blocked sip {ABUSER}"]
    finally:
        for sock in held:
            sock.close()
    mcu.wait_until(lambda m: _guard(m).open_connections <= 1)  # the caller's, if kept
    mcu.wait_idle()


def test_a_slowloris_is_closed_after_the_message_timeout_while_a_tcp_call_proceeds(
        start_mcu, peers):
    mcu = start_mcu(sip={"limits": {"tcp_message_timeout_s": 1.5}})
    slow = _open(mcu, ABUSER)
    outcome: dict[str, float] = {}

    def trickle() -> None:  # one byte every 0.5 s, until the MCU hangs up on us
        started = time.monotonic()
        sent = 0
        for byte in INVITE:
            try:
                slow.send(bytes([byte]))
            except OSError:
                break
            sent += 1
            if _closed_by_mcu(slow, 0.5):
                break
        outcome["seconds"] = time.monotonic() - started
        outcome["sent"] = sent

    thread = threading.Thread(target=trickle, daemon=True)
    try:
        thread.start()
        caller = _tcp_call(mcu, peers)
        thread.join(30)
        assert not thread.is_alive()
        assert 1.5 <= outcome["seconds"] < 10, outcome
        assert outcome["sent"] < len(INVITE)
        assert mcu.inspect(lambda m: len(m.gateway("sip").calls)) == 1  # the call is up
        caller.hangup()
        assert mcu.inspect(lambda m: _event(m, "tcp_closed_slow")) == 1
        assert mcu.inspect(lambda m: _blocks(m, "tcp-slow-message")) == 1
        assert _audit(mcu, "tcp-slow-message") == [f"blocked sip {ABUSER}"]
    finally:
        slow.close()
    mcu.wait_idle()


def test_an_idle_connection_is_closed_but_a_call_longer_than_the_idle_timeout_is_not(
        start_mcu, peers):
    mcu = start_mcu(sip={"limits": {"tcp_idle_timeout_s": 1.0}})
    idle = _open(mcu, ABUSER)
    try:
        caller = _tcp_call(mcu, peers)
        assert _closed_by_mcu(idle, 10.0)
        time.sleep(3.0)  # the call outlives the idle timeout three times over
        assert mcu.inspect(lambda m: len(m.gateway("sip").calls)) == 1
        assert mcu.inspect(lambda m: _guard(m).open_connections) == 1  # the caller's
        assert mcu.inspect(lambda m: _event(m, "tcp_closed_idle")) == 1
        caller.hangup()  # its BYE travels on the connection that was never closed
        mcu.wait_until(lambda m: not m.gateway("sip").calls)
        assert _audit(mcu, "tcp-idle") == [f"blocked sip {ABUSER}"]
    finally:
        idle.close()
    mcu.wait_idle()
