"""RFC 4028 session timers, RFC 3311 UPDATE and RFC 3262 PRACK in the SIP core, two
endpoints on a fake clock: the refresher keeps the call, a refresh that never comes
ends it with BYE, a peer without UPDATE is refreshed by re-INVITE with the same SDP,
an interval below Min-SE is 422, and a reliable provisional is PRACKed once."""

from __future__ import annotations

from gateway.sip.endpoint import (
    CallConfirmed,
    CallEnded,
    IncomingCall,
    SipCoreConfig,
    SipEndpoint,
)

from .conftest import UAC_ADDR, UAS_ADDR, Pair, of

OFFER = b"v=0\r\no=a 1 1 IN IP4 192.0.2.20\r\n"
ANSWER = b"v=0\r\no=b 1 1 IN IP4 192.0.2.10\r\n"


def timed_pair(interval: int = 90, uas_min_se: int = 90) -> Pair:
    pair = Pair()
    pair.uac = SipEndpoint(SipCoreConfig(local_host=UAC_ADDR[0], local_port=UAC_ADDR[1],
                                         session_expires=interval, min_se=90))
    pair.uas = SipEndpoint(SipCoreConfig(local_host=UAS_ADDR[0], local_port=UAS_ADDR[1],
                                         session_expires=interval, min_se=uas_min_se))
    return pair


def connect(pair: Pair) -> tuple[str, str]:
    uac_call = pair.invite(OFFER)
    [incoming] = of(pair.uas_events, IncomingCall)
    pair.uas.respond_invite(incoming.call, 200, body=ANSWER, now=pair.now)
    pair.deliver()
    assert of(pair.uas_events, CallConfirmed)
    return uac_call, incoming.call


def test_the_caller_refreshes_by_update_and_the_call_stays() -> None:
    pair = timed_pair()
    connect(pair)
    [ok] = pair.sent("uas->uac", b"SIP/2.0 200")
    assert b"Session-Expires: 90;refresher=uac" in ok and b"Require: timer" in ok
    pair.advance(400)
    updates = pair.sent("uac->uas", b"UPDATE ")
    assert len(updates) >= 8 and all(b"Session-Expires: 90;refresher=uac" in u
                                     for u in updates)
    assert not of(pair.uas_events, CallEnded) and not of(pair.uac_events, CallEnded)


def test_a_refresh_that_never_comes_ends_the_call_with_bye() -> None:
    pair = timed_pair()
    connect(pair)
    pair.drop = lambda direction, data: data.startswith(b"UPDATE ")
    pair.advance(200)
    [ended] = of(pair.uas_events, CallEnded)
    assert ended.reason == "session timer expired" and not ended.by_remote
    assert pair.sent("uas->uac", b"BYE ")
    # 90 - min(32, 30) = 60 s after the call began
    assert of(pair.uac_events, CallEnded)


def test_a_peer_without_update_is_refreshed_by_reinvite_with_the_same_sdp() -> None:
    pair = timed_pair()
    connect(pair)
    # The UAS forgets that the caller allows UPDATE and refreshes itself (refresher uas).
    [uas_call] = [c for c in pair.uas._calls.values()]
    from gateway.sip.session_timer import SessionTimer

    uas_call.session = SessionTimer(90, "uas", True)
    uas_call.peer_methods = frozenset({"INVITE", "ACK", "BYE"})
    pair.uas._arm_session(uas_call, pair.now)
    pair.uac.handle_timer(pair.now)
    pair.advance(pair.now + 50)
    [refresh] = pair.sent("uas->uac", b"INVITE ")
    assert refresh.endswith(ANSWER) and b"Session-Expires: 90;refresher=uas" in refresh


def test_an_interval_below_min_se_is_422_and_the_caller_asks_again_with_it() -> None:
    """RFC 4028 7.4: our INVITE refused with 422 goes again, once, with the callee's
    Min-SE as its interval; the callee takes it."""
    pair = timed_pair(interval=90, uas_min_se=120)
    pair.invite(OFFER)
    [refused] = pair.sent("uas->uac", b"SIP/2.0 422")
    assert b"Min-SE: 120" in refused
    first, again = pair.sent("uac->uas", b"INVITE ")
    assert b"Session-Expires: 90" in first
    assert b"Session-Expires: 120\r\n" in again and b"Min-SE: 120" in again
    assert b"CSeq: " in again and _cseq(again) == _cseq(first) + 1
    [incoming] = of(pair.uas_events, IncomingCall)
    pair.uas.respond_invite(incoming.call, 200, body=ANSWER, now=pair.now)
    pair.deliver()
    assert of(pair.uas_events, CallConfirmed)


def test_a_callee_that_refuses_again_ends_the_call_without_a_loop() -> None:
    pair = timed_pair(interval=90, uas_min_se=120)

    def raise_min_se(direction: str, data: bytes) -> bool:
        if direction == "uac->uas" and b"Session-Expires: 120" in data:
            pair.uas.config.min_se = 600  # a callee never satisfied
        return False
    pair.drop = raise_min_se
    pair.invite(OFFER)
    assert len(pair.sent("uac->uas", b"INVITE ")) == 2
    assert len(pair.sent("uas->uac", b"SIP/2.0 422")) == 2
    [ended] = of(pair.uac_events, CallEnded)
    assert "422" in ended.reason and not of(pair.uas_events, IncomingCall)


def _cseq(request: bytes) -> int:
    line = next(ln for ln in request.split(b"\r\n") if ln.startswith(b"CSeq: "))
    return int(line.split()[1])


def test_a_reliable_provisional_is_pracked_once() -> None:
    pair = timed_pair()
    pair.invite(OFFER)
    [incoming] = of(pair.uas_events, IncomingCall)
    for _ in range(2):  # the same reliable 180 twice: one PRACK
        pair.uas.respond_invite(incoming.call, 180, headers=[("Require", "100rel"),
                                                              ("RSeq", "7")], now=pair.now)
        pair.deliver()
    [prack] = pair.sent("uac->uas", b"PRACK ")
    assert b"RAck: 7 1 INVITE" in prack
    # We never send reliable provisionals ourselves: a PRACK reaching us matches none.
    assert pair.sent("uas->uac", b"SIP/2.0 481")
