"""H.261 over RTP (RFC 4587, static payload type 31), sans-IO: what the oldest room
systems still send (issue 13). aiortc has none of it.

The 4-byte payload header: SBIT(3) EBIT(3) I(1) V(1) GOBN(4) MBAP(5) QUANT(5) HMVD(5)
VMVD(5). We send packets that start at a picture or GOB start code where the encoder
put one on a byte boundary, else cut by size at a byte (SBIT = EBIT = 0, I = 0, V = 1,
the rest zero, which receivers that reassemble by concatenation -- FFmpeg -- take).
We read any split, merging SBIT/EBIT bytes. H.261 pictures carry no picture type, so
every complete picture counts as a key frame: its decoder recovers by the intra
macroblocks every encoder must refresh.
"""

from __future__ import annotations

from gateway.rtp.payload.base import Depacketizer, Piece, join_split_byte, segments

HEADER_SIZE = 4
HEADER = bytes([0x01, 0, 0, 0])  # SBIT=0 EBIT=0 I=0 V=1, no GOB/MB/motion hints


def start_codes(frame: bytes) -> list[int]:
    """Offsets of byte-aligned picture (0x0001 0x0-) and GOB (0x0001 0xN-) start codes."""
    found, pos = [], frame.find(b"\x00\x01")
    while pos != -1:
        found.append(pos)
        pos = frame.find(b"\x00\x01", pos + 2)
    return found


def is_picture_start(data: bytes) -> bool:
    """PSC: 0000 0000 0000 0001 0000 (20 bits)."""
    return len(data) > 2 and data[:2] == b"\x00\x01" and data[2] & 0xF0 == 0


def packetize(frame: bytes, mtu: int) -> list[bytes]:
    room = mtu - HEADER_SIZE
    if room < 1:
        raise ValueError(f"MTU {mtu} is too small for H.261")
    if not frame:
        raise ValueError("empty H.261 picture")
    bounds = [c for c in start_codes(frame) if c > 0] + [len(frame)]
    return [HEADER + frame[start:end] for start, end in segments(len(frame), bounds, room)]


class H261Depacketizer(Depacketizer):
    _ebit = 0  # the previous payload's EBIT

    def _parse(self, payload: bytes) -> Piece:
        if len(payload) <= HEADER_SIZE:
            raise ValueError("H.261 payload is truncated")
        sbit, ebit = payload[0] >> 5 & 0x7, payload[0] >> 2 & 0x7
        data = join_split_byte(self._parts, payload[HEADER_SIZE:], sbit, self._ebit)
        self._ebit = ebit
        if not data:
            return Piece(b"", starts_frame=False)
        picture = sbit == 0 and is_picture_start(data)
        return Piece(data, starts_frame=picture, keyframe=picture)
