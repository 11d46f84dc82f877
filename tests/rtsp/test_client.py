"""The RTSP client core against scripted server answers, with fake time."""

from __future__ import annotations

import hashlib

import pytest

from gateway.rtsp.client import (
    Closed,
    Connect,
    Described,
    Event,
    Failed,
    Interleaved,
    Playing,
    Ready,
    Redirected,
    RtspClient,
    StreamInfo,
    redact_url,
    resolve_control,
)
from gateway.rtsp.message import ResponseParser, RtspRequest

URL = "rtsp://127.0.0.1:8554/cam"
PORTS = {"video": (5000, 5001), "audio": (5002, 5003)}
SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n"
    b"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:stream=0\r\n"
    b"m=audio 0 RTP/AVP 0\r\na=control:rtsp://127.0.0.1:8554/cam/stream=1\r\n"
)


class Server:
    """Plays the server: reads what the client sent, answers it, collects events."""

    def __init__(self, client: RtspClient) -> None:
        self.client = client
        self.now = 100.0
        self.parser = ResponseParser()
        self.events: list[Event] = []

    def collect(self) -> list[Event]:
        new = self.client.events()
        self.events += new
        return new

    def connect(self) -> None:
        self.client.start(self.now)
        assert isinstance(self.collect()[-1], Connect)
        self.client.connection_made(self.now)

    def requests(self) -> list[RtspRequest]:
        items = self.parser.feed(self.client.data_to_send())
        assert all(isinstance(i, RtspRequest) for i in items), items
        return items  # type: ignore[return-value]

    def request(self, method: str) -> RtspRequest:
        items = self.requests()
        assert len(items) == 1, items
        assert items[0].method == method, (items[0].method, method)
        return items[0]

    def answer(
        self,
        req: RtspRequest,
        status: int = 200,
        reason: str = "OK",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        prefix: bytes = b"",
    ) -> list[Event]:
        lines = [f"RTSP/1.0 {status} {reason}", f"CSeq: {req.header('CSeq')}"]
        lines += [f"{k}: {v}" for k, v in headers or []]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        data = prefix + ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.client.feed(data, self.now)
        return self.collect()

    def tick(self, now: float) -> list[Event]:
        self.now = now
        self.client.handle_timer(now)
        return self.collect()

    def to_playing(
        self,
        *,
        public: str = "OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER",
        session: str = "12345678;timeout=30",
        tcp: bool = False,
    ) -> None:
        self.connect()
        self.answer(self.request("OPTIONS"), headers=[("Public", public)])
        describe = self.request("DESCRIBE")
        assert describe.header("Accept") == "application/sdp"
        self.answer(describe, headers=[("Content-Base", URL + "/")], body=SDP)
        for n in range(2):
            setup = self.request("SETUP")
            transport = (
                f"RTP/AVP/TCP;unicast;interleaved={2 * n}-{2 * n + 1}"
                if tcp
                else f"RTP/AVP;unicast;client_port={5000 + 2 * n}-{5001 + 2 * n};"
                f"server_port={7000 + 2 * n}-{7001 + 2 * n};ssrc=DEADBEE{n}"
            )
            self.answer(setup, headers=[("Session", session), ("Transport", transport)])
        self.answer(self.request("PLAY"), headers=[("Session", session.split(";")[0])])


def udp_client(**kw: object) -> RtspClient:
    return RtspClient(URL, transport="udp", client_ports=PORTS, **kw)  # type: ignore[arg-type]


def test_udp_flow_keepalive_and_teardown() -> None:
    client = udp_client()
    srv = Server(client)
    srv.connect()
    assert srv.events == [Connect("127.0.0.1", 8554)]
    srv.answer(srv.request("OPTIONS"), headers=[("Public", "OPTIONS, GET_PARAMETER")])
    srv.answer(srv.request("DESCRIBE"), headers=[("Content-Base", URL + "/")], body=SDP)
    described = [e for e in srv.events if isinstance(e, Described)][0]
    assert described.base == URL + "/" and len(described.sdp.media) == 2
    setup = srv.request("SETUP")
    assert setup.url == URL + "/stream=0"
    assert setup.header("Transport") == "RTP/AVP;unicast;client_port=5000-5001"
    assert setup.header("Session") is None
    srv.answer(
        setup,
        headers=[
            ("Session", "ab12cd;timeout=30"),
            (
                "Transport",
                "RTP/AVP;unicast;client_port=5000-5001;server_port=7000-7001;"
                "ssrc=1A2B3C4D;source=127.0.0.2",
            ),
        ],
    )
    setup2 = srv.request("SETUP")
    assert setup2.url == URL + "/stream=1" and setup2.header("Session") == "ab12cd"
    events = srv.answer(
        setup2,
        headers=[("Session", "ab12cd"), ("Transport", "RTP/AVP;unicast;server_port=7002-7003")],
    )
    assert events == [
        Ready(
            [
                StreamInfo(
                    "video",
                    0,
                    URL + "/stream=0",
                    "udp",
                    "127.0.0.2",
                    (7000, 7001),
                    (5000, 5001),
                    ssrc=0x1A2B3C4D,
                ),
                StreamInfo(
                    "audio", 1, URL + "/stream=1", "udp", "127.0.0.1", (7002, 7003), (5002, 5003)
                ),
            ],
            "ab12cd",
        )
    ]
    play = srv.request("PLAY")
    assert play.url == URL + "/" and play.header("Session") == "ab12cd"
    assert srv.answer(play, headers=[("RTP-Info", "url=x;seq=1")]) == [
        Playing("ab12cd", "url=x;seq=1")
    ]
    # keep-alive at half the 30 s session timeout, GET_PARAMETER because Public lists it
    assert client.next_timer() == pytest.approx(115.0)
    assert srv.tick(114.9) == [] and srv.requests() == []
    srv.tick(115.0)
    keepalive = srv.request("GET_PARAMETER")
    assert keepalive.header("Session") == "ab12cd"
    srv.now = 115.2
    srv.answer(keepalive)
    assert client.next_timer() == pytest.approx(130.2)
    client.stop(srv.now)
    teardown = srv.request("TEARDOWN")
    assert teardown.header("Session") == "ab12cd"
    assert srv.answer(teardown) == [Closed()]
    assert client.next_timer() is None and client.state == "closed"


def test_keepalive_is_options_without_get_parameter_and_default_timeout() -> None:
    client = udp_client()
    srv = Server(client)
    srv.to_playing(public="OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN", session="s1")
    assert client.session_timeout == 60.0
    assert client.next_timer() == pytest.approx(130.0)
    srv.tick(130.0)
    srv.answer(srv.request("OPTIONS"))
    assert client.state == "playing"


def test_get_parameter_refused_falls_back_to_options() -> None:
    client = udp_client()
    srv = Server(client)
    srv.to_playing()
    srv.tick(115.0)
    srv.answer(srv.request("GET_PARAMETER"), 501, "Not Implemented")
    srv.answer(srv.request("OPTIONS"))
    assert client.state == "playing"


def test_tcp_interleaved_channels_and_frames() -> None:
    client = RtspClient(URL, transport="tcp", send_options=False)
    srv = Server(client)
    srv.connect()
    srv.answer(srv.request("DESCRIBE"), headers=[("Content-Base", URL + "/")], body=SDP)
    setup = srv.request("SETUP")
    assert setup.header("Transport") == "RTP/AVP/TCP;unicast;interleaved=0-1"
    srv.answer(setup, headers=[("Session", "s"), ("Transport", "RTP/AVP/TCP;interleaved=0-1")])
    setup = srv.request("SETUP")
    assert setup.header("Transport") == "RTP/AVP/TCP;unicast;interleaved=2-3"
    events = srv.answer(
        setup, headers=[("Session", "s"), ("Transport", "RTP/AVP/TCP;interleaved=2-3")]
    )
    ready = events[0]
    assert isinstance(ready, Ready)
    assert [s.interleaved for s in ready.streams] == [(0, 1), (2, 3)]
    play = srv.request("PLAY")
    events = srv.answer(play, prefix=b"$\x00\x00\x03abc")
    assert events[0] == Interleaved(0, b"abc") and isinstance(events[1], Playing)
    client.feed(b"$\x02\x00\x01z$\x03\x00", srv.now)
    client.feed(b"\x00", srv.now)
    assert srv.collect() == [Interleaved(2, b"z"), Interleaved(3, b"")]


def test_tcp_asked_but_udp_answered_fails() -> None:
    client = RtspClient(URL, transport="tcp", send_options=False)
    srv = Server(client)
    srv.connect()
    srv.answer(srv.request("DESCRIBE"), body=SDP)
    events = srv.answer(
        srv.request("SETUP"),
        headers=[("Session", "s"), ("Transport", "RTP/AVP;unicast;server_port=1-2")],
    )
    assert isinstance(events[-1], Failed) and "non-TCP" in events[-1].reason


@pytest.mark.parametrize(
    ("base", "control", "expected"),
    [
        ("rtsp://h/cam/", "stream=0", "rtsp://h/cam/stream=0"),
        ("rtsp://h/cam", "trackID=1", "rtsp://h/cam/trackID=1"),
        ("rtsp://h/cam/", "*", "rtsp://h/cam/"),
        ("rtsp://h/cam/", None, "rtsp://h/cam/"),
        ("rtsp://h/cam/", "rtsp://other:5554/x", "rtsp://other:5554/x"),
        ("rtsp://h:1/cam/", "/abs/track", "rtsp://h:1/abs/track"),
    ],
)
def test_resolve_control(base: str, control: str | None, expected: str) -> None:
    assert resolve_control(base, control) == expected


@pytest.mark.parametrize(
    ("headers", "base"),
    [
        ([("Content-Location", "rtsp://127.0.0.1:8554/loc/")], "rtsp://127.0.0.1:8554/loc/"),
        ([], URL),
    ],
)
def test_describe_base_fallbacks(headers: list[tuple[str, str]], base: str) -> None:
    client = udp_client(send_options=False)
    srv = Server(client)
    srv.connect()
    srv.answer(srv.request("DESCRIBE"), headers=headers, body=SDP)
    assert [e for e in srv.events if isinstance(e, Described)][0].base == base
    assert srv.request("SETUP").url == resolve_control(base, "stream=0")


def test_redirect_to_other_host_reconnects() -> None:
    client = udp_client()
    srv = Server(client)
    srv.connect()
    events = srv.answer(
        srv.request("OPTIONS"), 302, "Found", [("Location", "rtsp://127.0.0.2:9554/real")]
    )
    assert events == [Redirected("rtsp://127.0.0.2:9554/real"), Connect("127.0.0.2", 9554)]
    assert srv.requests() == []
    client.connection_lost(srv.now)  # the old connection going away is no failure
    client.connection_made(srv.now)
    assert srv.request("OPTIONS").url == "rtsp://127.0.0.2:9554/real"


def test_redirect_same_host_and_hop_limit() -> None:
    client = udp_client(send_options=False)
    srv = Server(client)
    srv.connect()
    for hop in range(5):
        req = srv.request("DESCRIBE")
        events = srv.answer(req, 301, "Moved", [("Location", f"/cam{hop}")])
        assert events == [Redirected(f"rtsp://127.0.0.1:8554/cam{hop}")]
    events = srv.answer(srv.request("DESCRIBE"), 302, "Found", [("Location", "/again")])
    assert events == [Failed("more than 5 redirects", False)]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest(nonce: str, stale: bool = False) -> list[tuple[str, str]]:
    extra = ", stale=true" if stale else ""
    return [("WWW-Authenticate", f'Digest realm="cam", nonce="{nonce}", qop="auth"{extra}')]


def test_digest_then_stale_nonce_then_wrong_credentials() -> None:
    client = RtspClient(
        "rtsp://admin:pw@127.0.0.1:8554/cam",
        transport="tcp",
        send_options=False,
        cnonce=lambda: "c0ffee",
    )
    assert "pw" not in repr(client) and client.url == URL
    srv = Server(client)
    srv.connect()
    first = srv.request("DESCRIBE")
    assert first.header("Authorization") is None
    srv.answer(first, 401, "Unauthorized", digest("n1"))
    second = srv.request("DESCRIBE")
    ha1, ha2 = md5("admin:cam:pw"), md5(f"DESCRIBE:{URL}")
    response = md5(f"{ha1}:n1:00000001:c0ffee:auth:{ha2}")
    auth = second.header("Authorization") or ""
    assert auth.startswith('Digest username="admin"') and f'response="{response}"' in auth
    assert "nc=00000001" in auth
    # the nonce went stale: retry with the new one
    srv.answer(second, 401, "Unauthorized", digest("n2", stale=True))
    third = srv.request("DESCRIBE")
    response = md5(f"{ha1}:n2:00000001:c0ffee:auth:{ha2}")
    assert f'response="{response}"' in (third.header("Authorization") or "")
    srv.answer(third, headers=[("Content-Base", URL + "/")], body=SDP)
    setup = srv.request("SETUP")  # later requests carry the credentials, nc counting up
    assert "nc=00000002" in (setup.header("Authorization") or "")
    # a plain second 401 means the password is wrong
    events = srv.answer(setup, 401, "Unauthorized", digest("n3"))
    assert events == [Failed("wrong credentials", False)]
    assert "pw" not in repr(srv.events).replace("pwd", "")


def test_wrong_password_on_first_answer() -> None:
    client = RtspClient(URL, username="u", password="bad", transport="tcp", send_options=False)
    srv = Server(client)
    srv.connect()
    basic = [("WWW-Authenticate", 'Basic realm="x"')]
    srv.answer(srv.request("DESCRIBE"), 401, "Unauthorized", basic)
    second = srv.request("DESCRIBE")
    assert (second.header("Authorization") or "").startswith("Basic ")
    events = srv.answer(second, 401, "Unauthorized", basic)
    assert events == [Failed("wrong credentials", False)]


def test_401_without_credentials_fails() -> None:
    client = udp_client(send_options=False)
    srv = Server(client)
    srv.connect()
    events = srv.answer(srv.request("DESCRIBE"), 401, "Unauthorized", digest("n"))
    assert isinstance(events[-1], Failed) and "no" in events[-1].reason
    assert events[-1].retryable is False


def test_454_on_keepalive_sets_up_again() -> None:
    client = udp_client()
    srv = Server(client)
    srv.to_playing()
    srv.tick(115.0)
    srv.answer(srv.request("GET_PARAMETER"), 454, "Session Not Found")
    setup = srv.request("SETUP")
    assert setup.header("Session") is None and setup.url == URL + "/stream=0"
    srv.answer(setup, headers=[("Session", "new;timeout=20"), ("Transport", "RTP/AVP;unicast")])
    srv.answer(srv.request("SETUP"), headers=[("Session", "new"), ("Transport", "RTP/AVP")])
    play = srv.request("PLAY")
    assert play.header("Session") == "new"
    events = srv.answer(play)
    assert events == [Playing("new", None)]
    assert client.next_timer() == pytest.approx(125.0)


def test_454_on_second_setup_restarts_setup() -> None:
    client = udp_client(send_options=False)
    srv = Server(client)
    srv.connect()
    srv.answer(srv.request("DESCRIBE"), body=SDP)
    srv.answer(srv.request("SETUP"), headers=[("Session", "old"), ("Transport", "RTP/AVP")])
    srv.answer(srv.request("SETUP"), 454, "Session Not Found")
    assert srv.request("SETUP").header("Session") is None


def test_response_timeout_fails() -> None:
    client = udp_client()
    srv = Server(client)
    srv.connect()
    srv.request("OPTIONS")
    assert client.next_timer() == pytest.approx(110.0)
    assert srv.tick(109.0) == []
    assert srv.tick(110.0) == [Failed("no answer to OPTIONS within 10 s", True)]
    assert client.next_timer() is None


def test_unknown_cseq_is_ignored() -> None:
    client = udp_client()
    srv = Server(client)
    srv.connect()
    req = srv.request("OPTIONS")
    client.feed(b"RTSP/1.0 200 OK\r\nCSeq: 77\r\n\r\n", srv.now)
    assert srv.collect() == [] and srv.requests() == []
    srv.answer(req)
    srv.request("DESCRIBE")


def test_options_error_still_describes() -> None:
    client = udp_client()
    srv = Server(client)
    srv.connect()
    srv.answer(srv.request("OPTIONS"), 501, "Not Implemented")
    srv.request("DESCRIBE")


@pytest.mark.parametrize(("status", "retryable"), [(404, False), (503, True)])
def test_describe_errors(status: int, retryable: bool) -> None:
    client = udp_client(send_options=False)
    srv = Server(client)
    srv.connect()
    events = srv.answer(srv.request("DESCRIBE"), status, "Nope")
    assert events == [Failed(f"DESCRIBE answered {status} Nope", retryable)]


def test_bad_sdp_and_missing_media() -> None:
    client = udp_client(send_options=False)
    srv = Server(client)
    srv.connect()
    events = srv.answer(srv.request("DESCRIBE"), body=b"garbage")
    assert isinstance(events[-1], Failed) and "SDP" in events[-1].reason
    client = RtspClient(URL, transport="tcp", media=("application",), send_options=False)
    srv = Server(client)
    srv.connect()
    events = srv.answer(srv.request("DESCRIBE"), body=SDP)
    assert events[-1] == Failed("the camera offers no application stream", False)


def test_garbage_and_oversize_from_server_fail() -> None:
    client = udp_client()
    srv = Server(client)
    srv.connect()
    client.feed(b"\x16\x03\x01 TLS hello?", srv.now)
    (event,) = srv.collect()
    assert isinstance(event, Failed) and "garbage" in event.reason and event.retryable
    client = udp_client()
    srv = Server(client)
    srv.connect()
    client.feed(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n", srv.now)
    (event,) = srv.collect()
    assert isinstance(event, Failed) and "exceeds" in event.reason


def test_connection_lost_while_playing_fails_retryable() -> None:
    client = udp_client()
    srv = Server(client)
    srv.to_playing()
    client.connection_lost(srv.now)
    assert srv.collect() == [Failed("connection closed by the server", True)]


def test_teardown_unanswered_closes_after_timeout() -> None:
    client = udp_client()
    srv = Server(client)
    srv.to_playing()
    client.stop(srv.now)
    srv.request("TEARDOWN")
    assert client.next_timer() == pytest.approx(102.0)
    assert srv.tick(102.0) == [Closed()]


def test_stop_before_session_closes_at_once() -> None:
    client = udp_client()
    srv = Server(client)
    srv.connect()
    srv.request("OPTIONS")
    client.stop(srv.now)
    assert srv.collect() == [Closed()] and client.data_to_send() == b""
    assert client.next_timer() is None


def test_server_requests_are_answered() -> None:
    client = udp_client()
    srv = Server(client)
    srv.to_playing()
    client.feed(
        b"GET_PARAMETER rtsp://h/ RTSP/1.0\r\nCSeq: 5\r\n\r\n"
        b"ANNOUNCE rtsp://h/ RTSP/1.0\r\nCSeq: 6\r\n\r\n",
        srv.now,
    )
    assert client.data_to_send() == (
        b"RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\nRTSP/1.0 501 Not Implemented\r\nCSeq: 6\r\n\r\n"
    )


def test_redact_url_and_config_errors() -> None:
    assert redact_url("rtsp://u:p%40ss@cam:554/x?y") == "rtsp://cam:554/x?y"
    assert redact_url(URL) == URL
    with pytest.raises(ValueError, match="client_ports"):
        RtspClient(URL, transport="udp", client_ports={"video": (1, 2)})
    with pytest.raises(ValueError, match="rtsp://"):
        RtspClient("http://u:secret@h/", transport="tcp")
    try:
        RtspClient("http://u:secret@h/", transport="tcp")
    except ValueError as exc:
        assert "secret" not in str(exc)


def test_redirect_on_setup_starts_over() -> None:
    client = udp_client(send_options=False)
    srv = Server(client)
    srv.connect()
    srv.answer(srv.request("DESCRIBE"), body=SDP)
    events = srv.answer(srv.request("SETUP"), 302, "Found", [("Location", "/elsewhere")])
    assert events == [Redirected("rtsp://127.0.0.1:8554/elsewhere")]
    assert srv.request("DESCRIBE").url == "rtsp://127.0.0.1:8554/elsewhere"


def test_connection_lost_mid_response_says_truncated() -> None:
    client = udp_client()
    srv = Server(client)
    srv.connect()
    srv.answer(srv.request("OPTIONS"))
    describe = srv.request("DESCRIBE")
    client.feed(f"RTSP/1.0 200 OK\r\nCSeq: {describe.header('CSeq')}\r\n"
                f"Content-Length: {len(SDP)}\r\n\r\n".encode() + SDP[:20], srv.now)
    client.connection_lost(srv.now)
    assert srv.collect() == [Failed(
        "connection closed by the server in the middle of a response body (truncated)", True)]


def test_teardown_from_the_server_ends_the_session() -> None:
    client = udp_client()
    srv = Server(client)
    srv.to_playing()
    srv.collect()
    client.feed(b"TEARDOWN rtsp://127.0.0.1:8554/cam RTSP/1.0\r\nCSeq: 3\r\n"
                b"Session: 12345678\r\n\r\n", srv.now)
    assert client.data_to_send() == b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n"
    assert srv.collect() == [Failed(
        "the camera ended the session (TEARDOWN from the server)", True)]
    client.stop(srv.now)  # no TEARDOWN of ours for a session the camera ended
    assert client.data_to_send() == b"" and client.next_timer() is None
