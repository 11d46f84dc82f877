"""SDES (RFC 4568): SRTP streams answered with our key where the signalling may carry
keys, refused with a 488 naming the fault otherwise; our own SRTP offers accepted."""

from __future__ import annotations

import base64

import pytest

from gateway.sdp.crypto import SUITES, parse_crypto
from gateway.sdp.model import SdpError, parse_sdp
from gateway.sdp.negotiate import LocalSession, accept_answer, answer_offer, make_offer
from gateway.sdp.video import VideoPolicy

KEY = bytes(range(30))
INLINE = base64.b64encode(KEY).decode()


def fixed(n: int) -> bytes:
    return b"\x07" * n


def offer(lines: str, proto: str = "RTP/SAVP") -> bytes:
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio 4000 {proto} 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
            f"{lines}").encode()


def answer(body: bytes, sdes: bool = True):  # type: ignore[no-untyped-def]
    return answer_offer(body, local_ip="127.0.0.1", audio_port=5000, preferences=["PCMU"],
                        session=LocalSession(), sdes=sdes, random_bytes=fixed)


def test_the_first_supported_suite_is_answered_with_our_key() -> None:
    body = offer(f"a=crypto:1 F8_128_HMAC_SHA1_80 inline:{INLINE}\r\n"
                 f"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{INLINE}|2^20\r\n")
    negotiated = answer(body)
    keys = negotiated.audio_srtp
    assert keys is not None and keys.suite == "AES_CM_128_HMAC_SHA1_32"
    assert keys.remote_key == KEY and keys.local_key == fixed(30)
    assert negotiated.encrypted and "hidden" in repr(keys) and INLINE not in repr(keys)
    media = parse_sdp(negotiated.answer_sdp).media[0]
    assert media.proto == "RTP/SAVP"
    assert media.values("crypto") == [
        f"2 AES_CM_128_HMAC_SHA1_32 inline:{base64.b64encode(fixed(30)).decode()}"]


def test_plain_offers_stay_plain() -> None:
    negotiated = answer(offer("", proto="RTP/AVP"), sdes=True)
    assert negotiated.audio_srtp is None and not negotiated.encrypted
    assert "crypto" not in negotiated.answer_sdp.decode()


@pytest.mark.parametrize(("lines", "fault"), [
    (f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{INLINE}\r\n", "only over TLS"),
])
def test_keys_over_plain_signalling_are_refused(lines: str, fault: str) -> None:
    with pytest.raises(SdpError) as error:
        answer(offer(lines), sdes=False)
    assert error.value.status == 488 and fault in str(error.value)


@pytest.mark.parametrize(("lines", "fault"), [
    ("", "without a=crypto"),
    ("a=crypto:x\r\n", "does not parse"),
    (f"a=crypto:1 F8_128_HMAC_SHA1_80 inline:{INLINE}\r\n", "no crypto suite we support"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=\r\n", "is 5 bytes, not 30"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%%%\r\n", "not base64"),
    (f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{INLINE}|2^20|1:4\r\n", "MKI"),
    (f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{INLINE} UNENCRYPTED_SRTP\r\n",
     "session parameters"),
    (f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 sdes:{INLINE}\r\n", "not inline"),
])
def test_bad_crypto_lines_are_488_naming_the_fault(lines: str, fault: str) -> None:
    with pytest.raises(SdpError) as error:
        answer(offer(lines))
    assert error.value.status == 488 and fault in str(error.value), str(error.value)


def test_our_srtp_offer_and_its_answer_give_both_streams_keys() -> None:
    policy = VideoPolicy(["H264"], (1280, 720), 30.0, (1,), 2_000_000)
    ours = make_offer("127.0.0.1", 5000, ["PCMU"], LocalSession(), video_port=5002,
                      video_policy=policy, srtp=True, random_bytes=fixed)
    parsed = parse_sdp(ours)
    assert [m.proto for m in parsed.media] == ["RTP/SAVP", "RTP/SAVPF"] or [
        m.proto for m in parsed.media] == ["RTP/SAVP", "RTP/SAVP"]
    assert {parse_crypto(v).suite for v in parsed.media[0].values("crypto")} == set(SUITES)
    theirs = answer_offer(ours, local_ip="127.0.0.1", audio_port=6000, preferences=["PCMU"],
                          session=LocalSession(), video_port=6002, video_policy=policy,
                          sdes=True, random_bytes=lambda n: b"\x09" * n)
    assert theirs.encrypted
    accepted = accept_answer(ours, theirs.answer_sdp, policy)
    assert accepted.encrypted and accepted.video is not None
    assert accepted.audio_srtp is not None and accepted.video_srtp is not None
    assert accepted.audio_srtp.local_key == fixed(30)
    assert accepted.audio_srtp.remote_key == b"\x09" * 30
