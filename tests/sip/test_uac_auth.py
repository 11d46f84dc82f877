"""Digest as a UAC (RFC 3261 22, RFC 8760): a challenged INVITE goes again with the
answer (same Call-ID and From tag, next CSeq), once per nonce; a second challenge to
the same nonce, or one we cannot answer, fails the call naming why; a challenged BYE
goes again too. The password shows nowhere but in the digest."""

from __future__ import annotations

import re

from gateway.auth import digest_response, parse_challenges
from gateway.sip.credentials import Credentials
from gateway.sip.endpoint import CallConfirmed, CallFailed, IncomingCall
from gateway.sip.message import parse_message

from .conftest import UAC_ADDR, UAS_ADDR, Pair, of

OFFER = b"v=0\r\no=a 1 1 IN IP4 192.0.2.20\r\n"
CHALLENGE = 'Digest realm="example.test", nonce="n0nce1", qop="auth", algorithm=MD5'
CREDS = Credentials("mcu", "s3cret")


def invite(pair: Pair) -> str:
    call = pair.uac.invite("sip:alice@example.test", UAS_ADDR, from_user="7000",
                           sdp=OFFER, local=UAC_ADDR, now=pair.now, credentials=CREDS)
    pair.deliver()
    return call


def challenge(pair: Pair, status: int = 407, value: str = CHALLENGE) -> None:
    incoming = of(pair.uas_events, IncomingCall)[-1]
    header = "Proxy-Authenticate" if status == 407 else "WWW-Authenticate"
    pair.uas.respond_invite(incoming.call, status, headers=[(header, value)], now=pair.now)
    pair.deliver()


def test_a_challenged_invite_goes_again_with_the_digest() -> None:
    pair = Pair()
    invite(pair)
    challenge(pair)
    first, again = pair.sent("uac->uas", b"INVITE ")
    assert b"Proxy-Authorization" not in first
    request = parse_message(again)
    assert request.cseq == (2, "INVITE") and request.call_id == parse_message(first).call_id
    answer = request.get("proxy-authorization") or ""
    cnonce = re.search(r'cnonce="([^"]+)"', answer).group(1)  # type: ignore[union-attr]
    [parsed] = parse_challenges([CHALLENGE])
    expected = digest_response(parsed, "mcu", "s3cret", "INVITE", "sip:alice@example.test",
                               nc=1, cnonce=cnonce)
    assert f'response="{expected}"' in answer and "s3cret" not in again.decode()
    assert pair.sent("uac->uas", b"ACK ")  # the 407 was acknowledged
    incoming = of(pair.uas_events, IncomingCall)[-1]
    pair.uas.respond_invite(incoming.call, 200, body=OFFER, now=pair.now)
    pair.deliver()
    assert of(pair.uas_events, CallConfirmed) and not of(pair.uac_events, CallFailed)
    assert "hidden" in repr(CREDS) and "s3cret" not in repr(CREDS)


def test_the_same_nonce_twice_means_wrong_credentials() -> None:
    pair = Pair()
    invite(pair)
    challenge(pair, 401, CHALLENGE)
    challenge(pair, 401, CHALLENGE)
    [failed] = of(pair.uac_events, CallFailed)
    assert failed.status == 401 and "credentials refused" in failed.reason
    assert len(pair.sent("uac->uas", b"INVITE ")) == 2


def test_a_challenge_we_cannot_answer_fails_naming_it() -> None:
    pair = Pair()
    invite(pair)
    challenge(pair, 407, 'Digest realm="x", nonce="n", algorithm=SHA-512-256')
    [failed] = of(pair.uac_events, CallFailed)
    assert "SHA-512-256" in failed.reason
