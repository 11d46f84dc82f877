"""Self-check of the Kamailio peer harness (tests/peers/kamailio.py) with real baresips:
digest REGISTER into the location table, a call by address of record through the proxy
(407 then relayed), and Max-Forwards exhaustion (483).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import kamailio as kamailio_module
from tests.peers.baresip import BaresipPeer, baresip_available
from tests.peers.kamailio import Kamailio, kamailio
from tests.system_deps import missing

pytestmark = pytest.mark.peer

USERS = {"mcu": "pw1", "alice": "pw2", "bob": "pw3"}


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Kamailio]:
    with kamailio(tmp_path, users=USERS) as running:
        yield running
        assert running.alive(), running.log_tail()
    assert not running.alive()


def _peer(workdir: Path, name: str, tone: float, proxy: Kamailio,
          transport: str = "udp") -> BaresipPeer:
    if not baresip_available():
        missing("baresip")
    return BaresipPeer(workdir, name, 0, tone, ["pcmu"], transport=transport, registrar=proxy)


def test_baresip_registers_with_digest(tmp_path: Path, proxy: Kamailio) -> None:
    with _peer(tmp_path, "alice", 440.0, proxy) as alice:
        alice.wait_registered(timeout=10)
        contacts = proxy.wait_registered("alice", timeout=5)
        assert proxy.registered() == {"alice": contacts}
    # baresip's contact user is "alice-0x<address>"
    assert len(contacts) == 1, contacts
    assert re.fullmatch(rf"sip:alice-?[^@]*@127\.0\.0\.1:{alice.sip_port}", contacts[0])
    assert proxy.registered() == {}  # baresip unregistered when it quit
    log = proxy.log_text()
    assert "401: REGISTER alice" in log  # challenged first, then accepted
    assert "registered: alice" in log


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_call_by_aor_through_proxy(tmp_path: Path, proxy: Kamailio, transport: str) -> None:
    with (_peer(tmp_path, "alice", 440.0, proxy, transport) as alice,
          _peer(tmp_path, "bob", 1300.0, proxy, transport) as bob):
        alice.wait_registered(timeout=10)
        bob.wait_registered(timeout=10)
        proxy.wait_registered("alice", timeout=5)
        bob.dial(proxy.aor("alice"))
        bob.wait_established(timeout=15)
        alice.wait_established(timeout=15)
        start = alice.mark()
        bob.hangup()
        alice.wait_terminated(timeout=10, after=start)  # the BYE was loose-routed
    log = proxy.log_text()
    assert "407: INVITE sip:alice@example.test" in log  # bob had to authenticate
    assert "location: INVITE" in log


def _send(proxy: Kamailio, request: str, source: str = "127.0.0.1") -> bytes:
    """Send one request over UDP from ``source``; return the first final response."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(5)
        host, port = sock.getsockname()
        via = f"SIP/2.0/UDP {host}:{port};branch=z9hG4bK-{os.urandom(4).hex()};rport"
        sock.sendto(request.replace("VIA", via).encode(), proxy.address)
        while True:
            data, _ = sock.recvfrom(65536)
            if not data.startswith(b"SIP/2.0 1"):
                return data


def _request(method: str, uri: str, from_uri: str, to_uri: str, max_forwards: int = 70,
             extra: str = "") -> str:
    """A request with VIA left for _send to fill in."""
    return (
        f"{method} {uri} SIP/2.0\r\nVia: VIA\r\nMax-Forwards: {max_forwards}\r\n"
        f"From: <{from_uri}>;tag={os.urandom(4).hex()}\r\nTo: <{to_uri}>\r\n"
        f"Call-ID: {os.urandom(8).hex()}@127.0.0.1\r\nCSeq: 1 {method}\r\n"
        f"Contact: <sip:probe@127.0.0.1:9>\r\n{extra}Content-Length: 0\r\n\r\n"
    )


def test_max_forwards_zero_gets_483(proxy: Kamailio) -> None:
    alice = proxy.aor("alice")
    reply = _send(proxy, _request("OPTIONS", alice, "sip:probe@127.0.0.1", alice, 0))
    assert reply.startswith(b"SIP/2.0 483 "), reply
    # the same request with hops left gets past the check (alice is not registered)
    reply = _send(proxy, _request("OPTIONS", alice, "sip:probe@127.0.0.1", alice, 5))
    assert reply.startswith(b"SIP/2.0 404 "), reply


def test_register_challenge_and_unknown_user(proxy: Kamailio) -> None:
    alice, mallory = proxy.aor("alice"), proxy.aor("mallory")
    reply = _send(proxy, _request("REGISTER", f"sip:{proxy.realm}", alice, alice))
    assert reply.startswith(b"SIP/2.0 401 "), reply
    assert f'WWW-Authenticate: Digest realm="{proxy.realm}"'.encode() in reply
    reply = _send(proxy, _request("REGISTER", f"sip:{proxy.realm}", mallory, mallory))
    assert reply.startswith(b"SIP/2.0 403 "), reply


def test_static_route_and_trusted_source(tmp_path: Path) -> None:
    """An unregistered number goes to the static target, record-routed; a From in the
    realm needs proxy auth except from a trusted IP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as target:
        target.bind(("127.0.0.1", 0))
        target.settimeout(5)
        target_port = target.getsockname()[1]
        with kamailio(tmp_path, users=USERS, trusted=["127.0.0.9"],
                      static_target=f"sip:127.0.0.1:{target_port}") as proxy:
            number = f"sip:1000@{proxy.realm}"
            invite = _request("INVITE", number, proxy.aor("mcu"), number)
            reply = _send(proxy, invite)  # from 127.0.0.1, not trusted
            assert reply.startswith(b"SIP/2.0 407 "), reply
            assert f'Proxy-Authenticate: Digest realm="{proxy.realm}"'.encode() in reply
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
                caller.bind(("127.0.0.9", 0))
                caller.sendto(invite.replace("VIA", f"SIP/2.0/UDP 127.0.0.9:"
                                             f"{caller.getsockname()[1]};branch=z9hG4bK-t1")
                              .encode(), proxy.address)
                forwarded = target.recv(65536).decode()
            assert forwarded.startswith(f"INVITE sip:1000@127.0.0.1:{target_port} SIP/2.0")
            assert f"Record-Route: <sip:{proxy.host}:{proxy.port};lr" in forwarded
            assert "Max-Forwards: 69" in forwarded


def test_missing_kamailio_fails_naming_the_install_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(kamailio_module, "KAMAILIO_SBIN", tmp_path / "no-kamailio")
    with pytest.raises(pytest.fail.Exception, match=r"kamailio .*install-system-deps\.sh"):
        Kamailio(tmp_path, USERS).start()
