"""Bad input at a running MCU gets a clear SIP answer and leaves nothing behind."""

from __future__ import annotations

import socket

import pytest

pytestmark = pytest.mark.peer

PCMU_OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP {pts}\r\n{maps}"
)


def invite(port: int, call_id: str, body: str) -> bytes:
    return (
        f"INVITE sip:1000@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-{call_id};rport\r\n"
        "Max-Forwards: 70\r\nTo: <sip:1000@127.0.0.1>\r\n"
        "From: \"Probe\" <sip:probe@127.0.0.1>;tag=p1\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:probe@127.0.0.1:9>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def final_response(port: int, message: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        sock.sendto(message, ("127.0.0.1", port))
        while True:
            data, _ = sock.recvfrom(65535)
            status_line = data.split(b"\r\n", 1)[0]
            if not status_line.startswith(b"SIP/2.0 1"):
                # ACK the failure as a UAC would, so the server transaction completes
                ack = message.split(b"\r\n\r\n", 1)[0].replace(b"INVITE sip", b"ACK sip", 1)
                ack = ack.replace(b"CSeq: 1 INVITE", b"CSeq: 1 ACK")
                to_line = next(h for h in data.split(b"\r\n") if h.startswith(b"To:"))
                ack = b"\r\n".join(to_line if h.startswith(b"To:") else h
                                   for h in ack.split(b"\r\n"))
                ack = ack.replace(b"Content-Type: application/sdp\r\n", b"")
                ack = ack.rsplit(b"Content-Length:", 1)[0] + b"Content-Length: 0\r\n\r\n"
                sock.sendto(ack, ("127.0.0.1", port))
                return data


def test_garbage_sdp_is_400_and_no_common_codec_is_488(start_mcu):
    mcu = start_mcu()
    port = mcu.settings.sip.port
    garbage = final_response(port, invite(port, "garbage", "this is not sdp\r\n"))
    assert garbage.startswith(b"SIP/2.0 400")
    g729 = PCMU_OFFER.format(pts="18", maps="a=rtpmap:18 G729/8000\r\n")
    assert final_response(port, invite(port, "g729", g729)).startswith(b"SIP/2.0 488")
    mcu.wait_idle()


def test_a_forged_cascade_header_is_400_and_holds_nothing(start_mcu):
    """Only a cluster node (holding the secret the nodes share) may enter by cascade,
    skipping PIN and lobby (issue 18); anyone else is refused, not let in as a caller."""
    mcu = start_mcu()
    port = mcu.settings.sip.port
    offer = PCMU_OFFER.format(pts="0", maps="a=rtpmap:0 PCMU/8000\r\n")
    forged = invite(port, "cascade", offer).replace(
        b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nX-MCU-Cascade: node=b;mac=" +
        b"0" * 64 + b"\r\n")
    assert final_response(port, forged).startswith(b"SIP/2.0 400")
    assert mcu.counts()["conferences"] == 0
    mcu.wait_idle()


def test_no_free_rtp_port_is_503_with_retry_after(start_mcu, peers):
    mcu = start_mcu(rtp={"port_min": 62400, "port_max": 62401})  # room for one call
    first = peers("first", 440.0, ["pcmu"])
    first.dial(f"sip:1000@{mcu.uri_host}")
    first.wait_established()
    port = mcu.settings.sip.port
    offer = PCMU_OFFER.format(pts="0", maps="a=rtpmap:0 PCMU/8000\r\n")
    refused = final_response(port, invite(port, "noports", offer))
    assert refused.startswith(b"SIP/2.0 503") and b"\r\nRetry-After: 30\r\n" in refused
    first.hangup()
    mcu.wait_idle()


def test_an_undiallable_uri_is_refused_and_holds_nothing(start_mcu):
    mcu = start_mcu()

    async def dial(uri: str) -> None:
        mcu.mcu.dial_out("1000", uri)

    # A host name is dialled (RFC 3263): unresolvable ones are in test_dns_dialout.py.
    for uri in ("sip:", "tel:+15551234", "sip:bob@127.0.0.1;transport=sctp"):
        with pytest.raises(ValueError):
            mcu.run(dial(uri))
    mcu.wait_idle()
