"""DTLS-SRTP cores against each other: the handshake gives both sides mirrored SRTP
keys; a certificate that is not the SDP's fingerprint fails; a lost flight is sent
again when its timer runs out; until keys exist nothing passes in clear."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiortc.rtp import RtpPacket

from gateway.rtp.dtls import DtlsCredentials, DtlsPlan, DtlsSrtp, is_dtls
from gateway.rtp.protection import Protection
from gateway.tls import TlsSettings, load_identity


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> tuple[DtlsCredentials, ...]:
    made = []
    for name in ("a", "b", "c"):
        identity = load_identity(TlsSettings(directory=str(tmp_path_factory.mktemp(name))))
        made.append(DtlsCredentials.load(identity.certificate, identity.private_key))
    return tuple(made)


def pair(credentials: tuple[DtlsCredentials, ...], client_expects: str | None = None
         ) -> tuple[DtlsSrtp, DtlsSrtp]:
    ours, theirs, _ = credentials
    server = DtlsSrtp(DtlsPlan(True, theirs.fingerprint, ours))
    client = DtlsSrtp(DtlsPlan(False, client_expects or ours.fingerprint, theirs))
    return server, client


def run(server: DtlsSrtp, client: DtlsSrtp, now: float = 0.0,
        first: list[bytes] | None = None) -> None:
    to_server = first if first is not None else client.start(now)
    for _ in range(6):
        to_client = [d for x in to_server for d in server.receive(x, now)]
        to_server = [d for x in to_client for d in client.receive(x, now)]
        if not to_server and not to_client:
            break


def test_the_handshake_gives_mirrored_keys(credentials: tuple[DtlsCredentials, ...]) -> None:
    server, client = pair(credentials)
    first = client.start(0.0)
    assert first and all(is_dtls(d) for d in first)
    run(server, client, first=first)
    assert server.keys is not None and client.keys is not None
    assert server.keys.suite == "AES_CM_128_HMAC_SHA1_80"
    assert (server.keys.local_key, server.keys.remote_key) == (
        client.keys.remote_key, client.keys.local_key)
    assert len(server.keys.local_key) == 30 and "hidden" in repr(server.keys)


def test_a_certificate_that_is_not_the_fingerprint_fails(
        credentials: tuple[DtlsCredentials, ...]) -> None:
    server, client = pair(credentials, client_expects=credentials[2].fingerprint)
    run(server, client)
    assert client.keys is None and client.failure is not None
    assert "fingerprint" in client.failure


def test_a_lost_flight_is_sent_again(credentials: tuple[DtlsCredentials, ...]) -> None:
    server, client = pair(credentials)
    client.start(0.0)  # lost
    deadline = client.next_timer()
    assert deadline is not None and deadline > 0
    assert client.handle_timer(deadline - 0.01) == []
    time.sleep(deadline + 0.05)  # OpenSSL's own retransmission clock must run out too
    again = client.handle_timer(deadline + 0.05)
    assert again and all(is_dtls(d) for d in again)


def test_protection_passes_nothing_in_clear_before_the_keys(
        credentials: tuple[DtlsCredentials, ...]) -> None:
    ours, theirs, _ = credentials
    mine = Protection(DtlsPlan(True, theirs.fingerprint, ours), rtcp_mux=True)
    peer = Protection(DtlsPlan(False, ours.fingerprint, theirs), rtcp_mux=True)
    packet = RtpPacket(payload_type=0, sequence_number=1, timestamp=0, ssrc=9,
                       payload=b"\xff" * 160).serialize()
    assert mine.active and not mine.encrypted
    assert mine.outbound(packet, rtcp=False) is None  # no keys: not sent at all
    assert mine.inbound(packet, "rtp", 0.0) == (None, [])
    flights = peer.start(0.0)["rtp"]
    for _ in range(4):
        replies = [r for f in flights for r in mine.inbound(f, "rtp", 0.0)[1]]
        flights = [r for f in replies for r in peer.inbound(f, "rtp", 0.0)[1]]
    assert mine.encrypted and peer.encrypted
    sent = peer.outbound(packet, rtcp=False)
    assert sent is not None and sent != packet
    assert mine.inbound(sent, "rtp", 0.0) == (packet, [])
    assert mine.statistics()["dtls"] == "established"
    assert mine.statistics()["srtp_dropped_unkeyed"] == 1


def test_plain_protection_is_a_pass_through() -> None:
    plain = Protection()
    assert not plain.active and plain.outbound(b"x", rtcp=False) == b"x"
    assert plain.inbound(b"x", "rtp", 0.0) == (b"x", [])


def test_credentials_repr_shows_the_fingerprint_only(
        credentials: tuple[DtlsCredentials, ...], tmp_path: Path) -> None:
    assert repr(credentials[0]).startswith("DtlsCredentials(sha-256 ")
    assert "PRIVATE" not in repr(credentials[0])
