"""What every video depacketizer shares, sans-IO: RTP payloads in, whole frames out.

The codecs differ only in how one payload is read (``_parse``) and in what makes a
frame structurally whole (H.264's FU-A start/end pairs); the rest is the same loss
logic, kept here once so the three formats cannot disagree about it:

- An access unit is the packets of one RTP timestamp; it ends at the marker bit, or
  when a new timestamp starts without one (a sender that leaves the marker off).
- A sequence gap means packets were lost. The unit they fell into is dropped: the one
  in progress, and the next one unless its first packet visibly starts a frame (then
  the lost packets were the old unit's tail or whole frames between the two).
- Any loss or malformed payload sets ``needs_keyframe``: the decoder's references are
  gone, so the caller asks the sender for a key frame (RTCP PLI, SIP INFO). Only a
  complete key frame clears it. It also starts set: before the first key frame
  nothing can be decoded either.
- Garbage never raises out of ``push``; it counts as loss.

Packets are expected in order (a jitter buffer upstream reorders): a packet older
than the last one is a duplicate or too late and is ignored.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import struct
from collections.abc import Iterable
from typing import NamedTuple

from gateway.media import EncodedVideo

MAX_MISORDER = 100  # RFC 3550 A.1: older than this is a restarted sender, not a late packet
MAX_FRAME_BYTES = 4 * 1024 * 1024  # one access unit; an endless one is dropped, not kept


Frame = EncodedVideo
"""One complete access unit, in the form a decoder takes (Annex B for H.264)."""


Received = tuple[bytes, int, int, bool]
"""One received RTP packet as a depacketizer takes it: payload, sequence number,
timestamp, marker."""


class Piece(NamedTuple):
    """What one payload contributes to its access unit (a tuple: one is built per
    packet, and a tuple is the cheapest immutable record to build)."""

    data: bytes
    starts_frame: bool  # its first bytes begin a frame (so nothing before it is missing)
    keyframe: bool = False
    fragment: tuple[bool, bool] | None = None  # (start, end) of a fragmented unit


def segments(size: int, bounds: list[int], room: int) -> list[tuple[int, int]]:
    """Cut ``[0, size)`` into pieces of at most ``room`` bytes, each ending at one of the
    sorted ``bounds`` (start codes, ``size`` last) where whole runs fit, else cut by size:
    how RFC 2190 and RFC 4587 packets follow GOBs."""
    out, pos = [], 0
    while pos < size:
        limit = pos + room
        following = bounds[bisect.bisect_right(bounds, pos):]
        end = limit if following[0] > limit else \
            following[bisect.bisect_right(following, limit) - 1]
        out.append((pos, end))
        pos = end
    return out


def join_split_byte(parts: list[bytes], data: bytes, sbit: int, ebit: int) -> bytes:
    """RFC 2190 / RFC 4587 bit-split packets: a payload whose first byte begins ``sbit``
    bits in shares that byte with the previous payload, whose last byte ends ``ebit``
    bits early. The two halves are merged into ``parts[-1]``; returns the rest of
    ``data``."""
    if not sbit or not parts or not parts[-1] or not data:
        return data
    previous = parts[-1]
    high = previous[-1] & (0xFF << ebit) & 0xFF
    parts[-1] = previous[:-1] + bytes([high | data[0] & (0xFF >> sbit)])
    return data[1:]


class SequenceCheck:
    """One sender's RTP sequence numbers: in order, after a gap, or late (RFC 3550
    A.1), counting ``lost`` and ``late`` in the owner's stats. Shared by the video
    depacketizers (``Depacketizer``) and the audio ones (``aac.AacDepacketizer``)."""

    def __init__(self) -> None:
        self.next_seq: int | None = None

    def check(self, seq: int, stats: dict[str, int]) -> bool | None:
        """True after a gap, False in order, None for a duplicate or late packet."""
        if self.next_seq is None:
            self.next_seq = (seq + 1) & 0xFFFF
            return False
        delta = ((seq - self.next_seq + 0x8000) & 0xFFFF) - 0x8000
        if -MAX_MISORDER <= delta < 0:
            stats["late"] += 1
            return None
        self.next_seq = (seq + 1) & 0xFFFF
        if delta == 0:
            return False
        stats["lost"] += delta if delta > 0 else 1  # < -MAX_MISORDER: sender restarted
        return True


class Depacketizer:
    """Reassembles one RTP stream's frames (``reset`` on SSRC change).

    ``wait_for_keyframe``: while ``needs_keyframe`` is set, withhold complete
    non-key frames too, for a caller that would rather show a slate than a decoder's
    concealment of missing references; by default they are passed on.
    """

    def __init__(
        self, *, wait_for_keyframe: bool = False, max_frame_bytes: int = MAX_FRAME_BYTES
    ) -> None:
        self.wait_for_keyframe = wait_for_keyframe
        self.max_frame_bytes = max_frame_bytes
        self.stats = dict.fromkeys(
            ("packets", "frames", "keyframes", "lost", "late", "malformed", "dropped", "withheld"),
            0,
        )
        self.reset()

    def reset(self) -> None:
        """Forget the stream (new SSRC): the next frame must be a key frame again."""
        self.needs_keyframe = True
        self._sequence = SequenceCheck()
        self._close_unit()

    def push(self, payload: bytes, seq: int, timestamp: int, marker: bool) -> list[Frame]:
        """Take one RTP packet's payload; return the frames it completed (0, 1 or 2)."""
        return self.push_many(((payload, seq, timestamp, marker),))

    def push_many(self, packets: Iterable[Received]) -> list[Frame]:
        """Take packets in turn, each as ``push`` would; return the frames they
        completed. A camera's read brings a dozen or more at once (issue 12)."""
        out: list[Frame] = []
        stats, sequence, limit = self.stats, self._sequence, self.max_frame_bytes
        for payload, seq, timestamp, marker in packets:
            if (self._fragment_open and timestamp == self._timestamp and not self._broken
                    and seq == sequence.next_seq):
                # The next fragment of the unit being rebuilt (most packets of a big
                # picture): when the codec says it is a plain continuation, it is simply
                # appended, which is all the general path would do with it.
                continuation = self._continuation(payload)
                if continuation is not None:
                    data, end = continuation
                    size = self._size + len(data)
                    if size <= limit:
                        stats["packets"] += 1
                        sequence.next_seq = (seq + 1) & 0xFFFF
                        self._size = size
                        self._parts.append(data)
                        if end:
                            self._fragment_open = False
                        if marker:
                            out += self._finish(whole=True)
                        continue
            out += self._push(payload, seq, timestamp, marker)
        return out

    def _push(self, payload: bytes, seq: int, timestamp: int, marker: bool) -> list[Frame]:
        """One packet, the general way."""
        self.stats["packets"] += 1
        gap = self._sequence.check(seq, self.stats)
        if gap is None:
            return []
        out: list[Frame] = []
        if self._timestamp is not None and timestamp != self._timestamp:
            # A new frame began without the marker: whole only if nothing went missing.
            out += self._finish(whole=not gap)
        if gap:
            self.needs_keyframe = True
        first = self._timestamp is None
        if first:
            self._open_unit(timestamp)
        elif gap:
            self._broken = True
        try:
            piece = self._parse(payload)
        except (ValueError, IndexError, struct.error):
            self.stats["malformed"] += 1
            self.needs_keyframe = True
            self._broken = True
        else:
            if first and not piece.starts_frame:
                self._broken = True  # its beginning is missing (lost or never sent)
            self._add(piece)
        if marker:
            out += self._finish(whole=True)
        return out

    # codec hooks -------------------------------------------------------------

    # Parameter sets (Annex B) given only in the SDP, for codecs that have them. Cameras
    # often send SPS/PPS (and VPS) there alone: every key frame without its own gets
    # them, not only the first (a decoder rebuilt after errors needs them again, and
    # they cost some tens of bytes a key frame).
    _parameter_sets = b""

    @staticmethod
    def _has_parameter_sets(access_unit: bytes) -> bool:
        """Whether a key frame carries its own parameter sets."""
        return True

    def _parse(self, payload: bytes) -> Piece:
        """Read one payload; raise ValueError (or IndexError) when it is malformed."""
        raise NotImplementedError

    def _continuation(self, payload: bytes) -> tuple[bytes, bool] | None:
        """For a codec that fragments units: when ``payload`` is a well-formed middle
        or end fragment (not a start), its bytes for the unit and whether it ends the
        fragmented unit; None for anything else, which then takes the general path.
        Called only while a fragmented unit is open and the packet follows in order."""
        return None

    def _accept(self, piece: Piece) -> bool:
        """Whether ``piece`` may follow what the unit holds (False breaks the unit)."""
        if piece.fragment is None:
            if self._fragment_open:
                return False  # the open fragmented unit never got its end
            return True
        start, end = piece.fragment
        if start == self._fragment_open:
            return False  # a start while one is open, or a continuation without a start
        self._fragment_open = not end
        return True

    # internals ---------------------------------------------------------------


    def _open_unit(self, timestamp: int) -> None:
        self._timestamp: int | None = timestamp
        self._parts: list[bytes] = []
        self._size = 0
        self._broken = False
        self._keyframe = False
        self._fragment_open = False

    def _close_unit(self) -> None:
        self._open_unit(0)
        self._timestamp = None

    def _add(self, piece: Piece) -> None:
        if not self._accept(piece):
            self._broken = True
        self._keyframe |= piece.keyframe
        if self._broken:
            return
        self._size += len(piece.data)
        if self._size > self.max_frame_bytes:
            self._broken = True
            self._parts = []
            return
        self._parts.append(piece.data)

    def _finish(self, *, whole: bool) -> list[Frame]:
        if self._timestamp is None:
            return []
        timestamp, keyframe = self._timestamp, self._keyframe
        ok = whole and not self._broken and not self._fragment_open and self._size > 0
        data = b"".join(self._parts)
        self._close_unit()
        if not ok:
            self.stats["dropped"] += 1
            self.needs_keyframe = True
            return []
        if keyframe:
            self.needs_keyframe = False
            self.stats["keyframes"] += 1
            if self._parameter_sets and not self._has_parameter_sets(data):
                data = self._parameter_sets + data
        elif self.needs_keyframe and self.wait_for_keyframe:
            self.stats["withheld"] += 1
            return []
        self.stats["frames"] += 1
        return [Frame(data, timestamp, keyframe)]


START_CODE = b"\x00\x00\x00\x01"


def decode_parameter_sets(values: Iterable[str | None]) -> list[bytes]:
    """NAL units from SDP ``sprop-*`` values (comma-separated base64, RFC 6184 8.1 and
    RFC 7798 7.1); empty or undecodable items are skipped, never raised."""
    nals: list[bytes] = []
    for value in values:
        for item in (value or "").split(","):
            item = item.strip()
            if not item:
                continue
            try:
                nal = base64.b64decode(item + "=" * (-len(item) % 4), validate=False)
            except (binascii.Error, ValueError):
                continue
            if len(nal) >= 2:
                nals.append(nal)
    return nals


