"""What an encoded key picture says about itself: its size (and H.264 profile).

A stream's picture size is wanted from the bytes received, without decoding them.
These few header fields are parsed by hand because no maintained Python library
parses them without decoding: PyAV (FFmpeg) would tell only after a full decode.
Only the leading syntax elements are read, each as its specification lays it out
(H.264 7.3.2.1.1, RFC 6386 9.1, H.263 (01/2005) 5.1, H.261 4.2.1).

Pure: no I/O, no clock, no codec library. :func:`key_picture_header` never raises,
whatever the bytes; anything unreadable is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.rtp.payload.bits import BitReader
from gateway.rtp.payload.h264 import split_annex_b


@dataclass(frozen=True, slots=True)
class PictureHeader:
    width: int
    height: int
    profile: int | None = None  # H.264 profile_idc; None for other codecs


def key_picture_header(codec: str, data: bytes) -> PictureHeader | None:
    """The size (and H.264 profile) a key picture declares; None when it declares
    nothing readable (not a key frame, no SPS, a format we do not read, truncated or
    garbage bytes). Never raises."""
    if not isinstance(data, bytes | bytearray | memoryview):
        return None  # bytes(data) of an int would make that many zero bytes
    try:
        parse = _PARSERS.get(codec)
        return None if parse is None else parse(bytes(data))
    # The bit reader ran off the end, a value made no sense, or the codec name was
    # not even a string.
    except (IndexError, ValueError, TypeError):
        return None


def _check(condition: bool) -> None:
    """Out-of-range values mean garbage that happens to parse: give up on it."""
    if not condition:
        raise ValueError("value out of range")


# H.264 -----------------------------------------------------------------------------

_SPS = 7
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
"""profile_idc values whose SPS carries chroma format, bit depths and scaling lists."""
_SUB_WIDTH_HEIGHT = {1: (2, 2), 2: (2, 1), 3: (1, 1)}
"""SubWidthC, SubHeightC per chroma_format_idc (H.264 table 6-1)."""


def _h264(data: bytes) -> PictureHeader | None:
    for nal in split_annex_b(data):
        if nal[0] & 0x80 == 0 and nal[0] & 0x1F == _SPS:  # forbidden_zero_bit clear
            return _parse_sps(BitReader(_unescape(nal[1:])))
    return None


def _unescape(payload: bytes) -> bytes:
    """The RBSP: each emulation_prevention_three_byte (00 00 03) dropped."""
    out = bytearray()
    zeros = 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _parse_sps(bits: BitReader) -> PictureHeader | None:
    """seq_parameter_set_data() up to the frame cropping (H.264 7.3.2.1.1)."""
    profile = bits.u(8)
    bits.u(8)  # constraint_set0..5_flag, reserved_zero_2bits
    bits.u(8)  # level_idc
    _check(bits.ue() <= 31)  # seq_parameter_set_id
    chroma_format, separate_planes = 1, False
    if profile in _HIGH_PROFILES:
        chroma_format, separate_planes = _read_chroma_and_scaling(bits)
    _check(bits.ue() <= 12)  # log2_max_frame_num_minus4
    _skip_pic_order_cnt(bits)
    bits.ue()  # max_num_ref_frames
    bits.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_map_units = bits.ue() + 1
    frame_mbs_only = bits.bit()
    if not frame_mbs_only:
        bits.bit()  # mb_adaptive_frame_field_flag
    bits.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = height_map_units * 16 * (2 - frame_mbs_only)  # map units are field pairs
    if bits.bit():  # frame_cropping_flag
        # ChromaArrayType 0 (monochrome or separate planes) crops in luma samples.
        chroma_array_type = 0 if separate_planes else chroma_format
        sub_w, sub_h = _SUB_WIDTH_HEIGHT.get(chroma_array_type, (1, 1))
        unit_x, unit_y = sub_w, sub_h * (2 - frame_mbs_only)
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    if width <= 0 or height <= 0:
        return None
    return PictureHeader(width, height, profile)


def _read_chroma_and_scaling(bits: BitReader) -> tuple[int, bool]:
    """The high-profile fields: (chroma_format_idc, separate_colour_plane_flag)."""
    chroma_format = bits.ue()
    _check(chroma_format <= 3)
    separate_planes = chroma_format == 3 and bits.bit() == 1
    _check(bits.ue() <= 6)  # bit_depth_luma_minus8
    _check(bits.ue() <= 6)  # bit_depth_chroma_minus8
    bits.bit()  # qpprime_y_zero_transform_bypass_flag
    if bits.bit():  # seq_scaling_matrix_present_flag
        for index in range(12 if chroma_format == 3 else 8):
            if bits.bit():  # seq_scaling_list_present_flag[index]
                _skip_scaling_list(bits, 16 if index < 6 else 64)
    return chroma_format, separate_planes


def _skip_scaling_list(bits: BitReader, size: int) -> None:
    """scaling_list() (7.3.2.1.1.1): a delta is coded only until one makes the next
    scale 0, after which the rest of the list repeats the last scale."""
    last_scale = next_scale = 8
    for _ in range(size):
        if next_scale != 0:
            delta = bits.se()
            _check(-128 <= delta <= 127)
            next_scale = (last_scale + delta + 256) % 256
        last_scale = next_scale or last_scale


def _skip_pic_order_cnt(bits: BitReader) -> None:
    kind = bits.ue()  # pic_order_cnt_type
    _check(kind <= 2)
    if kind == 0:
        _check(bits.ue() <= 12)  # log2_max_pic_order_cnt_lsb_minus4
    elif kind == 1:
        bits.bit()  # delta_pic_order_always_zero_flag
        bits.se()  # offset_for_non_ref_pic
        bits.se()  # offset_for_top_to_bottom_field
        cycle = bits.ue()  # num_ref_frames_in_pic_order_cnt_cycle
        _check(cycle <= 255)
        for _ in range(cycle):
            bits.se()  # offset_for_ref_frame[i]


# VP8 -------------------------------------------------------------------------------

_VP8_START_CODE = b"\x9d\x01\x2a"


def _vp8(data: bytes) -> PictureHeader | None:
    """RFC 6386 9.1: a 3-byte frame tag (bit 0 clear on key frames), and on key frames
    the start code then 14-bit width and height (the top 2 bits of each are scaling)."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != _VP8_START_CODE:
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    if width == 0 or height == 0:
        return None
    return PictureHeader(width, height)


# H.263 -----------------------------------------------------------------------------

_H263_PSC = 0b0000_0000_0000_0000_1000_00  # 22 bits
_H263_SIZES = {1: (128, 96), 2: (176, 144), 3: (352, 288), 4: (704, 576), 5: (1408, 1152)}
"""Source format -> size: SQCIF, QCIF, CIF, 4CIF, 16CIF (H.263 table 1)."""
_PLUSPTYPE = 7
_CUSTOM_FORMAT = 6


def _h263_1996(data: bytes) -> PictureHeader | None:
    return _h263(data, plus=False)


def _h263_plus(data: bytes) -> PictureHeader | None:
    return _h263(data, plus=True)


def _h263(data: bytes, *, plus: bool) -> PictureHeader | None:
    """PSC, TR and PTYPE (H.263 5.1.1-5.1.3); PLUSPTYPE pictures only for H.263+
    (RFC 4629 streams), since an RFC 2190 peer does not send them."""
    bits = BitReader(data)
    if bits.u(22) != _H263_PSC:
        return None
    bits.u(8)  # TR
    if bits.bit() != 1 or bits.bit() != 0:  # PTYPE bit 1 is always 1, bit 2 always 0
        return None
    bits.u(3)  # split screen, document camera, freeze picture release
    source_format = bits.u(3)
    if source_format == _PLUSPTYPE:
        return _h263_plusptype(bits) if plus else None
    if source_format not in _H263_SIZES or bits.bit() != 0:  # picture coding type: INTRA
        return None
    return PictureHeader(*_H263_SIZES[source_format])


def _h263_plusptype(bits: BitReader) -> PictureHeader | None:
    """PLUSPTYPE, CPM, PSBI and CPFMT (H.263 5.1.4-5.1.7). Only a picture that updates
    the full extended PTYPE (UFEP 001) carries its source format."""
    if bits.u(3) != 0b001:  # UFEP; 000 says nothing about the size
        return None
    opptype = bits.u(18)
    source_format = opptype >> 15  # its first 3 bits
    mpptype = bits.u(9)
    if mpptype >> 6 != 0b000:  # picture type: I picture
        return None
    if bits.bit():  # CPM
        bits.u(2)  # PSBI
    if source_format in _H263_SIZES:
        return PictureHeader(*_H263_SIZES[source_format])
    if source_format != _CUSTOM_FORMAT:
        return None
    bits.u(4)  # pixel aspect ratio code
    width = (bits.u(9) + 1) * 4
    if bits.bit() != 1:  # always 1, to prevent start code emulation
        return None
    height = bits.u(9) * 4
    if height == 0:  # forbidden value
        return None
    return PictureHeader(width, height)


# H.261 -----------------------------------------------------------------------------

_H261_PSC = 0b0000_0000_0000_0001_0000  # 20 bits


def _h261(data: bytes) -> PictureHeader | None:
    """PSC, TR and PTYPE (H.261 4.2.1). H.261 has no intra picture type: every picture
    header states its size."""
    bits = BitReader(data)
    if bits.u(20) != _H261_PSC:
        return None
    bits.u(5)  # TR
    bits.u(3)  # split screen, document camera, freeze picture release
    cif = bits.bit()  # source format
    bits.u(2)  # HI_RES, spare
    return PictureHeader(352, 288) if cif else PictureHeader(176, 144)


_PARSERS = {
    "H264": _h264,
    "VP8": _vp8,
    "H263": _h263_1996,
    "H263-1998": _h263_plus,
    "H263-2000": _h263_plus,
    "H261": _h261,
}
