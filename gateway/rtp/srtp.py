"""SRTP and SRTCP (RFC 3711; AES-GCM RFC 7714) for one stream, over pylibsrtp.

Two libsrtp sessions: the outbound one protects what we send with our key, the
inbound one checks and decrypts what the peer sends with its key (any SSRC: a peer
may change source). A packet that fails is dropped and counted by why: ``replayed``
(libsrtp's replay window saw it), ``auth_failed`` (a wrong key, a bad tag, a forged
or damaged packet) or ``malformed`` (too short to be SRTP). Nothing here logs a key.
"""

from __future__ import annotations

from pylibsrtp import Error, Policy, Session

from gateway.sdp.crypto import SrtpKeys

PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    "AEAD_AES_128_GCM": Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
}
MIN_SRTP = 12 + 4  # an RTP header and the shortest tag
MIN_SRTCP = 8 + 4 + 4  # RTCP header, E+index, shortest tag


class SrtpStream:
    """Protect what one stream sends, unprotect what it receives (RTP and RTCP)."""

    def __init__(self, keys: SrtpKeys) -> None:
        self.keys = keys
        profile = PROFILES[keys.suite]
        self._out = Session(policy=Policy(key=keys.local_key, ssrc_type=Policy.SSRC_ANY_OUTBOUND,
                                          srtp_profile=profile))
        self._in = Session(policy=Policy(key=keys.remote_key, ssrc_type=Policy.SSRC_ANY_INBOUND,
                                         srtp_profile=profile))
        self.counters = {"srtp_protected": 0, "srtp_unprotected": 0, "srtp_replayed": 0,
                         "srtp_auth_failed": 0, "srtp_malformed": 0}

    def __repr__(self) -> str:
        return f"SrtpStream({self.keys.suite}, keys hidden)"

    def protect(self, data: bytes, rtcp: bool) -> bytes | None:
        try:
            out = self._out.protect_rtcp(data) if rtcp else self._out.protect(data)
        except Error:
            return None  # never sent in clear
        self.counters["srtp_protected"] += 1
        return out

    def unprotect(self, data: bytes, rtcp: bool) -> bytes | None:
        """The plain packet, or None (dropped, counted)."""
        if len(data) < (MIN_SRTCP if rtcp else MIN_SRTP):
            self.counters["srtp_malformed"] += 1
            return None
        try:
            out = self._in.unprotect_rtcp(data) if rtcp else self._in.unprotect(data)
        except Error as error:
            replay = "replay" in str(error).lower()
            self.counters["srtp_replayed" if replay else "srtp_auth_failed"] += 1
            return None
        self.counters["srtp_unprotected"] += 1
        return out
