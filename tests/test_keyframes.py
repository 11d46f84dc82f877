"""Key-frame coalescing and asking, on fake timelines (seconds as plain floats)."""

from __future__ import annotations

import pytest

from mcu.keyframes import AskAction, AskReason, KeyFrameAsker, KeyFrameGate

PLI, FIR, INFO = "pli", "fir", "info"  # a SIP leg's methods; the asker reads no names
RTCP = (PLI, FIR)
LOSS, JOIN = AskReason.LOSS, AskReason.JOIN

# -- KeyFrameGate --------------------------------------------------------------


def test_first_request_is_immediate():
    gate = KeyFrameGate()
    assert gate.min_interval_s == 1.0
    assert gate.next_deadline() is None
    assert gate.request(100.0)
    assert not gate.pending and gate.next_deadline() is None


def test_burst_of_requests_gives_one_idr_now_and_one_later():
    """Three participants join within 300 ms: one IDR at once, one a second later
    for the two who asked after it (the last request is never lost)."""
    gate = KeyFrameGate(min_interval_s=1.0)
    assert gate.request(10.0)
    assert not gate.request(10.1)
    assert not gate.request(10.3)
    assert gate.pending and gate.next_deadline() == pytest.approx(11.0)
    assert not gate.due(10.99)
    assert gate.due(11.0)
    assert not gate.due(11.0)  # served once
    assert not gate.pending and gate.next_deadline() is None
    assert (gate.requests, gate.granted, gate.coalesced) == (3, 2, 1)


def test_request_after_the_interval_is_immediate():
    gate = KeyFrameGate(min_interval_s=1.0)
    assert gate.request(0.0)
    assert gate.request(1.0)
    assert gate.request(5.0)
    assert not gate.due(10.0)


def test_due_without_request_is_false():
    gate = KeyFrameGate()
    assert not gate.due(0.0)
    assert not gate.due(50.0)


def test_deferred_request_is_granted_by_a_late_request_too():
    gate = KeyFrameGate(min_interval_s=1.0)
    assert gate.request(0.0)
    assert not gate.request(0.5)
    assert gate.request(1.2)  # the caller missed the deadline; the next request serves it
    assert not gate.pending and not gate.due(1.3)


def test_periodic_idr_serves_waiting_request_and_restarts_interval():
    gate = KeyFrameGate(min_interval_s=1.0)
    assert gate.request(0.0)
    assert not gate.request(0.4)
    gate.produced(0.6)  # GOP boundary: the waiting requester gets this one
    assert not gate.pending and not gate.due(1.0) and not gate.due(1.6)
    assert not gate.request(1.2)  # within 1 s of the periodic IDR
    assert gate.next_deadline() == pytest.approx(1.6)
    assert gate.due(1.6)


def test_produced_before_any_request_rate_limits_the_first():
    gate = KeyFrameGate(min_interval_s=2.0)
    gate.produced(0.0)  # a new encoder starts with an IDR
    assert not gate.request(0.5)
    assert not gate.due(1.9)
    assert gate.due(2.0)


def test_steady_requests_give_one_idr_per_interval():
    """A lossy participant asking every 100 ms for 5 s costs five IDRs, not fifty."""
    gate = KeyFrameGate(min_interval_s=1.0)
    idrs = []
    for tick in range(0, 5001, 20):  # a 20 ms clock polls due(); requests every 100 ms
        now = tick / 1000
        if tick % 100 == 0 and gate.request(now):
            idrs.append(now)
        elif gate.due(now):
            idrs.append(now)
    assert idrs == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    gaps = [b - a for a, b in zip(idrs, idrs[1:], strict=False)]
    assert min(gaps) >= 1.0 - 1e-9


def test_zero_interval_grants_everything():
    gate = KeyFrameGate(min_interval_s=0.0)
    assert all(gate.request(1.0) for _ in range(3))


def test_negative_interval_is_refused():
    with pytest.raises(ValueError):
        KeyFrameGate(min_interval_s=-1)


# -- KeyFrameAsker -------------------------------------------------------------


def test_ask_on_join_is_a_pli_at_once():
    asker = KeyFrameAsker(RTCP)
    assert asker.methods == (PLI, FIR)
    assert asker.ask(0.0, JOIN) == AskAction(PLI, repeat=False, reason=JOIN)
    assert asker.waiting


def test_asks_inside_interval_are_coalesced_and_none_is_lost():
    asker = KeyFrameAsker(RTCP, min_interval_s=1.0)
    assert asker.ask(0.0, LOSS) is not None
    asker.received(0.2)
    assert not asker.waiting
    assert asker.ask(0.5, LOSS) is None  # rate-limited, but remembered
    assert asker.ask(0.7, AskReason.VISIBLE) is None
    assert asker.next_deadline() == pytest.approx(1.0)
    assert asker.due(0.99) is None
    assert asker.due(1.0) == AskAction(PLI, repeat=False, reason=LOSS)


def test_unanswered_ask_is_retried_each_interval_then_escalates_to_fir():
    asker = KeyFrameAsker(RTCP, min_interval_s=1.0, escalate_after=2)
    sent = [asker.ask(0.0, JOIN)]
    for now in (0.5, 1.0, 1.5, 2.0, 3.0):
        sent.append(asker.due(now))
    assert sent == [
        AskAction(PLI, False, JOIN),
        None,
        AskAction(PLI, True, JOIN),  # second PLI, same request
        None,
        AskAction(FIR, False, JOIN),  # two PLIs ignored: FIR, a new FIR number
        AskAction(FIR, True, JOIN),  # repeated: same FIR number
    ]
    assert asker.counters["escalations"] == 1


def test_method_that_worked_is_where_the_next_request_starts():
    asker = KeyFrameAsker(RTCP, min_interval_s=1.0, escalate_after=1)
    assert asker.ask(0.0, JOIN).method is PLI
    assert asker.due(1.0).method is FIR
    asker.received(1.1)
    assert asker.method is FIR
    assert asker.ask(5.0, LOSS) == AskAction(FIR, False, LOSS)
    assert asker.counters == {"asks": 3, "answered": 1, "escalations": 1}


def test_top_of_ladder_keeps_repeating():
    asker = KeyFrameAsker((PLI, FIR, INFO), min_interval_s=1.0, escalate_after=1)
    methods = [asker.ask(0.0, JOIN).method] + [asker.due(t).method for t in (1, 2, 3, 4)]
    assert methods == [PLI, FIR, INFO, INFO, INFO]


def test_info_only_peer():
    asker = KeyFrameAsker((INFO,))
    assert asker.ask(0.0, JOIN) == AskAction(INFO, False, JOIN)
    assert asker.due(1.0) == AskAction(INFO, True, JOIN)


def test_cancel_stops_asking():
    asker = KeyFrameAsker(RTCP)
    asker.ask(0.0, LOSS)
    asker.cancel()
    assert asker.due(5.0) is None and asker.next_deadline() is None
    assert asker.ask(6.0, AskReason.VISIBLE) == AskAction(PLI, False, AskReason.VISIBLE)


def test_refused_method_is_dropped():
    asker = KeyFrameAsker((FIR, INFO), escalate_after=1)
    assert asker.ask(0.0, JOIN).method is FIR
    assert asker.due(1.0) == AskAction(INFO, False, JOIN)
    asker.refused(INFO)  # 415 to our INFO
    assert asker.methods == (FIR,)
    assert asker.due(2.0) == AskAction(FIR, False, JOIN)
    asker.refused(FIR)  # the last method stays: asking somehow beats a frozen picture
    assert asker.methods == (FIR,)


def test_refusing_a_lower_method_keeps_the_current_one():
    asker = KeyFrameAsker((PLI, FIR, INFO), escalate_after=1)
    asker.ask(0.0, JOIN)
    asker.due(1.0)
    assert asker.method is FIR
    asker.refused(PLI)
    assert asker.method is FIR and asker.methods == (FIR, INFO)


def test_key_frame_without_asking_is_not_an_answer():
    asker = KeyFrameAsker(RTCP)
    asker.received(0.0)  # periodic key frame
    assert asker.counters["answered"] == 0
    assert asker.ask(0.1, LOSS) is not None


def test_next_deadline():
    asker = KeyFrameAsker(RTCP, min_interval_s=2.0)
    assert asker.next_deadline() is None
    asker.ask(10.0, JOIN)
    assert asker.next_deadline() == pytest.approx(12.0)
    asker.received(10.5)
    assert asker.next_deadline() is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"methods": ()},
        {"methods": RTCP, "min_interval_s": -0.1},
        {"methods": RTCP, "escalate_after": 0},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        KeyFrameAsker(**kwargs)


def test_method_names_are_the_legs_own() -> None:
    """An H.323 leg asks by H.245 videoFastUpdatePicture; the asker climbs its ladder
    without knowing what any rung means."""
    asker = KeyFrameAsker(("h245-vfu", "sip-info"), min_interval_s=1.0, escalate_after=1)
    assert asker.ask(0.0, JOIN).method == "h245-vfu"
    assert asker.due(1.0) == AskAction("sip-info", False, JOIN)
    asker.refused("sip-info")
    assert asker.methods == ("h245-vfu",)
