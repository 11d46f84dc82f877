"""The RTSP server's sans-IO connection (issue 15): transports, the methods' answers
and refusals, without sockets or clocks."""

from __future__ import annotations

import pytest

from gateway.publish import Refusal, StreamInfo
from gateway.rtp.payload.aac import AacDepacketizer, packetize
from gateway.rtsp.server import (
    Interleaved,
    Play,
    ServerConnection,
    Setup,
    Teardown,
    Udp,
    parse_transport,
)

INFO = StreamInfo("Town hall", 640, 360, 15.0, 48000, 1, bytes.fromhex("1188"))
AUDIO_ONLY = StreamInfo("Phones", None, None, None, 48000, 1, bytes.fromhex("1188"))
URL = "rtsp://127.0.0.1:8554/6100"


def connection() -> ServerConnection:
    return ServerConnection(session_id="abc123", nonce="n0nce", realm="mcu",
                            host="127.0.0.1:8554", timeout_s=60)


def request(conn: ServerConnection, text: str) -> object:
    [parsed] = conn.feed(text.replace("\n", "\r\n").encode() + b"\r\n")
    return parsed


def status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


@pytest.mark.parametrize(("value", "expected"), [
    ("RTP/AVP/TCP;unicast;interleaved=0-1", Interleaved(0, 1)),
    ("RTP/AVP;unicast;client_port=5000-5001", Udp(5000, 5001)),
    ("RTP/AVP/UDP;unicast;client_port=5002", Udp(5002, 5003)),
    ("RTP/AVP;multicast;client_port=5000-5001, RTP/AVP/TCP;interleaved=2-3", Interleaved(2, 3)),
    ("RTP/AVP;unicast;client_port=5000-5001;destination=192.0.2.9", None),
    ("RTP/AVP/TCP;unicast;interleaved=300-301", None),
    ("RTP/SAVP;unicast;client_port=5000-5001", None),
    ("garbage", None),
])
def test_transports(value: str, expected: object) -> None:
    assert parse_transport(value) == expected


def test_describe_setup_play_teardown() -> None:
    conn = connection()
    describe = request(conn, f"DESCRIBE {URL} RTSP/1.0\nCSeq: 2\n")
    answer = conn.answer(describe, INFO, now=0.0)
    assert status(answer.data) == 200
    assert b"Content-Base: rtsp://127.0.0.1:8554/6100/" in answer.data
    sdp = answer.data.split(b"\r\n\r\n", 1)[1].decode()
    assert "m=video 0 RTP/AVP 96" in sdp and "a=rtpmap:96 H264/90000" in sdp
    assert "MPEG4-GENERIC/48000/1" in sdp and "config=1188" in sdp
    setup = request(conn, f"SETUP {URL}/trackID=0 RTSP/1.0\nCSeq: 3\n"
                          "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\n")
    answer = conn.answer(setup, INFO, now=1.0)
    assert status(answer.data) == 200 and answer.actions == [Setup(0, Interleaved(0, 1))]
    assert b"Session: abc123;timeout=60" in answer.data
    assert conn.deadline == 61.0
    setup = request(conn, f"SETUP {URL}/trackID=1 RTSP/1.0\nCSeq: 4\nSession: abc123\n"
                          "Transport: RTP/AVP/TCP;unicast;interleaved=2-3\n")
    assert conn.answer(setup, INFO, now=2.0).actions == [Setup(1, Interleaved(2, 3))]
    play = request(conn, f"PLAY {URL}/ RTSP/1.0\nCSeq: 5\nSession: abc123\n")
    answer = conn.answer(play, INFO, now=3.0)
    assert answer.actions == [Play("6100", {0: Interleaved(0, 1), 1: Interleaved(2, 3)})]
    reply = conn.play_response(5, [(0, 100, 9000), (1, 7, 480)])
    assert b"RTP-Info: url=rtsp://127.0.0.1:8554/6100/trackID=0;seq=100;rtptime=9000," in reply
    keep = request(conn, "GET_PARAMETER rtsp://127.0.0.1:8554/6100/ RTSP/1.0\nCSeq: 6\n"
                         "Session: abc123\n")
    assert status(conn.answer(keep, None, now=30.0).data) == 200 and conn.deadline == 90.0
    bye = request(conn, f"TEARDOWN {URL}/ RTSP/1.0\nCSeq: 7\nSession: abc123\n")
    answer = conn.answer(bye, None, now=31.0)
    assert status(answer.data) == 200 and answer.actions == [Teardown()]
    assert conn.deadline is None and not conn.tracks


def test_udp_setup_names_the_server_ports() -> None:
    conn = connection()
    conn.server_ports = (62010, 62011)
    setup = request(conn, f"SETUP {URL}/trackID=1 RTSP/1.0\nCSeq: 1\n"
                          "Transport: RTP/AVP;unicast;client_port=5000-5001\n")
    answer = conn.answer(setup, AUDIO_ONLY, now=0.0)
    assert b"client_port=5000-5001;server_port=62010-62011" in answer.data


def test_refusals_and_errors() -> None:
    conn = connection()
    describe = request(conn, f"DESCRIBE {URL} RTSP/1.0\nCSeq: 1\n")
    answer = conn.answer(describe, Refusal(401, "no credentials"), now=0.0)
    assert status(answer.data) == 401
    assert b'WWW-Authenticate: Digest realm="mcu", nonce="n0nce"' in answer.data
    assert b'WWW-Authenticate: Basic realm="mcu"' in answer.data
    assert status(conn.answer(describe, Refusal(403, "x"), now=0.0).data) == 403
    assert b"v=0" not in conn.answer(describe, Refusal(404, "x"), now=0.0).data
    no_cseq = request(conn, f"OPTIONS {URL} RTSP/1.0\nUser-Agent: x\n")
    answer = conn.answer(no_cseq, None, now=0.0)
    assert status(answer.data) == 400 and answer.close
    record = request(conn, f"RECORD {URL} RTSP/1.0\nCSeq: 2\n")
    assert status(conn.answer(record, None, now=0.0).data) == 501
    play = request(conn, f"PLAY {URL} RTSP/1.0\nCSeq: 3\nSession: abc123\n")
    assert status(conn.answer(play, INFO, now=0.0).data) == 455  # nothing set up
    wrong = request(conn, f"PLAY {URL} RTSP/1.0\nCSeq: 4\nSession: other\n")
    assert status(conn.answer(wrong, INFO, now=0.0).data) == 454
    bad_track = request(conn, f"SETUP {URL}/trackID=0 RTSP/1.0\nCSeq: 5\n"
                              "Transport: RTP/AVP/TCP;interleaved=0-1\n")
    assert status(conn.answer(bad_track, AUDIO_ONLY, now=0.0).data) == 404  # no picture
    multicast = request(conn, f"SETUP {URL}/trackID=1 RTSP/1.0\nCSeq: 6\n"
                              "Transport: RTP/AVP;multicast\n")
    assert status(conn.answer(multicast, INFO, now=0.0).data) == 461
    other = request(conn, "DESCRIBE rtsp://127.0.0.1:8554/a/b/c RTSP/1.0\nCSeq: 7\n")
    assert status(conn.answer(other, INFO, now=0.0).data) == 400


def test_garbage_and_responses_end_the_stream() -> None:
    conn = connection()
    [error] = conn.feed(b"\x16\x03\x01 hello tls\r\n\r\n")
    assert type(error).__name__ == "ParseError"
    conn = connection()
    [error] = conn.feed(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
    assert type(error).__name__ == "ParseError"
    conn = connection()
    assert conn.feed(b"$\x01\x00\x04abcd") == []  # a viewer's RTCP: read and dropped


def test_aac_payload_round_trips() -> None:
    depacketizer = AacDepacketizer.from_fmtp({"sizelength": "13", "indexlength": "3",
                                              "indexdeltalength": "3", "config": "1188"})
    units = depacketizer.push(packetize(b"\x21" * 300), 1, 4800, True)
    assert [u.data for u in units] == [b"\x21" * 300]
    with pytest.raises(ValueError):
        packetize(b"\0" * 9000)
