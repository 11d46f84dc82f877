"""RTSP messages on a TCP byte stream: request serialization and an incremental parser.

Written by hand: no maintained Python RTSP library is sans-IO, and an RTSP connection
carries responses *and* interleaved RTP/RTCP frames (RFC 2326 10.12: ``$``, channel,
2-byte length, data) on one stream, which HTTP parsers do not demultiplex.

The parser is pure: bytes in, items out (``RtspResponse``, ``RtspRequest`` from the
server, ``InterleavedFrame``, or one final ``ParseError``). Header and body sizes are
bounded, so a hostile or broken server can never make it buffer without limit. After a
``ParseError`` the stream is out of sync and the parser yields nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "mcu-rtsp/0.1"

_STATUS_LINE = re.compile(r"^RTSP/([12])\.(\d) (\d{3})(?: (.*))?$")
_REQUEST_LINE = re.compile(r"^([A-Z_]{1,32}) (\S+) RTSP/([12])\.(\d)$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


@dataclass(slots=True)
class RtspResponse:
    version: str  # "RTSP/1.0" or "RTSP/2.0"
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or None."""
        return _header(self.headers, name)

    def header_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    @property
    def cseq(self) -> int | None:
        value = self.header("CSeq")
        if value is None or not value.strip().isdigit():
            return None
        return int(value.strip())


@dataclass(slots=True)
class RtspRequest:
    """A request: what the client sends, or one a server sends us (e.g. GET_PARAMETER)."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)


class InterleavedFrame(NamedTuple):
    """One RTP or RTCP packet on the stream (``client.Interleaved`` is this class).
    A tuple, not a frozen dataclass: a playing camera brings hundreds a second, and a
    tuple is the cheapest immutable record to build."""

    channel: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ParseError:
    reason: str


ParsedItem = RtspResponse | RtspRequest | InterleavedFrame | ParseError


def serialize_request(
    method: str,
    url: str,
    cseq: int,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> bytes:
    """``METHOD url RTSP/1.0`` with CSeq first, the given headers, Content-Length if a body."""
    if not re.fullmatch(r"[A-Z_]{1,32}", method):
        raise ValueError(f"bad RTSP method {method!r}")
    if any(c in url for c in " \r\n"):
        raise ValueError("URL contains whitespace")
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}"]
    for name, value in headers:
        if not _HEADER_NAME.match(name) or "\r" in value or "\n" in value:
            raise ValueError(f"bad header {name!r}")
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def serialize_response(
    status: int, reason: str, cseq: int | None, headers: Iterable[tuple[str, str]] = ()
) -> bytes:
    """A body-less response, for answering the few requests a server may send us."""
    lines = [f"RTSP/1.0 {status} {reason}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _frames(data: bytes | bytearray, pos: int, out: list[ParsedItem]) -> int:
    """"$", channel, 16-bit length, the packet: every whole frame of ``data`` from
    ``pos`` on, each copied out once, into ``out``; returns where they end."""
    size = len(data)
    with memoryview(data) as view:
        while size - pos >= 4 and data[pos] == 0x24:
            end = pos + 4 + ((data[pos + 2] << 8) | data[pos + 3])
            if end > size:
                break
            out.append(InterleavedFrame(data[pos + 1], view[pos + 4 : end].tobytes()))
            pos = end
    return pos


class ResponseParser:
    """Incremental parser of the server-to-client byte stream."""

    def __init__(
        self, *, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._buf = bytearray()
        self._head: RtspResponse | RtspRequest | None = None  # waiting for its body
        self._body_len = 0
        self.failed: str | None = None

    @property
    def partial(self) -> str | None:
        """What a connection closed now would cut short: "response body", "response
        header", "interleaved frame", or None between messages."""
        if self.failed is not None:
            return None
        if self._head is not None:
            return "response body"
        rest = bytes(self._buf).lstrip(b"\r\n")
        if not rest:
            return None
        return "interleaved frame" if rest[:1] == b"$" else "response header"

    def feed(self, data: bytes) -> list[ParsedItem]:
        if self.failed is not None:
            return []
        buf = self._buf
        out: list[ParsedItem] = []
        start = 0 if self._head is None and not buf else self._rest_of_frame(data, out)
        if start is not None:
            # Between messages, a playing stream's read is interleaved frames (and maybe
            # the start of one more, or an answer): the whole frames are cut straight
            # from ``data``, one copy each, without passing through the buffer.
            taken = _frames(data, start, out)
            if taken == len(data):
                return out
            buf += memoryview(data)[taken:]
        else:
            buf += data
        while True:
            if self._head is None:
                # blank lines between messages are tolerated (keep-alive CRLFs)
                while buf[:2] == b"\r\n" or buf[:1] == b"\n":
                    del buf[: 2 if buf[:1] == b"\r" else 1]
                if buf[:1] == b"$":
                    taken = _frames(buf, 0, out)  # as many whole frames as it holds
                    del buf[:taken]
                    if buf[:1] == b"$" or not buf:  # a frame still partial, or nothing
                        return out
                    continue
                if not buf or buf == b"\r":  # nothing, or half a CRLF: wait for more
                    return out
            try:
                item = self._next()
            except _Fault as fault:
                self.failed = str(fault)
                self._buf.clear()
                out.append(ParseError(self.failed))
                return out
            if item is None:
                return out
            out.append(item)

    def _rest_of_frame(self, data: bytes, out: list[ParsedItem]) -> int | None:
        """When the buffer holds only the start of a frame (the last read cut it) and
        ``data`` brings the rest: that frame, into ``out``; returns where it ends in
        ``data``. None for anything else (the buffer then takes ``data``)."""
        buf = self._buf
        if self._head is not None or len(buf) < 4 or buf[0] != 0x24:
            return None
        need = 4 + ((buf[2] << 8) | buf[3]) - len(buf)
        if not 0 < need <= len(data):
            return None
        buf += memoryview(data)[:need]
        _frames(buf, 0, out)
        buf.clear()
        return need

    def _next(self) -> ParsedItem | None:
        buf = self._buf
        if self._head is not None:
            if len(buf) < self._body_len:
                return None
            msg = self._head
            msg.body = bytes(buf[: self._body_len])
            del buf[: self._body_len]
            self._head = None
            return msg
        # A message starts here (``feed`` took blank lines and frames).
        if not buf[:1].isalpha():
            raise _Fault(f"garbage on the stream: {bytes(buf[:16])!r}")
        end, sep = _find_header_end(buf)
        if end < 0:
            if len(buf) > self.max_header_bytes:
                raise _Fault(f"headers exceed {self.max_header_bytes} bytes")
            # a start line that can never become a status or request line: fail early
            first = bytes(buf.split(b"\n", 1)[0])
            if b"\n" in buf and not (first.startswith(b"RTSP/") or b" RTSP/" in first):
                raise _Fault(f"not an RTSP start line: {first[:64]!r}")
            return None
        if end > self.max_header_bytes:
            raise _Fault(f"headers exceed {self.max_header_bytes} bytes")
        head = bytes(buf[:end])
        del buf[: end + sep]
        msg = _parse_head(head)
        length_text = msg.header("Content-Length")
        length = 0
        if length_text is not None:
            if not length_text.strip().isdigit():
                raise _Fault(f"bad Content-Length {length_text[:32]!r}")
            length = int(length_text.strip())
            if length > self.max_body_bytes:
                raise _Fault(f"body of {length} bytes exceeds {self.max_body_bytes}")
        self._head, self._body_len = msg, length
        return self._next()


class _Fault(Exception):
    pass


def _find_header_end(buf: bytearray) -> tuple[int, int]:
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 4
    if lf >= 0:
        return lf, 2
    return -1, 0


def _parse_head(head: bytes) -> RtspResponse | RtspRequest:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0].strip()
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.match(name.strip()):
            raise _Fault(f"malformed header line {line[:64]!r}")
        headers.append((name.strip(), value.strip()))
    status = _STATUS_LINE.match(start)
    if status:
        major, minor, code, reason = status.groups()
        return RtspResponse(f"RTSP/{major}.{minor}", int(code), reason or "", headers)
    request = _REQUEST_LINE.match(start)
    if request:
        return RtspRequest(request.group(1), request.group(2), headers)
    raise _Fault(f"not an RTSP status line: {start[:64]!r}")
