"""H.264 over RTP (RFC 6184), sans-IO: access units to payloads and back.

What we take from aiortc (``aiortc/codecs/h264.py``) and what we do not:

- Depacketizing reuses ``H264PayloadDescriptor.parse``: it already turns a single NAL
  unit, an FU-A fragment or a STAP-A into Annex B bytes and rejects truncated
  STAP-As and the types we do not take (STAP-B, MTAP, FU-B). Its descriptor says only
  "first fragment", so the few header bits loss detection needs (the FU end bit, the
  NAL types for IDR and frame starts) are read here.
- Packetizing is ours. aiortc's ``H264Encoder._packetize`` sizes packets by a module
  constant (``PACKET_MAX = 1300``), not by the leg's MTU; it has no
  packetization-mode 0 (room systems that speak only mode 0 take neither STAP-A nor
  FU-A, so an oversized NAL must be refused, not fragmented); and its Annex B splitter
  is private and keeps ``trailing_zero_8bits`` on a NAL unit.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator

from aiortc.codecs.h264 import H264PayloadDescriptor

from gateway.rtp.payload.base import (
    START_CODE,
    Depacketizer,
    Piece,
    decode_parameter_sets,
)

NAL_IDR = 5
NAL_SPS = 7
NAL_STAP_A = 24
NAL_FU_A = 28
# NAL types that may only come before the first slice of an access unit (7.4.1.2.3):
# SEI, SPS, PPS, access unit delimiter, SPS extension, subset SPS.
_AU_PREFIX_TYPES = frozenset({6, 7, 8, 9, 13, 15})
_SLICE_TYPES = frozenset({1, 5})
_RTP_ONLY_TYPES = frozenset(range(24, 32))  # aggregation/fragmentation: never in a bitstream
FU_HEADER_SIZE = 2  # FU indicator + FU header
STAP_HEADER_SIZE = 1
STAP_LENGTH_SIZE = 2


def split_annex_b(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream, without start codes or trailing zeros.

    A NAL unit never ends in a zero byte (its RBSP ends with the stop bit; a CABAC
    zero word ends in 0x03), so every zero before the next start code belongs to the
    start code or to ``trailing_zero_8bits``.
    """
    nals: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        begin = start + 3
        start = data.find(b"\x00\x00\x01", begin)
        nal = data[begin : len(data) if start == -1 else start].rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def packetize(access_unit: bytes | list[bytes], mtu: int, mode: int = 1) -> list[bytes]:
    """RTP payloads for one access unit (Annex B bytes or a list of NAL units).

    ``mtu`` is the most payload bytes one packet may carry. Mode 1 aggregates runs of
    small NAL units (SPS + PPS) into STAP-As and fragments large ones into FU-As; mode
    0 sends each NAL unit alone and raises ``ValueError`` for one larger than ``mtu``
    (the encoder must be told to cut slices that fit, e.g. x264 ``slice-max-size``).
    The caller sets the marker bit on the last payload and gives all one timestamp.
    """
    if mode not in (0, 1):
        raise ValueError(f"packetization-mode {mode} is not supported (0 or 1)")
    if mtu < FU_HEADER_SIZE + 1:
        raise ValueError(f"MTU {mtu} is too small for H.264")
    nals = split_annex_b(access_unit) if isinstance(access_unit, bytes) else list(access_unit)
    for nal in nals:
        if not nal or nal[0] & 0x1F in _RTP_ONLY_TYPES:
            raise ValueError("not a NAL unit of a bitstream (empty, or an RTP-only type)")
    if mode == 0:
        for nal in nals:
            if len(nal) > mtu:
                raise ValueError(
                    f"NAL unit of {len(nal)} bytes exceeds the MTU ({mtu}): packetization-"
                    "mode 0 cannot fragment, so the encoder must emit slices that fit"
                )
        return nals
    return list(_mode1(nals, mtu))


def _mode1(nals: list[bytes], mtu: int) -> Iterator[bytes]:
    i = 0
    while i < len(nals):
        nal = nals[i]
        if len(nal) > mtu:
            yield from _fu_a(nal, mtu)
            i += 1
            continue
        # As many following NAL units as fit with it in one STAP-A.
        size = STAP_HEADER_SIZE + STAP_LENGTH_SIZE + len(nal)
        j = i + 1
        while j < len(nals) and size + STAP_LENGTH_SIZE + len(nals[j]) <= mtu:
            size += STAP_LENGTH_SIZE + len(nals[j])
            j += 1
        if j - i == 1:
            yield nal
        else:
            yield _stap_a(nals[i:j])
        i = j


def _stap_a(nals: list[bytes]) -> bytes:
    """RFC 6184 5.7.1: F is the OR of the units' F bits, NRI their maximum."""
    f = 0
    nri = 0
    for nal in nals:
        f |= nal[0] & 0x80
        nri = max(nri, nal[0] & 0x60)
    parts = [bytes([f | nri | NAL_STAP_A])]
    for nal in nals:
        parts.append(struct.pack("!H", len(nal)))
        parts.append(nal)
    return b"".join(parts)


def _fu_a(nal: bytes, mtu: int) -> Iterator[bytes]:
    """Fragments of near-equal size (as aiortc cuts them), so none is a runt."""
    body = memoryview(nal)[1:]
    room = mtu - FU_HEADER_SIZE
    count = math.ceil(len(body) / room)
    indicator = (nal[0] & 0xE0) | NAL_FU_A
    kind = nal[0] & 0x1F
    base, extra = divmod(len(body), count)
    offset = 0
    for k in range(count):
        size = base + (1 if k < extra else 0)
        header = kind | (0x80 if k == 0 else 0) | (0x40 if k == count - 1 else 0)
        yield bytes([indicator, header]) + body[offset : offset + size]
        offset += size


def _starts_access_unit(kind: int, after_header: bytes) -> bool:
    """A prefix NAL unit, or a slice whose first_mb_in_slice (ue(v), first bit) is 0."""
    if kind in _AU_PREFIX_TYPES:
        return True
    return kind in _SLICE_TYPES and bool(after_header) and bool(after_header[0] & 0x80)


def _has_sps(access_unit: bytes) -> bool:
    return any(nal[0] & 0x1F == NAL_SPS for nal in split_annex_b(access_unit))


class H264Depacketizer(Depacketizer):
    """RFC 6184 single NAL unit, STAP-A and FU-A payloads to Annex B access units.

    ``sprop_parameter_sets`` (the SDP fmtp value, comma-separated base64 SPS/PPS) is
    put in front of every key frame that carries no SPS of its own.
    """

    def __init__(self, *, sprop_parameter_sets: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_parameter_sets(sprop_parameter_sets)

    def set_parameter_sets(self, sprop_parameter_sets: str | None) -> None:
        nals = decode_parameter_sets([sprop_parameter_sets])
        self._parameter_sets = b"".join(START_CODE + nal for nal in nals)

    @staticmethod
    def _has_parameter_sets(access_unit: bytes) -> bool:
        return _has_sps(access_unit)

    def _continuation(self, payload: bytes) -> tuple[bytes, bool] | None:
        """An FU-A fragment that is not a start: F bit clear, an inner type that is not
        an RTP-only one, something after the FU header (``_parse`` accepts it alike)."""
        if len(payload) < 3 or payload[0] & 0x9F != NAL_FU_A:
            return None
        header = payload[1]
        if header & 0x80 or (header & 0x1F) in _RTP_ONLY_TYPES:
            return None
        return payload[2:], bool(header & 0x40)

    def _parse(self, payload: bytes) -> Piece:
        if len(payload) < 2:
            raise ValueError("NAL unit is too short")
        kind = payload[0] & 0x1F
        if payload[0] & 0x80:
            raise ValueError("forbidden_zero_bit set")
        if kind == NAL_FU_A:
            # Most packets of a big picture: rebuilt here in one concatenation (what
            # aiortc's descriptor would give, without its copies and object).
            start, end = bool(payload[1] & 0x80), bool(payload[1] & 0x40)
            if start and end:
                raise ValueError("FU-A with both start and end bits")
            inner = payload[1] & 0x1F
            if inner in _RTP_ONLY_TYPES or len(payload) < 3:
                raise ValueError("FU-A carrying nothing or an RTP-only type")
            if start:
                data = b"".join((START_CODE, bytes(((payload[0] & 0xE0) | inner,)),
                                 payload[2:]))
            else:
                data = payload[2:]
            return Piece(
                data,
                starts_frame=start and _starts_access_unit(inner, payload[2:3]),
                keyframe=start and inner == NAL_IDR,
                fragment=(start, end),
            )
        _, data = H264PayloadDescriptor.parse(payload)
        if kind == NAL_STAP_A:
            kinds, first_after = [], b""
            pos = STAP_HEADER_SIZE
            while pos < len(payload):
                (size,) = struct.unpack_from("!H", payload, pos)
                if size == 0:
                    raise ValueError("STAP-A with an empty NAL unit")
                if not kinds:
                    first_after = payload[pos + 3 : pos + 2 + size][:1]
                kinds.append(payload[pos + 2] & 0x1F)
                pos += STAP_LENGTH_SIZE + size
            if any(k in _RTP_ONLY_TYPES or k == 0 for k in kinds):
                raise ValueError("STAP-A aggregating an RTP-only type")
            return Piece(
                data,
                starts_frame=_starts_access_unit(kinds[0], first_after),
                keyframe=NAL_IDR in kinds,
            )
        # A single NAL unit (types 1-23; aiortc's parse refused the others).
        return Piece(data, _starts_access_unit(kind, payload[1:2]), keyframe=kind == NAL_IDR)
