"""SIP MESSAGE (RFC 3428) in the SIP core: text both ways in a call's dialog, pager-mode
MESSAGE from a party we are in a call with (as baresip's ``/message`` sends it), 415 with
Accept for what is not text/plain, 404 for strangers, and a refused MESSAGE ends no call."""

from __future__ import annotations

from gateway.sip.endpoint import CallEnded, MessageReceived
from gateway.sip.text import check_text, decode_text

from .conftest import UAC_ADDR, UAS_ADDR, Pair, of
from .test_calls import answer


def _pager(user: str, body: bytes, content_type: str = "text/plain") -> bytes:
    """An out-of-dialog MESSAGE from `user` at the UAC's address."""
    host, port = UAC_ADDR
    return (
        f"MESSAGE sip:1000@{UAS_ADDR[0]}:{UAS_ADDR[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bKpager{user}{len(body)};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"To: <sip:1000@{UAS_ADDR[0]}:{UAS_ADDR[1]}>\r\n"
        f"From: <sip:{user}@{host}:{port}>;tag=p{user}\r\n"
        f"Call-ID: pager-{user}-{len(body)}\r\n"
        "CSeq: 1 MESSAGE\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_text_both_ways_in_the_dialog(pair: Pair) -> None:
    uac_call, uas_call = answer(pair)
    pair.uac.send_text(uac_call, "Hello, MCU — ünïcode", now=pair.now)
    pair.uas.send_text(uas_call, "Bob: hi back", now=pair.now)
    pair.deliver()
    assert of(pair.uas_events, MessageReceived) == [
        MessageReceived(uas_call, "Hello, MCU — ünïcode")]
    assert of(pair.uac_events, MessageReceived) == [MessageReceived(uac_call, "Bob: hi back")]
    sent = pair.sent("uas->uac", b"MESSAGE ")
    assert sent and b"Content-Type: text/plain;charset=UTF-8" in sent[0]
    pair.uac.hangup(uac_call, now=pair.now)
    pair.deliver()
    pair.assert_clean()


def test_unsupported_type_is_415_with_accept_and_the_call_stays(pair: Pair) -> None:
    uac_call, _ = answer(pair)
    call = pair.uac._get(uac_call)
    assert call is not None
    pair.uac._request_in_dialog(call, "MESSAGE", b"<b>hi</b>", "text/html", pair.now)
    pair.deliver()
    (refusal,) = pair.sent("uas->uac", b"SIP/2.0 415")
    assert b"\r\nAccept: text/plain\r\n" in refusal
    assert not of(pair.uas_events, MessageReceived)
    assert not of(pair.uac_events, CallEnded) and not of(pair.uas_events, CallEnded)
    pair.uac.hangup(uac_call, now=pair.now)
    pair.deliver()
    pair.assert_clean()


def test_pager_mode_from_a_caller_reaches_its_call(pair: Pair) -> None:
    _, uas_call = answer(pair)
    pair.uas.receive_datagram(_pager("alice", b"from the console"), UAC_ADDR, UAS_ADDR,
                              pair.now)
    pair.uas.receive_datagram(_pager("mallory", b"not in a call"), UAC_ADDR, UAS_ADDR,
                              pair.now)
    pair.uas.receive_datagram(_pager("alice", b"{}", "application/json"), UAC_ADDR,
                              UAS_ADDR, pair.now)
    pair.deliver()
    answers = sorted(d.split(b"\r\n", 1)[0] for d in pair.sent("uas->uac", b"SIP/2.0 ")
                     if b"CSeq: 1 MESSAGE" in d)
    assert answers == [b"SIP/2.0 200 OK", b"SIP/2.0 404 Not Found",
                       b"SIP/2.0 415 Unsupported Media Type"]
    assert of(pair.uas_events, MessageReceived) == [MessageReceived(uas_call, "from the console")]


def test_check_text() -> None:
    assert check_text("text/plain; charset=utf-8", b"hi")[0] == 200
    assert check_text("TEXT/PLAIN", b"hi")[0] == 200
    assert check_text("application/im-iscomposing+xml", b"<x/>") == (
        415, "Unsupported Media Type", [("Accept", "text/plain")])
    assert check_text("text/plain", b"\xff\xfe")[0] == 400
    assert check_text("text/plain", b"x" * 9000)[0] == 413
    assert decode_text(b"  a\x07b\nc  ") == "ab\nc"
