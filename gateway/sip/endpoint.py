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


__all__ = [
    "ALLOW", "KNOWN_UNSUPPORTED", "SDP", "SUPPORTED_METHODS",
    "CallAnswered", "CallCancelled", "CallConfirmed", "CallEnded", "CallFailed",
    "CallProgress", "Event", "IncomingCall", "InfoAnswered", "InfoCheck", "InfoReceived",
    "MessageReceived", "ReInvite", "ReInviteAnswered", "ReInviteConfirmed",
    "RegistrationChanged", "SipCoreConfig", "SipEndpoint",
    "SipStateError", "Transmit",
]
