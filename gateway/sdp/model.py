"""RFC 4566 session descriptions: a tolerant parser and a faithful serializer.

aiortc's own SDP module is WebRTC-shaped (it drops static payload types such as
PCMU/PCMA), so SIP gets this small one. Lines we do not understand are kept and
written back, so a description survives a parse/serialize round trip.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

# RFC 3551 static payload types a SIP phone may offer without any rtpmap line.
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    13: ("CN", 8000, 1),
    18: ("G729", 8000, 1),
    26: ("JPEG", 90000, 1),  # RFC 2435 Motion JPEG, what many IP cameras send
    31: ("H261", 90000, 1),
    34: ("H263", 90000, 1),
}

# Session-level lines that RFC 4566 orders before c= / between t= and a=.
_SESSION_BEFORE_C = "iuep"
_SESSION_AFTER_T = "rz"


class SdpError(Exception):
    """A description we cannot use; ``status`` is the SIP response to send."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class Connection:
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"
    ttl_or_count: str = ""  # "/ttl[/n]" suffix of multicast addresses, kept verbatim

    @classmethod
    def for_address(cls, address: str) -> Connection:
        return cls(address=address, addrtype=addrtype_of(address))

    @property
    def is_hold_address(self) -> bool:
        """RFC 2543 hold: c=0.0.0.0 means "do not send to me"."""
        return self.address in ("0.0.0.0", "::")

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}{self.ttl_or_count}"


@dataclass(slots=True)
class Origin:
    username: str
    session_id: str
    session_version: str
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class RtpMap:
    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1

    def matches(self, name: str, clock_rate: int | None = None) -> bool:
        if self.encoding.lower() != name.lower():
            return False
        return clock_rate is None or self.clock_rate == clock_rate


Attribute = tuple[str, str | None]  # (name, value); value None for property attributes


@dataclass(slots=True)
class Media:
    media: str  # "audio", "video", ...
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)  # i=, k=, unknown

    def attribute(self, name: str) -> str | None:
        """First value of ``name``; "" for a property attribute; None if absent."""
        for key, value in self.attributes:
            if key == name:
                return "" if value is None else value
        return None

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.attributes)

    def values(self, name: str) -> list[str]:
        return [value or "" for key, value in self.attributes if key == name]

    @property
    def direction(self) -> str | None:
        found = [key for key, _ in self.attributes if key in DIRECTIONS]
        return found[-1] if found else None

    @property
    def rtcp_mux(self) -> bool:
        return self.has("rtcp-mux")

    def rtpmaps(self) -> dict[int, RtpMap]:
        """Every format's codec: its rtpmap, else the RFC 3551 static assignment."""
        explicit = {m.payload_type: m for m in (_parse_rtpmap(v) for v in self.values("rtpmap"))}
        result: dict[int, RtpMap] = {}
        for fmt in self.formats:
            if not fmt.isdigit():
                continue
            pt = int(fmt)
            if pt in explicit:
                result[pt] = explicit[pt]
            elif pt in STATIC_PAYLOAD_TYPES:
                name, rate, channels = STATIC_PAYLOAD_TYPES[pt]
                result[pt] = RtpMap(pt, name, rate, channels)
        return result

    def fmtp(self, payload_type: int) -> str | None:
        prefix = f"{payload_type} "
        for value in self.values("fmtp"):
            if value.startswith(prefix):
                return value[len(prefix) :].strip()
        return None

    def rtcp(self) -> tuple[int, str | None] | None:
        """RFC 3605 a=rtcp: (port, address or None)."""
        value = self.attribute("rtcp")
        if value is None:
            return None
        parts = value.split()
        if not parts or not parts[0].isdigit() or len(parts) not in (1, 4):
            raise SdpError(400, f"malformed a=rtcp:{value}")
        return int(parts[0]), parts[3] if len(parts) == 4 else None

    def lines(self) -> list[str]:
        ports = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        out = [f"m={self.media} {ports} {' '.join([self.proto, *self.formats])}"]
        out += [f"{k}={v}" for k, v in self.other if k == "i"]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"b={b}" for b in self.bandwidths]
        out += [f"{k}={v}" for k, v in self.other if k != "i"]
        out += [_attribute_line(a) for a in self.attributes]
        return out


@dataclass(slots=True)
class SessionDescription:
    origin: Origin
    name: str = "-"
    version: int = 0
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=lambda: ["0 0"])
    attributes: list[Attribute] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)

    @property
    def direction(self) -> str | None:
        found = [key for key, _ in self.attributes if key in DIRECTIONS]
        return found[-1] if found else None

    def connection_for(self, media: Media) -> Connection | None:
        return media.connection or self.connection

    def direction_for(self, media: Media) -> str:
        return media.direction or self.direction or "sendrecv"

    def serialize(self) -> bytes:
        return ("\r\n".join(self.lines()) + "\r\n").encode()

    def lines(self) -> list[str]:
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.name}"]
        out += [f"{k}={v}" for k, v in self.other if k in _SESSION_BEFORE_C]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"b={b}" for b in self.bandwidths]
        out += [f"t={t}" for t in self.times]
        out += [f"{k}={v}" for k, v in self.other if k in _SESSION_AFTER_T]
        out += [f"{k}={v}" for k, v in self.other if k not in _SESSION_BEFORE_C + _SESSION_AFTER_T]
        out += [_attribute_line(a) for a in self.attributes]
        for media in self.media:
            out += media.lines()
        return out


def addrtype_of(address: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:
        return "IP4"  # a host name; RFC 4566 allows FQDNs


def parse_sdp(data: bytes) -> SessionDescription:
    """Parse ``data``; raise ``SdpError(400, ...)`` naming the first fault."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError(400, "SDP is not UTF-8") from exc
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines:
        raise SdpError(400, "empty SDP")
    return _Parser().parse(lines)


class _Parser:
    def __init__(self) -> None:
        self.session: SessionDescription | None = None
        self.origin: Origin | None = None
        self.version: int | None = None
        self.pending = SessionDescription(origin=Origin("-", "0", "0", "IN", "IP4", "0.0.0.0"))
        self.pending.times = []
        self.current: Media | None = None

    def parse(self, lines: list[str]) -> SessionDescription:
        for number, line in enumerate(lines, start=1):
            if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
                raise SdpError(400, f"SDP line {number} is not type=value: {line[:40]!r}")
            self._line(number, line[0], line[2:].strip())
        return self._finish()

    def _line(self, number: int, kind: str, value: str) -> None:
        if number == 1 and kind != "v":
            raise SdpError(400, "SDP does not start with v=")
        handler = getattr(self, f"_{kind}", None)
        if handler is not None:
            handler(value)
        elif self.current is not None:
            self.current.other.append((kind, value))
        else:
            self.pending.other.append((kind, value))

    def _v(self, value: str) -> None:
        if value != "0":
            raise SdpError(400, f"unsupported SDP version v={value}")
        self.version = 0

    def _o(self, value: str) -> None:
        parts = value.split()
        if len(parts) != 6:
            raise SdpError(400, "malformed o= line (needs 6 fields)")
        self.pending.origin = Origin(*parts)
        self.origin = self.pending.origin

    def _s(self, value: str) -> None:
        self.pending.name = value or "-"

    def _t(self, value: str) -> None:
        self.pending.times.append(value)

    def _c(self, value: str) -> None:
        conn = _parse_connection(value)
        if self.current is not None:
            self.current.connection = conn
        else:
            self.pending.connection = conn

    def _b(self, value: str) -> None:
        target = self.current.bandwidths if self.current else self.pending.bandwidths
        target.append(value)

    def _a(self, value: str) -> None:
        name, sep, rest = value.partition(":")
        attr: Attribute = (name.strip(), rest if sep else None)
        target = self.current.attributes if self.current else self.pending.attributes
        target.append(attr)

    def _m(self, value: str) -> None:
        self.current = _parse_media(value)
        self.pending.media.append(self.current)

    def _finish(self) -> SessionDescription:
        if self.origin is None:
            raise SdpError(400, "SDP has no o= line")
        if not self.pending.times:
            self.pending.times = ["0 0"]
        for media in self.pending.media:
            if media.port != 0 and self.pending.connection_for(media) is None:
                raise SdpError(400, f"m={media.media} has no c= line")
            for value in media.values("rtpmap"):
                _parse_rtpmap(value)  # validate eagerly so faults are 400 at parse time
        return self.pending


def _parse_connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(400, f"malformed c= line: {value!r}")
    address, slash, suffix = parts[2].partition("/")
    if not address:
        raise SdpError(400, f"malformed c= address: {value!r}")
    return Connection(address, parts[0], parts[1], slash + suffix)


def _parse_media(value: str) -> Media:
    parts = value.split()
    if len(parts) < 4:
        raise SdpError(400, f"malformed m= line: {value!r}")
    port_text, _, count_text = parts[1].partition("/")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise SdpError(400, f"malformed m= port: {parts[1]!r}")
    if count_text and not count_text.isdigit():
        raise SdpError(400, f"malformed m= port count: {parts[1]!r}")
    return Media(
        media=parts[0],
        port=int(port_text),
        port_count=int(count_text) if count_text else None,
        proto=parts[2],
        formats=parts[3:],
    )


def _parse_rtpmap(value: str) -> RtpMap:
    pt_text, _, codec = value.partition(" ")
    pieces = codec.strip().split("/")
    valid = pt_text.isdigit() and int(pt_text) < 128 and len(pieces) in (2, 3)
    if not valid or not pieces[1].isdigit() or (len(pieces) == 3 and not pieces[2].isdigit()):
        raise SdpError(400, f"malformed a=rtpmap:{value}")
    channels = int(pieces[2]) if len(pieces) == 3 else 1
    return RtpMap(int(pt_text), pieces[0], int(pieces[1]), channels)


def _attribute_line(attr: Attribute) -> str:
    name, value = attr
    return f"a={name}" if value is None else f"a={name}:{value}"
