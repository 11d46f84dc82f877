"""Per-source admission (issue 19): the guard's rules on fake time, and the SIP core
asking it before a new INVITE gets any answer (a drop: nothing, not even 100 Trying)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.sip.admission import (
    FORGET_AFTER_S,
    INVITE_FLOOD,
    INVITE_RATE,
    LIVE_CALLS,
    PENDING_CALLS,
    SEAT_SHARE,
    SWEEP_EVERY,
    AdmissionGuard,
    Admit,
    Drop,
    Refuse503,
)
from gateway.sip.endpoint import CallConfirmed, IncomingCall, SipCoreConfig, SipEndpoint
from gateway.sip.message import parse_message
from gateway.sip.settings import SipLimits, SipSettings

from .conftest import UAC_ADDR, UAS_ADDR, Pair, of

A, B = "192.0.2.20", "198.51.100.7"


def guard(total_seats: int = 200, **limits: object) -> AdmissionGuard:
    return AdmissionGuard(SipLimits(**limits), total_seats)  # type: ignore[arg-type]


def admit_calls(g: AdmissionGuard, address: str, count: int, now: float, first: int = 0) -> None:
    for i in range(count):
        assert isinstance(g.check(address, now), Admit)
        g.pending(address, f"{address}-{first + i}")


def test_invite_rate_is_a_token_bucket_with_burst_twice_the_rate() -> None:
    g = guard(invites_per_second=5, drop_above_per_second=1000)
    verdicts = [g.check(A, 0.0) for _ in range(11)]
    assert all(isinstance(v, Admit) for v in verdicts[:10])
    refused = verdicts[10]
    assert isinstance(refused, Refuse503) and refused.what == INVITE_RATE
    assert refused.first and refused.retry_after == 10
    again = g.check(A, 0.0)
    assert isinstance(again, Refuse503) and not again.first  # said once per episode
    assert isinstance(g.check(B, 0.0), Admit)  # another address is not held back
    assert isinstance(g.check(A, 0.2), Admit)  # one token back after 1/5 s
    assert g.counts["blocked_invite_rate"] == 2


def test_past_the_drop_rate_invites_are_dropped() -> None:
    g = guard(invites_per_second=1, drop_above_per_second=10)
    verdicts = [g.check(A, 0.0) for _ in range(25)]
    assert sum(isinstance(v, Admit) for v in verdicts) == 2
    assert sum(isinstance(v, Refuse503) for v in verdicts) == 18
    drops = [v for v in verdicts if isinstance(v, Drop)]
    assert len(drops) == 5 and drops[0].what == INVITE_FLOOD and drops[0].first
    assert not any(d.first for d in drops[1:])
    assert g.counts["dropped_invite_flood"] == 5 and g.counts["blocked_invite_rate"] == 18


def test_a_call_that_is_acknowledged_gives_its_tokens_back() -> None:
    """The rates bound INVITEs that never become calls: a load that completes every
    handshake (an SBC, benchmarks/sip_cps.py) is never held back by them."""
    g = guard(invites_per_second=5, drop_above_per_second=5, live_calls=10_000,
              total_seats=100_000, seat_share=1.0)
    for n in range(1000):  # 1000 calls in one instant, each ACKed and ended at once
        assert isinstance(g.check(A, 0.0), Admit), n
        g.pending(A, f"call-{n}")
        g.confirmed(f"call-{n}")
        g.ended(f"call-{n}")
    flood = [g.check(B, 0.0) for _ in range(30)]  # never acknowledged
    assert sum(isinstance(v, Admit) for v in flood) == 10
    assert any(isinstance(v, Drop) for v in flood)


def test_pending_calls_hold_until_ack_or_end_and_live_calls_are_limited() -> None:
    g = guard(pending_calls=3, live_calls=4, invites_per_second=1000, retry_after_s=1)
    admit_calls(g, A, 3, 0.0)
    refused = g.check(A, 0.0)
    assert isinstance(refused, Refuse503) and refused.what == PENDING_CALLS
    g.confirmed(f"{A}-0")
    g.ended(f"{A}-1")
    assert g.held(A) == (1, 1)
    served = g.check(A, 1.0)
    assert isinstance(served, Admit) and [e.what for e in served.served_again] == [PENDING_CALLS]
    g.pending(A, "x")
    for call in (f"{A}-2", "x"):
        g.confirmed(call)
    admit_calls(g, A, 1, 1.0, first=10)
    g.confirmed(f"{A}-10")
    assert g.held(A) == (0, 4)
    refused = g.check(A, 1.0)
    assert isinstance(refused, Refuse503) and refused.what == LIVE_CALLS
    assert g.counts["blocked_pending_calls"] == 1 and g.counts["blocked_live_calls"] == 1
    g.ended("unknown-call")  # not ours (a dial-out): ignored
    g.confirmed("unknown-call")


def test_seat_share_counts_pending_and_live_calls() -> None:
    g = guard(total_seats=10, seat_share=0.3, invites_per_second=1000)
    admit_calls(g, A, 3, 0.0)
    g.confirmed(f"{A}-0")
    refused = g.check(A, 0.0)
    assert isinstance(refused, Refuse503) and refused.what == SEAT_SHARE
    assert "3" in refused.detail
    assert isinstance(g.check(B, 0.0), Admit)
    assert g.counts["blocked_seat_share"] == 1


def test_trusted_networks_are_exempt_unless_a_trusted_rate_is_set() -> None:
    g = guard(pending_calls=1, invites_per_second=1, drop_above_per_second=2,
              trusted_networks=["10.0.0.0/8", "2001:db8::/32", "192.0.2.20"])
    for address in ("10.1.2.3", "2001:db8::5", A, "::ffff:10.9.9.9"):
        assert g.is_trusted(address)
        admit_calls(g, address, 50, 0.0)
    assert not g.is_trusted(B) and not g.is_trusted("2001:db9::1")
    limited = guard(invites_per_second=1, trusted_invites_per_second=2,
                    trusted_networks=["10.0.0.0/8"])
    verdicts = [limited.check("10.0.0.1", 0.0) for _ in range(6)]
    assert [type(v) for v in verdicts] == [Admit] * 4 + [Refuse503] * 2  # never dropped
    assert all(v.what == INVITE_RATE for v in verdicts[4:] if isinstance(v, Refuse503))


def test_every_limit_of_an_episode_is_said_once_and_ended_together() -> None:
    g = guard(invites_per_second=1, drop_above_per_second=2, pending_calls=1, retry_after_s=2)
    firsts = [v.what for v in (g.check(A, 0.0) for _ in range(10))
              if isinstance(v, Refuse503 | Drop) and v.first]
    assert firsts == [INVITE_RATE, INVITE_FLOOD]
    served = g.check(A, 5.0)
    assert isinstance(served, Admit)
    assert {e.what for e in served.served_again} == {INVITE_RATE, INVITE_FLOOD}
    assert isinstance(g.check(A, 10.0), Admit) and g.check(A, 20.0) == Admit()


def test_an_address_hovering_at_a_limit_is_one_episode() -> None:
    """Admitted now and then between refusals, it is not "served again" until it has
    gone retry_after_s without a refusal: one notice, one audit row, not one each."""
    g = guard(invites_per_second=1, drop_above_per_second=1000, retry_after_s=10)
    assert [isinstance(g.check(A, 0.0), Admit) for _ in range(3)] == [True, True, False]
    for t in range(1, 9):  # one token a second: admitted, refused, admitted, ...
        assert g.check(A, float(t)) == Admit()  # admitted, episode still open
        refused = g.check(A, float(t))
        assert isinstance(refused, Refuse503) and not refused.first
    served = g.check(A, 19.0)
    assert [e.what for e in served.served_again] == [INVITE_RATE]  # type: ignore[union-attr]


def test_memory_is_bounded_idle_sources_are_forgotten() -> None:
    g = guard(invites_per_second=1)
    for i in range(SWEEP_EVERY - 1):
        g.check(f"203.0.113.{i % 250}-{i}", 0.0)
    admit_calls(g, A, 1, 0.0)
    for _ in range(3):
        g.check(B, 0.0)  # blocked: remembered until served again, or long silent
    assert g.sources > SWEEP_EVERY - 2
    for _ in range(SWEEP_EVERY):
        g.check(B, 10.0 + FORGET_AFTER_S / 2)
    assert g.sources == 2  # A holds a call, B is in an episode
    for _ in range(SWEEP_EVERY):
        g.check("203.0.113.1", 20.0 + FORGET_AFTER_S * 2)
    assert g.sources == 2  # B forgotten after its silence; A still holds its call


@pytest.mark.parametrize("bad", ["10.0.0.300", "example.com", "10.0.0.0/33", "fe80::/129"])
def test_a_bad_trusted_network_stops_start_up_naming_the_setting(bad: str) -> None:
    with pytest.raises(ValidationError, match=r"sip\.limits\.trusted_networks"):
        SipSettings(limits={"trusted_networks": ["127.0.0.1/32", bad]})  # type: ignore[arg-type]
    assert SipSettings(limits={"trusted_networks": [" ::1 ", "10.0.0.1/8"]}  # type: ignore[arg-type]
                       ).limits.trusted_networks == ["::1", "10.0.0.1/8"]


# --------------------------------------------------------------------- in the SIP core


def screened_pair(g: AdmissionGuard) -> Pair:
    p = Pair()
    p.uas = SipEndpoint(SipCoreConfig(local_host=UAS_ADDR[0], local_port=UAS_ADDR[1]),
                        screen_invite=g.check)
    return p


def invite_bytes(p: Pair, n: int) -> bytes:
    return (f"INVITE sip:{1000 + n}@{UAS_ADDR[0]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {UAC_ADDR[0]}:{UAC_ADDR[1]};branch=z9hG4bKflood{n}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:x@{UAC_ADDR[0]}>;tag=f{n}\r\nTo: <sip:{1000 + n}@{UAS_ADDR[0]}>\r\n"
            f"Call-ID: flood-{n}\r\nCSeq: 1 INVITE\r\n"
            "Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n").encode()


def test_core_answers_a_refusal_statelessly_and_a_drop_not_at_all() -> None:
    g = guard(invites_per_second=1, drop_above_per_second=2)
    p = screened_pair(g)
    answers = []
    for n in range(6):
        p.uas.receive_datagram(invite_bytes(p, n), UAC_ADDR, UAS_ADDR, 0.0)
        answers.append([parse_message(t.data) for t in p.uas.transmissions()])
    statuses = [[a.status for a in batch] for batch in answers]  # type: ignore[union-attr]
    assert statuses == [[100], [100], [503], [503], [], []]
    refusal = answers[2][0]
    assert refusal.get("retry-after") == "10" and "invite-rate" in refusal.reason  # type: ignore[union-attr]
    assert len(of(p.uas.events(), IncomingCall)) == 2  # only the admitted ones
    assert p.uas.transaction_count == 2  # the refused and dropped left nothing behind


def test_in_dialog_requests_are_never_screened() -> None:
    g = guard(invites_per_second=1, drop_above_per_second=1)
    p = screened_pair(g)
    call = p.invite()
    incoming = of(p.uas_events, IncomingCall)[0]
    p.uas.respond_invite(incoming.call, 200, body=b"v=0 answer\r\n", now=p.now)
    p.deliver()
    assert of(p.uas_events, CallConfirmed)
    for _ in range(3):  # past both rates: re-INVITEs and BYE still go through
        p.uac.reinvite(call, b"v=0 again\r\n", now=p.now)
        p.deliver()
        p.uas.respond_invite(incoming.call, 200, body=b"v=0 answer\r\n", now=p.now)
        p.deliver()
    p.uac.hangup(call, "done", now=p.now)
    p.deliver()
    assert not p.sent("uas->uac", b"SIP/2.0 503")
    assert p.uas.call_count == 0
    p.assert_clean()


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from mcu.settings import Settings

    monkeypatch.setenv("MCU_SIP__LIMITS__PENDING_CALLS", "7")
    monkeypatch.setenv("MCU_SIP__LIMITS__TRUSTED_NETWORKS", '["10.0.0.0/8", "2001:db8::/32"]')
    limits = Settings().sip.limits
    assert limits.pending_calls == 7 and limits.trusted_networks == ["10.0.0.0/8",
                                                                      "2001:db8::/32"]
    monkeypatch.setenv("MCU_SIP__LIMITS__TRUSTED_NETWORKS", '["10.0.0.0/8", "nope"]')
    with pytest.raises(ValidationError, match=r"sip\.limits\.trusted_networks.*'nope'"):
        Settings()
