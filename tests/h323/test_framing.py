"""TPKT and the Q.931 frame of H.225.0: round trips, split input, and bad bytes."""

from __future__ import annotations

import pytest

from gateway.h323 import q931
from gateway.h323.q931 import IE, Message, MessageType
from gateway.h323.tpkt import TpktError, TpktReader, frame


def test_tpkt_round_trips_whatever_way_the_bytes_are_cut() -> None:
    stream = frame(b"one") + frame(b"two" * 100) + frame(b"3")
    for cut in (1, 2, 3, 5, 7, len(stream)):
        reader = TpktReader()
        got = []
        for start in range(0, len(stream), cut):
            got += reader.feed(stream[start:start + cut])
        assert got == [b"one", b"two" * 100, b"3"] and reader.pending == 0


@pytest.mark.parametrize("data", [b"\x04\x00\x00\x08abcd", b"\x03\x00\x00\x03",
                                  b"\x03\x00\x00\x04"])
def test_tpkt_refuses_what_is_not_tpkt_once(data: bytes) -> None:
    reader = TpktReader()
    with pytest.raises(TpktError):
        reader.feed(data)
    assert reader.failed and reader.feed(frame(b"later")) == []


def test_tpkt_counts_a_packet_cut_short() -> None:
    reader = TpktReader()
    assert reader.feed(frame(b"x" * 50)[:20]) == [] and reader.pending == 20


def test_q931_round_trip_keeps_the_elements_h225_uses() -> None:
    message = Message(MessageType.SETUP, 0x1234, False, {
        IE.BEARER_CAPABILITY: q931.BEARER_CAPABILITY,
        IE.DISPLAY: q931.display_ie("Room 1"),
        IE.CALLED_PARTY_NUMBER: q931.number_ie("4321*2468"),
        IE.USER_USER: q931.user_user_ie(b"\x01" * 300),  # longer than one-byte lengths
    })
    back = q931.decode(q931.encode(message))
    assert (back.type, back.call_reference, back.from_destination) == (5, 0x1234, False)
    assert back.called_number == "4321*2468" and back.display == "Room 1"
    assert back.user_user == b"\x01" * 300


def test_q931_cause_and_flag() -> None:
    release = Message(MessageType.RELEASE_COMPLETE, 7, True, {IE.CAUSE: q931.cause_ie(17)})
    back = q931.decode(q931.encode(release))
    assert back.cause == 17 and back.from_destination


@pytest.mark.parametrize("data", [
    b"", b"\x08\x02\x00", b"\x09\x02\x00\x01\x05",  # short, short, not Q.931
    b"\x08\x01\x01\x05",  # a one-byte call reference (not H.225.0's)
    b"\x08\x02\x00\x01\x05\x70\x09\x81",  # an element running past the end
    b"\x08\x02\x00\x01\x05\x7e\x00",  # a truncated User-user length
])
def test_q931_bad_bytes_raise_only_q931_error(data: bytes) -> None:
    with pytest.raises(q931.Q931Error):
        q931.decode(data)
