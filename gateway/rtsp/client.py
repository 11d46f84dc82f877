"""The RTSP 1.0 client state machine (RFC 2326), sans-IO.

Written by hand: no maintained Python RTSP client is sans-IO and asyncio-friendly, and
the camera gateway needs one it can drive with fake time in tests.

The core reads no clock and opens no socket. The shell calls ``start(now)``, then
``connection_made(now)`` when it has connected where a ``Connect`` event said,
``feed(data, now)`` with every chunk read, ``handle_timer(now)`` at ``next_timer()``,
``connection_lost(now)`` and ``stop(now)``; after each call it writes
``data_to_send()`` and acts on ``events()``.

Flow: [OPTIONS] -> DESCRIBE -> SETUP per wanted stream -> PLAY -> keep-alive
(GET_PARAMETER when the server's Public lists it, else OPTIONS) every half session
timeout -> TEARDOWN on stop. 3xx + Location restarts at the new URL; 401 is answered
once (and again only for a Digest ``stale=true``); 454 Session Not Found sets up again.
The password never appears in an event, a repr or a log line: URLs are redacted.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from gateway.auth import AuthError, Challenge, authorization, choose_challenge, parse_challenges
from gateway.sdp.model import SdpError, SessionDescription, parse_sdp

from .message import (
    USER_AGENT,
    InterleavedFrame,
    ParsedItem,
    ParseError,
    ResponseParser,
    RtspRequest,
    RtspResponse,
    serialize_request,
    serialize_response,
)

log = logging.getLogger("gateway.rtsp.client")

DEFAULT_SESSION_TIMEOUT = 60.0
MAX_REDIRECTS = 5
MAX_STALE_RETRIES = 3
MAX_SESSION_RECOVERIES = 3
_SCHEMES = ("rtsp", "rtsps", "rtspu")
_REDIRECTS = (300, 301, 302, 303, 305, 307)  # any request: start over at Location


def redact_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, for events, logs and reprs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _split_url(url: str) -> tuple[str, str, int, str | None, str | None]:
    """(URL without credentials, host, port, username, password); raises ValueError."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in _SCHEMES:
        raise ValueError(f"not an rtsp:// URL: {redact_url(url)}")
    if parts.scheme.lower() != "rtsp":
        raise ValueError(f"only rtsp:// over TCP is supported: {redact_url(url)}")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {redact_url(url)}")
    port = parts.port or 554
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return redact_url(url), host, port, user, password


def resolve_control(base: str, control: str | None) -> str:
    """A media or session ``a=control`` resolved against ``base``.

    Absolute URLs stand; ``*`` or nothing is the base itself; a relative one is appended
    to the base with a ``/`` as FFmpeg and live555 do (cameras rely on this, where an
    RFC 3986 join would drop the base's last path segment); ``/path`` is host-relative.
    """
    if control is None or control.strip() in ("", "*"):
        return base
    control = control.strip()
    scheme = control.split(":", 1)[0].lower() if ":" in control else ""
    if scheme in _SCHEMES:
        return control
    if control.startswith("/"):
        return urljoin(base, control)
    return base + control if base.endswith("/") else f"{base}/{control}"


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    """Action for the shell: (re)connect TCP to host:port, then call connection_made."""

    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Redirected:
    url: str  # redacted


@dataclass(frozen=True, slots=True)
class Described:
    sdp: SessionDescription
    base: str  # redacted base URL the controls were resolved against


@dataclass(frozen=True, slots=True)
class StreamInfo:
    kind: str  # "video", "audio", ...
    media_index: int  # index into Described.sdp.media
    control: str  # redacted control URL
    transport: str  # "udp" or "tcp"
    server_address: str | None = None  # udp: where the server sends from
    server_ports: tuple[int, int] | None = None
    client_ports: tuple[int, int] | None = None
    interleaved: tuple[int, int] | None = None  # tcp: (rtp channel, rtcp channel)
    ssrc: int | None = None


@dataclass(frozen=True, slots=True)
class Ready:
    streams: list[StreamInfo]
    session: str


@dataclass(frozen=True, slots=True)
class Playing:
    session: str
    rtp_info: str | None = None


Interleaved = InterleavedFrame
"""One RTP/RTCP packet on the connection (``channel``, ``data``): the parser's own
record, handed on as the event without building a second object per packet."""


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class Closed:
    pass


Event = Connect | Redirected | Described | Ready | Playing | Interleaved | Failed | Closed

Chooser = Callable[[SessionDescription], Sequence[int] | str]
"""Which media sections of the DESCRIBE answer to set up (indices), or why none will do."""


@dataclass(slots=True)
class _Pending:
    method: str
    url: str
    sent_at: float
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class _Track:
    kind: str
    media_index: int
    control: str
    channel: int  # interleaved rtp channel (tcp)


class RtspClient:
    """Pull one RTSP stream set from a camera; see the module docstring for the flow."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        transport: str = "udp",
        client_ports: Mapping[str, tuple[int, int]] | None = None,
        media: Iterable[str] = ("video", "audio"),
        choose: Chooser | None = None,
        send_options: bool = True,
        response_timeout: float = 10.0,
        teardown_timeout: float = 2.0,
        cnonce: Callable[[], str] | None = None,
    ) -> None:
        if transport not in ("udp", "tcp"):
            raise ValueError(f"transport must be 'udp' or 'tcp', not {transport!r}")
        clean, self._host, self._port, url_user, url_password = _split_url(url)
        self.url = clean  # credentials never kept in the URL
        self._username = username if username is not None else url_user
        self._password = password if password is not None else url_password
        self.transport = transport
        self.media = tuple(media)
        self._choose = choose or self._first_of_each_kind
        self.client_ports = dict(client_ports or {})
        if transport == "udp":
            missing = [kind for kind in self.media if kind not in self.client_ports]
            if missing:
                raise ValueError(f"udp needs client_ports for {', '.join(missing)}")
        self.send_options = send_options
        self.response_timeout = response_timeout
        self.teardown_timeout = teardown_timeout
        self._cnonce = cnonce or (lambda: secrets.token_hex(8))

        self.state = "init"
        self._out = bytearray()
        self._events: list[Event] = []
        self._parser = ResponseParser()
        self._cseq = 0
        self._pending: dict[int, _Pending] = {}
        self._connected = False
        self._redirects = 0
        self._public: set[str] = set()
        self._challenge: Challenge | None = None
        self._nc = 0
        self._auth_tries = 0
        self._stale_tries = 0
        self._recoveries = 0
        self._sdp: SessionDescription | None = None
        self._base = self.url
        self._aggregate = self.url
        self._tracks: list[_Track] = []
        self._setup_index = 0
        self._streams: list[StreamInfo] = []
        self._session: str | None = None
        self.session_timeout = DEFAULT_SESSION_TIMEOUT
        self._keepalive_at: float | None = None
        self._close_deadline: float | None = None
        self._now = 0.0

    def __repr__(self) -> str:
        return f"<RtspClient {self.url} {self.transport} {self.state}>"

    # ---- shell interface ------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        if not self._out:
            return b""  # most calls while playing: nothing to say
        data = bytes(self._out)
        self._out.clear()
        return data

    def events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    @property
    def done(self) -> bool:
        return self.state in ("closed", "failed")

    def next_timer(self) -> float | None:
        if self.done:
            return None
        times = [p.sent_at + self.response_timeout for p in self._pending.values()]
        if self._keepalive_at is not None:
            times.append(self._keepalive_at)
        if self._close_deadline is not None:
            times.append(self._close_deadline)
        return min(times) if times else None

    def start(self, now: float) -> None:
        self._now = now
        if self.state != "init":
            return
        self.state = "connecting"
        self._events.append(Connect(self._host, self._port))

    def connection_made(self, now: float) -> None:
        self._now = now
        if self.done:
            return
        self._connected = True
        self._parser = ResponseParser()
        if self.state == "connecting":
            self._begin()

    def connection_failed(self, now: float, reason: str) -> None:
        self._now = now
        self._fail(f"cannot connect to {self._host}:{self._port}: {reason}", True)

    def connection_lost(self, now: float) -> None:
        self._now = now
        self._connected = False
        if self.state == "closing":
            self._finish_close()
        elif not self.done and self.state != "connecting":
            cut = self._parser.partial
            if cut is not None:
                self._fail(f"connection closed by the server in the middle of a {cut} "
                           "(truncated)", True)
            else:
                self._fail("connection closed by the server", True)

    def feed(self, data: bytes, now: float) -> None:
        self._now = now
        if self.done:
            return
        self._take(self._parser.feed(data), self._events)

    def feed_media(self, data: bytes, now: float) -> tuple[list[InterleavedFrame], bool]:
        """``feed`` for a caller that hands interleaved frames on itself (the shell, a
        read of a playing camera at a time; issue 12): the frames come back, in order,
        instead of as events; anything else is taken as ``feed`` takes it. Also says
        whether anything else came (then events, data to send or timers may be new)."""
        self._now = now
        if self.done:
            return [], False
        items = self._parser.feed(data)
        frames: list[InterleavedFrame] = []
        return frames, self._take(items, frames)

    def _take(self, items: list[ParsedItem], frames: list[Any]) -> bool:
        """Parsed items in order: frames onto ``frames``, the rest handled; returns
        whether there was any of the rest."""
        other = False
        for item in items:
            if type(item) is InterleavedFrame:  # most items while playing
                frames.append(item)
                continue
            other = True
            if isinstance(item, ParseError):
                self._fail(f"bad data from the server: {item.reason}", True)
            elif isinstance(item, RtspRequest):
                self._answer_server_request(item)
            else:
                self._on_response(item)
            if self.done:  # nothing after a failure or the close counts
                break
        return other

    def handle_timer(self, now: float) -> None:
        self._now = now
        if self.done:
            return
        if self._close_deadline is not None and now >= self._close_deadline:
            self._finish_close()
            return
        for pending in list(self._pending.values()):
            if now >= pending.sent_at + self.response_timeout:
                if self.state == "closing":
                    self._finish_close()
                    return
                self._fail(
                    f"no answer to {pending.method} within {self.response_timeout:g} s", True
                )
                return
        if self._keepalive_at is not None and now >= self._keepalive_at:
            self._keepalive_at = None
            self._send_keepalive()

    def stop(self, now: float) -> None:
        """TEARDOWN if a session exists, then ``Closed``; the shell closes after Closed."""
        self._now = now
        if self.done or self.state == "closing":
            return
        self._keepalive_at = None
        if self._session is not None and self._connected:
            self.state = "closing"
            self._pending.clear()
            self._send("TEARDOWN", self._aggregate)
            self._close_deadline = now + self.teardown_timeout
        else:
            self._finish_close()

    # ---- the flow -------------------------------------------------------------------------

    def _begin(self) -> None:
        if self.send_options:
            self.state = "options"
            self._send("OPTIONS", self.url)
        else:
            self._describe()

    def _describe(self) -> None:
        self.state = "describe"
        self._send("DESCRIBE", self.url, [("Accept", "application/sdp")])

    def _send(self, method: str, url: str, headers: list[tuple[str, str]] | None = None) -> None:
        self._cseq += 1
        extra = list(headers or [])
        all_headers = [("User-Agent", USER_AGENT), *extra]
        if self._session is not None and method not in ("OPTIONS", "DESCRIBE"):
            all_headers.append(("Session", self._session))
        if self._challenge is not None and self._username is not None:
            self._nc += 1
            value = authorization(
                self._challenge,
                self._username,
                self._password or "",
                method,
                url,
                nc=self._nc,
                cnonce=self._cnonce(),
            )
            all_headers.append(("Authorization", value))
        self._out += serialize_request(method, url, self._cseq, all_headers)
        self._pending[self._cseq] = _Pending(method, url, self._now, extra)
        log.debug("-> %s %s CSeq %d", method, redact_url(url), self._cseq)

    def _resend(self, pending: _Pending) -> None:
        self._send(pending.method, pending.url, pending.headers)

    def _on_response(self, resp: RtspResponse) -> None:
        cseq = resp.cseq
        if cseq is None and len(self._pending) == 1:
            cseq = next(iter(self._pending))
        pending = self._pending.pop(cseq, None) if cseq is not None else None
        if pending is None:
            log.debug("ignoring a response with unknown CSeq %s", resp.header("CSeq"))
            return
        log.debug("<- %d %s for %s", resp.status, resp.reason, pending.method)
        if self.state == "closing":
            if pending.method == "TEARDOWN":
                self._finish_close()
            return
        if resp.status == 401:
            self._on_unauthorized(resp, pending)
            return
        if resp.status in _REDIRECTS:
            self._on_redirect(resp)
            return
        if resp.status == 454 and self._session is not None:
            self._recover_session()
            return
        if pending.method == "OPTIONS" and self.state == "playing":
            self._on_keepalive_answer(resp, pending)
            return
        if pending.method == "GET_PARAMETER":
            self._on_keepalive_answer(resp, pending)
            return
        if resp.status >= 300 and not (pending.method == "OPTIONS" and self.state == "options"):
            retryable = resp.status >= 500 or resp.status in (408, 453)
            self._fail(f"{pending.method} answered {resp.status} {resp.reason}", retryable)
            return
        self._auth_tries = self._stale_tries = 0
        handler = getattr(self, f"_on_{pending.method.lower()}")
        handler(resp)

    def _on_options(self, resp: RtspResponse) -> None:
        public = resp.header("Public")
        if public is not None:
            self._public = {m.strip().upper() for m in public.split(",") if m.strip()}
        if self.state == "options":
            self._describe()

    def _on_describe(self, resp: RtspResponse) -> None:
        try:
            sdp = parse_sdp(resp.body)
        except SdpError as exc:
            self._fail(f"DESCRIBE answered an unusable SDP: {exc.args[-1]}", False)
            return
        base = resp.header("Content-Base") or resp.header("Content-Location") or self.url
        base = base.strip()
        if not urlsplit(base).scheme:
            base = resolve_control(self.url, base)
        self._sdp, self._base = sdp, base
        session_control = next((value for key, value in sdp.attributes if key == "control"), None)
        self._aggregate = resolve_control(base, session_control)
        self._events.append(Described(sdp, redact_url(base)))
        chosen = self._choose(sdp)
        if isinstance(chosen, str):
            self._fail(chosen, False)
            return
        self._tracks = []
        for index in chosen:
            if not 0 <= index < len(sdp.media) or sdp.media[index].media not in self.media:
                self._fail(f"cannot set up media section {index}", False)
                return
            media = sdp.media[index]
            control = resolve_control(base, media.attribute("control"))
            self._tracks.append(_Track(media.media, index, control, 2 * len(self._tracks)))
        if not self._tracks:
            self._fail(f"the camera offers no {', '.join(self.media)} stream", False)
            return
        self._setup_index = 0
        self._streams = []
        self._setup_next()

    def _first_of_each_kind(self, sdp: SessionDescription) -> list[int]:
        """The default choice: the first media section of each kind asked for."""
        first: dict[str, int] = {}
        for index, media in enumerate(sdp.media):
            if media.media in self.media:
                first.setdefault(media.media, index)
        return sorted(first.values())

    def _setup_next(self) -> None:
        self.state = "setup"
        track = self._tracks[self._setup_index]
        if self.transport == "tcp":
            ch = track.channel
            value = f"RTP/AVP/TCP;unicast;interleaved={ch}-{ch + 1}"
        else:
            rtp, rtcp = self.client_ports[track.kind]
            value = f"RTP/AVP;unicast;client_port={rtp}-{rtcp}"
        self._send("SETUP", track.control, [("Transport", value)])

    def _on_setup(self, resp: RtspResponse) -> None:
        track = self._tracks[self._setup_index]
        session = resp.header("Session")
        if session is None and self._session is None:
            self._fail("SETUP answered without a Session header", False)
            return
        if session is not None:
            sid, timeout = _parse_session(session)
            if not sid:
                self._fail(f"SETUP answered a malformed Session {session[:64]!r}", False)
                return
            self._session = sid
            if timeout is not None:
                self.session_timeout = timeout
        params = _parse_transport(resp.header("Transport") or "")
        info = self._stream_info(track, params)
        if isinstance(info, str):
            self._fail(info, False)
            return
        self._streams.append(info)
        self._setup_index += 1
        if self._setup_index < len(self._tracks):
            self._setup_next()
            return
        self._events.append(Ready(list(self._streams), self._session or ""))
        self.state = "play"
        self._send("PLAY", self._aggregate, [("Range", "npt=0.000-")])

    def _stream_info(self, track: _Track, params: dict[str, str]) -> StreamInfo | str:
        control = redact_url(track.control)
        ssrc = _parse_ssrc(params.get("ssrc"))
        if self.transport == "tcp":
            channels = _parse_pair(params.get("interleaved")) or (track.channel, track.channel + 1)
            if params.get("_proto", "").upper() not in ("RTP/AVP/TCP", ""):
                return f"SETUP of {track.kind} answered a non-TCP transport"
            return StreamInfo(
                track.kind, track.media_index, control, "tcp", interleaved=channels, ssrc=ssrc
            )
        if "interleaved" in params or params.get("_proto", "").upper().endswith("/TCP"):
            return f"SETUP of {track.kind} answered TCP where UDP was asked"
        server_ports = _parse_pair(params.get("server_port"))
        source = params.get("source") or self._host
        return StreamInfo(
            track.kind,
            track.media_index,
            control,
            "udp",
            server_address=source,
            server_ports=server_ports,
            client_ports=self.client_ports[track.kind],
            ssrc=ssrc,
        )

    def _on_play(self, resp: RtspResponse) -> None:
        self.state = "playing"
        self._recoveries = 0
        self._events.append(Playing(self._session or "", resp.header("RTP-Info")))
        self._arm_keepalive()

    def _on_teardown(self, resp: RtspResponse) -> None:  # only reached when closing
        self._finish_close()

    # ---- keep-alive -----------------------------------------------------------------------

    def _arm_keepalive(self) -> None:
        self._keepalive_at = self._now + max(self.session_timeout / 2.0, 1.0)

    def _send_keepalive(self) -> None:
        if "GET_PARAMETER" in self._public:
            self._send("GET_PARAMETER", self._aggregate)
        else:
            self._send("OPTIONS", self._aggregate)

    def _on_keepalive_answer(self, resp: RtspResponse, pending: _Pending) -> None:
        if pending.method == "GET_PARAMETER" and resp.status in (405, 451, 501):
            self._public.discard("GET_PARAMETER")  # fall back to OPTIONS from now on
            self._send_keepalive()
            return
        if resp.status >= 400:
            self._fail(f"keep-alive {pending.method} answered {resp.status} {resp.reason}", True)
            return
        self._arm_keepalive()

    # ---- redirects, auth, session loss ----------------------------------------------------

    def _on_redirect(self, resp: RtspResponse) -> None:
        location = resp.header("Location")
        if not location:
            self._fail(f"redirect {resp.status} without a Location", False)
            return
        self._redirects += 1
        if self._redirects > MAX_REDIRECTS:
            self._fail(f"more than {MAX_REDIRECTS} redirects", False)
            return
        try:
            clean, host, port, user, password = _split_url(urljoin(self.url, location.strip()))
        except ValueError as exc:
            self._fail(f"redirect to an unusable URL: {exc}", False)
            return
        if user is not None and self._username is None:
            self._username, self._password = user, password
        self.url, self._base, self._aggregate = clean, clean, clean
        self._session, self._challenge, self._nc = None, None, 0
        self._auth_tries = self._stale_tries = 0
        self._events.append(Redirected(clean))
        if (host, port) != (self._host, self._port):
            self._host, self._port = host, port
            self._connected = False
            self._pending.clear()
            self.state = "connecting"
            self._events.append(Connect(host, port))
        else:
            self._begin()

    def _on_unauthorized(self, resp: RtspResponse, pending: _Pending) -> None:
        if self._username is None:
            self._fail(f"{pending.method} needs credentials and none were given", False)
            return
        try:
            challenge = choose_challenge(parse_challenges(resp.header_all("WWW-Authenticate")))
        except AuthError as exc:
            self._fail(f"unreadable WWW-Authenticate: {exc}", False)
            return
        if challenge is None:
            self._fail("the server asks for an authentication scheme we do not support", False)
            return
        if self._auth_tries > 0 or self._challenge is not None:
            # we already answered a challenge: only a stale nonce earns another try
            if challenge.scheme == "digest" and challenge.stale:
                self._stale_tries += 1
                if self._stale_tries > MAX_STALE_RETRIES:
                    self._fail("the server keeps calling our nonce stale", False)
                    return
            else:
                self._fail("wrong credentials", False)
                return
        self._auth_tries += 1
        self._challenge, self._nc = challenge, 0
        self._resend(pending)

    def _recover_session(self) -> None:
        """454 Session Not Found: drop the session and SETUP every stream again."""
        self._recoveries += 1
        if self._recoveries > MAX_SESSION_RECOVERIES:
            self._fail("the server keeps losing our session (454)", True)
            return
        self._session = None
        self._keepalive_at = None
        self._setup_index = 0
        self._streams = []
        self._setup_next()

    def _answer_server_request(self, req: RtspRequest) -> None:
        cseq = req.header("CSeq")
        number = int(cseq) if cseq is not None and cseq.strip().isdigit() else None
        if req.method in ("OPTIONS", "GET_PARAMETER"):
            self._out += serialize_response(200, "OK", number)
        elif req.method == "TEARDOWN" and self._session is not None:
            # The camera ends our session (RTSP 2.0 servers may; some 1.0 cameras do on
            # shutdown): acknowledge it, and nothing more will come on this session.
            self._out += serialize_response(200, "OK", number)
            self._session = None
            self._fail("the camera ended the session (TEARDOWN from the server)", True)
        else:
            self._out += serialize_response(501, "Not Implemented", number)

    # ---- endings --------------------------------------------------------------------------

    def _fail(self, reason: str, retryable: bool) -> None:
        if self.done:
            return
        log.info("rtsp %s failed: %s", self.url, reason)
        self.state = "failed"
        self._pending.clear()
        self._keepalive_at = self._close_deadline = None
        self._events.append(Failed(reason, retryable))

    def _finish_close(self) -> None:
        if self.done:
            return
        self.state = "closed"
        self._pending.clear()
        self._keepalive_at = self._close_deadline = None
        self._events.append(Closed())


# ---- header parsing -----------------------------------------------------------------------

_SESSION_ID = re.compile(r"^[0-9A-Za-z$\-_.+]{1,128}$")


def _parse_session(value: str) -> tuple[str | None, float | None]:
    sid, *params = [p.strip() for p in value.split(";")]
    if not _SESSION_ID.match(sid):
        return None, None
    timeout = None
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() == "timeout":
            try:
                timeout = float(val.strip())
            except ValueError:
                continue
            if not 1.0 <= timeout <= 86400.0:
                timeout = None
    return sid, timeout


def _parse_transport(value: str) -> dict[str, str]:
    """The first transport spec: parameters by lower-case name, its protocol as ``_proto``."""
    first = value.split(",", 1)[0]
    parts = [p.strip() for p in first.split(";") if p.strip()]
    result: dict[str, str] = {}
    if parts:
        result["_proto"] = parts[0]
    for part in parts[1:]:
        name, _, val = part.partition("=")
        result[name.strip().lower()] = val.strip().strip('"')
    return result


def _parse_pair(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    first, _, second = value.partition("-")
    if not first.strip().isdigit():
        return None
    a = int(first)
    b = int(second) if second.strip().isdigit() else a + 1
    if not (0 <= a <= 65535 and 0 <= b <= 65535):
        return None
    return a, b


def _parse_ssrc(value: str | None) -> int | None:
    if not value:
        return None
    try:
        ssrc = int(value.strip(), 16)
    except ValueError:
        return None
    return ssrc if 0 <= ssrc <= 0xFFFFFFFF else None
