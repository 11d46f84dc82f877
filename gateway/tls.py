"""The MCU's TLS identity (certificate and key) and the ``ssl`` contexts built from it,
shared by SIP over TLS (RFC 3261 section 26) and HTTPS for the web control.

Settings section ``tls`` (env ``MCU_TLS__*``): ``certificate`` and ``private_key`` name
PEM files; when neither is set, a self-signed certificate (EC P-256, ten years, the
host's names and loopback as subject alternative names) is generated into
``directory`` at first start and reused after. Its SHA-256 fingerprint is what a peer
pins. A certificate that is missing, unreadable, expired, not yet valid or not the
key's stops start-up with an error naming the setting (``TlsSettingsError``).

The private key never leaves its file: nothing here logs, returns or formats it.
Contexts accept TLS 1.2 and later only. Dialling out does not verify the peer's
certificate by default (room systems and phones use self-signed ones, as we do);
``verify_peers`` turns verification on against the system's CAs.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, Field, model_validator

GENERATED_CERTIFICATE = "mcu-cert.pem"
GENERATED_KEY = "mcu-key.pem"
VALID_DAYS = 3650


class TlsSettings(BaseModel):
    certificate: str = Field("", description="PEM certificate (chain) file; empty: a "
                             "self-signed one is generated in `directory` at first start")
    private_key: str = Field("", description="PEM private key of `certificate`")
    directory: str = Field("var/tls", description="where a generated certificate and key "
                           "are kept")
    verify_peers: bool = Field(False, description="verify the certificates of peers we "
                               "dial over TLS (system CAs)")

    @model_validator(mode="after")
    def _both_or_neither(self) -> TlsSettings:
        if bool(self.certificate) != bool(self.private_key):
            missing = "tls.private_key" if self.certificate else "tls.certificate"
            raise ValueError(f"{missing}: tls.certificate and tls.private_key go together")
        return self


class TlsSettingsError(ValueError):
    """A certificate or key the settings name cannot be used; ``setting`` says which."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


@dataclass(frozen=True, slots=True)
class TlsIdentity:
    certificate: Path
    private_key: Path
    fingerprint: str  # "SHA-256 AB:CD:...", as SDP's a=fingerprint writes it
    generated: bool
    not_after: datetime.datetime

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.private_key)
        return context


def client_context(verify: bool = False) -> ssl.SSLContext:
    """For dialling out: TLS 1.2+, the peer's certificate checked only with ``verify``."""
    context = ssl.create_default_context() if verify else ssl.SSLContext(
        ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def load_identity(settings: TlsSettings, now: datetime.datetime | None = None) -> TlsIdentity:
    """The configured certificate and key, checked; else the generated pair (made now
    when missing). Raises ``TlsSettingsError`` naming the setting at fault."""
    now = now or datetime.datetime.now(datetime.UTC)
    if settings.certificate:
        return _checked(Path(settings.certificate), Path(settings.private_key), now,
                        generated=False)
    folder = Path(settings.directory)
    cert, key = folder / GENERATED_CERTIFICATE, folder / GENERATED_KEY
    if not (cert.exists() and key.exists()):
        try:
            _generate(cert, key, now)
        except OSError as error:
            raise TlsSettingsError("tls.directory", f"cannot write a certificate into "
                                   f"{folder}: {error.strerror}") from None
    return _checked(cert, key, now, generated=True)


def _checked(cert_path: Path, key_path: Path, now: datetime.datetime,
             generated: bool) -> TlsIdentity:
    cert_setting = "tls.directory" if generated else "tls.certificate"
    key_setting = "tls.directory" if generated else "tls.private_key"
    certificate = _read_certificate(cert_path, cert_setting)
    key = _read_key(key_path, key_setting)
    if certificate.not_valid_after_utc < now:
        raise TlsSettingsError(cert_setting, f"{cert_path} expired on "
                               f"{certificate.not_valid_after_utc:%Y-%m-%d}")
    if certificate.not_valid_before_utc > now:
        raise TlsSettingsError(cert_setting, f"{cert_path} is not valid before "
                               f"{certificate.not_valid_before_utc:%Y-%m-%d}")
    if _public_bytes(certificate.public_key()) != _public_bytes(key.public_key()):
        raise TlsSettingsError(key_setting, f"{key_path} is not the key of {cert_path}")
    try:  # what ssl itself says of the pair (an unsupported key type, say)
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, OSError) as error:
        raise TlsSettingsError(cert_setting, f"{cert_path} and {key_path} are refused by "
                               f"TLS: {error}") from None
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    pairs = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()
    return TlsIdentity(cert_path, key_path, f"SHA-256 {pairs}", generated,
                       certificate.not_valid_after_utc)


def _read_certificate(path: Path, setting: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as error:
        raise TlsSettingsError(setting, f"cannot read {path}: {error.strerror}") from None
    except ValueError:
        raise TlsSettingsError(setting, f"{path} is not a PEM certificate") from None


def _read_key(path: Path, setting: str) -> ec.EllipticCurvePrivateKey | object:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TlsSettingsError(setting, f"cannot read {path}: {error.strerror}") from None
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # Never the key's bytes in the message: only that it is not usable.
        raise TlsSettingsError(setting, f"{path} is not an unencrypted PEM private "
                               "key") from None


def _public_bytes(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _generate(cert_path: Path, key_path: Path, now: datetime.datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname() or "localhost"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"mcu {host}")])
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(host),
                                         x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                         x509.IPAddress(ipaddress.ip_address("::1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key_bytes)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


class TlsStream:
    """TLS over one byte stream, sans-IO (``ssl.MemoryBIO``): ciphertext in, plaintext
    and ciphertext out. The shell owns the socket; handshake errors surface as
    ``ssl.SSLError`` from ``feed`` right where the bad bytes came, so the shell can
    log them once with the peer's address (asyncio's own TLS closes such a connection
    silently). Plaintext written before the handshake ends waits for it."""

    def __init__(self, context: ssl.SSLContext, *, server_side: bool) -> None:
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._incoming, self._outgoing, server_side=server_side)
        self.handshaken = False
        self.closed = False  # the peer sent close_notify
        self._waiting: list[bytes] = []

    def start(self) -> bytes:
        """A client's first flight (ClientHello); nothing for a server."""
        self._handshake()
        return self._outgoing.read()

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """Received ciphertext -> (plaintext for the application, bytes to send).
        Raises ``ssl.SSLError`` for a failed handshake or a corrupt record."""
        self._incoming.write(data)
        if not self.handshaken and not self._handshake():
            return b"", self._outgoing.read()
        plain = bytearray()
        while True:
            try:
                chunk = self._ssl.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.closed = True
                break
            if not chunk:
                break
            plain += chunk
        return bytes(plain), self._outgoing.read()

    def write(self, data: bytes) -> bytes:
        """Plaintext to send -> ciphertext (nothing yet while the handshake runs)."""
        if not self.handshaken:
            self._waiting.append(data)
            return b""
        self._ssl.write(data)
        return self._outgoing.read()

    def _handshake(self) -> bool:
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            return False
        self.handshaken = True
        for data in self._waiting:
            self._ssl.write(data)
        self._waiting.clear()
        return True
