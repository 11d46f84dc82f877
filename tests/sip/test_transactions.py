"""Transaction layer on a fake clock (RFC 3261 §17, RFC 6026)."""

from __future__ import annotations

from gateway.sip.endpoint import (
    CallCancelled,
    CallEnded,
    IncomingCall,
    SipCoreConfig,
    SipEndpoint,
)
from gateway.sip.message import parse_message

PEER = ("192.0.2.20", 5062)
ME = ("192.0.2.10", 5060)

INVITE = (b"INVITE sip:1000@192.0.2.10 SIP/2.0\r\n"
          b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=%s\r\n"
          b"From: \"Bob\" <sip:bob@192.0.2.20>;tag=ft1\r\nTo: <sip:1000@192.0.2.10>\r\n"
          b"Call-ID: call-1@192.0.2.20\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
          b"Contact: <sip:bob@192.0.2.20:5062>\r\nContent-Type: application/sdp\r\n"
          b"Content-Length: 4\r\n\r\nv=0\n")


def firsts(ep: SipEndpoint) -> list[bytes]:
    return [t.data.split(b"\r\n", 1)[0] for t in ep.transmissions()]


def send_times(ep: SipEndpoint, until: float, start: bytes) -> list[float]:
    """Drive the timers to ``until``, noting when a message starting with ``start``
    goes out."""
    times = []
    while (t := ep.next_timer()) is not None and t <= until:
        ep.handle_timer(t)
        times += [t for line in firsts(ep) if line.startswith(start)]
    return times


def test_invite_client_timer_a_doubles_then_timer_b() -> None:
    ep = SipEndpoint()
    call = ep.invite("sip:x@192.0.2.20", PEER, "udp", sdp=b"v=0\r\n", now=0.0)
    assert firsts(ep) == [b"INVITE sip:x@192.0.2.20 SIP/2.0"]
    times = send_times(ep, 100.0, b"INVITE")
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # A: T1, doubling (§17.1.1.2)
    events = ep.events()
    assert [type(e).__name__ for e in events] == ["CallFailed", "CallEnded"]
    assert events[0].status == 408 and events[1].call == call
    assert (ep.transaction_count, ep.call_count, ep.next_timer()) == (0, 0, None)


def test_reliable_transport_skips_retransmissions() -> None:
    ep = SipEndpoint()
    ep.invite("sip:x@192.0.2.20", PEER, "tcp", sdp=b"v=0\r\n", now=0.0)
    assert len(ep.transmissions()) == 1
    assert send_times(ep, 100.0, b"INVITE") == []
    assert ep.call_count == 0 and ep.transaction_count == 0


def test_non_invite_client_timer_e_caps_at_t2_then_timer_f() -> None:
    ep = SipEndpoint()
    # an answered call gives us a dialog to send INFO in
    ep.receive_datagram(INVITE % b"z9hG4bKa", PEER, ME, 0.0)
    (inc,) = [e for e in ep.events() if isinstance(e, IncomingCall)]
    ep.respond_invite(inc.call, 200, body=b"v=0\r\n", now=0.0)
    ack = (b"ACK sip:1000@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bKack"
           b"\r\nFrom: <sip:bob@192.0.2.20>;tag=ft1\r\nTo: <sip:1000@192.0.2.10>;tag=%s\r\n"
           b"Call-ID: call-1@192.0.2.20\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
    ok = parse_message(ep.transmissions()[-1].data)
    ep.receive_datagram(ack % ok.to_tag.encode(), PEER, ME, 0.0)
    assert [type(e).__name__ for e in ep.events()] == ["CallConfirmed"]
    ep.send_info(inc.call, "text/plain", b"hi", now=0.0)
    assert firsts(ep)[0].startswith(b"INFO ")
    times = send_times(ep, 40.0, b"INFO")
    assert times[:6] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]  # E: doubling, capped at T2=4
    # Timer F (64*T1 = 32 s) timed the INFO out; the call is ended with a BYE
    ends = [e for e in ep.events() if isinstance(e, CallEnded)]
    assert len(ends) == 1 and ends[0].by_remote is False
    ep.handle_timer(200.0)
    assert (ep.transaction_count, ep.call_count, ep.dialog_count) == (0, 0, 0)


def test_duplicate_invite_absorbed_one_incoming_call() -> None:
    for branch in (b"z9hG4bKdup", b"nocookie-2543"):
        ep = SipEndpoint()
        ep.receive_datagram(INVITE % branch, PEER, ME, 0.0)
        ep.receive_datagram(INVITE % branch, PEER, ME, 0.3)
        calls = [e for e in ep.events() if isinstance(e, IncomingCall)]
        assert len(calls) == 1
        # the retransmission re-sent the last response (100 Trying)
        assert firsts(ep) == [b"SIP/2.0 100 Trying"] * 2
        ep.respond_invite(calls[0].call, 180, now=0.4)
        ep.receive_datagram(INVITE % branch, PEER, ME, 0.5)
        assert firsts(ep) == [b"SIP/2.0 180 Ringing"] * 2
        ep.respond_invite(calls[0].call, 200, body=b"v=0\r\n", now=0.6)
        firsts(ep)
        # after the 2xx (RFC 6026 Accepted) the duplicate is still absorbed
        ep.receive_datagram(INVITE % branch, PEER, ME, 0.7)
        assert [e for e in ep.events() if isinstance(e, IncomingCall)] == []
        assert ep.call_count == 1


def test_same_invite_new_branch_is_merged_482() -> None:
    ep = SipEndpoint()
    ep.receive_datagram(INVITE % b"z9hG4bKone", PEER, ME, 0.0)
    ep.receive_datagram(INVITE % b"z9hG4bKtwo", PEER, ME, 0.1)
    assert len([e for e in ep.events() if isinstance(e, IncomingCall)]) == 1
    assert firsts(ep)[-1] == b"SIP/2.0 482 Loop Detected"


def _cancel(branch: bytes) -> bytes:
    return (b"CANCEL sip:1000@192.0.2.10 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=%s\r\n"
            b"From: \"Bob\" <sip:bob@192.0.2.20>;tag=ft1\r\nTo: <sip:1000@192.0.2.10>\r\n"
            b"Call-ID: call-1@192.0.2.20\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\n"
            b"Content-Length: 0\r\n\r\n" % branch)


def _ack_non2xx(branch: bytes, to_tag: bytes) -> bytes:
    return (b"ACK sip:1000@192.0.2.10 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=%s\r\n"
            b"From: \"Bob\" <sip:bob@192.0.2.20>;tag=ft1\r\nTo: <sip:1000@192.0.2.10>;tag=%s\r\n"
            b"Call-ID: call-1@192.0.2.20\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\n"
            b"Content-Length: 0\r\n\r\n" % (branch, to_tag))


def test_cancel_before_final() -> None:
    for branch in (b"z9hG4bKc1", b"oldstyle"):
        ep = SipEndpoint()
        ep.receive_datagram(INVITE % branch, PEER, ME, 0.0)
        (inc,) = [e for e in ep.events() if isinstance(e, IncomingCall)]
        firsts(ep)
        ep.receive_datagram(_cancel(branch), PEER, ME, 1.0)
        out = [parse_message(t.data) for t in ep.transmissions()]
        assert [(r.status, r.cseq[1]) for r in out] == [(200, "CANCEL"), (487, "INVITE")]
        assert ep.events() == [CallCancelled(inc.call), CallEnded(inc.call, "cancelled", True)]
        # 487 retransmitted (Timer G) until the ACK
        ep.handle_timer(1.5)
        assert firsts(ep) == [b"SIP/2.0 487 Request Terminated"]
        ep.receive_datagram(_ack_non2xx(branch, out[1].to_tag.encode()), PEER, ME, 1.6)
        assert ep.transmissions() == []
        ep.handle_timer(1.6 + 5.0)  # Timer I (T4), Timer J (64*T1) for the CANCEL
        ep.handle_timer(40.0)
        assert (ep.transaction_count, ep.call_count, ep.dialog_count) == (0, 0, 0)
        assert ep.next_timer() is None


def test_cancel_after_final_race_has_no_effect() -> None:
    ep = SipEndpoint()
    ep.receive_datagram(INVITE % b"z9hG4bKr", PEER, ME, 0.0)
    (inc,) = [e for e in ep.events() if isinstance(e, IncomingCall)]
    ep.respond_invite(inc.call, 200, body=b"v=0\r\n", now=0.1)
    firsts(ep)
    ep.receive_datagram(_cancel(b"z9hG4bKr"), PEER, ME, 0.2)
    assert firsts(ep) == [b"SIP/2.0 200 OK"]  # 200 to the CANCEL only
    assert ep.events() == []
    assert ep.call_count == 1


def test_cancel_unknown_gets_481() -> None:
    ep = SipEndpoint()
    ep.receive_datagram(_cancel(b"z9hG4bKnothing"), PEER, ME, 0.0)
    assert firsts(ep) == [b"SIP/2.0 481 Call/Transaction Does Not Exist"]


def test_client_acks_non_2xx_and_counters_drain_after_timer_d() -> None:
    ep = SipEndpoint(SipCoreConfig(local_host="192.0.2.10", local_port=5060))
    ep.invite("sip:x@192.0.2.20", PEER, "udp", sdp=b"v=0\r\n", now=0.0)
    inv = parse_message(ep.transmissions()[0].data)
    resp = (b"SIP/2.0 503 Service Unavailable\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=rt\r\n"
            b"Call-ID: %s\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
            % (inv.vias[0].encode(), inv.get("from").encode(), inv.get("to").encode(),
               inv.call_id.encode()))
    ep.receive_datagram(resp, PEER, ME, 0.1)
    (ack,) = [parse_message(t.data) for t in ep.transmissions()]
    assert ack.method == "ACK" and ack.vias == inv.vias and ack.to_tag == "rt"
    assert ack.cseq == (1, "ACK")
    ep.receive_datagram(resp, PEER, ME, 0.2)  # retransmitted final: ACK again
    assert [t.data for t in ep.transmissions()] == [ack.to_bytes()]
    assert ep.call_count == 0 and ep.transaction_count == 1
    ep.handle_timer(0.1 + 32.0)  # Timer D
    assert ep.transaction_count == 0 and ep.next_timer() is None


def test_server_non_invite_timer_j_and_retransmission() -> None:
    ep = SipEndpoint()
    opt = (b"OPTIONS sip:192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bKo\r\n"
           b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: o1\r\nCSeq: 5 OPTIONS\r\n"
           b"Content-Length: 0\r\n\r\n")
    ep.receive_datagram(opt, PEER, ME, 0.0)
    first = ep.transmissions()
    ep.receive_datagram(opt, PEER, ME, 0.5)
    assert [t.data for t in ep.transmissions()] == [first[0].data]  # same response re-sent
    assert ep.transaction_count == 1
    ep.handle_timer(31.9)
    assert ep.transaction_count == 1
    ep.handle_timer(32.0)  # Timer J
    assert ep.transaction_count == 0
