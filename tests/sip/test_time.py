"""The SIP core takes time only as ``now``: no clock attribute, callbacks stamped with
the time of the response or timer that ran them, and actions without ``now`` use the
last time the core was given."""

from __future__ import annotations

import pytest

from gateway.sip.endpoint import CallEnded, SipEndpoint

from .conftest import UAS_ADDR, Pair, of
from .test_calls import OFFER, answer

OPTIONS = (b"OPTIONS sip:192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.20:5062;"
           b"branch=z9hG4bKt1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>"
           b"\r\nCall-ID: t1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def test_core_has_no_clock() -> None:
    ep = SipEndpoint()
    assert not hasattr(ep, "clock")
    with pytest.raises(TypeError):
        SipEndpoint(None, lambda: 0.0)  # type: ignore[call-arg]  # the old clock slot


def test_action_without_now_uses_last_time_given() -> None:
    ep = SipEndpoint()
    ep.receive_datagram(OPTIONS, ("192.0.2.20", 5062), UAS_ADDR, 100.0)
    ep.transmissions()
    assert ep.now == 100.0
    ep.invite("sip:1000@192.0.2.10", UAS_ADDR, sdp=OFFER)  # no now: the last time given
    assert ep.next_timer() == pytest.approx(100.0 + ep.config.t1)  # Timer A
    ep.handle_timer(250.0)
    assert ep.now == 250.0
    ep.handle_timer(200.0)  # time never runs backwards in the core
    assert ep.now == 250.0


def test_info_timeout_bye_is_stamped_with_the_timeout_time(pair: Pair) -> None:
    uac_call, _ = answer(pair)
    pair.advance(10.0)
    pair.drop = lambda d, data: d == "uac->uas"  # the INFO and then the BYE go unanswered
    pair.uac.send_info(uac_call, "application/media_control+xml", b"<fu/>", now=pair.now)
    timeout_at = 10.0 + 64 * pair.uac.config.t1
    pair.advance(timeout_at)
    assert of(pair.uac_events, CallEnded) == [CallEnded(uac_call, "timeout", False)]
    # one BYE, whose transaction starts now: retransmitted from here, not from the INFO's
    # send time (stamped with that, all its timers would already be due and it would die)
    assert len(pair.sent("uac->uas", b"BYE ")) == 1
    assert pair.uac.transaction_count == 1
    assert pair.uac.next_timer() == pytest.approx(timeout_at + pair.uac.config.t1)
    pair.advance(timeout_at + 20.0)
    assert len(pair.sent("uac->uas", b"BYE ")) > 3  # retransmitted over the next 20 s
    assert pair.uac.transaction_count == 1
    pair.drop = None
    pair.assert_clean()


def test_reinvite_timeout_bye_is_stamped_with_the_timeout_time(pair: Pair) -> None:
    uac_call, _ = answer(pair)
    pair.advance(5.0)
    pair.drop = lambda d, data: d == "uac->uas"
    pair.uac.reinvite(uac_call, OFFER, now=pair.now)
    timeout_at = 5.0 + 64 * pair.uac.config.t1
    pair.advance(timeout_at)
    assert len(pair.sent("uac->uas", b"BYE ")) == 1
    assert pair.uac.next_timer() == pytest.approx(timeout_at + pair.uac.config.t1)
    pair.drop = None
    pair.assert_clean()
