"""VP8 over RTP (RFC 7741), sans-IO: payload descriptor, packetizer, depacketizer.

Our own descriptor rather than aiortc's ``VpxPayloadDescriptor``: that one has no N
(non-reference) bit, always writes 15-bit PictureIDs (a 7-bit one is legal and some
endpoints send it), and reads PID as four bits, taking in the reserved bit before it.
The tests check that aiortc's parser reads what we build, since aiortc peers will.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gateway.rtp.payload.base import Depacketizer, Piece

VP8_KEYFRAME_START = b"\x9d\x01\x2a"  # RFC 6386 9.1: after the 3-byte frame tag
_PAYLOAD_HEADER_SIZE = 3


@dataclass(frozen=True, slots=True)
class Vp8Descriptor:
    """RFC 7741 4.2 payload descriptor. ``picture_id`` None means no I field;
    ``long_picture_id`` picks the 15-bit (M=1) or 7-bit form."""

    start: bool  # S: first packet of a partition
    partition_id: int = 0  # PID, 0-7
    non_reference: bool = False  # N: no other frame is predicted from this one
    picture_id: int | None = None
    long_picture_id: bool = True
    tl0picidx: int | None = None
    tid: int | None = None  # temporal layer, 0-3
    layer_sync: bool = False  # Y, meaningful with tid
    keyidx: int | None = None  # 0-31

    def __bytes__(self) -> bytes:
        if not 0 <= self.partition_id <= 7:
            raise ValueError(f"VP8 partition id {self.partition_id} is not 0-7")
        first = (0x20 if self.non_reference else 0) | (0x10 if self.start else 0)
        first |= self.partition_id
        ext = 0
        fields = b""
        if self.picture_id is not None:
            ext |= 0x80
            if self.long_picture_id:
                fields += struct.pack("!H", 0x8000 | (self.picture_id & 0x7FFF))
            else:
                fields += bytes([self.picture_id & 0x7F])
        if self.tl0picidx is not None:
            ext |= 0x40
            fields += bytes([self.tl0picidx & 0xFF])
        if self.tid is not None or self.keyidx is not None:
            t_k = 0
            if self.tid is not None:
                ext |= 0x20
                t_k |= (self.tid & 3) << 6 | (0x20 if self.layer_sync else 0)
            if self.keyidx is not None:
                ext |= 0x10
                t_k |= self.keyidx & 0x1F
            fields += bytes([t_k])
        if not ext:
            return bytes([first])
        return bytes([0x80 | first, ext]) + fields

    @classmethod
    def parse(cls, data: bytes) -> tuple[Vp8Descriptor, bytes]:
        """The descriptor and the VP8 payload after it; ValueError when truncated."""
        if not data:
            raise ValueError("empty VP8 payload")
        first = data[0]
        pos = 1
        picture_id = tl0picidx = tid = keyidx = None
        long_id = True
        sync = False
        if first & 0x80:
            ext = _byte(data, pos)
            pos += 1
            if ext & 0x80:
                octet = _byte(data, pos)
                long_id = bool(octet & 0x80)
                if long_id:
                    picture_id = (octet & 0x7F) << 8 | _byte(data, pos + 1)
                    pos += 2
                else:
                    picture_id = octet
                    pos += 1
            if ext & 0x40:
                tl0picidx = _byte(data, pos)
                pos += 1
            if ext & 0x30:
                t_k = _byte(data, pos)
                pos += 1
                if ext & 0x20:
                    tid, sync = t_k >> 6, bool(t_k & 0x20)
                if ext & 0x10:
                    keyidx = t_k & 0x1F
        descriptor = cls(
            start=bool(first & 0x10),
            partition_id=first & 0x07,
            non_reference=bool(first & 0x20),
            picture_id=picture_id,
            long_picture_id=long_id,
            tl0picidx=tl0picidx,
            tid=tid,
            layer_sync=sync,
            keyidx=keyidx,
        )
        return descriptor, data[pos:]


def _byte(data: bytes, pos: int) -> int:
    if pos >= len(data):
        raise ValueError("VP8 payload descriptor is truncated")
    return data[pos]


def is_keyframe(frame: bytes) -> bool:
    """RFC 6386 9.1: the frame tag's P bit is 0 and the start code follows."""
    return len(frame) >= 10 and not frame[0] & 0x01 and frame[3:6] == VP8_KEYFRAME_START


def packetize(
    frame: bytes,
    mtu: int,
    picture_id: int | None,
    *,
    long_picture_id: bool = True,
    non_reference: bool = False,
) -> list[bytes]:
    """RTP payloads for one encoded frame, each at most ``mtu`` bytes.

    The frame is cut by size alone, all as partition 0 (RFC 7741 allows it: the
    partition boundaries matter only to a receiver that decodes partitions apart).
    ``picture_id`` is taken modulo 2^15 (or 2^7); the caller increments it per frame,
    sets the marker on the last payload and gives all one timestamp.
    """
    first = bytes(Vp8Descriptor(True, 0, non_reference, picture_id, long_picture_id))
    rest = bytes(Vp8Descriptor(False, 0, non_reference, picture_id, long_picture_id))
    room = mtu - len(first)
    if room < 1:
        raise ValueError(f"MTU {mtu} is too small for VP8")
    if not frame:
        raise ValueError("empty VP8 frame")
    view = memoryview(frame)
    return [
        (first if offset == 0 else rest) + view[offset : offset + room]
        for offset in range(0, len(frame), room)
    ]


class Vp8Depacketizer(Depacketizer):
    """RFC 7741 payloads to VP8 frames; a frame starts at S=1, PID=0."""

    def _parse(self, payload: bytes) -> Piece:
        descriptor, data = Vp8Descriptor.parse(payload)
        if not data:
            raise ValueError("VP8 payload descriptor with no data")
        starts = descriptor.start and descriptor.partition_id == 0
        keyframe = False
        if starts:
            if len(data) < _PAYLOAD_HEADER_SIZE:
                raise ValueError("VP8 payload header is truncated")
            keyframe = not data[0] & 0x01
            if keyframe and not is_keyframe(data):
                raise ValueError("VP8 key frame without its start code")
        return Piece(data, starts_frame=starts, keyframe=keyframe)
