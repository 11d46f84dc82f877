"""SrtpStream: what one side protects the other unprotects; replays, wrong keys, bad
tags and runts are dropped and counted by why; keys never show in a repr."""

from __future__ import annotations

import pytest
from aiortc.rtp import RtcpByePacket, RtpPacket

from gateway.rtp.srtp import SrtpStream
from gateway.sdp.crypto import SUITES, SrtpKeys


def pair(suite: str) -> tuple[SrtpStream, SrtpStream]:
    a, b = b"\x01" * SUITES[suite], b"\x02" * SUITES[suite]
    return SrtpStream(SrtpKeys(suite, a, b)), SrtpStream(SrtpKeys(suite, b, a))


def rtp(seq: int) -> bytes:
    return RtpPacket(payload_type=0, sequence_number=seq, timestamp=160 * seq, ssrc=7,
                     payload=b"\xff" * 160).serialize()


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_both_ways_rtp_and_rtcp(suite: str) -> None:
    ours, theirs = pair(suite)
    for seq in range(5):
        sent = ours.protect(rtp(seq), rtcp=False)
        assert sent is not None and sent != rtp(seq) and b"\xff" * 160 not in sent
        assert theirs.unprotect(sent, rtcp=False) == rtp(seq)
    bye = bytes(RtcpByePacket(sources=[7]))
    assert theirs.unprotect(ours.protect(bye, rtcp=True) or b"", rtcp=True) == bye
    assert theirs.counters["srtp_unprotected"] == 6 and ours.counters["srtp_protected"] == 6
    assert "hidden" in repr(ours) and "\\x01" not in repr(ours.keys)


def test_replays_wrong_keys_bad_tags_and_runts_are_dropped_and_counted() -> None:
    ours, theirs = pair("AES_CM_128_HMAC_SHA1_80")
    first = ours.protect(rtp(1), rtcp=False) or b""
    assert theirs.unprotect(first, rtcp=False) is not None
    assert theirs.unprotect(first, rtcp=False) is None  # replayed
    tampered = bytearray(ours.protect(rtp(2), rtcp=False) or b"")
    tampered[-1] ^= 0x01
    assert theirs.unprotect(bytes(tampered), rtcp=False) is None
    stranger = SrtpStream(SrtpKeys("AES_CM_128_HMAC_SHA1_80", b"\x03" * 30, b"\x04" * 30))
    assert theirs.unprotect(stranger.protect(rtp(3), rtcp=False) or b"", rtcp=False) is None
    assert theirs.unprotect(rtp(4), rtcp=False) is None  # plain RTP: no valid tag
    assert theirs.unprotect(b"\x80\x00", rtcp=False) is None
    counts = theirs.counters
    assert (counts["srtp_replayed"], counts["srtp_auth_failed"], counts["srtp_malformed"]) == (
        1, 3, 1)
