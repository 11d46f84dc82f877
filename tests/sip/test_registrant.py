"""The registrant against the core's own registrar on a fake clock: registered with
the granted expiry, refreshed at half of it with the same Call-ID and a rising CSeq,
retried with backoff (never a hot loop) when the registrar stops answering or refuses,
and removed with Expires: 0."""

from __future__ import annotations

from gateway.sip.endpoint import RegistrationChanged
from gateway.sip.message import parse_message

from .conftest import UAC_ADDR, UAS_ADDR, Pair, of

AOR = "sip:7000@example.test"


def states(pair: Pair) -> list[tuple[str, str]]:
    return [(e.state, e.reason) for e in of(pair.uac_events, RegistrationChanged)]


def test_registered_refreshed_and_removed() -> None:
    pair = Pair()
    handle = pair.uac.register("sip:example.test", UAS_ADDR, AOR, expires=120,
                               local=UAC_ADDR, now=pair.now)
    pair.deliver()
    assert states(pair) == [("registered", "")]
    assert pair.uac.registrant_bindings() == [{"aor": AOR, "registrar": "sip:example.test",
                                         "state": "registered", "reason": "",
                                         "expires": 120}]
    pair.advance(61)  # refreshed at 60 s
    registers = [parse_message(d) for d in pair.sent("uac->uas", b"REGISTER ")]
    assert len(registers) == 2
    assert registers[0].call_id == registers[1].call_id
    assert [r.cseq[0] for r in registers] == [1, 2]
    assert pair.uas.registrations  # the registrar holds the binding
    pair.uac.unregister(handle, now=pair.now)
    pair.deliver()
    last = parse_message(pair.sent("uac->uas", b"REGISTER ")[-1])
    assert last.get("expires") == "0" and states(pair)[-1] == ("unregistered", "")
    assert pair.uac.registrant_bindings() == []


def test_no_answer_is_failed_and_retried_with_backoff() -> None:
    pair = Pair()
    pair.drop = lambda direction, data: direction == "uac->uas"
    pair.uac.register("sip:example.test", UAS_ADDR, AOR, local=UAC_ADDR, now=pair.now)
    pair.advance(200)
    failed = [s for s in states(pair) if s[0] == "failed"]
    assert failed and failed[0][1] == "no answer from the registrar"
    # 32 s per transaction timeout plus 2, 4, 8 ... s of backoff: a handful, not a flood
    attempts = len({parse_message(d).cseq[0] for d in pair.sent("uac->uas", b"REGISTER ")})
    assert 3 <= attempts <= 6
    pair.drop = None
    pair.advance(pair.now + 400)
    assert states(pair)[-1] == ("registered", "")
