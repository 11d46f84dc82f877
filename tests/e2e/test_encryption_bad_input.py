"""Bad input at the encrypted doors of a running MCU (issue 16): garbage and plain SIP
on the TLS port close that connection and nothing else, each logged once with the
peer's address; SDES lines that will not do are refused with 488 naming the fault;
keys over plain UDP are refused unless ``sip.sdes_without_tls``."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import time

import pytest

from tests.e2e.conftest import RunningMcu
from tests.e2e.test_bad_input import final_response

pytestmark = pytest.mark.peer
KEY = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"  # 30 bytes, base64


def srtp_offer(crypto: str) -> str:
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio 9 RTP/SAVP 0\r\n{crypto}")


def invite(port: int, call_id: str, body: str, transport: str) -> bytes:
    return (
        f"INVITE sip:1000@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} 127.0.0.1:9;branch=z9hG4bK-{call_id};rport\r\n"
        "Max-Forwards: 70\r\nTo: <sip:1000@127.0.0.1>\r\n"
        "From: \"Probe\" <sip:probe@127.0.0.1>;tag=p1\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:probe@127.0.0.1:9>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def tls_port(mcu: RunningMcu) -> int:
    return int(mcu.tls_host.rsplit(":", 1)[1])


def over_tls(port: int, message: bytes) -> bytes:
    """Send ``message`` over a fresh TLS connection; the first final response."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw) as sock:
        sock.sendall(message)
        data = b""
        while True:
            data += sock.recv(65535)
            for response in data.split(b"SIP/2.0 ")[1:]:
                if not response.startswith(b"1"):
                    return b"SIP/2.0 " + response.split(b"\r\n", 1)[0]


def closed_at_once(port: int, data: bytes) -> bool:
    """The server closes a connection that sends ``data`` (it never answers SIP)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(4096):
                if b"SIP/2.0" in chunk:
                    return False
        except (ConnectionResetError, TimeoutError):
            pass
        return True


def test_garbage_and_plain_sip_on_the_tls_port_close_only_that_connection(
        start_mcu, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    mcu = start_mcu()
    port = tls_port(mcu)
    assert closed_at_once(port, b"\x00" + os.urandom(511))  # not a TLS record
    plain = invite(port, "plain-on-tls", srtp_offer(""), "TCP")
    assert closed_at_once(port, plain)
    time.sleep(0.3)
    # The port still serves TLS: a proper INVITE gets its answer.
    bad = srtp_offer("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=\r\n")
    assert over_tls(port, invite(port, "after", bad, "TLS")).startswith(b"SIP/2.0 488")
    failures = [r.getMessage() for r in caplog.records if "sip.tls_failed" in r.getMessage()]
    assert len(failures) == 2 and all("remote=127.0.0.1:" in f for f in failures), failures
    stats = mcu.inspect(lambda m: m.gateway("sip").statistics())
    assert stats["tls_handshakes_failed"] == 2
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    mcu.wait_idle()


@pytest.mark.parametrize(("crypto", "fault"), [
    ("", b"without a=crypto"),
    ("a=crypto:x\r\n", b"does not parse"),
    (f"a=crypto:1 F8_128_HMAC_SHA1_80 inline:{KEY}\r\n", b"no crypto suite we support"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=\r\n", b"5 bytes, not 30"),
])
def test_bad_sdes_over_tls_is_488_naming_the_fault(start_mcu, crypto: str,
                                                   fault: bytes) -> None:
    mcu = start_mcu()
    port = tls_port(mcu)
    answer = over_tls(port, invite(port, f"bad-{len(crypto)}", srtp_offer(crypto), "TLS"))
    assert answer.startswith(b"SIP/2.0 488") and fault in answer, answer
    mcu.wait_idle()


def test_sdes_keys_over_plain_udp_are_refused_unless_allowed(start_mcu) -> None:
    good = srtp_offer(f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n")
    mcu = start_mcu()
    port = mcu.settings.sip.port
    refused = final_response(port, invite(port, "sdes-udp", good, "UDP"))
    assert refused.startswith(b"SIP/2.0 488") and b"only over TLS" in refused
    mcu.wait_idle()
