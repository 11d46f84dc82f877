"""The RTSP server side (issue 15: the conference out to ffmpeg, VLC and recorders),
one connection as a sans-IO state machine.

Requests come out of the same incremental parser the camera client reads servers
with (``message.ResponseParser`` takes requests as well as responses, and interleaved
frames, which a viewer only ever sends as RTCP and we ignore). ``answer`` turns one
request, with what the stream source said about the viewer (``StreamInfo`` to go on,
a ``Refusal`` to answer with, None where no access was asked), into the response bytes
and what the shell must do (``Setup``, ``Play``, ``Teardown``). It never reads a clock:
``now`` comes in and ``deadline`` says when the session expires without a request.

What it speaks: OPTIONS, DESCRIBE (SDP: H.264 ``trackID=0`` when the stream has a
picture, AAC ``mpeg4-generic`` ``trackID=1``), SETUP (``RTP/AVP/TCP;interleaved`` or
``RTP/AVP[/UDP];unicast;client_port``; multicast and ``destination`` elsewhere are
refused with 461), PLAY, TEARDOWN, GET_PARAMETER and SET_PARAMETER (keep-alives).
Everything else is 501; a request without CSeq or with a URL of another path is 400; a
wrong Session 454; PLAY before SETUP 455. Who may watch is not decided here: 401
carries Basic and Digest challenges, 403 and 404 come from the source.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway.publish import Refusal, StreamInfo
from gateway.rtsp.message import (
    InterleavedFrame,
    ParseError,
    ResponseParser,
    RtspRequest,
    RtspResponse,
)

SERVER = "mcu-rtsp/0.1"
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
NEEDS_ACCESS = frozenset({"DESCRIBE", "SETUP", "PLAY"})
VIDEO_TRACK, AUDIO_TRACK = 0, 1
VIDEO_PT, AUDIO_PT = 96, 97
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 454: "Session Not Found", 455: "Method Not Valid in This State",
           459: "Aggregate Operation Not Allowed", 461: "Unsupported Transport",
           501: "Not Implemented", 503: "Service Unavailable"}
_TRACK = re.compile(r"^trackID=(\d)$")


@dataclass(frozen=True, slots=True)
class Interleaved:
    rtp_channel: int
    rtcp_channel: int


@dataclass(frozen=True, slots=True)
class Udp:
    client_rtp: int
    client_rtcp: int


Transport = Interleaved | Udp


@dataclass(frozen=True, slots=True)
class Setup:
    track: int
    transport: Transport


@dataclass(frozen=True, slots=True)
class Play:
    path: str
    tracks: dict[int, Transport]


@dataclass(frozen=True, slots=True)
class Teardown:
    pass


Action = Setup | Play | Teardown


@dataclass(slots=True)
class Answer:
    data: bytes
    actions: list[Action] = field(default_factory=list)
    close: bool = False  # the stream cannot be trusted any more: close the connection


def parse_transport(value: str) -> Transport | None:
    """The first alternative of a Transport header we serve (unicast RTP/AVP over
    interleaved TCP or UDP to the client's own address), else None."""
    for alternative in value.split(","):
        parts = [p.strip() for p in alternative.split(";") if p.strip()]
        if not parts:
            continue
        spec = parts[0].upper()
        params = dict(p.partition("=")[::2] for p in parts[1:])
        if "multicast" in (p.lower() for p in parts[1:]) or "destination" in params:
            continue
        if spec == "RTP/AVP/TCP" and "interleaved" in params:
            pair = _pair(params["interleaved"])
            if pair is not None and pair[0] <= 255 and pair[1] <= 255:
                return Interleaved(*pair)
        elif spec in ("RTP/AVP", "RTP/AVP/UDP") and "client_port" in params:
            pair = _pair(params["client_port"])
            if pair is not None and 0 < pair[0] <= 65535 and 0 < pair[1] <= 65535:
                return Udp(*pair)
    return None


def _pair(text: str) -> tuple[int, int] | None:
    first, _, second = text.partition("-")
    if not first.isdigit() or (second and not second.isdigit()):
        return None
    low = int(first)
    return low, int(second) if second else low + 1


def stream_sdp(info: StreamInfo, host: str, session_id: str) -> str:
    lines = ["v=0", f"o=- {session_id} 1 IN IP4 {host}", f"s={_sdp_text(info.name)}",
             "c=IN IP4 0.0.0.0", "t=0 0", "a=control:*", "a=range:npt=now-"]
    if info.width is not None:
        lines += [f"m=video 0 RTP/AVP {VIDEO_PT}", f"a=rtpmap:{VIDEO_PT} H264/90000",
                  f"a=fmtp:{VIDEO_PT} packetization-mode=1",
                  f"a=framesize:{VIDEO_PT} {info.width}-{info.height}",
                  f"a=framerate:{info.frame_rate:g}", f"a=control:trackID={VIDEO_TRACK}"]
    lines += [f"m=audio 0 RTP/AVP {AUDIO_PT}",
              f"a=rtpmap:{AUDIO_PT} MPEG4-GENERIC/{info.audio_rate}/{info.audio_channels}",
              f"a=fmtp:{AUDIO_PT} streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;"
              f"indexlength=3;indexdeltalength=3;config={info.audio_config.hex()}",
              f"a=control:trackID={AUDIO_TRACK}"]
    return "\r\n".join(lines) + "\r\n"


def _sdp_text(text: str) -> str:
    return "".join(c for c in text if c.isprintable()) or "-"


class ServerConnection:
    """One viewer's TCP connection and its session (one session per connection)."""

    def __init__(self, *, session_id: str, nonce: str, realm: str, host: str,
                 timeout_s: float = 60.0) -> None:
        self.session_id = session_id
        self.nonce = nonce  # the Digest nonce this connection challenges with
        self.realm = realm
        self.host = host  # how viewers reach us (the SDP's origin)
        self.timeout_s = timeout_s
        self.parser = ResponseParser()
        self.path: str | None = None  # the stream this session set up
        self.tracks: dict[int, Transport] = {}
        self.playing = False
        self.deadline: float | None = None  # a set-up session ends without requests
        self.server_ports: tuple[int, int] | None = None  # where UDP comes from (shell's)

    def feed(self, data: bytes) -> list[RtspRequest | ParseError]:
        """Requests (and a final ParseError); a viewer's RTCP is read and dropped."""
        out: list[RtspRequest | ParseError] = []
        for item in self.parser.feed(data):
            if isinstance(item, InterleavedFrame):
                continue  # receiver reports: nothing of a viewer goes anywhere
            if isinstance(item, RtspResponse):
                out.append(ParseError("a response where a request belongs"))
                break
            out.append(item)
        return out

    @staticmethod
    def target(request: RtspRequest) -> tuple[str, int | None] | None:
        """(path, track) of the request URL; None for one that is no stream URL."""
        if request.url == "*":
            return None
        parts = [p for p in urlsplit(request.url).path.split("/") if p]
        if not parts or len(parts) > 2:
            return None
        track = None
        if len(parts) == 2:
            match = _TRACK.match(parts[1])
            if match is None:
                return None
            track = int(match.group(1))
        return parts[0], track

    def answer(self, request: RtspRequest, access: StreamInfo | Refusal | None,
               now: float) -> Answer:
        cseq = request.header("CSeq")
        if cseq is None or not cseq.strip().isdigit():
            return Answer(self._response(400, None, body_text="no CSeq"), close=True)
        cseq_n = int(cseq.strip())
        method = request.method
        if self.deadline is not None:
            self.deadline = now + self.timeout_s  # any request keeps the session
        if method == "OPTIONS":
            return Answer(self._response(200, cseq_n, [("Public", PUBLIC)]))
        if method in ("GET_PARAMETER", "SET_PARAMETER"):
            return Answer(self._response(200, cseq_n, self._session()))
        if method == "TEARDOWN":
            return self._teardown(request, cseq_n)
        if method not in NEEDS_ACCESS:
            return Answer(self._response(501, cseq_n, [("Public", PUBLIC)]))
        target = self.target(request)
        if target is None:
            return Answer(self._response(400, cseq_n, body_text="not a stream URL"))
        if isinstance(access, Refusal):
            return Answer(self._refused(access, cseq_n))
        if access is None:
            raise ValueError(f"{method} needs the source's answer")
        path, track = target
        if method == "DESCRIBE":
            return self._describe(access, path, cseq_n)
        if method == "SETUP":
            return self._setup(request, access, path, track, cseq_n, now)
        return self._play(request, path, cseq_n)

    # ---- methods

    def _describe(self, info: StreamInfo, path: str, cseq: int) -> Answer:
        sdp = stream_sdp(info, self.host, self.session_id).encode()
        base = f"rtsp://{self.host}/{path}/"
        return Answer(self._response(200, cseq, [("Content-Base", base),
                                                 ("Content-Type", "application/sdp")], sdp))

    def _setup(self, request: RtspRequest, info: StreamInfo, path: str, track: int | None,
               cseq: int, now: float) -> Answer:
        if self._wrong_session(request):
            return Answer(self._response(454, cseq))
        if self.playing or (self.path is not None and path != self.path):
            return Answer(self._response(455, cseq))
        tracks = ({AUDIO_TRACK} | ({VIDEO_TRACK} if info.width is not None else set()))
        if track is None or track not in tracks:
            return Answer(self._response(459 if track is None else 404, cseq))
        transport = parse_transport(request.header("Transport") or "")
        if transport is None:
            return Answer(self._response(461, cseq))
        self.path, self.tracks[track] = path, transport
        self.deadline = now + self.timeout_s
        return Answer(self._response(200, cseq, [*self._session(),
                                                 ("Transport", self._transport_text(transport))]),
                      [Setup(track, transport)])

    def _play(self, request: RtspRequest, path: str, cseq: int) -> Answer:
        if self._wrong_session(request) or request.header("Session") is None:
            return Answer(self._response(454, cseq))
        if not self.tracks or path != self.path:
            return Answer(self._response(455, cseq))
        self.playing = True
        return Answer(b"", [Play(path, dict(self.tracks))])  # the shell adds RTP-Info

    def play_response(self, cseq: int, rtp_info: list[tuple[int, int, int]]) -> bytes:
        """PLAY's 200, with RTP-Info (track, next sequence number, RTP time) per track."""
        info = ",".join(f"url=rtsp://{self.host}/{self.path}/trackID={track};seq={seq};"
                        f"rtptime={rtptime}" for track, seq, rtptime in rtp_info)
        return self._response(200, cseq, [*self._session(), ("Range", "npt=now-"),
                                          ("RTP-Info", info)])

    def _teardown(self, request: RtspRequest, cseq: int) -> Answer:
        if self.deadline is None or self._wrong_session(request):
            return Answer(self._response(454, cseq))
        headers = self._session()
        self.tracks.clear()
        self.path, self.playing, self.deadline = None, False, None
        return Answer(self._response(200, cseq, headers), [Teardown()])

    def response(self, status: int, cseq: int | None) -> bytes:
        """A body-less answer the shell gives on its own (404 when a stream is gone)."""
        return self._response(status, cseq, self._session())

    # ---- helpers

    def _transport_text(self, transport: Transport) -> str:
        if isinstance(transport, Interleaved):
            return (f"RTP/AVP/TCP;unicast;interleaved={transport.rtp_channel}-"
                    f"{transport.rtcp_channel}")
        text = f"RTP/AVP;unicast;client_port={transport.client_rtp}-{transport.client_rtcp}"
        if self.server_ports is not None:
            text += f";server_port={self.server_ports[0]}-{self.server_ports[1]}"
        return text

    def _wrong_session(self, request: RtspRequest) -> bool:
        given = request.header("Session")
        return given is not None and given.split(";")[0].strip() != self.session_id

    def _session(self) -> list[tuple[str, str]]:
        if self.deadline is None:
            return []
        return [("Session", f"{self.session_id};timeout={self.timeout_s:g}")]

    def _refused(self, refusal: Refusal, cseq: int) -> bytes:
        headers = []
        if refusal.status == 401:
            headers = [("WWW-Authenticate",
                        f'Digest realm="{self.realm}", nonce="{self.nonce}", algorithm=MD5'),
                       ("WWW-Authenticate", f'Basic realm="{self.realm}"')]
        return self._response(refusal.status, cseq, headers)

    def _response(self, status: int, cseq: int | None, headers: list[tuple[str, str]] = (),
                  body: bytes = b"", body_text: str = "") -> bytes:
        if body_text and not body:
            body = body_text.encode()
        lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Error')}"]
        if cseq is not None:
            lines.append(f"CSeq: {cseq}")
        lines.append(f"Server: {SERVER}")
        lines += [f"{name}: {value}" for name, value in headers]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body




def new_nonce(random_bytes: bytes) -> str:
    return base64.b16encode(random_bytes).decode().lower()
