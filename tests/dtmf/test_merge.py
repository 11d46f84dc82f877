"""DtmfMerger: one press seen by two or three sources is one digit; real repeats are not."""

from __future__ import annotations

import pytest

from gateway.dtmf.merge import DtmfMerger
from gateway.leg import Dtmf


def ev(digit: str, source: str) -> Dtmf:
    return Dtmf(digit, 100, source)


def run(merger: DtmfMerger, events: list[tuple[float, str, str]]) -> str:
    out = ""
    for now, digit, source in events:
        accepted = merger.accept(ev(digit, source), now)
        if accepted is not None:
            assert accepted == ev(digit, source)
            out += accepted.digit
    return out


@pytest.mark.parametrize(
    ("first", "second"), [("rfc4733", "inband"), ("inband", "rfc4733"), ("info", "rfc4733")]
)
def test_overlap_gives_one_digit_either_order(first: str, second: str) -> None:
    m = DtmfMerger()
    assert m.accept(ev("5", first), 10.0) == ev("5", first)
    assert m.accept(ev("5", second), 10.2) is None
    assert m.duplicates == 1


def test_three_sources_one_press() -> None:
    m = DtmfMerger()
    assert run(m, [(1.0, "7", "rfc4733"), (1.1, "7", "info"), (1.3, "7", "inband")]) == "7"


def test_two_real_presses_from_one_source_both_pass() -> None:
    m = DtmfMerger()
    assert run(m, [(1.0, "5", "rfc4733"), (1.15, "5", "rfc4733")]) == "55"


def test_same_digit_from_another_source_after_the_window_passes() -> None:
    m = DtmfMerger()
    assert run(m, [(1.0, "5", "rfc4733"), (2.0, "5", "inband")]) == "55"


def test_window_edge() -> None:
    m = DtmfMerger(window_s=0.5)
    assert run(m, [(1.0, "5", "rfc4733"), (1.5, "5", "inband")]) == "5"
    m = DtmfMerger(window_s=0.5)
    assert run(m, [(1.0, "5", "rfc4733"), (1.51, "5", "inband")]) == "55"


def test_different_digits_from_different_sources_pass() -> None:
    m = DtmfMerger()
    assert run(m, [(1.0, "5", "rfc4733"), (1.1, "6", "inband")]) == "56"


def test_doubled_stream_with_repeats_and_lag() -> None:
    # "5 6 5 5" typed fast, sent as RFC 4733 and heard in-band ~150 ms later.
    typed = [(0.0, "5"), (0.2, "6"), (0.4, "5"), (0.6, "5")]
    events = [(t, d, "rfc4733") for t, d in typed] + [(t + 0.15, d, "inband") for t, d in typed]
    events.sort()
    assert run(DtmfMerger(), events) == "5655"


def test_second_source_missed_a_press() -> None:
    # In-band heard only the second of two presses of 5: still one 5 per press.
    events = [(0.0, "5", "rfc4733"), (0.2, "5", "rfc4733"), (0.35, "5", "inband")]
    assert run(DtmfMerger(), events) == "55"


def test_copy_pairs_in_order_only() -> None:
    # In-band's 6 paired with the second press, so its later 5 cannot be the first's copy.
    events = [(0.0, "5", "rfc4733"), (0.1, "6", "rfc4733"), (0.2, "6", "inband")]
    events += [(0.3, "5", "inband")]
    assert run(DtmfMerger(), events) == "565"


def test_a_copy_does_not_extend_the_window() -> None:
    m = DtmfMerger(window_s=0.5)
    events = [(0.0, "1", "rfc4733"), (0.4, "1", "inband"), (0.8, "1", "info")]
    assert run(m, events) == "11"


@pytest.mark.parametrize("digit", ["", "E", "a", "55", " ", "5 "])
def test_invalid_digits_dropped(digit: str) -> None:
    m = DtmfMerger()
    assert m.accept(Dtmf(digit, 100, "info"), 0.0) is None
    assert m.invalid == 1
    assert m.accept(ev("5", "info"), 0.1) == ev("5", "info")


def test_all_keys_pass() -> None:
    m = DtmfMerger()
    keys = "0123456789*#ABCD"
    assert run(m, [(i * 0.1, k, "rfc4733") for i, k in enumerate(keys)]) == keys


def test_memory_bounded() -> None:
    m = DtmfMerger()
    for i in range(10_000):
        m.accept(ev("0123456789"[i % 10], "rfc4733"), i * 0.001)
    assert len(m._recent) <= 32


def test_reset_forgets() -> None:
    m = DtmfMerger()
    assert run(m, [(0.0, "5", "rfc4733")]) == "5"
    m.reset()
    assert run(m, [(0.1, "5", "inband")]) == "5"


def test_negative_window_rejected() -> None:
    with pytest.raises(ValueError):
        DtmfMerger(window_s=-1)
