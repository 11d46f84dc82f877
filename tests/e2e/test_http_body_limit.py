"""Request bodies over ``http.max_body_bytes`` are refused with 413 before they are read
(issue 19): raw sockets against a running MCU's web control, over the wire."""

from __future__ import annotations

import json
import socket

from mcu.app import Mcu

LIMIT = 64 * 1024
FIVE_MB = 5 * 1024 * 1024
CHUNK = 16 * 1024
PATH = "/api/v1/auth/token"  # no session needed, so only the body limit can refuse


def _connect(mcu) -> socket.socket:
    port = mcu.inspect(lambda m: m.web.port)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _answer(sock: socket.socket, timeout: float) -> bytes | None:
    """What the server has said so far (None: nothing within ``timeout``)."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        return None
    except ConnectionResetError:
        return b""
    sock.settimeout(5)
    while b"\r\n\r\n" in data and not data.endswith(b"}"):  # the rest of a short answer
        try:
            more = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not more:
            break
        data += more
    return data


def _refused(mcu) -> float:
    return mcu.inspect(_refused_in)


def _status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"connection: close" in head.lower()
    return status, json.loads(body)


def test_a_5mb_body_with_content_length_is_refused_before_it_is_sent(start_mcu):
    mcu = start_mcu(http={"max_body_bytes": LIMIT})
    sock = _connect(mcu)
    try:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: mcu\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {FIVE_MB}\r\n\r\n".encode())
        sent = 0
        answer = None
        while answer is None and sent < FIVE_MB:  # slowly: a chunk, then listen
            sock.sendall(b" " * CHUNK)
            sent += CHUNK
            answer = _answer(sock, 1.0)
        assert answer, "no answer"
        assert sent == CHUNK  # answered at the first chunk: the rest was never needed
        status, body = _status_and_json(answer)
        assert status == 413
        assert body == {"detail": f"request body larger than {LIMIT} bytes"}
    finally:
        sock.close()
    mcu.wait_until(lambda m: _refused_in(m) == 1.0)
    mcu.wait_idle()


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(start_mcu):
    mcu = start_mcu(http={"max_body_bytes": LIMIT})
    sock = _connect(mcu)
    try:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: mcu\r\nContent-Type: application/json"
                     "\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        sent = 0
        answer = None
        while answer is None and sent < FIVE_MB:
            sock.sendall(b"%x\r\n%s\r\n" % (CHUNK, b" " * CHUNK))
            sent += CHUNK
            answer = _answer(sock, 0.5)
        assert answer, "no answer"
        # refused once past the limit, a few chunks of buffering at most: never 5 MB
        assert LIMIT < sent <= LIMIT + 8 * CHUNK, sent
        status, body = _status_and_json(answer)
        assert status == 413
        assert body == {"detail": f"request body larger than {LIMIT} bytes"}
    finally:
        sock.close()
    mcu.wait_until(lambda m: _refused_in(m) == 1.0)
    # a body under the limit still reaches the API (and its own answer)
    sock = _connect(mcu)
    try:
        body = b'{"username": "nobody", "password": "wrong"}'
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: mcu\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                     + body)
        answer = _answer(sock, 10.0)
        assert answer and answer.split(b" ", 2)[1] == b"401"
    finally:
        sock.close()
    assert _refused(mcu) == 1.0
    mcu.wait_idle()


def _refused_in(m: Mcu) -> float:
    return m.metrics.value("mcu_http_refused_total", reason="body_too_large")
