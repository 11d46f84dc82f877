from __future__ import annotations

import struct

from gateway.leg import Dtmf
from gateway.rtp.dtmf import DtmfDecoder


def event(code: int, duration: int, end: bool = False, volume: int = 10) -> bytes:
    return struct.pack("!BBH", code, (0x80 if end else 0) | volume, duration)


def press(code: int, ts: int, t0: float, ticks: int = 1600) -> list[tuple[bytes, int, float]]:
    """What a phone sends for one key press: the start three times, updates every
    50 ms, then the end packet three times (RFC 4733 section 2.5.1.4)."""
    packets = [(event(code, 400), ts, t0)] * 3
    for i, duration in enumerate(range(800, ticks, 400), start=1):
        packets.append((event(code, duration), ts, t0 + 0.05 * i))
    end_time = t0 + ticks / 8000
    packets += [(event(code, ticks, end=True), ts, end_time + 0.02 * i) for i in range(3)]
    return packets


def feed_all(decoder: DtmfDecoder, packets: list[tuple[bytes, int, float]]) -> list[Dtmf]:
    out: list[Dtmf] = []
    for payload, ts, now in packets:
        out += decoder.feed(payload, ts, now)
    return out


def test_one_press_one_digit_despite_redundancy() -> None:
    decoder = DtmfDecoder(8000)
    digits = feed_all(decoder, press(5, 1000, 0.0))
    assert digits == [Dtmf("5", 200, "rfc4733")]
    assert decoder.poll(10.0) == []


def test_two_same_digits_in_a_row() -> None:
    decoder = DtmfDecoder(8000)
    packets = press(1, 1000, 0.0) + press(1, 1000 + 3200, 0.4)
    assert [d.digit for d in feed_all(decoder, packets)] == ["1", "1"]


def test_star_hash_and_letters() -> None:
    decoder = DtmfDecoder(8000)
    packets = press(10, 0, 0.0) + press(11, 4000, 1.0) + press(15, 8000, 2.0)
    assert [d.digit for d in feed_all(decoder, packets)] == ["*", "#", "D"]


def test_lost_end_finished_by_timeout() -> None:
    decoder = DtmfDecoder(8000, timeout=0.5)
    packets = [p for p in press(7, 500, 0.0) if not p[0][1] & 0x80]
    assert feed_all(decoder, packets) == []
    assert decoder.poll(0.3) == []
    assert decoder.poll(1.0) == [Dtmf("7", 150, "rfc4733")]
    assert decoder.poll(2.0) == []
    # The end packets arriving after the timeout do not repeat the digit.
    assert decoder.feed(event(7, 1600, end=True), 500, 2.1) == []


def test_lost_end_finished_by_next_event() -> None:
    decoder = DtmfDecoder(8000)
    first = [p for p in press(2, 100, 0.0) if not p[0][1] & 0x80]
    digits = feed_all(decoder, first + press(3, 100 + 2400, 0.3))
    assert [d.digit for d in digits] == ["2", "3"]


def test_straggler_of_an_older_event_ignored() -> None:
    decoder = DtmfDecoder(8000)
    feed_all(decoder, press(4, 1000, 0.0) + press(6, 5000, 0.5))
    assert decoder.feed(event(4, 400), 1000, 1.0) == []


def test_timestamp_wrap() -> None:
    decoder = DtmfDecoder(8000)
    packets = press(8, 0xFFFFFF00, 0.0) + press(9, 0x00000100, 0.5)
    assert [d.digit for d in feed_all(decoder, packets)] == ["8", "9"]


def test_wideband_clock_rate_duration() -> None:
    decoder = DtmfDecoder(48000)
    digits = feed_all(decoder, [(event(0, 9600, end=True), 7, 0.0)])
    assert digits == [Dtmf("0", 200, "rfc4733")]


def test_non_digit_events_and_short_payloads_ignored() -> None:
    decoder = DtmfDecoder(8000)
    assert decoder.feed(event(16, 800, end=True), 1, 0.0) == []  # flash
    assert decoder.feed(b"\x01", 2, 0.0) == []
    assert decoder.malformed == 1
