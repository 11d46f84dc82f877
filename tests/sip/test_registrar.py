"""REGISTER in the core: a malformed Expires (header or Contact parameter) gets a 400
that names it, raises nothing, answers the sender, and changes no binding."""

from __future__ import annotations

import pytest

from gateway.sip.endpoint import SipEndpoint
from gateway.sip.message import decimal_value, parse_message
from gateway.sip.registrar import parse_expires

SRC = ("198.51.100.7", 40500)
LOCAL = ("192.0.2.10", 5060)


def register(extra: str, cseq: int = 1) -> bytes:
    return (
        "REGISTER sip:192.0.2.10 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP host5.example.com:5070;branch=z9hG4bKreg{cseq}\r\n"
        "From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
        f"Call-ID: reg\r\nCSeq: {cseq} REGISTER\r\nMax-Forwards: 70\r\n"
        f"{extra}Content-Length: 0\r\n\r\n"
    ).encode()


def answer(ep: SipEndpoint, data: bytes) -> tuple[int, str]:
    ep.receive_datagram(data, SRC, LOCAL, 1.0)
    (t,) = ep.transmissions()
    assert (t.transport, t.remote) == ("udp", SRC)  # to the sender, not the Via's host
    resp = parse_message(t.data)
    return resp.status, resp.reason


@pytest.mark.parametrize("expires", [
    "soon", "", "-1", "1.5", "1" * 5000, "\u00b2", "\u0661\u0662", "4294967296",
])
def test_malformed_expires_header_gets_400_naming_it(expires: str) -> None:
    ep = SipEndpoint()
    status, reason = answer(ep, register(f"Expires: {expires}\r\n"
                                         "Contact: <sip:a@192.0.2.20:5062>\r\n"))
    assert status == 400 and "Expires" in reason
    assert ep.registrations == {}
    ep.handle_timer(100.0)
    assert ep.transaction_count == 0


@pytest.mark.parametrize("expires", ["\u00b2", "9" * 5000])
def test_malformed_contact_expires_gets_400_and_keeps_bindings(expires: str) -> None:
    ep = SipEndpoint()
    assert answer(ep, register("Contact: <sip:a@192.0.2.20:5062>;expires=60\r\n"))[0] == 200
    before = {aor: dict(b) for aor, b in ep.registrations.items()}
    status, reason = answer(ep, register(
        f"Contact: <sip:b@192.0.2.21>, <sip:c@192.0.2.22>;expires={expires}\r\n", cseq=2))
    assert status == 400 and "Contact" in reason
    assert ep.registrations == before  # the good Contact before the bad one is not bound


def test_parse_expires_takes_only_ascii_delta_seconds() -> None:
    assert parse_expires(" 3600 ") == 3600
    assert parse_expires("0") == 0
    assert parse_expires("0000000000000000060") == 60
    for bad in ("", "x", "-1", "\u00b2", "\u0661", "1" * 5000, str(2**32)):
        assert parse_expires(bad) is None, bad
    assert decimal_value(b"12") == 12 and decimal_value(b"1" * 11) is None


def test_well_formed_expires_still_binds() -> None:
    ep = SipEndpoint()
    status, _ = answer(ep, register("Expires: 120\r\nContact: <sip:a@192.0.2.20:5062>\r\n"))
    assert status == 200
    assert ep.registrations["sip:a@example.com"]["sip:a@192.0.2.20:5062"][0] == 121.0
