"""The RTP fixed header (RFC 3550 5.1) as the video receive path needs it, sans-IO.

aiortc's ``RtpPacket.parse`` builds a full packet object: CSRC list, header extensions
parsed through an extension map, padding size. A received video packet needs only the
payload type, marker, sequence number, timestamp, SSRC and payload, and a 1080p camera
brings hundreds a second (issue 12 measures their cost against ffmpeg), so this reads
just those, with the same validity checks: version 2, CSRC list and extension within
the packet (skipped, not read), padding length within the payload.

``PLAIN``: nearly every packet of a stream has a plain header (first byte 0x80: version
2, no padding, extension or CSRC), whose payload is everything after the 12 fixed bytes
(``FIXED`` reads them). A receive loop may read such a packet with one ``unpack_from``
and a slice, without the call and the record: ``parse_rtp`` would give the same fields.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

HEADER_SIZE = 12
FIXED = struct.Struct("!BBHII")  # first byte, marker + payload type, sequence, timestamp, SSRC
PLAIN = 0x80  # the first byte of a header with no padding, extension or CSRC
_EXTENSION = struct.Struct("!HH")


class RtpHeader(NamedTuple):
    """One received packet: the fields of aiortc's ``RtpPacket`` the receive path reads,
    under the same names."""

    payload_type: int
    marker: bool
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpHeader:
    """The packet's header fields and payload; raises ``ValueError`` when it is not a
    well-formed RTP packet (as ``RtpPacket.parse`` does)."""
    if len(data) < HEADER_SIZE:
        raise ValueError(f"RTP packet length is less than {HEADER_SIZE} bytes")
    first, second, seq, timestamp, ssrc = FIXED.unpack_from(data)
    if first >> 6 != 2:
        raise ValueError("RTP packet has invalid version")
    pos = HEADER_SIZE + 4 * (first & 0x0F)  # CSRC list: skipped
    if len(data) < pos:
        raise ValueError("RTP packet has truncated CSRC")
    if first & 0x10:  # header extension: skipped
        if len(data) < pos + 4:
            raise ValueError("RTP packet has truncated extension profile / length")
        pos += 4 + 4 * _EXTENSION.unpack_from(data, pos)[1]
        if len(data) < pos:
            raise ValueError("RTP packet has truncated extension value")
    if first & 0x20:
        padding = data[-1]
        if not padding or padding > len(data) - pos:
            raise ValueError("RTP packet padding length is invalid")
        payload = data[pos:-padding]
    else:
        payload = data[pos:]
    return RtpHeader(second & 0x7F, second >= 0x80, seq, timestamp, ssrc, payload)
