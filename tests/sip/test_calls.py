"""A UAC endpoint talking to a UAS endpoint in memory, over UDP and TCP framing."""

from __future__ import annotations

import pytest

from gateway.sip.endpoint import (
    CallAnswered,
    CallCancelled,
    CallConfirmed,
    CallEnded,
    CallFailed,
    CallProgress,
    IncomingCall,
    InfoAnswered,
    InfoReceived,
    ReInvite,
    ReInviteAnswered,
    ReInviteConfirmed,
    SipCoreConfig,
    SipEndpoint,
)
from gateway.sip.message import parse_message, parse_via

from .conftest import UAC_ADDR, UAS_ADDR, Pair, of

OFFER = b"v=0\r\no=a 1 1 IN IP4 192.0.2.20\r\n"
ANSWER = b"v=0\r\no=b 1 1 IN IP4 192.0.2.10\r\n"


def answer(p: Pair, status_seq=(180, 200), body=ANSWER) -> tuple[str, str]:
    uac_call = p.invite(OFFER)
    inc = of(p.uas_events, IncomingCall)[-1]
    for status in status_seq:
        p.uas.respond_invite(inc.call, status, body=body if status == 200 else None,
                             now=p.now)
        p.deliver()
    return uac_call, inc.call


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_basic_call_hung_up_by_uac(transport: str) -> None:
    p = Pair(transport)
    uac_call, uas_call = answer(p)
    (inc,) = of(p.uas_events, IncomingCall)
    assert inc.user == "1000" and inc.sdp == OFFER and inc.display_name == "Alice"
    assert inc.from_uri == f"sip:alice@{UAC_ADDR[0]}:{UAC_ADDR[1]}"
    assert inc.transport == transport and inc.remote == UAC_ADDR
    assert [e.status for e in of(p.uac_events, CallProgress)] == [180]
    assert of(p.uac_events, CallAnswered) == [CallAnswered(uac_call, ANSWER)]
    assert of(p.uas_events, CallConfirmed) == [CallConfirmed(uas_call, None)]
    assert p.uac.dialog_count == p.uas.dialog_count == 1
    p.uac.hangup(uac_call, "done", now=p.now)
    p.deliver()
    assert of(p.uac_events, CallEnded) == [CallEnded(uac_call, "done", False)]
    assert of(p.uas_events, CallEnded) == [CallEnded(uas_call, "bye", True)]
    p.assert_clean()


def test_basic_call_hung_up_by_uas(pair: Pair) -> None:
    uac_call, uas_call = answer(pair)
    pair.uas.hangup(uas_call, "kicked", now=pair.now)
    pair.deliver()
    assert of(pair.uas_events, CallEnded) == [CallEnded(uas_call, "kicked", False)]
    assert of(pair.uac_events, CallEnded) == [CallEnded(uac_call, "bye", True)]
    bye = pair.sent("uas->uac", b"BYE ")[0]
    # the BYE goes to the UAC's Contact, From/To swapped with tags
    req = parse_message(bye)
    assert req.uri == f"sip:alice@{UAC_ADDR[0]}:{UAC_ADDR[1]}"
    assert req.from_tag and req.to_tag
    pair.assert_clean()


def test_uac_requests_carry_required_headers(pair: Pair) -> None:
    pair.invite(OFFER)
    inv = parse_message(pair.sent("uac->uas", b"INVITE ")[0])
    via = parse_via(inv.vias[0])
    assert via.branch.startswith("z9hG4bK") and "rport" in via.params
    assert inv.get("max-forwards") == "70"
    assert inv.get("user-agent") == "mcu/0.1"
    assert inv.get("contact") == f"<sip:alice@{UAC_ADDR[0]}:{UAC_ADDR[1]}>"
    # the UAS stamped rport/received and answered to that address
    trying = parse_message(pair.sent("uas->uac", b"SIP/2.0 100")[0])
    top = parse_via(trying.vias[0])
    assert top.params["rport"] == str(UAC_ADDR[1])


def test_offerless_invite_offer_in_200_answer_in_ack(pair: Pair) -> None:
    uac_call = pair.invite(sdp=None)
    (inc,) = of(pair.uas_events, IncomingCall)
    assert inc.sdp is None
    pair.uas.respond_invite(inc.call, 200, body=OFFER, now=pair.now)
    pair.deliver()
    assert of(pair.uac_events, CallAnswered) == [CallAnswered(uac_call, OFFER)]
    assert of(pair.uas_events, CallConfirmed) == []  # the UAC app has not answered yet
    pair.uac.ack(uac_call, ANSWER, now=pair.now)
    pair.deliver()
    assert of(pair.uas_events, CallConfirmed) == [CallConfirmed(inc.call, ANSWER)]
    pair.uac.hangup(uac_call, now=pair.now)
    pair.deliver()
    pair.assert_clean()


def test_reinvite_hold_and_unhold(pair: Pair) -> None:
    uac_call, uas_call = answer(pair)
    for sdp in (b"v=0 sendonly\r\n", b"v=0 sendrecv\r\n"):
        pair.uac.reinvite(uac_call, sdp, now=pair.now)
        pair.deliver()
        assert of(pair.uas_events, ReInvite)[-1] == ReInvite(uas_call, sdp)
        pair.uas.respond_invite(uas_call, 200, body=b"v=0 answer\r\n", now=pair.now)
        pair.deliver()
        assert of(pair.uac_events, ReInviteAnswered)[-1] == \
            ReInviteAnswered(uac_call, 200, b"v=0 answer\r\n")
        assert of(pair.uas_events, ReInviteConfirmed)[-1] == ReInviteConfirmed(uas_call, None)
    # and from the UAS side, rejected
    pair.uas.reinvite(uas_call, b"v=0 x\r\n", now=pair.now)
    pair.deliver()
    assert of(pair.uac_events, ReInvite)[-1] == ReInvite(uac_call, b"v=0 x\r\n")
    pair.uac.respond_invite(uac_call, 488, now=pair.now)
    pair.deliver()
    assert of(pair.uas_events, ReInviteAnswered)[-1] == ReInviteAnswered(uas_call, 488, None)
    pair.uac.hangup(uac_call, now=pair.now)
    pair.deliver()
    pair.assert_clean()


def test_reinvite_glare_gets_491(pair: Pair) -> None:
    uac_call, uas_call = answer(pair)
    pair.uac.reinvite(uac_call, b"v=0 a\r\n", now=pair.now)
    pair.uas.reinvite(uas_call, b"v=0 b\r\n", now=pair.now)
    pair.deliver()
    assert [e.status for e in of(pair.uac_events, ReInviteAnswered)] == [491]
    assert [e.status for e in of(pair.uas_events, ReInviteAnswered)] == [491]
    assert of(pair.uac_events, ReInvite) == of(pair.uas_events, ReInvite) == []
    pair.uac.hangup(uac_call, now=pair.now)
    pair.deliver()
    pair.assert_clean()


def test_info_both_ways(pair: Pair) -> None:
    uac_call, uas_call = answer(pair)
    pair.uac.send_info(uac_call, "application/media_control+xml", b"<fu/>", now=pair.now)
    pair.uas.send_info(uas_call, "application/dtmf-relay", b"Signal=5\r\n", now=pair.now)
    pair.deliver()
    assert of(pair.uas_events, InfoReceived) == [
        InfoReceived(uas_call, "application/media_control+xml", b"<fu/>")]
    assert of(pair.uac_events, InfoReceived) == [
        InfoReceived(uac_call, "application/dtmf-relay", b"Signal=5\r\n")]
    assert len(pair.sent("uas->uac", b"SIP/2.0 200")) >= 2
    pair.uac.hangup(uac_call, now=pair.now)
    pair.deliver()
    pair.assert_clean()


def test_info_answers_reach_the_sender(pair: Pair) -> None:
    pair.uas._check_info = lambda content_type, body: (  # a peer that takes no fast update
        (415, "Unsupported Media Type") if "media_control" in (content_type or "") else None)
    uac_call, _ = answer(pair)
    pair.uac.send_info(uac_call, "application/media_control+xml", b"<fu/>", now=pair.now)
    pair.uac.send_info(uac_call, "application/dtmf-relay", b"Signal=5\r\n", now=pair.now)
    pair.deliver()
    answers = of(pair.uac_events, InfoAnswered)
    assert sorted((a.status, a.content_type) for a in answers) == [
        (200, "application/dtmf-relay"), (415, "application/media_control+xml")]
    assert not of(pair.uac_events, CallEnded)  # a refused INFO leaves the call up
    pair.uac.hangup(uac_call, now=pair.now)
    pair.deliver()
    pair.assert_clean()


def test_rejected_call(pair: Pair) -> None:
    uac_call = pair.invite(OFFER)
    (inc,) = of(pair.uas_events, IncomingCall)
    pair.uas.respond_invite(inc.call, 486, now=pair.now)
    pair.deliver()
    assert of(pair.uac_events, CallFailed) == [CallFailed(uac_call, 486, "Busy Here")]
    assert of(pair.uac_events, CallEnded)[0].by_remote is True
    assert of(pair.uas_events, CallEnded) == [CallEnded(inc.call, "rejected 486", False)]
    assert len(pair.sent("uac->uas", b"ACK ")) == 1  # transaction-layer ACK
    pair.assert_clean()


def test_uac_cancel_while_ringing(pair: Pair) -> None:
    uac_call = pair.invite(OFFER)
    (inc,) = of(pair.uas_events, IncomingCall)
    pair.uas.respond_invite(inc.call, 180, now=pair.now)
    pair.deliver()
    pair.uac.hangup(uac_call, "abandon", now=pair.now)
    pair.deliver()
    assert pair.sent("uac->uas", b"CANCEL ")
    assert of(pair.uas_events, CallCancelled) == [CallCancelled(inc.call)]
    assert of(pair.uas_events, CallEnded) == [CallEnded(inc.call, "cancelled", True)]
    assert of(pair.uac_events, CallEnded) == [CallEnded(uac_call, "abandon", False)]
    assert of(pair.uac_events, CallFailed) == []
    assert pair.sent("uas->uac", b"SIP/2.0 487")
    pair.assert_clean()


def test_uac_cancel_before_provisional_waits_for_it(pair: Pair) -> None:
    # drop the 100 Trying so the UAC has seen no provisional yet
    pair.drop = lambda d, data: d == "uas->uac" and data.startswith(b"SIP/2.0 100")
    uac_call = pair.invite(OFFER)
    pair.uac.hangup(uac_call, now=pair.now)
    pair.deliver()
    assert pair.sent("uac->uas", b"CANCEL ") == []
    pair.drop = None
    (inc,) = of(pair.uas_events, IncomingCall)
    pair.uas.respond_invite(inc.call, 180, now=pair.now)
    pair.deliver()
    assert pair.sent("uac->uas", b"CANCEL ")
    assert of(pair.uac_events, CallEnded)
    pair.assert_clean()


def test_uas_hangup_unanswered_call(pair: Pair) -> None:
    pair.invite(OFFER)
    (inc,) = of(pair.uas_events, IncomingCall)
    pair.uas.hangup(inc.call, "full", now=pair.now)
    pair.deliver()
    assert of(pair.uas_events, CallEnded) == [CallEnded(inc.call, "full", False)]
    assert [e.status for e in of(pair.uac_events, CallFailed)] == [480]
    pair.assert_clean()


def test_2xx_retransmitted_until_ack_then_lost_ack_gives_bye(pair: Pair) -> None:
    pair.drop = lambda d, data: d == "uac->uas" and data.startswith(b"ACK ")
    uac_call, uas_call = answer(pair, status_seq=(200,))
    assert of(pair.uac_events, CallAnswered)
    pair.advance(pair.now + 31.0)
    oks = pair.sent("uas->uac", b"SIP/2.0 200")
    # sent at 0, then .5, 1.5, 3.5, 7.5, 11.5, ... capped at T2 intervals
    assert 8 <= len(oks) <= 11
    acks = pair.sent("uac->uas", b"ACK ")
    assert len(acks) == len(oks)  # the UAC core re-ACKs every retransmission
    pair.advance(pair.now + 2.0)
    assert of(pair.uas_events, CallEnded) == [CallEnded(uas_call, "no ACK", False)]
    assert pair.sent("uas->uac", b"BYE ")
    assert of(pair.uac_events, CallEnded) == [CallEnded(uac_call, "bye", True)]
    pair.drop = None
    pair.assert_clean()


def test_tcp_framing_split_and_coalesced() -> None:
    ep = SipEndpoint()
    opts = (b"OPTIONS sip:x@192.0.2.10 SIP/2.0\r\n"
            b"Via: SIP/2.0/TCP 192.0.2.20:5062;branch=z9hG4bK%d\r\n"
            b"From: <sip:a@192.0.2.20>;tag=1\r\nTo: <sip:x@192.0.2.10>\r\n"
            b"Call-ID: c%d\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
    msgs = [opts % (i, i) for i in range(3)]
    stream = b"\r\n\r\n".join(msgs)  # keep-alive CRLFs between messages
    # byte by byte, then all at once
    for chunks in ([stream[i:i + 1] for i in range(len(stream))], [stream]):
        for chunk in chunks:
            ep.receive_stream(7, chunk, UAC_ADDR, UAS_ADDR, 0.0)
        out = ep.transmissions()
        pongs = [t for t in out if t.data == b"\r\n"]  # RFC 5626: each CRLFCRLF a ping
        answers = [t for t in out if t.data != b"\r\n"]
        assert len(pongs) == 2
        assert [t.data.split(b"\r\n", 1)[0] for t in answers] == [b"SIP/2.0 200 OK"] * 3
        assert {(t.transport, t.conn_id, t.remote) for t in out} == {("tcp", 7, UAC_ADDR)}
    # missing Content-Length on a stream is a framing error: the buffer is dropped
    ep.receive_stream(8, b"OPTIONS sip:x@h SIP/2.0\r\nVia: x\r\n\r\n", UAC_ADDR, UAS_ADDR, 0.0)
    assert ep.transmissions() == []


def test_a_crlf_ping_gets_one_pong_and_a_lone_crlf_none() -> None:
    ep = SipEndpoint()
    ep.receive_stream(9, b"\r\n", UAC_ADDR, UAS_ADDR, 0.0)  # a pong, or padding
    assert ep.transmissions() == []
    ep.receive_stream(9, b"\r\n", UAC_ADDR, UAS_ADDR, 0.1)  # completes CRLFCRLF
    [pong] = ep.transmissions()
    assert (pong.data, pong.transport, pong.conn_id) == (b"\r\n", "tcp", 9)


def test_counters_zero_after_many_calls(pair: Pair) -> None:
    for _ in range(5):
        uac_call, uas_call = answer(pair)
        pair.uas.hangup(uas_call, now=pair.now)
        pair.deliver()
    assert len(of(pair.uac_events, CallEnded)) == 5
    pair.assert_clean()


def test_options_and_register_answered_by_core() -> None:
    ep = SipEndpoint()
    base = (b"%s sip:192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.20:5062;rport;"
            b"branch=z9hG4bK%s\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>"
            b"\r\nCall-ID: x%s\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\n%sContent-Length: 0\r\n\r\n")
    ep.receive_datagram(base % (b"OPTIONS", b"1", b"1", b"OPTIONS", b""), ("198.51.100.7", 4000),
                        UAS_ADDR, 0.0)
    (t,) = ep.transmissions()
    resp = parse_message(t.data)
    assert resp.status == 200 and "INVITE" in resp.get("allow")
    assert resp.get("accept") == "application/sdp" and "supported" in resp
    assert t.remote == ("198.51.100.7", 4000)  # rport/received
    assert "received=198.51.100.7" in resp.vias[0] and "rport=4000" in resp.vias[0]
    ep.receive_datagram(base % (b"REGISTER", b"2", b"2", b"REGISTER",
                                b"Contact: <sip:a@192.0.2.20:5062>;expires=60\r\n"),
                        ("198.51.100.7", 4000), UAS_ADDR, 0.0)
    resp = parse_message(ep.transmissions()[0].data)
    assert resp.status == 200 and resp.get("contact") == "<sip:a@192.0.2.20:5062>;expires=60"
    ep.receive_datagram(base % (b"REGISTER", b"3", b"3", b"REGISTER",
                                b"Authorization: Digest username=\"a\"\r\n"),
                        ("198.51.100.7", 4000), UAS_ADDR, 0.0)
    assert parse_message(ep.transmissions()[0].data).status == 403
    ep.receive_datagram(base % (b"BYE", b"4", b"4", b"BYE", b""), ("198.51.100.7", 4000),
                        UAS_ADDR, 0.0)
    assert parse_message(ep.transmissions()[0].data).status == 481
    ep.receive_datagram(base % (b"FOO", b"5", b"5", b"FOO", b""), ("198.51.100.7", 4000),
                        UAS_ADDR, 0.0)
    assert parse_message(ep.transmissions()[0].data).status == 501
    ep.handle_timer(100.0)
    assert ep.transaction_count == 0


def test_uac_timeout_timer_b(pair: Pair) -> None:
    pair.drop = lambda d, data: d == "uac->uas"
    uac_call = pair.invite(OFFER)
    pair.advance(40.0)
    assert of(pair.uac_events, CallFailed) == [CallFailed(uac_call, 408, "Request Timeout")]
    assert of(pair.uac_events, CallEnded)
    pair.assert_clean()


def test_response_addresses(pair: Pair) -> None:
    # sanity for the helper: everything the UAS sends goes to the UAC's address
    answer(pair)
    assert all(t for t in pair.wire)
    assert UAS_ADDR != UAC_ADDR


def test_a_refused_connection_fails_the_invite_at_once_not_at_timer_b() -> None:
    """RFC 3261 8.1.3.1 / RFC 3263 4.3: the shell could not connect over TCP; the
    INVITE fails now (CallFailed 408, CallEnded) so a caller can try the next target."""
    uac = SipEndpoint(SipCoreConfig(local_host=UAC_ADDR[0], local_port=UAC_ADDR[1]))
    call = uac.invite("sip:x@example.test", UAS_ADDR, "tcp", sdp=OFFER, now=0.0)
    assert [t.transport for t in uac.transmissions()] == ["tcp"]
    uac.transport_failed("udp", UAS_ADDR, now=0.1)  # another transport: not this one
    uac.transport_failed("tcp", ("192.0.2.99", 5060), now=0.1)  # another peer
    assert uac.events() == [] and uac.call_count == 1
    uac.transport_failed("tcp", UAS_ADDR, now=0.2)
    events = uac.events()
    assert [type(e) for e in events] == [CallFailed, CallEnded]
    assert events[0].call == call and events[0].status == 408
    assert uac.call_count == 0 and uac.transaction_count == 0 and uac.transmissions() == []
