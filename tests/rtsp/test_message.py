"""The RTSP stream parser: split anywhere, interleaved frames, garbage, oversize."""

from __future__ import annotations

import pytest

from gateway.rtsp.message import (
    InterleavedFrame,
    ParseError,
    ResponseParser,
    RtspRequest,
    RtspResponse,
    serialize_request,
)

SDP = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
DESCRIBE_OK = (
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\n"
    b"Content-Base: rtsp://h/cam/\r\nContent-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)
FRAME = b"$\x01\x00\x05hello"
OPTIONS_OK = b"RTSP/2.0 200 OK\r\nCSeq: 3\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n"
STREAM = FRAME + DESCRIBE_OK + b"$\x00\x00\x00" + OPTIONS_OK + FRAME


def expected() -> list[object]:
    return [
        InterleavedFrame(1, b"hello"),
        ("RTSP/1.0", 200, SDP),
        InterleavedFrame(0, b""),
        ("RTSP/2.0", 200, b""),
        InterleavedFrame(1, b"hello"),
    ]


def summarize(items: list[object]) -> list[object]:
    return [(i.version, i.status, i.body) if isinstance(i, RtspResponse) else i for i in items]


def test_whole_stream() -> None:
    items = ResponseParser().feed(STREAM)
    assert summarize(items) == expected()
    describe = items[1]
    assert isinstance(describe, RtspResponse)
    assert describe.cseq == 2 and describe.header("content-base") == "rtsp://h/cam/"
    assert describe.reason == "OK"


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_at_every_byte(cut: int) -> None:
    parser = ResponseParser()
    items = parser.feed(STREAM[:cut]) + parser.feed(STREAM[cut:])
    assert summarize(items) == expected()


PLAYING = (FRAME + b"$\x00\x00\x03abc" + b"\r\n" + FRAME + OPTIONS_OK + FRAME
           + b"$\x00\x00\x02xy")


def playing_expected() -> list[object]:
    return [InterleavedFrame(1, b"hello"), InterleavedFrame(0, b"abc"),
            InterleavedFrame(1, b"hello"), ("RTSP/2.0", 200, b""),
            InterleavedFrame(1, b"hello"), InterleavedFrame(0, b"xy")]


@pytest.mark.parametrize("cut", range(1, len(PLAYING)))
def test_a_playing_stream_cut_anywhere_twice(cut: int) -> None:
    """Issue 12: frames are cut straight from each read; one that a read cut short
    is finished from the next, whatever follows it (frames, blank lines, an answer)."""
    for second in range(cut, len(PLAYING)):
        parser = ResponseParser()
        items = (parser.feed(PLAYING[:cut]) + parser.feed(PLAYING[cut:second])
                 + parser.feed(PLAYING[second:]))
        assert summarize(items) == playing_expected(), (cut, second)
        assert all(type(item.data) is bytes for item in items
                   if isinstance(item, InterleavedFrame))


def test_byte_by_byte() -> None:
    parser = ResponseParser()
    items: list[object] = []
    for i in range(len(STREAM)):
        items += parser.feed(STREAM[i : i + 1])
    assert summarize(items) == expected()


def test_folded_header_and_bare_lf() -> None:
    data = (
        b'RTSP/1.0 401 Unauthorized\nCSeq: 1\nWWW-Authenticate: Digest realm="r",\n nonce="n"\n\n'
    )
    (resp,) = ResponseParser().feed(data)
    assert isinstance(resp, RtspResponse) and resp.status == 401
    assert resp.header("WWW-Authenticate") == 'Digest realm="r", nonce="n"'


def test_server_request_is_parsed() -> None:
    (req,) = ResponseParser().feed(b"GET_PARAMETER rtsp://h/cam RTSP/1.0\r\nCSeq: 9\r\n\r\n")
    assert isinstance(req, RtspRequest) and req.method == "GET_PARAMETER"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x01garbage", "garbage"),
        (b"HTTP/1.1 200 OK\r\n\r\n", "not an RTSP"),
        (b"HELLO THERE\r\nmore", "not an RTSP start line"),
        (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: x\r\n\r\n", "Content-Length"),
        (b"RTSP/1.0 200 OK\r\nno colon here\r\n\r\n", "malformed header"),
        (b"RTSP/3.0 200 OK\r\n\r\n", "not an RTSP status line"),
    ],
)
def test_garbage_is_a_parse_error(data: bytes, reason: str) -> None:
    parser = ResponseParser()
    items = parser.feed(data)
    assert len(items) == 1 and isinstance(items[0], ParseError), items
    assert reason in items[0].reason
    assert parser.feed(OPTIONS_OK) == []  # out of sync for good


def test_enormous_headers_are_refused_without_buffering() -> None:
    parser = ResponseParser(max_header_bytes=1024)
    items = parser.feed(b"RTSP/1.0 200 OK\r\nX-Junk: " + b"a" * 2000)
    assert items == [ParseError("headers exceed 1024 bytes")]
    assert len(parser._buf) == 0


def test_enormous_headers_split_in_chunks() -> None:
    parser = ResponseParser()
    items: list[object] = parser.feed(b"RTSP/1.0 200 OK\r\n")
    for _ in range(40):
        items += parser.feed(b"X-Junk: " + b"a" * 500 + b"\r\n")
    assert items == [ParseError("headers exceed 16384 bytes")]


def test_enormous_body_is_refused() -> None:
    items = ResponseParser().feed(b"RTSP/1.0 200 OK\r\nContent-Length: 2000000\r\n\r\n")
    assert items == [ParseError("body of 2000000 bytes exceeds 1048576")]


def test_truncated_response_waits() -> None:
    parser = ResponseParser()
    assert parser.feed(DESCRIBE_OK[:-5]) == []
    assert len(parser.feed(DESCRIBE_OK[-5:])) == 1


def test_serialize_request() -> None:
    data = serialize_request(
        "SETUP", "rtsp://h/cam/stream=0", 4, [("Transport", "RTP/AVP;unicast;client_port=1-2")]
    )
    assert data == (
        b"SETUP rtsp://h/cam/stream=0 RTSP/1.0\r\nCSeq: 4\r\n"
        b"Transport: RTP/AVP;unicast;client_port=1-2\r\n\r\n"
    )
    body = serialize_request("SET_PARAMETER", "rtsp://h/", 5, body=b"x: y\r\n")
    assert body.endswith(b"Content-Length: 6\r\n\r\nx: y\r\n")


@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [("get", "rtsp://h/", []), ("OPTIONS", "rtsp://h/ x", []), ("OPTIONS", "*", [("A", "b\r\nc")])],
)
def test_serialize_refuses_injection(method: str, url: str, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError):
        serialize_request(method, url, 1, headers)


def test_partial_says_what_a_close_would_cut_short() -> None:
    parser = ResponseParser()
    assert parser.partial is None
    parser.feed(DESCRIBE_OK[:10])
    assert parser.partial == "response header"
    parser = ResponseParser()
    parser.feed(DESCRIBE_OK[:-5])
    assert parser.partial == "response body"
    parser.feed(DESCRIBE_OK[-5:] + b"\r\n")
    assert parser.partial is None  # a keep-alive CRLF is no message
    parser.feed(b"$\x00\x00\x10abc")
    assert parser.partial == "interleaved frame"
    parser = ResponseParser()
    parser.feed(b"\x00garbage")
    assert parser.partial is None  # failed already: it says so itself
