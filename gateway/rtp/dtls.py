"""DTLS-SRTP (RFC 5763/5764): SRTP keys from a DTLS handshake on the media path, sans-IO.

For peers that offer only it (``UDP/TLS/RTP/SAVP`` with ``a=fingerprint`` and
``a=setup``): the handshake runs on each media component's own port (RTP, and RTCP
when not multiplexed), keyed by our TLS identity's certificate; the peer's
certificate must have the fingerprint its SDP gave. Then the ``use_srtp`` extension's
profile and the exported keying material ("EXTRACTOR-dtls_srtp") give each side's
SRTP master key and salt (RFC 5764 4.2): the client writes with the client's, the
server with the server's.

Python's ``ssl`` has no DTLS; pyOpenSSL (which aiortc uses for the same) does, over
memory buffers: datagrams in, datagrams out, and the retransmission timer
(``DTLSv1_get_timeout``/``DTLSv1_handle_timeout``): the caller's ``now`` says when to
ask, OpenSSL (which keeps its own clock for it) whether a flight is due again.
A flight is sent as one datagram (RFC 6347 4.1.1 lets records share one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from OpenSSL import SSL

from gateway.sdp.crypto import SrtpKeys

# use_srtp profile (OpenSSL name) -> our suite name, key and salt lengths
PROFILES = {
    b"SRTP_AES128_CM_SHA1_80": ("AES_CM_128_HMAC_SHA1_80", 16, 14),
    b"SRTP_AES128_CM_SHA1_32": ("AES_CM_128_HMAC_SHA1_32", 16, 14),
    b"SRTP_AEAD_AES_128_GCM": ("AEAD_AES_128_GCM", 16, 12),
}
EXPORTER_LABEL = b"EXTRACTOR-dtls_srtp"
MAX_DATAGRAM = 65535


def is_dtls(data: bytes) -> bool:
    """RFC 7983 demultiplexing: a first byte of 20-63 is DTLS (RTP/RTCP are 128-191)."""
    return bool(data) and 20 <= data[0] <= 63


@dataclass(frozen=True, slots=True)
class DtlsCredentials:
    """Our certificate and key for every DTLS association, and its fingerprint as SDP
    writes it (``sha-256 AB:CD:...``)."""

    certificate: x509.Certificate
    key: object  # a cryptography private key
    fingerprint: str

    @classmethod
    def load(cls, certificate: Path, private_key: Path) -> DtlsCredentials:
        cert = x509.load_pem_x509_certificate(certificate.read_bytes())
        key = load_pem_private_key(private_key.read_bytes(), password=None)
        return cls(cert, key, "sha-256 " + fingerprint_of(cert))

    def __repr__(self) -> str:
        return f"DtlsCredentials({self.fingerprint})"


def fingerprint_of(certificate: x509.Certificate) -> str:
    digest = hashlib.sha256(certificate.public_bytes(Encoding.DER))
    return ":".join(f"{b:02X}" for b in digest.digest())


@dataclass(frozen=True, slots=True)
class DtlsPlan:
    """One stream's DTLS-SRTP: our role and the fingerprint the peer's SDP gave."""

    server: bool  # we answered a=setup:passive (the peer starts the handshake)
    remote_fingerprint: str  # "sha-256 AB:CD:..."
    credentials: DtlsCredentials


class DtlsSrtp:
    """One component's DTLS association; ``keys`` once the handshake is done and the
    peer's certificate matched, ``failure`` (a reason) if it went wrong."""

    def __init__(self, plan: DtlsPlan) -> None:
        self.plan = plan
        context = SSL.Context(SSL.DTLS_METHOD)
        context.use_certificate(plan.credentials.certificate)  # type: ignore[arg-type]
        context.use_privatekey(plan.credentials.key)  # type: ignore[arg-type]
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT,
                           lambda *args: True)  # self-signed: the fingerprint decides
        context.set_tlsext_use_srtp(b":".join(PROFILES))
        self._ssl = SSL.Connection(context, None)
        if plan.server:
            self._ssl.set_accept_state()
        else:
            self._ssl.set_connect_state()
        self.keys: SrtpKeys | None = None
        self.failure: str | None = None
        self._deadline: float | None = None

    @property
    def done(self) -> bool:
        return self.keys is not None or self.failure is not None

    def start(self, now: float) -> list[bytes]:
        """The client's first flight; nothing for a server."""
        return [] if self.plan.server else self._step(now)

    def receive(self, data: bytes, now: float) -> list[bytes]:
        """A DTLS datagram from the peer -> datagrams to send back."""
        if self.failure is not None:
            return []
        self._ssl.bio_write(data)
        if self.keys is not None:  # a retransmitted flight: answer it
            return self._drain()
        return self._step(now)

    def next_timer(self) -> float | None:
        return None if self.done else self._deadline

    def handle_timer(self, now: float) -> list[bytes]:
        """Retransmit the last flight when its timer ran out."""
        if self.done or self._deadline is None or now < self._deadline:
            return []
        self._ssl.DTLSv1_handle_timeout()
        self._arm(now)
        return self._drain()

    def _step(self, now: float) -> list[bytes]:
        try:
            self._ssl.do_handshake()
        except SSL.WantReadError:
            self._arm(now)
            return self._drain()
        except SSL.Error as error:
            self.failure = f"DTLS handshake failed: {_first_reason(error)}"
            return self._drain()
        self._finish()
        return self._drain()

    def _finish(self) -> None:
        peer = self._ssl.get_peer_certificate(as_cryptography=True)
        if peer is None:
            self.failure = "DTLS peer sent no certificate"
            return
        algorithm, _, wanted = self.plan.remote_fingerprint.partition(" ")
        if algorithm.lower() != "sha-256" or wanted.upper() != fingerprint_of(peer):
            self.failure = "DTLS peer certificate does not match its a=fingerprint"
            return
        profile = self._ssl.get_selected_srtp_profile()
        if profile not in PROFILES:
            self.failure = "DTLS peer chose no SRTP profile we have"
            return
        suite, key_len, salt_len = PROFILES[profile]
        material = self._ssl.export_keying_material(EXPORTER_LABEL,
                                                    2 * (key_len + salt_len))
        client_key, server_key = material[:key_len], material[key_len:2 * key_len]
        salts = material[2 * key_len:]
        client_salt, server_salt = salts[:salt_len], salts[salt_len:]
        client, server = client_key + client_salt, server_key + server_salt
        local, remote = (server, client) if self.plan.server else (client, server)
        self.keys = SrtpKeys(suite, local, remote)

    def _arm(self, now: float) -> None:
        timeout = self._ssl.DTLSv1_get_timeout()
        self._deadline = now + timeout if timeout is not None else None

    def _drain(self) -> list[bytes]:
        try:
            data = self._ssl.bio_read(MAX_DATAGRAM)
        except SSL.WantReadError:
            return []
        return [data] if data else []


def _first_reason(error: SSL.Error) -> str:
    try:
        return str(error.args[0][0][2])
    except (IndexError, TypeError):
        return type(error).__name__
