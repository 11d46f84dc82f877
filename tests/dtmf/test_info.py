"""SIP INFO DTMF bodies: both content types, their variants, and what counts as broken."""

from __future__ import annotations

import pytest

from gateway.dtmf.info import DTMF_INFO_TYPES, InfoDtmfError, parse_info_dtmf
from gateway.leg import Dtmf

RELAY = "application/dtmf-relay"
PLAIN = "application/dtmf"


def test_types() -> None:
    assert DTMF_INFO_TYPES == frozenset({RELAY, PLAIN})


def test_cisco_relay_crlf() -> None:
    assert parse_info_dtmf(RELAY, b"Signal=5\r\nDuration=160\r\n") == Dtmf("5", 160, "info")


@pytest.mark.parametrize(
    "body",
    [
        b"Signal=5\nDuration=160\n",
        b"signal = 5\r\nDURATION= 160",
        b"  Signal =5  \n\n  duration=  160 \n",
        b"Duration=160\r\nSignal=5\r\n",
        b"Signal=5\r\nDuration=160\r\nVolume=10\r\n",  # unknown keys are ignored
    ],
)
def test_relay_variants(body: bytes) -> None:
    assert parse_info_dtmf(RELAY, body) == Dtmf("5", 160, "info")


@pytest.mark.parametrize(
    ("signal", "digit"),
    [("0", "0"), ("9", "9"), ("*", "*"), ("#", "#"), ("A", "A"), ("d", "D")]
    + [("10", "*"), ("11", "#"), ("12", "A"), ("13", "B"), ("14", "C"), ("15", "D")],
)
def test_relay_signals(signal: str, digit: str) -> None:
    event = parse_info_dtmf(RELAY, f"Signal={signal}\r\nDuration=100\r\n".encode())
    assert event == Dtmf(digit, 100, "info")


@pytest.mark.parametrize(
    ("body", "duration"),
    [
        (b"Signal=1", 250),
        (b"Signal=1\r\nDuration=0", 10),
        (b"Signal=1\r\nDuration=3", 10),
        (b"Signal=1\r\nDuration=10", 10),
        (b"Signal=1\r\nDuration=10000", 10000),
        (b"Signal=1\r\nDuration=999999999999", 10000),
    ],
)
def test_relay_duration_default_and_clamp(body: bytes, duration: int) -> None:
    event = parse_info_dtmf(RELAY, body)
    assert event is not None and event.duration_ms == duration


@pytest.mark.parametrize(
    ("body", "digit"),
    [(b"5", "5"), (b" # \r\n", "#"), (b"\n11\n", "#"), (b"b", "B"), (b"15", "D")],
)
def test_plain(body: bytes, digit: str) -> None:
    assert parse_info_dtmf(PLAIN, body) == Dtmf(digit, 250, "info")


@pytest.mark.parametrize(
    "content_type",
    [
        "Application/DTMF-Relay",
        "application/dtmf-relay; charset=utf-8",
        " APPLICATION/dtmf-relay;x",
    ],
)
def test_content_type_case_and_parameters(content_type: str) -> None:
    assert parse_info_dtmf(content_type, b"Signal=#") == Dtmf("#", 250, "info")


@pytest.mark.parametrize(
    "content_type",
    ["application/media_control+xml", "text/plain", "", "application/dtmf-relayx", "dtmf"],
)
def test_other_types_are_not_dtmf(content_type: str) -> None:
    assert parse_info_dtmf(content_type, b"Signal=5") is None


def test_other_types_ignore_their_body() -> None:
    # Not ours: not even a huge or binary body is an error.
    assert parse_info_dtmf("application/octet-stream", b"\xff" * 5000) is None


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (RELAY, b"", "no Signal"),
        (RELAY, b"Duration=160\r\n", "no Signal"),
        (RELAY, b"Signal=\r\nDuration=160", "empty"),
        (RELAY, b"Signal=55", "neither one key"),
        (RELAY, b"Signal=16", "neither one key"),
        (RELAY, b"Signal=5\r\nSignal=6", "more than one Signal"),
        (RELAY, b"Signal=5\r\nDuration=1\r\nDuration=2", "more than one Duration"),
        (RELAY, b"Signal=E", "not a key"),
        (RELAY, b"Signal=5 6", "not a key"),
        (RELAY, b"Signal=5\r\nDuration=abc", "Duration"),
        (RELAY, b"Signal=5\r\nDuration=-5", "Duration"),
        (RELAY, b"Signal 5", "key=value"),
        (RELAY, "Signal=\u0665".encode(), "not a key"),  # Arabic-Indic five
        (RELAY, b"Signal=\xff", "UTF-8"),
        (RELAY, b"Signal=5\r\n" + b" " * 1100, "more than 1024"),
        (PLAIN, b"", "empty"),
        (PLAIN, b"  \r\n", "empty"),
        (PLAIN, b"12 3", "not a key"),
        (PLAIN, b"56", "neither one key"),
        (PLAIN, b"x", "not a key"),
        (PLAIN, b"\xc3\x28", "UTF-8"),
        (PLAIN, b"5" * 1025, "more than 1024"),
    ],
)
def test_malformed(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(InfoDtmfError, match=message):
        parse_info_dtmf(content_type, body)


def test_error_is_a_value_error() -> None:
    assert issubclass(InfoDtmfError, ValueError)


def test_body_of_exactly_1024_bytes_is_allowed() -> None:
    body = b"Signal=7\r\n" + b"\r\n" * 507
    assert len(body) == 1024
    assert parse_info_dtmf(RELAY, body) == Dtmf("7", 250, "info")
