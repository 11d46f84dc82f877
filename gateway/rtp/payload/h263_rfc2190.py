"""H.263 (1996) over RTP as RFC 2190 describes it (static payload type 34), sans-IO.

What legacy room systems and baresip's ``H263`` send (issue 13). aiortc has no H.263,
and RFC 4629's H.263+ header (``h263.py``) is another format. Each payload starts
with a header of one of three modes:

- Mode A (F=0, 4 bytes): the packet starts at a picture or GOB start code;
- Mode B (F=1, P=0, 8 bytes) and mode C (F=1, P=1, 12 bytes): it starts at a
  macroblock boundary inside a GOB.

Common to all: SBIT/EBIT, the bits to ignore in the first and last byte. A packet
whose SBIT is not zero shares its first byte with the previous packet's last one; the
depacketizer merges the two. We send mode A only: one packet per run of whole GOBs
(the encoder starts a byte-aligned GOB whenever its RTP payload size is reached); a
GOB larger than a packet is cut at a byte boundary, which every receiver we know
(FFmpeg, baresip) reassembles by concatenation.
"""

from __future__ import annotations

from gateway.rtp.payload.base import Depacketizer, Piece, join_split_byte, segments
from gateway.rtp.payload.h263 import picture_is_intra, start_codes

MODE_A_SIZE, MODE_B_SIZE, MODE_C_SIZE = 4, 8, 12
_PSC_THIRD_BYTE_MASK, _PSC_THIRD_BYTE = 0xFC, 0x80  # 0000 0000 0000 0000 1000 00


def picture_fields(picture: bytes) -> tuple[int, int, int]:
    """(temporal reference, source format, picture coding type) of a picture header:
    what a mode A header repeats. Raises ValueError when it is no H.263 picture."""
    if len(picture) < 5 or picture[:2] != b"\x00\x00" or \
            picture[2] & _PSC_THIRD_BYTE_MASK != _PSC_THIRD_BYTE:
        raise ValueError("not an H.263 picture start code")
    bits = int.from_bytes(picture[:6].ljust(6, b"\0"), "big")  # 48 bits from the PSC
    temporal_reference = bits >> 18 & 0xFF  # bits 22-29
    source_format = bits >> 10 & 0x7  # PTYPE bits 6-8 (bits 35-37)
    coding_type = bits >> 9 & 0x1  # PTYPE bit 9 (bit 38): 0 intra, 1 inter
    return temporal_reference, source_format, coding_type


def mode_a_header(temporal_reference: int, source_format: int, inter: int) -> bytes:
    """F=0 P=0 SBIT=0 EBIT=0 SRC I U=0 S=0 A=0 R=0 DBQ=0 TRB=0 TR."""
    value = (source_format & 0x7) << 21 | (inter & 1) << 20 | (temporal_reference & 0xFF)
    return value.to_bytes(4, "big")


def packetize(frame: bytes, mtu: int) -> list[bytes]:
    """Mode A payloads for one coded picture, each at most ``mtu`` bytes. The caller
    sets the marker on the last and gives all the picture's timestamp."""
    room = mtu - MODE_A_SIZE
    if room < 1:
        raise ValueError(f"MTU {mtu} is too small for H.263")
    header = mode_a_header(*picture_fields(frame))
    bounds = [c for c in start_codes(frame) if c > 0] + [len(frame)]
    return [header + frame[start:end] for start, end in segments(len(frame), bounds, room)]


class Rfc2190Depacketizer(Depacketizer):
    """RFC 2190 payloads (modes A, B and C) to H.263 pictures."""

    _ebit = 0  # the previous payload's EBIT

    def _parse(self, payload: bytes) -> Piece:
        if len(payload) < MODE_A_SIZE:
            raise ValueError("RFC 2190 header is truncated")
        first = payload[0]
        size = MODE_A_SIZE if not first & 0x80 else MODE_C_SIZE if first & 0x40 else MODE_B_SIZE
        sbit, ebit = first >> 3 & 0x7, first & 0x7
        data = payload[size:]
        if not data:
            raise ValueError("RFC 2190 payload with no data")
        data = join_split_byte(self._parts, data, sbit, self._ebit)
        self._ebit = ebit
        if not data:
            return Piece(b"", starts_frame=False)
        picture = data[:2] == b"\x00\x00" and len(data) > 2 and \
            data[2] & _PSC_THIRD_BYTE_MASK == _PSC_THIRD_BYTE
        return Piece(data, starts_frame=picture, keyframe=picture and picture_is_intra(data))
