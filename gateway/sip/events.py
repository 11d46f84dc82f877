"""What the SIP core hands its shell: events for the application and transmissions
for the wire. Plain frozen records, so tests can compare them and the shell can pass
them across without copying."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Transmit:
    transport: str  # "udp" | "tcp" | "tls"
    remote: tuple[str, int]
    data: bytes
    conn_id: int | None = None  # tcp: None = find or open a connection to remote


@dataclass(frozen=True, slots=True)
class IncomingCall:
    call: str
    request_uri: str
    user: str  # Request-URI user part, percent-decoded; "" for the bare host
    from_uri: str
    display_name: str | None
    to_uri: str
    remote: tuple[str, int]
    local: tuple[str, int]
    transport: str
    sdp: bytes | None
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CallConfirmed:
    call: str
    sdp: bytes | None  # the ACK's body: the answer to an offerless INVITE


@dataclass(frozen=True, slots=True)
class CallCancelled:
    call: str


@dataclass(frozen=True, slots=True)
class ReInvite:
    call: str
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class ReInviteConfirmed:
    call: str
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class InfoReceived:
    call: str
    content_type: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A SIP MESSAGE (RFC 3428) the core took (200) from the party of `call`: in the
    call's dialog, or out of dialog (pager mode) from the same party and address."""

    call: str
    text: str


@dataclass(frozen=True, slots=True)
class InfoAnswered:
    """The final answer to an INFO we sent (a 415/501 says the peer does not take
    that content type, so it should not get another)."""

    call: str
    status: int
    content_type: str | None


@dataclass(frozen=True, slots=True)
class CallProgress:
    call: str
    status: int


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call: str
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class CallFailed:
    call: str
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class ReInviteAnswered:
    call: str
    status: int
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class CallEnded:
    call: str
    reason: str
    by_remote: bool


@dataclass(frozen=True, slots=True)
class RegistrationChanged:
    """A binding of the registrant changed state: registering, registered, failed
    (``reason``: why; retried with backoff) or unregistered."""

    registration: str
    aor: str
    state: str
    reason: str


Event = (
    IncomingCall | CallConfirmed | CallCancelled | ReInvite | ReInviteConfirmed
    | InfoReceived | MessageReceived | InfoAnswered | CallProgress | CallAnswered | CallFailed
    | ReInviteAnswered | CallEnded | RegistrationChanged
)
