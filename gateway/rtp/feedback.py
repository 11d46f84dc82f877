"""RTCP key-frame requests, sans-IO: PLI (RFC 4585) and FIR (RFC 5104), built and parsed.

A video receiver that lost a reference picture (join, packet loss, a decoder reset) can
only recover with an intra picture, and the one way to get it over RTP is to ask the
sender with payload-specific feedback (PT=206):

* **PLI** (FMT=1, RFC 4585 section 6.3.1): "I lost a picture". The media source SSRC
  sits in the common header; there is no FCI.
* **FIR** (FMT=4, RFC 5104 section 4.3.1): "send me an intra picture now", what older
  room systems (H.323 heritage) answer when they ignore PLI. The header's media source
  SSRC is unused (SHALL be 0); each 8-byte FCI entry names one media source and a
  command sequence number that the requester increments for every *new* request and
  keeps for a repetition, so the sender encodes one IDR per request, not per packet.

Both are small enough that a few lines of struct are all the parsing there is. The
shell hands every RTCP datagram (compound or RFC 5506 reduced-size) to
``parse_feedback`` and the resulting ``KeyFrameAsk`` list to whatever encoder feeds that
leg (``mcu/keyframes.KeyFrameGate`` coalesces them); ``FirSequence`` and ``FirHistory``
keep the per-source sequence numbers for each direction.

On reuse of aiortc (``aiortc.rtp``): packets are *built* with its ``RtcpPsfbPacket``,
which writes exactly the RFC 4585 layout. Compound packets are *walked* here rather than
with ``RtcpPacket.parse``, because that raises ``ValueError`` for the whole datagram on
the first malformed sub-packet (losing a well-formed PLI before or after it), fully
decodes SR/RR/SDES we do not need here, and leaves the FIR FCI as raw bytes anyway.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

from aiortc.rtp import RTCP_PSFB, RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket

_HEADER = struct.Struct("!BBH")  # V=2|P|FMT/count, PT, length in 32-bit words minus one
_SSRCS = struct.Struct("!LL")  # sender SSRC, media source SSRC
_FIR_ENTRY = struct.Struct("!LB3x")  # media source SSRC, seq nr, reserved (RFC 5104 4.3.1.1)
_U32 = 0xFFFFFFFF


class FeedbackKind(StrEnum):
    PLI = "pli"
    FIR = "fir"


@dataclass(frozen=True, slots=True)
class KeyFrameAsk:
    """One peer asking one of our media sources for a key frame.

    ``seq`` is the FIR command sequence number (``None`` for PLI): a FIR whose ``seq``
    equals the previous one from the same sender for the same source is a repetition of
    a request already served (see ``FirHistory``).
    """

    kind: FeedbackKind
    sender_ssrc: int
    media_ssrc: int
    seq: int | None = None


def _check_ssrc(name: str, value: int) -> None:
    if not 0 <= value <= _U32:
        raise ValueError(f"{name} {value} is not a 32-bit SSRC")


def build_pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    """A 12-byte PLI from ``sender_ssrc`` (our RTCP SSRC) about ``media_ssrc`` (theirs)."""
    _check_ssrc("sender_ssrc", sender_ssrc)
    _check_ssrc("media_ssrc", media_ssrc)
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=sender_ssrc, media_ssrc=media_ssrc))


def build_fir(sender_ssrc: int, media_ssrc: int, seq: int) -> bytes:
    """A 20-byte FIR with one FCI entry asking ``media_ssrc`` for an intra picture.

    ``seq`` (0-255) must be a new number for a new request and the same number for a
    repetition (``FirSequence`` keeps it); the header's media SSRC is 0 as RFC 5104
    section 4.3.1.2 requires.
    """
    _check_ssrc("sender_ssrc", sender_ssrc)
    _check_ssrc("media_ssrc", media_ssrc)
    if not 0 <= seq <= 0xFF:
        raise ValueError(f"FIR sequence number {seq} is not 0-255")
    fci = _FIR_ENTRY.pack(media_ssrc, seq)
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_FIR, ssrc=sender_ssrc, media_ssrc=0, fci=fci))


def parse_feedback(packet: bytes) -> list[KeyFrameAsk]:
    """Every PLI and FIR entry in an RTCP datagram, in order; everything else skipped.

    Never raises: a sub-packet with a bad version or a length running past the datagram
    ends the walk (nothing after it can be framed), and what was found before it is
    returned; a short PLI/FIR body or a partial FIR entry is skipped on its own.
    """
    asks: list[KeyFrameAsk] = []
    data = bytes(packet)
    pos = 0
    while pos + _HEADER.size <= len(data):
        first, packet_type, length = _HEADER.unpack_from(data, pos)
        if first >> 6 != 2:
            break
        end = pos + _HEADER.size + 4 * length
        if end > len(data):
            break
        if packet_type == RTCP_PSFB:
            body = _unpad(data[pos + _HEADER.size : end], padded=bool(first & 0x20))
            if body is not None:
                asks += _psfb(first & 0x1F, body)
        pos = end
    return asks


def _unpad(body: bytes, *, padded: bool) -> bytes | None:
    """The body without RFC 3550 padding (its last octet counts the padding octets)."""
    if not padded:
        return body
    if not body or not 0 < body[-1] <= len(body):
        return None
    return body[: -body[-1]]


def _psfb(fmt: int, body: bytes) -> list[KeyFrameAsk]:
    if fmt not in (RTCP_PSFB_PLI, RTCP_PSFB_FIR) or len(body) < _SSRCS.size:
        return []
    sender, media = _SSRCS.unpack_from(body)
    if fmt == RTCP_PSFB_PLI:
        return [KeyFrameAsk(FeedbackKind.PLI, sender, media)]
    # FIR: the header's media SSRC is unused (some peers fill it in); the entries count.
    asks: list[KeyFrameAsk] = []
    for offset in range(_SSRCS.size, len(body) - _FIR_ENTRY.size + 1, _FIR_ENTRY.size):
        target, seq = _FIR_ENTRY.unpack_from(body, offset)
        asks.append(KeyFrameAsk(FeedbackKind.FIR, sender, target, seq))
    return asks


class FirSequence:
    """Our FIR command sequence numbers, one per media source we ask (RFC 5104 4.3.1.2):
    ``new_request`` increments (mod 256), ``repeat`` resends the current number so the
    peer does not encode a second IDR for a retransmitted request."""

    def __init__(self) -> None:
        self._seq: dict[int, int] = {}

    def new_request(self, media_ssrc: int) -> int:
        seq = (self._seq.get(media_ssrc, -1) + 1) & 0xFF
        self._seq[media_ssrc] = seq
        return seq

    def repeat(self, media_ssrc: int) -> int:
        """The number of the request in progress (a new one if there was none)."""
        if media_ssrc not in self._seq:
            return self.new_request(media_ssrc)
        return self._seq[media_ssrc]

    def forget(self, media_ssrc: int) -> None:
        self._seq.pop(media_ssrc, None)


class FirHistory:
    """Which received FIRs are new requests, per (requester, media source).

    A FIR carrying the sequence number last seen from the same requester for the same
    source is a repetition and is ignored -- but only for ``window_s`` after that number
    was first seen, because some endpoints never increment it; with the window a
    request from them is still honoured (the encoder's gate rate-limits IDRs anyway).
    PLIs carry no number and are always new.
    """

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._seen: dict[tuple[int, int], tuple[int, float]] = {}

    def is_new(self, ask: KeyFrameAsk, now: float) -> bool:
        if ask.seq is None:
            return True
        key = (ask.sender_ssrc, ask.media_ssrc)
        last = self._seen.get(key)
        if last is not None and last[0] == ask.seq and now - last[1] < self.window_s:
            return False
        self._seen[key] = (ask.seq, now)
        return True
