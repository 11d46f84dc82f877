"""SDP for SIP: RFC 4566 parsing and RFC 3264 offer/answer for the audio stream."""

from __future__ import annotations

from gateway.sdp.model import (
    Connection,
    Media,
    Origin,
    RtpMap,
    SdpError,
    SessionDescription,
    parse_sdp,
)
from gateway.sdp.negotiate import (
    LocalSession,
    Negotiated,
    accept_answer,
    answer_offer,
    make_offer,
)

__all__ = [
    "Connection",
    "LocalSession",
    "Media",
    "Negotiated",
    "Origin",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "accept_answer",
    "answer_offer",
    "make_offer",
    "parse_sdp",
]
