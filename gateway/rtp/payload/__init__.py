"""RTP video payload formats, sans-IO: H.264 (RFC 6184), VP8 (RFC 7741), H.263+ (RFC 4629);
receive-only, for IP cameras: H.265 (RFC 7798), Motion JPEG (RFC 2435) and AAC (RFC 3640,
``aac.py``, audio: access units out rather than frames).

Each module has a ``packetize`` (one encoded frame to payloads that fit the MTU) and a
depacketizer (payloads in order to whole frames, with ``needs_keyframe`` after loss);
RTP headers, SSRCs and sequence numbers stay with the RTP session.
"""

from __future__ import annotations

from gateway.rtp.payload.base import Depacketizer, Frame
from gateway.rtp.payload.h263 import H263Depacketizer
from gateway.rtp.payload.h264 import H264Depacketizer
from gateway.rtp.payload.h265 import H265Depacketizer
from gateway.rtp.payload.jpeg import JpegDepacketizer
from gateway.rtp.payload.vp8 import Vp8Depacketizer, Vp8Descriptor

__all__ = [
    "Depacketizer",
    "Frame",
    "H263Depacketizer",
    "H264Depacketizer",
    "H265Depacketizer",
    "JpegDepacketizer",
    "Vp8Depacketizer",
    "Vp8Descriptor",
]
