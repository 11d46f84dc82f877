"""H.263+ over RTP (RFC 4629, H263-1998 / H263-2000), sans-IO.

aiortc has no H.263 at all, so all of this is ours. The payload header (RFC 4629 5.1)::

    |RR (5)|P|V|PLEN (6)|PEBIT (3)|  [VRC (1 byte) if V]  [extra picture header, PLEN bytes]

P=1 says the payload begins at a picture, GOB or slice start code, whose first two
(zero) bytes are left out; a receiver puts them back. We never send V (video
redundancy coding) or an extra picture header, and skip both when we receive them.
"""

from __future__ import annotations

import bisect

from gateway.rtp.payload.base import Depacketizer, Piece
from gateway.rtp.payload.bits import BitReader

HEADER_SIZE = 2
_P = 0x04  # in the first header byte
_V = 0x02


def header(p: bool) -> bytes:
    """A payload header with no VRC and no extra picture header."""
    return bytes([_P if p else 0, 0])


def start_codes(frame: bytes) -> list[int]:
    """Offsets of byte-aligned start codes (16 zero bits, then a 1: picture, GOB,
    slice or end of sequence). H.263's codes cannot be emulated by other data."""
    found = []
    pos = frame.find(b"\x00\x00")
    while pos != -1 and pos + 2 < len(frame):
        if frame[pos + 2] & 0x80:
            found.append(pos)
            pos = frame.find(b"\x00\x00", pos + 3)
        else:
            pos = frame.find(b"\x00\x00", pos + 1)
    return found


def packetize(frame: bytes, mtu: int, *, gob_boundaries: bool = True) -> list[bytes]:
    """RTP payloads for one coded picture, each at most ``mtu`` bytes.

    With ``gob_boundaries`` a packet starts at each start code (P=1) and carries as
    many whole GOBs/slices as fit, so a lost packet costs whole GOBs that the decoder
    can resynchronise after. Without (or when the encoder emits no GOB headers) only
    the picture start gets P=1 and the rest is cut by size (P=0 follow-on packets).
    The caller sets the marker on the last payload and gives all one timestamp.
    """
    room = mtu - HEADER_SIZE
    if room < 1:
        raise ValueError(f"MTU {mtu} is too small for H.263")
    if not frame:
        raise ValueError("empty H.263 picture")
    codes = start_codes(frame)
    if not gob_boundaries:
        codes = codes[:1] if codes[:1] == [0] else []
    coded_at = set(codes)
    bounds = [c for c in codes if c > 0] + [len(frame)]
    payloads: list[bytes] = []
    pos = 0
    while pos < len(frame):
        coded = pos in coded_at
        body = pos + 2 if coded else pos  # P=1: the start code's two zero bytes go
        limit = body + room
        following = bounds[bisect.bisect_right(bounds, pos) :]
        if following[0] > limit:
            end = limit  # one segment too big for a packet: cut it by size
        else:
            end = following[bisect.bisect_right(following, limit) - 1]  # whole segments
        payloads.append(header(coded) + frame[body:end])
        pos = end
    return payloads


def picture_is_intra(picture: bytes) -> bool:
    """Whether a picture (from its start code) is an I picture (H.263 5.1.3/5.1.4)."""
    bits = BitReader(picture)
    if bits.u(22) != 0x20:  # PSC: 0000 0000 0000 0000 1000 00
        raise ValueError("not a picture start code")
    bits.u(8)  # TR
    if bits.u(2) != 0b10:
        raise ValueError("bad PTYPE marker bits")
    bits.u(3)  # split screen, document camera, freeze picture release
    source_format = bits.u(3)
    if source_format not in (6, 7):
        return bits.u(1) == 0  # H.263 version 1: picture coding type, 0 = INTRA
    if bits.u(3) == 1:  # PLUSPTYPE: UFEP 001 means an OPPTYPE follows
        bits.u(18)
    return bits.u(3) == 0  # MPPTYPE picture type code: 000 = I


class H263Depacketizer(Depacketizer):
    """RFC 4629 payloads to H.263 pictures; a picture starts at P=1 with a PSC."""

    def _parse(self, payload: bytes) -> Piece:
        if len(payload) < HEADER_SIZE:
            raise ValueError("H.263 payload header is truncated")
        p = bool(payload[0] & _P)
        plen = (payload[0] & 0x01) << 5 | payload[1] >> 3
        pos = HEADER_SIZE + (1 if payload[0] & _V else 0) + plen
        data = payload[pos:]
        if not data:
            raise ValueError("H.263 payload with no data")
        if p:
            data = b"\x00\x00" + data
        picture = p and data[2] & 0xFC == 0x80
        return Piece(data, starts_frame=picture, keyframe=picture and picture_is_intra(data))
