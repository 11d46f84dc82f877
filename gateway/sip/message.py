"""SIP message parsing and serialisation (RFC 3261 §7, §20, §25), sans-IO.

Fast path design: the header block is decoded once, split on CRLF, unfolded and
each line partitioned on ':'. Structured values (Via, name-addr, URIs) are parsed
only when asked for, with regular expressions rather than per-character loops.

Text is decoded as UTF-8 with ``surrogateescape`` so that arbitrary octets survive
a parse/serialise round trip unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "COMPACT_FORMS",
    "NameAddr",
    "SipMessage",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "SipUri",
    "StreamFramer",
    "Via",
    "decimal_value",
    "parse_message",
    "parse_name_addr",
    "parse_name_addr_list",
    "parse_params",
    "parse_uri",
    "parse_via",
    "reason_phrase",
    "split_commas",
    "validate_request",
    "validate_response",
]

DEFAULT_MAX_SIZE = 65535
ENC = "utf-8"
ERRS = "surrogateescape"

COMPACT_FORMS: dict[str, str] = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

_CANONICAL: dict[str, str] = {
    n.lower(): n
    for n in (
        "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info",
        "Allow", "Allow-Events", "Authentication-Info", "Authorization", "Call-ID",
        "Call-Info", "Contact", "Content-Disposition", "Content-Encoding",
        "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date",
        "Error-Info", "Event", "Expires", "From", "Identity", "Identity-Info",
        "In-Reply-To", "Max-Forwards", "Min-Expires", "MIME-Version", "Organization",
        "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require",
        "Reason", "Record-Route", "Refer-To", "Referred-By", "Reject-Contact",
        "Reply-To", "Request-Disposition", "Require", "Retry-After", "Route", "RSeq",
        "Server", "Session-Expires", "Subject", "Supported", "Timestamp", "To",
        "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
    )
}

# Headers whose values are never comma-separated lists (RFC 3261 §7.3.1 exceptions
# and single-valued fields).
_NOT_LISTS = frozenset(
    {
        "www-authenticate", "authorization", "proxy-authenticate", "proxy-authorization",
        "date", "call-id", "cseq", "from", "to", "max-forwards", "content-length",
        "content-type", "subject", "user-agent", "server", "expires", "retry-after",
        "timestamp", "organization", "identity", "min-expires", "mime-version",
    }
)
SINGLE_VALUED = ("call-id", "cseq", "from", "to", "max-forwards", "content-type",
                 "content-length", "expires")

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_TOKEN_RE = re.compile(_TOKEN)
_SCHEME_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"]+")
_VERSION_RE = re.compile(r"SIP/\d+\.\d+", re.I)
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_UNQUOTE_RE = re.compile(r"\\(.)", re.S)
_COMMA_ITEM_RE = re.compile(r'(?:"(?:[^"\\]|\\.)*"|<[^>]*>|[^,"<])+', re.S)
_DISPLAY_TOKENS_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~ \t]*")
_CSEQ_RE = re.compile(r"(\d+)\s+(" + _TOKEN + r")")
_DATE_RE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT"
)
_VIA_RE = re.compile(
    r"SIP\s*/\s*2\.0\s*/\s*(" + _TOKEN + r")\s+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:\s*:\s*(\d{1,5}))?\s*(.*)",
    re.I | re.S,
)

REASONS: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Moved Temporarily", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 408: "Request Timeout", 410: "Gone",
    413: "Request Entity Too Large", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
    500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


def reason_phrase(status: int) -> str:
    return REASONS.get(status, "Unknown")


class SipParseError(ValueError):
    """A message that cannot be accepted. ``status`` is what a request earns
    (400, 505, 513, ...); ``reason`` names the fault; ``message`` is whatever was
    recovered (may be None) so that a response can still be routed back."""

    def __init__(self, status: int, reason: str, message: SipMessage | None = None,
                 is_response: bool = False) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message
        self.is_response = is_response


def decimal_value(text: str | bytes, max_digits: int = 10) -> int | None:
    """A non-negative integer written in ASCII digits, or None. Bounded, because a peer
    controls the text: ``int()`` takes other Unicode digits (and raises on some, like
    "²") and refuses strings over 4300 digits; neither may escape as an exception."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if not (text.isascii() and text.isdigit()):
        return None
    significant = text.lstrip("0")
    if len(significant) > max_digits:
        return None
    return int(significant or "0")


def _bad(what: str, msg: SipMessage | None = None, status: int = 400) -> SipParseError:
    base = reason_phrase(status)
    return SipParseError(status, f"{base} ({what})", msg)


def canonical_name(name: str) -> str:
    lname = name.lower()
    if len(lname) == 1:
        lname = COMPACT_FORMS.get(lname, lname)
    return _CANONICAL.get(lname, name)


# --------------------------------------------------------------------------- messages


class SipMessage:
    """Headers in arrival order as (name, value) pairs; lookups are case-insensitive
    and compact forms are expanded. ``body`` is bytes."""

    __slots__ = ("headers", "_index", "body", "_vias")

    def __init__(self, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> None:
        self.headers: list[tuple[str, str]] = []
        self._index: dict[str, list[str]] = {}
        self.body = body
        self._vias: list[str] | None = None
        if headers:
            for name, value in headers:
                self.add(name, value)

    # -- access
    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._index.get(_LNAME_CACHE.get(name) or _lname(name))
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every header field value of that name, as written (not comma-split)."""
        return list(self._index.get((_LNAME_CACHE.get(name) or _lname(name)), ()))

    def values(self, name: str) -> list[str]:
        """Every value of that name, comma-separated lists split (quotes and <> kept)."""
        lname = (_LNAME_CACHE.get(name) or _lname(name))
        raw = self._index.get(lname)
        if not raw:
            return []
        if lname in _NOT_LISTS:
            return list(raw)
        out: list[str] = []
        for value in raw:
            out.extend(split_commas(value))
        return out

    def count(self, name: str) -> int:
        return len(self._index.get((_LNAME_CACHE.get(name) or _lname(name)), ()))

    def __contains__(self, name: str) -> bool:
        return (_LNAME_CACHE.get(name) or _lname(name)) in self._index

    # -- mutation
    def add(self, name: str, value: str) -> None:
        lname = (_LNAME_CACHE.get(name) or _lname(name))
        self.headers.append((_CANONICAL.get(lname, name), value))
        self._index.setdefault(lname, []).append(value)
        if lname == "via":
            self._vias = None

    def remove(self, name: str) -> None:
        lname = (_LNAME_CACHE.get(name) or _lname(name))
        if lname in self._index:
            del self._index[lname]
            cache = _LNAME_CACHE
            self.headers = [(n, v) for n, v in self.headers
                            if (cache.get(n) or _lname(n)) != lname]
            if lname == "via":
                self._vias = None

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.add(name, value)

    # -- Via helpers
    @property
    def vias(self) -> list[str]:
        """Via values, one per hop, top first (comma lists split)."""
        if self._vias is None:
            self._vias = self.values("via")
        return self._vias

    def set_vias(self, vias: list[str]) -> None:
        self.remove("via")
        pos = 0
        # keep Via first-ish: insert at the front of the header list
        for v in vias:
            self.headers.insert(pos, ("Via", v))
            pos += 1
        self._index["via"] = list(vias)
        self._vias = list(vias)

    @property
    def top_via(self) -> Via:
        vias = self.vias
        if not vias:
            raise _bad("missing Via", self)
        return parse_via(vias[0])

    @property
    def call_id(self) -> str:
        return (self.get("call-id") or "").strip()

    @property
    def cseq(self) -> tuple[int, str]:
        value = self.get("cseq")
        m = _CSEQ_RE.fullmatch(value.strip()) if value else None
        if not m:
            raise _bad("malformed CSeq", self)
        return int(m.group(1)), m.group(2)

    @property
    def from_tag(self) -> str | None:
        return _tag_of(self.get("from"))

    @property
    def to_tag(self) -> str | None:
        return _tag_of(self.get("to"))

    @property
    def content_type(self) -> str | None:
        value = self.get("content-type")
        if value is None:
            return None
        return value.split(";", 1)[0].strip().lower()

    # -- serialisation
    def _header_lines(self) -> list[str]:
        cache = _LNAME_CACHE
        lines = [f"{name}: {value}" for name, value in self.headers
                 if (cache.get(name) or _lname(name)) != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return lines

    def start_line(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        head = "\r\n".join([self.start_line(), *self._header_lines()]) + "\r\n\r\n"
        return head.encode(ENC, ERRS) + self.body

    __bytes__ = to_bytes


class SipRequest(SipMessage):
    __slots__ = ("method", "uri", "version")

    def __init__(self, method: str, uri: str, headers: list[tuple[str, str]] | None = None,
                 body: bytes = b"", version: str = "SIP/2.0") -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri = uri
        self.version = version

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"

    def __repr__(self) -> str:
        return f"<SipRequest {self.method} {self.uri}>"


class SipResponse(SipMessage):
    __slots__ = ("status", "reason", "version")

    def __init__(self, status: int, reason: str | None = None,
                 headers: list[tuple[str, str]] | None = None, body: bytes = b"",
                 version: str = "SIP/2.0") -> None:
        super().__init__(headers, body)
        self.status = status
        self.reason = reason if reason is not None else reason_phrase(status)
        self.version = version

    def start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<SipResponse {self.status} {self.reason}>"


_LNAME_CACHE: dict[str, str] = {}

# Memo of successful parses, keyed by the exact header text. The same From/To/Via
# strings are parsed several times per message and again by every message of a
# transaction or dialog. Only immutable parts are stored; every call returns a fresh
# object (params copied), so callers may still mutate what they get. Failures are
# not memoised: they raise each time. Bounded: cleared when full.
_MEMO_MAX = 4096
_VIA_MEMO: dict[str, tuple[str, str, int | None, dict[str, str | None]]] = {}
_NAME_ADDR_MEMO: dict[str, tuple[str | None, str, dict[str, str | None], bool]] = {}
_URI_MEMO: dict[str, tuple] = {}
_TAG_MEMO: dict[str, str | None] = {}


def _remember(memo: dict, key: str, value: object) -> None:
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = value


def _lname(name: str) -> str:
    cached = _LNAME_CACHE.get(name)
    if cached is not None:
        return cached
    lname = name.lower()
    if len(lname) == 1:
        lname = COMPACT_FORMS.get(lname, lname)
    if len(_LNAME_CACHE) < 4096:
        _LNAME_CACHE[name] = lname
    return lname


def _tag_of(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return _TAG_MEMO[value]
    except KeyError:
        pass
    # fast path: the tag is a header param after the URI
    if "tag" not in value.lower():
        return None
    try:
        tag = parse_name_addr(value).params.get("tag")
    except SipParseError:
        return None
    _remember(_TAG_MEMO, value, tag)
    return tag


# --------------------------------------------------------------------------- parsing


def parse_message(data: bytes, max_size: int = DEFAULT_MAX_SIZE,
                  stream: bool = False) -> SipRequest | SipResponse:
    """Parse one message. On a datagram (``stream=False``) Content-Length bounds the
    body and trailing octets are ignored; without Content-Length the body is the rest.
    Raises SipParseError."""
    hend = data.find(b"\r\n\r\n")
    if hend < 0:
        # be lenient with bare LF line ends
        lf = data.find(b"\n\n")
        if lf < 0 and not stream and data.endswith(b"\n"):
            # a datagram that ends right after its last header line: the datagram
            # boundary ends the header block (no body)
            lf = len(data)
            data = data + b"\n\n"
        if lf < 0:
            raise _bad("no end of headers")
        head_text = data[:lf].decode(ENC, ERRS).replace("\r\n", "\n")
        lines = head_text.split("\n")
        body_start = lf + 2
    else:
        lines = data[:hend].decode(ENC, ERRS).split("\r\n")
        body_start = hend + 4

    while lines and not lines[0]:  # leading CRLFs are tolerated (§7.5)
        lines.pop(0)
    if not lines:
        raise _bad("empty message")
    start = lines[0]
    is_response = start[:4].upper() == "SIP/"

    msg = SipMessage()
    error: SipParseError | None = None
    index = msg._index
    hdrs = msg.headers
    current: list[str] | None = None
    pending: list[list[str]] = []
    for line in lines[1:]:
        if not line:
            continue
        c = line[0]
        if c == " " or c == "\t":
            if current is None:
                error = error or _bad("continuation line without header")
                continue
            cont = line.strip(" \t")
            current[1] = f"{current[1]} {cont}" if current[1] else cont
            continue
        current = [line, ""]
        pending.append(current)
    for pair in pending:
        line = pair[0]
        name, sep, value = line.partition(":")
        if not sep:
            error = error or _bad("malformed header line")
            continue
        name = name.rstrip(" \t")
        if not _TOKEN_RE.fullmatch(name):
            error = error or _bad("malformed header name")
            continue
        value = value.strip(" \t")
        if pair[1]:
            value = (value + " " + pair[1]).strip(" \t") if value else pair[1]
        lname = (_LNAME_CACHE.get(name) or _lname(name))
        hdrs.append((_CANONICAL.get(lname, name), value))
        lst = index.get(lname)
        if lst is None:
            index[lname] = [value]
        else:
            lst.append(value)

    # start line
    out: SipRequest | SipResponse
    if is_response:
        parts = start.split(" ", 2)
        if len(parts) < 2:
            raise SipParseError(400, "Bad Request (malformed Status-Line)", None, True)
        version = parts[0]
        code = parts[1]
        if not (len(code) == 3 and code.isdigit() and "100" <= code <= "699"):
            raise SipParseError(400, "Bad Request (bad status code)", None, True)
        if version.upper() != "SIP/2.0":
            raise SipParseError(505, "Version Not Supported", None, True)
        out = SipResponse(int(code), parts[2] if len(parts) > 2 else "")
    else:
        parts = start.split(" ")
        if len(parts) != 3:
            error = _bad("malformed Request-Line")
            out = SipRequest("", "")
        else:
            method, uri, version = parts
            out = SipRequest(method, uri, version="SIP/2.0")
            if version.upper() != "SIP/2.0":
                if _VERSION_RE.fullmatch(version):
                    error = SipParseError(505, "Version Not Supported")
                else:
                    error = _bad("malformed Request-Line")
            elif not _TOKEN_RE.fullmatch(method):
                error = _bad("malformed method")
            elif not _SCHEME_URI_RE.fullmatch(uri):
                error = _bad("malformed Request-URI")
    out.headers = hdrs
    out._index = index

    if error is None and len(data) > max_size:
        error = SipParseError(513, "Message Too Large")

    # body
    cl_values = index.get("content-length")
    if cl_values is None:
        if stream and error is None:
            error = _bad("missing Content-Length")
        out.body = data[body_start:]
    elif len(cl_values) > 1:
        error = error or _bad("multiple Content-Length")
        out.body = b""
    else:
        n = decimal_value(cl_values[0])
        if n is None:
            error = error or _bad("malformed Content-Length")
            out.body = b""
        else:
            rest = len(data) - body_start
            if rest < n:
                error = error or _bad("Content-Length larger than body")
                out.body = data[body_start:]
            else:
                out.body = data[body_start:body_start + n]
    if error is not None:
        error.message = out
        error.is_response = is_response
        raise error
    return out


class StreamFramer:
    """Splits a byte stream (TCP) into whole messages by Content-Length."""

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self.partial_since: float | None = None
        """When the first byte of the incomplete message now buffered arrived (the ``now``
        of its ``feed``); None when nothing but whole messages came (slowloris check)."""
        self.pings = 0
        """RFC 5626 keep-alive pings (CRLFCRLF between messages) not yet answered."""
        self._crlf_run = 0  # CRLF bytes seen since the last message, across chunks

    def feed(self, data: bytes, now: float | None = None) -> list[bytes]:
        """Returns complete messages; raises SipParseError on an unframeable stream
        (missing/malformed Content-Length, oversize). Keep-alive CRLFs are skipped."""
        had_partial = bool(self._buf)
        out = self._split(data)
        if not self._buf:
            self.partial_since = None
        elif out or not had_partial:  # the incomplete message began in this chunk
            self.partial_since = now
        return out

    def _split(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        while True:
            # strip keep-alive / inter-message CRLFs
            i = 0
            n = len(buf)
            while i < n and buf[i] in (13, 10):
                i += 1
            if i:
                self._count_pings(bytes(buf[:i]))
                del buf[:i]
            if not buf:
                break
            self._crlf_run = 0
            hend = buf.find(b"\r\n\r\n")
            if hend < 0:
                if len(buf) > self.max_size:
                    raise SipParseError(513, "Message Too Large")
                break
            head = bytes(buf[:hend])
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, sep, value = line.partition(b":")
                if not sep:
                    continue
                lname = name.strip().lower()
                if lname in (b"content-length", b"l"):
                    if length is not None:
                        raise _bad("multiple Content-Length")
                    length = decimal_value(value.strip())
                    if length is None:
                        raise _bad("malformed Content-Length")
            if length is None:
                raise _bad("missing Content-Length")
            total = hend + 4 + length
            if total > self.max_size:
                raise SipParseError(513, "Message Too Large")
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out

    def _count_pings(self, run: bytes) -> None:
        """A ping is a double CRLF (RFC 5626 4.4.1); a lone CRLF is a pong or padding."""
        self._crlf_run += len(run)
        while self._crlf_run >= 4:
            self.pings += 1
            self._crlf_run -= 4

    def take_pings(self) -> int:
        pings, self.pings = self.pings, 0
        return pings

    @property
    def buffered(self) -> int:
        return len(self._buf)


# --------------------------------------------------------------------------- values


def split_commas(value: str) -> list[str]:
    """Split a header value on commas outside quoted strings and <...>."""
    if "," not in value:
        return [value.strip()]
    if '"' not in value and "<" not in value:
        return [v.strip() for v in value.split(",")]
    items = []
    pos = 0
    for m in _COMMA_ITEM_RE.finditer(value):
        gap = value[pos:m.start()]
        if gap.count(",") > 1:
            items.extend([""] * (gap.count(",") - 1))
        items.append(m.group(0).strip())
        pos = m.end()
    if value[pos:].strip(" \t") == ",":
        items.append("")
    return items


def parse_params(text: str, strict: bool = True) -> dict[str, str | None]:
    """Parse ``;a=b;c`` (leading ';' optional, LWS around ';' and '=' allowed).
    Names are lower-cased; quoted values are kept quoted."""
    params: dict[str, str | None] = {}
    text = text.strip()
    if not text:
        return params
    if text[0] == ";":
        text = text[1:]
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not name or not _TOKEN_RE.fullmatch(name):
            if strict:
                raise _bad("malformed parameter")
            continue
        params[name.lower()] = value.strip() if sep else None
    return params


@dataclass(slots=True)
class SipUri:
    scheme: str
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str | None = None  # raw text after '?', escapes kept
    opaque: str | None = None  # for non-sip schemes: everything after "scheme:"

    def __str__(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        s = f"{self.scheme}:"
        if self.user is not None:
            s += self.user
            if self.password is not None:
                s += ":" + self.password
            s += "@"
        s += self.host
        if self.port is not None:
            s += f":{self.port}"
        for k, v in self.params.items():
            s += f";{k}" if v is None else f";{k}={v}"
        if self.headers is not None:
            s += "?" + self.headers
        return s

    @property
    def hostport(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


_HOST_RE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,=]+)(?::(\d{1,5}))?")


def parse_uri(text: str) -> SipUri:
    """Parse a URI. sip/sips/tel URIs are broken into parts (escapes kept); other
    schemes keep their opaque part."""
    hit = _URI_MEMO.get(text)
    if hit is not None:
        scheme, user, password, host, port, params, headers, opaque = hit
        return SipUri(scheme, user, password, host, port, dict(params), headers, opaque)
    uri = _parse_uri(text)
    _remember(_URI_MEMO, text, (uri.scheme, uri.user, uri.password, uri.host, uri.port,
                                dict(uri.params), uri.headers, uri.opaque))
    return uri


def _parse_uri(text: str) -> SipUri:
    scheme, sep, rest = text.strip().partition(":")
    if not sep or not scheme or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme):
        raise _bad("malformed URI")
    lscheme = scheme.lower()
    if lscheme not in ("sip", "sips"):
        return SipUri(scheme=lscheme, opaque=rest)
    if not rest or any(c in rest for c in " \t<>\""):
        raise _bad("malformed URI")
    user = password = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1:]
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
    rest, qmark, headers = rest.partition("?")
    hostport, _, paramtext = rest.partition(";")
    m = _HOST_RE.fullmatch(hostport)
    if not m:
        raise _bad("malformed URI host")
    params = parse_params(paramtext, strict=True) if paramtext else {}
    return SipUri(
        scheme=lscheme,
        user=user,
        password=password,
        host=m.group(1),
        port=int(m.group(2)) if m.group(2) else None,
        params=params,
        headers=headers if qmark else None,
    )


@dataclass(slots=True)
class NameAddr:
    display_name: str | None
    uri: str
    params: dict[str, str | None] = field(default_factory=dict)
    bracketed: bool = True

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        s = ""
        if self.display_name:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            s = f'"{escaped}" '
        s += f"<{self.uri}>"
        for k, v in self.params.items():
            s += f";{k}" if v is None else f";{k}={v}"
        return s


def parse_name_addr(value: str) -> NameAddr:
    """Parse From/To/Contact/Route style values: name-addr or addr-spec, then params."""
    hit = _NAME_ADDR_MEMO.get(value)
    if hit is not None:
        return NameAddr(hit[0], hit[1], dict(hit[2]), hit[3])
    na = _parse_name_addr(value)
    _remember(_NAME_ADDR_MEMO, value, (na.display_name, na.uri, dict(na.params), na.bracketed))
    return na


def _parse_name_addr(value: str) -> NameAddr:
    text = value.strip()
    if not text:
        raise _bad("empty address")
    display: str | None = None
    if text[0] == '"':
        m = _QUOTED_RE.match(text)
        if not m:
            raise _bad("unbalanced quotes")
        display = _UNQUOTE_RE.sub(r"\1", m.group(1))
        text = text[m.end():].lstrip()
        if not text.startswith("<"):
            raise _bad("quoted display name without <URI>")
    lt = text.find("<")
    if lt >= 0:
        if display is None:
            raw = text[:lt].strip()
            if raw:
                if not _DISPLAY_TOKENS_RE.fullmatch(raw):
                    raise _bad("malformed display name")
                display = " ".join(raw.split())
        gt = text.find(">", lt)
        if gt < 0:
            raise _bad("unbalanced <>")
        uri = text[lt + 1:gt]
        if not uri or uri != uri.strip() or not _SCHEME_URI_RE.fullmatch(uri):
            raise _bad("malformed URI in <>")
        params = parse_params(text[gt + 1:]) if text[gt + 1:].strip() else {}
        return NameAddr(display, uri, params, True)
    if '"' in text:
        raise _bad("unbalanced quotes")
    uri, _, paramtext = text.partition(";")
    uri = uri.strip()
    if not _SCHEME_URI_RE.fullmatch(uri) or "?" in uri or "," in uri:
        raise _bad("malformed addr-spec")
    params = parse_params(paramtext) if paramtext.strip() else {}
    return NameAddr(None, uri, params, False)


def parse_name_addr_list(value: str) -> list[NameAddr]:
    items = split_commas(value)
    if any(not item for item in items):
        raise _bad("empty list element")
    return [parse_name_addr(item) for item in items]


@dataclass(slots=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str | None]

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def parse_via(value: str) -> Via:
    hit = _VIA_MEMO.get(value)
    if hit is not None:
        return Via(hit[0], hit[1], hit[2], dict(hit[3]))
    via = _parse_via(value)
    _remember(_VIA_MEMO, value, (via.transport, via.host, via.port, dict(via.params)))
    return via


def _parse_via(value: str) -> Via:
    m = _VIA_RE.fullmatch(value.strip())
    if not m:
        raise _bad("malformed Via")
    rest = m.group(4).strip()
    if rest and rest[0] != ";":
        raise _bad("malformed Via")
    try:
        params = parse_params(rest)
    except SipParseError as exc:
        raise _bad("malformed Via") from exc
    port = int(m.group(3)) if m.group(3) else None
    if port is not None and not 0 < port < 65536:
        raise _bad("malformed Via")
    return Via(m.group(1).upper(), m.group(2), port, params)


# --------------------------------------------------------------------------- validation


def _check_common(msg: SipMessage) -> None:
    index = msg._index
    for name in ("via", "from", "to", "call-id", "cseq"):
        if not index.get(name):
            raise _bad(f"missing {canonical_name(name)}", msg)
    for name in SINGLE_VALUED:
        values = index.get(name)
        if values is not None and len(values) > 1:
            raise _bad(f"multiple {canonical_name(name)}", msg)
    vias = msg.vias
    if not vias or any(not v for v in vias):
        raise _bad("malformed Via", msg)
    for v in vias:
        parse_via(v)
    for name in ("from", "to"):
        try:
            parse_name_addr(index[name][0])
        except SipParseError as exc:
            raise _bad(f"malformed {canonical_name(name)}", msg) from exc
    if not index["call-id"][0].strip():
        raise _bad("malformed Call-ID", msg)
    m = _CSEQ_RE.fullmatch(index["cseq"][0].strip())
    if not m or len(m.group(1)) > 10 or int(m.group(1)) >= 2**31:
        raise _bad("malformed CSeq", msg)


def validate_request(req: SipRequest) -> None:
    """Semantic checks a UAS applies before processing (RFC 3261 §8.2, RFC 4475)."""
    _check_common(req)
    index = req._index
    _, method = req.cseq
    if method != req.method:
        raise _bad("CSeq method does not match Request-Line", req)
    mf = index.get("max-forwards")
    if mf is not None:
        v = mf[0].strip()
        hops = decimal_value(v, 3)
        if hops is None or hops > 255:
            raise _bad("malformed Max-Forwards", req)
    if req.uri.lower().startswith(("sip:", "sips:")):
        try:
            uri = parse_uri(req.uri)
        except SipParseError as exc:
            raise _bad("malformed Request-URI", req) from exc
        if uri.headers is not None:
            raise _bad("headers in Request-URI", req)
    date = index.get("date")
    if date is not None and not _DATE_RE.fullmatch(date[0].strip()):
        raise _bad("malformed Date", req)
    expires = index.get("expires")
    if expires is not None:
        v = expires[0].strip()
        seconds = decimal_value(v)
        if seconds is None or seconds >= 2**32:
            raise _bad("malformed Expires", req)
    contacts = index.get("contact")
    if contacts:
        for value in contacts:
            if value.strip() == "*":
                continue
            try:
                for na in parse_name_addr_list(value):
                    exp = na.params.get("expires")
                    seconds = decimal_value(exp) if exp is not None else 0
                    if seconds is None or seconds >= 2**32:
                        raise _bad("malformed Contact expires")
            except SipParseError as exc:
                raise _bad("malformed Contact", req) from exc


def validate_response(resp: SipResponse) -> None:
    _check_common(resp)
