"""Bad input on the H.323 call signalling port of a running MCU (issue 13), over real
sockets: bytes that are not TPKT, absurd and truncated TPKT lengths, PER that does not
decode, a message before the Setup, a connection that never sends a Setup, a call whose
H.245 connection never comes, a Setup flood, a peer that vanishes mid-call. Each ends
in a ReleaseComplete (with the Q.931 cause) or a close; nothing is left held (calls,
connections, RTP ports) and the MCU still answers the next caller.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from gateway.h323 import call as core
from gateway.h323 import q931
from gateway.h323.tpkt import TpktReader, frame
from tests.e2e.conftest import RunningMcu
from tests.peers.ooh323 import OohPeer, require_simple

SETTINGS = {"setup_timeout_s": 1.0, "media_timeout_s": 2.0,
            "max_connections_per_address": 5}


def configure(mcu: RunningMcu, numeric_id: str) -> None:
    mcu.run(mcu.mcu.store.create_conference(f"Room {numeric_id}", numeric_id))
    mcu.run(mcu.mcu.refresh_conferences())


@pytest.fixture
def mcu(start_mcu) -> Iterator[RunningMcu]:
    running = start_mcu(h323=SETTINGS)
    configure(running, "4321")
    yield running
    def held() -> tuple[int, int, int]:
        def read(m) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
            gateway = m.gateway("h323")
            stats = gateway.statistics()
            return gateway.open_connections, stats["calls"], stats["rtp_ports_in_use"]
        return running.inspect(read)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and held() != (0, 0, 0):
        time.sleep(0.1)
    assert held() == (0, 0, 0)  # connections, calls, RTP ports
    # ... and the next caller is still answered
    with connect(running) as sock:
        sock.sendall(frame(setup_message("4321")))
        assert q931.decode(read_message(sock)).type == q931.MessageType.CALL_PROCEEDING


@contextlib.contextmanager
def connect(mcu: RunningMcu) -> Iterator[socket.socket]:
    port = mcu.inspect(lambda m: m.gateway("h323").port)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        yield sock
    finally:
        sock.close()


def setup_message(dialled: str, *, fast_start: bool = True, tunnelling: bool = True) -> bytes:
    """A Setup from our own H.323 stack (the caller's side of the core)."""
    caller = core.H323Call(0.0, caller=True,
                           audio_codecs=("PCMU",) if fast_start else ())
    caller.tunnelling = tunnelling
    caller.setup(core.Local("127.0.0.1", 40000), 0.0, destination=dialled,
                 signal_address=("127.0.0.1", 1720))
    (sent,) = [a for a in caller.actions() if isinstance(a, core.SendQ931)]
    return sent.data


def read_message(sock: socket.socket, timeout: float = 5.0) -> bytes:
    reader = TpktReader()
    sock.settimeout(timeout)
    while True:
        data = sock.recv(65536)
        assert data, "closed before a whole message"
        payloads = reader.feed(data)
        if payloads:
            return payloads[0]


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the MCU closes the connection within ``seconds`` (reading what it sends)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def release_cause(sock: socket.socket, timeout: float = 5.0) -> int | None:
    """Read messages until a ReleaseComplete; its Q.931 cause."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = q931.decode(read_message(sock, deadline - time.monotonic()))
        if message.type == q931.MessageType.RELEASE_COMPLETE:
            return message.cause
    raise AssertionError("no ReleaseComplete")


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.0\r\n\r\n",  # not TPKT at all
    b"\x03\x00\x00\x02",  # a TPKT length shorter than its own header
    b"\x03\x00\x00\x04",  # an empty TPKT packet
], ids=["not-tpkt", "absurd-length", "empty-packet"])
def test_bytes_that_are_not_tpkt_close_the_connection(mcu: RunningMcu, data: bytes) -> None:
    with connect(mcu) as sock:
        sock.sendall(data)
        assert closed_within(sock, 3.0)
    assert mcu.inspect(lambda m: m.gateway("h323").statistics()["bad_messages"]) >= 1


def test_a_truncated_tpkt_packet_and_a_close_leave_nothing(mcu: RunningMcu) -> None:
    with connect(mcu) as sock:
        sock.sendall(b"\x03\x00\x01\x00" + b"\x08\x02\x00\x01\x05")  # 256 bytes promised
    time.sleep(0.5)


def test_per_that_does_not_decode_gets_release_complete_95(mcu: RunningMcu) -> None:
    message = q931.Message(q931.MessageType.SETUP, 7, False,
                           {q931.IE.USER_USER: q931.user_user_ie(b"\xff" * 40)})
    with connect(mcu) as sock:
        sock.sendall(frame(q931.encode(message)))
        assert release_cause(sock) == q931.Cause.INVALID_MESSAGE
        assert closed_within(sock, 3.0)


def test_a_setup_without_user_information_gets_release_complete_96(mcu: RunningMcu) -> None:
    message = q931.Message(q931.MessageType.SETUP, 7, False,
                           {q931.IE.CALLED_PARTY_NUMBER: q931.number_ie("4321")})
    with connect(mcu) as sock:
        sock.sendall(frame(q931.encode(message)))
        assert release_cause(sock) == q931.Cause.MANDATORY_IE_MISSING


def test_a_message_before_the_setup_closes_the_connection(mcu: RunningMcu) -> None:
    connect_first = q931.Message(q931.MessageType.CONNECT, 7, True, {})
    with connect(mcu) as sock:
        sock.sendall(frame(q931.encode(connect_first)))
        assert closed_within(sock, 3.0)


def test_a_connection_that_sends_no_setup_is_closed(mcu: RunningMcu) -> None:
    with connect(mcu) as sock:
        started = time.monotonic()
        assert closed_within(sock, 5.0)
        assert time.monotonic() - started >= 0.9  # setup_timeout_s, not at once


def test_an_h245_connection_that_never_comes_releases_with_cause_102(mcu: RunningMcu) -> None:
    with connect(mcu) as sock:
        sock.sendall(frame(setup_message("4321", fast_start=False, tunnelling=False)))
        assert release_cause(sock, timeout=6.0) == q931.Cause.RECOVERY_ON_TIMER_EXPIRY


def test_a_setup_flood_is_cut_at_the_per_address_limit(mcu: RunningMcu) -> None:
    socks = []
    try:
        for _ in range(8):
            port = mcu.inspect(lambda m: m.gateway("h323").port)
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.3)
        closed = sum(closed_within(sock, 0.3) for sock in socks)
        assert closed >= 3  # 8 opened, 5 allowed from one address
        stats = mcu.inspect(lambda m: m.gateway("h323").statistics())
        assert stats["connections_refused"] >= 3
    finally:
        for sock in socks:
            sock.close()


def test_a_peer_that_vanishes_mid_call_is_hung_up(mcu: RunningMcu) -> None:
    require_simple()
    port = mcu.inspect(lambda m: m.gateway("h323").port)
    with OohPeer(f"4321@127.0.0.1:{port}") as peer:
        mcu.wait_until(lambda m: len(m.participants("4321")) == 1, timeout=15)
        peer.kill9()
        mcu.wait_until(lambda m: len(m.participants("4321")) == 0, timeout=10)
