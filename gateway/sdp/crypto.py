"""SDES: SRTP keys in SDP (RFC 4568 ``a=crypto``), offer/answer, sans-IO.

``a=crypto:<tag> <suite> inline:<base64 key||salt>[|lifetime][|MKI:length] [params]``
on an ``RTP/SAVP`` or ``RTP/SAVPF`` m-line. The offerer lists the suites it can use;
the answerer picks one line, answers with the same tag and suite and a key of its
own, and each side then encrypts with its own key and decrypts with the other's.

Suites: AES_CM_128_HMAC_SHA1_80 and _32 (RFC 4568: 16-byte key + 14-byte salt) and
AEAD_AES_128_GCM (RFC 7714: 16 + 12). A line that does not parse, a suite we lack
on every line, a key of the wrong length, an MKI or session parameters we cannot
honour: a ``SdpError(488)`` naming the fault. Keys come from the caller's random
source (``secrets.token_bytes`` by default), so tests can fix them.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from gateway.sdp.model import Media, SdpError

SECURE_PROTOS = ("RTP/SAVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")
_SETUP_ANSWER = {"actpass": "passive", "active": "passive", "passive": "active"}
SUITES: dict[str, int] = {  # suite -> master key + salt length (bytes)
    "AES_CM_128_HMAC_SHA1_80": 30,
    "AES_CM_128_HMAC_SHA1_32": 30,
    "AEAD_AES_128_GCM": 28,
}
_LINE = re.compile(r"^\s*(\d{1,9})\s+(\S+)\s+(\S+)(?:\s+(.*))?$")

RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class SrtpKeys:
    """What one SRTP stream runs with: its suite, our key (we encrypt what we send
    with it) and the peer's (we decrypt what it sends). Never logged or shown."""

    suite: str
    local_key: bytes
    remote_key: bytes

    def __repr__(self) -> str:
        return f"SrtpKeys({self.suite}, keys hidden)"


@dataclass(frozen=True, slots=True)
class Crypto:
    tag: int
    suite: str
    key: bytes

    def __repr__(self) -> str:
        return f"Crypto({self.tag}, {self.suite}, key hidden)"

    def line(self) -> str:
        return f"{self.tag} {self.suite} inline:{base64.b64encode(self.key).decode()}"


def is_secure(media: Media) -> bool:
    return media.proto.upper() in SECURE_PROTOS


@dataclass(frozen=True, slots=True)
class DtlsSetup:
    """DTLS-SRTP negotiated for one stream (RFC 5763): whether we are the DTLS server
    (we answered a=setup:passive) and the fingerprint the peer's certificate must have."""

    server: bool
    remote_fingerprint: str  # "sha-256 AB:CD:..."


def is_dtls(media: Media, session_attributes: list[tuple[str, str | None]]) -> bool:
    """Keyed by DTLS rather than SDES: UDP/TLS/RTP/SAVP(F), or SAVP with a fingerprint
    and no a=crypto (older offers)."""
    if media.proto.upper().startswith("UDP/TLS/"):
        return True
    has_fingerprint = media.attribute("fingerprint") is not None or any(
        key == "fingerprint" for key, _ in session_attributes)
    return is_secure(media) and has_fingerprint and not media.values("crypto")


def answer_dtls(media: Media, session_attributes: list[tuple[str, str | None]],
                our_fingerprint: str | None) -> tuple[DtlsSetup, list[tuple[str, str]]]:
    """Our side of a DTLS-SRTP stream: the setup and the attributes of our answer
    (a=fingerprint, a=setup). SdpError(488) when it cannot be done."""
    if our_fingerprint is None:
        raise SdpError(488, "DTLS-SRTP is not available here (no TLS identity)")
    fingerprint = media.attribute("fingerprint") or next(
        (value for key, value in session_attributes if key == "fingerprint" and value), None)
    if not fingerprint or fingerprint.split(" ", 1)[0].lower() != "sha-256":
        raise SdpError(488, "DTLS-SRTP offered without a sha-256 a=fingerprint")
    offered = (media.attribute("setup") or next(
        (value for key, value in session_attributes if key == "setup" and value),
        "active")).strip().lower()
    ours = _SETUP_ANSWER.get(offered)
    if ours is None:
        raise SdpError(488, f"a=setup:{offered[:16]} cannot be answered")
    setup = DtlsSetup(server=ours == "passive", remote_fingerprint=fingerprint.strip())
    return setup, [("fingerprint", our_fingerprint), ("setup", ours)]


def parse_crypto(value: str) -> Crypto:
    """One ``a=crypto`` value; SdpError(488) naming what is wrong."""
    match = _LINE.match(value)
    if match is None:
        raise SdpError(488, "a=crypto does not parse (tag, suite, key params)")
    tag, suite, key_params, session_params = match.groups()
    if session_params and session_params.strip():
        raise SdpError(488, f"a=crypto session parameters not supported: "
                       f"{session_params.split()[0][:32]}")
    if suite not in SUITES:
        return Crypto(int(tag), suite, b"")  # judged by the caller: maybe another line fits
    if ";" in key_params:
        raise SdpError(488, "a=crypto with several keys is not supported")
    method, _, rest = key_params.partition(":")
    if method != "inline":
        raise SdpError(488, f"a=crypto key method {method[:16]!r} is not inline")
    encoded, *extras = rest.split("|")
    if any(extra.upper().find("MKI") >= 0 or ":" in extra for extra in extras):
        raise SdpError(488, "a=crypto with an MKI is not supported")
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SdpError(488, "a=crypto key is not base64") from None
    if len(key) != SUITES[suite]:
        raise SdpError(488, f"a=crypto key for {suite} is {len(key)} bytes, not "
                       f"{SUITES[suite]}")
    return Crypto(int(tag), suite, key)


def answer_crypto(media: Media, random_bytes: RandomBytes = secrets.token_bytes
                  ) -> tuple[SrtpKeys, str]:
    """Pick the offer's first line in a suite we have: the keys to run and the
    ``a=crypto`` value of our answer. SdpError(488) when none will do."""
    lines = media.values("crypto")
    if not lines:
        raise SdpError(488, f"{media.proto} offered without a=crypto (no SDES key)")
    offered = [parse_crypto(value) for value in lines]
    chosen = next((c for c in offered if c.suite in SUITES), None)
    if chosen is None:
        names = ", ".join(dict.fromkeys(c.suite for c in offered))[:120]
        raise SdpError(488, f"no crypto suite we support in a=crypto ({names})")
    ours = Crypto(chosen.tag, chosen.suite, random_bytes(SUITES[chosen.suite]))
    return SrtpKeys(chosen.suite, ours.key, chosen.key), ours.line()


def offer_crypto(random_bytes: RandomBytes = secrets.token_bytes) -> list[str]:
    """Our ``a=crypto`` values for an offer: every suite, best first."""
    return [Crypto(tag, suite, random_bytes(length)).line()
            for tag, (suite, length) in enumerate(SUITES.items(), start=1)]


def accept_crypto(ours: Media, answered: Media) -> SrtpKeys:
    """The keys of an answer to our offer's ``ours`` m-line (same tag and suite)."""
    lines = answered.values("crypto")
    if len(lines) != 1:
        raise SdpError(488, "the answer must carry exactly one a=crypto")
    theirs = parse_crypto(lines[0])
    offered = {c.tag: c for c in (parse_crypto(v) for v in ours.values("crypto"))}
    mine = offered.get(theirs.tag)
    if mine is None or mine.suite != theirs.suite or theirs.suite not in SUITES:
        raise SdpError(488, "the answer's a=crypto is not one we offered")
    return SrtpKeys(theirs.suite, mine.key, theirs.key)
