"""RTP for SIP legs: sans-IO session, jitter buffer and DTMF decoder, asyncio shell."""

from __future__ import annotations

from gateway.rtp.dtmf import DtmfDecoder
from gateway.rtp.jitter import JitterBuffer
from gateway.rtp.ports import PortAllocator, PortPair, PortsExhausted
from gateway.rtp.session import RtpSession
from gateway.rtp.transport import RtpEndpoint

__all__ = [
    "DtmfDecoder",
    "JitterBuffer",
    "PortAllocator",
    "PortPair",
    "PortsExhausted",
    "RtpEndpoint",
    "RtpSession",
]
