"""H.265/HEVC over RTP (RFC 7798), receive side only, sans-IO: payloads to Annex B.

What IP cameras send: single NAL unit packets, aggregation packets (AP, type 48) and
fragmentation units (FU, type 49), each with the two-byte HEVC NAL unit header
(F, Type, LayerId, TID). PACI (type 50) and the decoding-order fields (DONL/DOND,
present only when ``sprop-max-don-diff`` > 0) are not taken: such a stream is refused
by :func:`gateway.rtp.video.depacketizer_for` rather than mis-ordered here.

A key frame is an access unit with an IRAP picture (NAL types 16-21: BLA, IDR, CRA).
Loss handling is the shared one (``base.Depacketizer``): a picture with a missing
packet is dropped, and ``needs_keyframe`` stays set until the next complete IRAP.
``sprop-vps``/``sprop-sps``/``sprop-pps`` from the SDP are put in front of every key
frame that carries no SPS of its own (cameras often send them only in the SDP).
"""

from __future__ import annotations

import struct

from gateway.rtp.payload.base import (
    START_CODE,
    Depacketizer,
    Piece,
    decode_parameter_sets,
)
from gateway.rtp.payload.h264 import split_annex_b

NAL_HEADER_SIZE = 2
NAL_AP = 48
NAL_FU = 49
NAL_PACI = 50
NAL_VPS, NAL_SPS, NAL_PPS = 32, 33, 34
IRAP_TYPES = frozenset(range(16, 22))  # BLA_W_LP .. CRA_NUT (reserved IRAP 22-23 excluded)
_SLICE_TYPES = frozenset(range(0, 10)) | IRAP_TYPES
# NAL types that may only precede the first slice of an access unit (7.4.2.4.4):
# VPS, SPS, PPS, AUD, prefix SEI, reserved 41-44.
_AU_PREFIX_TYPES = frozenset({32, 33, 34, 35, 39, 41, 42, 43, 44})
_RTP_ONLY_TYPES = frozenset(range(48, 64))  # AP, FU, PACI and unspecified


def nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def _starts_access_unit(kind: int, after_header: bytes) -> bool:
    """A prefix NAL unit, or a slice segment with first_slice_segment_in_pic_flag set."""
    if kind in _AU_PREFIX_TYPES:
        return True
    return kind in _SLICE_TYPES and bool(after_header) and bool(after_header[0] & 0x80)


def _has_sps(access_unit: bytes) -> bool:
    return any(nal_type(nal) == NAL_SPS for nal in split_annex_b(access_unit))


def _check_header(header: bytes) -> int:
    if len(header) < NAL_HEADER_SIZE:
        raise ValueError("shorter than a NAL unit header")
    if header[0] & 0x80:
        raise ValueError("forbidden_zero_bit set")
    if header[1] & 0x07 == 0:
        raise ValueError("nuh_temporal_id_plus1 is 0")
    return nal_type(header)


class H265Depacketizer(Depacketizer):
    """RFC 7798 single NAL unit, AP and FU payloads to Annex B access units."""

    def __init__(
        self,
        *,
        sprop_vps: str | None = None,
        sprop_sps: str | None = None,
        sprop_pps: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_parameter_sets(sprop_vps, sprop_sps, sprop_pps)

    def set_parameter_sets(
        self, vps: str | None = None, sps: str | None = None, pps: str | None = None
    ) -> None:
        """The SDP's base64 ``sprop-vps``, ``sprop-sps`` and ``sprop-pps`` values."""
        nals = decode_parameter_sets([vps, sps, pps])
        self._parameter_sets = b"".join(START_CODE + nal for nal in nals)

    @staticmethod
    def _has_parameter_sets(access_unit: bytes) -> bool:
        return _has_sps(access_unit)

    def _parse(self, payload: bytes) -> Piece:
        kind = _check_header(payload)
        if kind == NAL_FU:
            return self._fu(payload)
        if kind == NAL_AP:
            return self._ap(payload)
        if kind in _RTP_ONLY_TYPES:
            raise ValueError(f"payload type {kind} (PACI or unspecified) is not supported")
        if len(payload) <= NAL_HEADER_SIZE:
            raise ValueError("a NAL unit with nothing after its header")
        return Piece(
            START_CODE + payload,
            starts_frame=_starts_access_unit(kind, payload[2:3]),
            keyframe=kind in IRAP_TYPES,
        )

    def _fu(self, payload: bytes) -> Piece:
        if len(payload) < NAL_HEADER_SIZE + 2:
            raise ValueError("FU carrying nothing")
        fu = payload[2]
        start, end = bool(fu & 0x80), bool(fu & 0x40)
        inner = fu & 0x3F
        if start and end:
            raise ValueError("FU with both start and end bits")
        if inner in _RTP_ONLY_TYPES:
            raise ValueError("FU carrying an RTP-only type")
        body = payload[3:]
        if start:
            header = bytes([(payload[0] & 0x81) | (inner << 1), payload[1]])
            data = START_CODE + header + body
        else:
            data = body
        return Piece(
            data,
            starts_frame=start and _starts_access_unit(inner, body[:1]),
            keyframe=start and inner in IRAP_TYPES,
            fragment=(start, end),
        )

    def _ap(self, payload: bytes) -> Piece:
        parts: list[bytes] = []
        kinds: list[int] = []
        first_after = b""
        pos = NAL_HEADER_SIZE
        while pos < len(payload):
            (size,) = struct.unpack_from("!H", payload, pos)
            nal = payload[pos + 2 : pos + 2 + size]
            if size < NAL_HEADER_SIZE + 1 or len(nal) != size:
                raise ValueError("AP with a truncated or empty NAL unit")
            kind = _check_header(nal)
            if kind in _RTP_ONLY_TYPES:
                raise ValueError("AP aggregating an RTP-only type")
            if not kinds:
                first_after = nal[2:3]
            kinds.append(kind)
            parts += [START_CODE, nal]
            pos += 2 + size
        if not kinds:  # RFC 7798 wants two or more; one is harmless, so taken
            raise ValueError("AP with no NAL unit")
        return Piece(
            b"".join(parts),
            starts_frame=_starts_access_unit(kinds[0], first_after),
            keyframe=any(k in IRAP_TYPES for k in kinds),
        )
