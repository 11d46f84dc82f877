"""The sans-IO SIP user agent: bytes and time in, bytes and events out.

Feed it with ``receive_datagram`` / ``receive_stream`` / ``handle_timer``; drain
``transmissions()`` and ``events()`` after every call. Act on calls with
``respond_invite``, ``invite``, ``reinvite``, ``send_info``, ``hangup`` (and ``ack``
for an offerless outgoing INVITE). No sockets and no clock live in here: every input
takes ``now``, and an action takes a keyword ``now`` or else uses the last time the
endpoint was given.

This module is the facade: ``SipEndpoint`` is the UAS role (with its registrar) and
the UAC role over the shared ``SipCore``; the public names are re-exported here so
callers import them from one place.
"""

from __future__ import annotations

from .core import ALLOW, SDP, InfoCheck, SipCoreConfig, SipStateError
from .events import (
    CallAnswered,
    CallCancelled,
    CallConfirmed,
    CallEnded,
    CallFailed,
    CallProgress,
    Event,
    IncomingCall,
    InfoAnswered,
    InfoReceived,
    MessageReceived,
    RegistrationChanged,
    ReInvite,
    ReInviteAnswered,
    ReInviteConfirmed,
    Transmit,
)
from .registrant import RegistrantRole
from .uac import UacRole
from .uas import KNOWN_UNSUPPORTED, SUPPORTED_METHODS, UasRole


class SipEndpoint(UasRole, UacRole, RegistrantRole):
    """A SIP user agent in both roles; see the module docstring. Built as
    ``SipEndpoint(config, check_info=...)`` (``SipCore.__init__``)."""

    def transport_failed(self, transport: str, remote: tuple[str, int], *,
                         now: float | None = None) -> None:
        """The shell could not reach ``remote`` over ``transport`` (a TCP or TLS
        connection refused or unreachable): the client transactions still waiting for
        an answer from there fail now (RFC 3261 8.1.3.1, RFC 3263 4.3), as on their
        timeout, instead of waiting out Timer B or F. An INVITE's call gets
        CallFailed (408) and ends, so a caller with another target can try it."""
        now = self._time(now)
        for tx in list(self.layer.client.values()):
            if (tx.dest.transport == transport and tx.dest.addr == tuple(remote)
                    and tx.state in ("calling", "trying", "proceeding")):
                tx.transport_error(now)


__all__ = [
    "ALLOW", "KNOWN_UNSUPPORTED", "SDP", "SUPPORTED_METHODS",
    "CallAnswered", "CallCancelled", "CallConfirmed", "CallEnded", "CallFailed",
    "CallProgress", "Event", "IncomingCall", "InfoAnswered", "InfoCheck", "InfoReceived",
    "MessageReceived", "ReInvite", "ReInviteAnswered", "ReInviteConfirmed",
    "RegistrationChanged", "SipCoreConfig", "SipEndpoint",
    "SipStateError", "Transmit",
]
