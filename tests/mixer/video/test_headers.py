"""Reading the size (and H.264 profile) a key picture declares: real pictures from
FFmpeg's encoders, headers written field by field for what those encoders never
write, and bytes of every kind that must give None rather than raise."""

from __future__ import annotations

import random
from fractions import Fraction
from functools import cache

import av
import numpy as np
import pytest

from gateway.rtp.payload.h264 import split_annex_b
from mcu.mixer.video.headers import PictureHeader, key_picture_header

START = b"\x00\x00\x00\x01"
SPS = 7


class Case:
    """One encoder run: what to encode with, and what its key picture says."""

    def __init__(self, codec: str, encoder: str, width: int, height: int,
                 profile_idc: int | None = None, pix_fmt: str = "yuv420p",
                 options: dict[str, str] | None = None) -> None:
        self.codec, self.encoder, self.pix_fmt = codec, encoder, pix_fmt
        self.width, self.height = width, height
        self.options = tuple(sorted((options or {}).items()))
        self.expected = PictureHeader(width, height, profile_idc)

    def __repr__(self) -> str:
        extra = "".join(f"-{value}" for _, value in self.options if value != "superfast")
        return f"{self.codec}-{self.width}x{self.height}-{self.pix_fmt}{extra}"

    def packets(self) -> list[tuple[bool, bytes]]:
        return _encode(self.encoder, self.width, self.height, self.pix_fmt, self.options)

    def key_picture(self) -> bytes:
        is_key, data = self.packets()[0]
        assert is_key
        return data


def x264(width: int, height: int, profile: str, profile_idc: int, pix_fmt: str = "yuv420p",
         params: str = "") -> Case:
    # repeat-headers puts SPS and PPS in band, before the key picture, as on the wire.
    # superfast, not ultrafast: x264 writes the lowest profile its tools need, and
    # ultrafast's (no CABAC, no 8x8 transform) would make a "high" stream baseline.
    options = {"preset": "superfast", "profile": profile,
               "x264-params": ":".join(filter(None, ["repeat-headers=1", params]))}
    return Case("H264", "libx264", width, height, profile_idc, pix_fmt, options)


CASES = [
    x264(640, 360, "baseline", 66),  # coded 640x368, cropped
    x264(640, 360, "high", 100),
    x264(1280, 720, "high", 100),
    x264(176, 144, "baseline", 66),
    x264(640, 360, "high422", 122, "yuv422p"),  # 4:2:2 crops whole rows
    x264(640, 360, "high444", 244, "yuv444p"),  # 4:4:4 crops single samples
    x264(640, 360, "main", 77, params="interlaced=1"),  # field pairs: double crop rows
    Case("VP8", "libvpx", 320, 240),
    Case("H263", "h263", 352, 288),
    Case("H263", "h263", 176, 144),
    Case("H263", "h263", 128, 96),
    Case("H263-1998", "h263p", 640, 480),  # custom format (CPFMT)
    Case("H263-1998", "h263p", 320, 240),  # custom format
    Case("H263-2000", "h263p", 352, 288),  # CIF, said in OPPTYPE
    Case("H263-2000", "h263p", 704, 576),  # 4CIF, said in OPPTYPE
    Case("H261", "h261", 176, 144),
    Case("H261", "h261", 352, 288),
]


@cache
def _encode(encoder: str, width: int, height: int, pix_fmt: str,
            options: tuple[tuple[str, str], ...]) -> list[tuple[bool, bytes]]:
    """Three pictures of a smooth pattern moving sideways: a key picture, then
    predicted ones (noise would make the H.263 encoders code every picture intra)."""
    context = av.CodecContext.create(encoder, "w")
    context.width, context.height = width, height
    context.pix_fmt = pix_fmt
    context.time_base = Fraction(1, 30)
    context.gop_size = 100
    context.max_b_frames = 0
    context.options = dict(options)
    context.open()
    pattern = np.zeros((height, width, 3), np.uint8)
    pattern[..., 0] = np.arange(width)[None, :] % 256
    pattern[..., 1] = np.arange(height)[:, None] % 256
    packets: list[av.Packet] = []
    for index in range(3):
        rgb = np.ascontiguousarray(np.roll(pattern, 2 * index, axis=1))
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
        frame.pts = index
        packets += context.encode(frame)
    packets += context.encode(None)
    return [(packet.is_keyframe, bytes(packet)) for packet in packets]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_a_key_picture_declares_its_size(case: Case) -> None:
    assert key_picture_header(case.codec, case.key_picture()) == case.expected


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_the_picture_header_is_at_the_start(case: Case) -> None:
    """The first 64 bytes carry it (for H.264: the SPS, ahead of the slices)."""
    assert key_picture_header(case.codec, case.key_picture()[:64]) == case.expected


@pytest.mark.parametrize("case", [c for c in CASES if c.codec != "H261"], ids=repr)
def test_a_predicted_picture_declares_nothing(case: Case) -> None:
    predicted = [data for is_key, data in case.packets() if not is_key]
    assert predicted
    assert all(key_picture_header(case.codec, data) is None for data in predicted)


@pytest.mark.parametrize("case", [c for c in CASES if c.codec == "H261"], ids=repr)
def test_every_h261_picture_declares_its_size(case: Case) -> None:
    """H.261 has no picture type: a predicted picture's header still says its size."""
    assert all(key_picture_header("H261", data) == case.expected
               for _, data in case.packets())


def test_an_h264_access_unit_without_sps_declares_nothing() -> None:
    key = CASES[0].key_picture()
    nals = split_annex_b(key)
    without_sps = b"".join(START + nal for nal in nals if nal[0] & 0x1F != SPS)
    assert len(without_sps) < len(key)
    assert key_picture_header("H264", without_sps) is None


def test_h263_1996_does_not_read_plusptype_but_h263_plus_reads_1996() -> None:
    plus = next(c for c in CASES if c.encoder == "h263p").key_picture()
    assert key_picture_header("H263", plus) is None
    assert key_picture_header("H263-1998", _case("h263", 176, 144)) == PictureHeader(176, 144)


def test_unknown_codecs_and_other_types_declare_nothing() -> None:
    key = CASES[0].key_picture()
    assert key_picture_header("H265", key) is None
    assert key_picture_header("h264", key) is None
    assert key_picture_header("H264", None) is None  # type: ignore[arg-type]
    assert key_picture_header("H264", "text") is None  # type: ignore[arg-type]
    assert key_picture_header("H264", 10**12) is None  # type: ignore[arg-type]
    assert key_picture_header(["H264"], key) is None  # type: ignore[arg-type]
    assert key_picture_header("H264", bytearray(key)) == CASES[0].expected
    assert key_picture_header("H264", memoryview(key)) == CASES[0].expected


def _case(encoder: str, width: int, height: int) -> bytes:
    return next(c for c in CASES if (c.encoder, c.width, c.height) == (encoder, width, height)
                ).key_picture()


# Headers written field by field -----------------------------------------------------


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, count: int, value: int) -> BitWriter:
        self.bits += [(value >> (count - 1 - i)) & 1 for i in range(count)]
        return self

    def ue(self, value: int) -> BitWriter:
        code = value + 1
        return self.u(code.bit_length() - 1, 0).u(code.bit_length(), code)

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def bytes(self) -> bytes:
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def escape(rbsp: bytes) -> bytes:
    """A NAL unit payload: 03 inserted wherever two zeros precede a byte <= 3."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


ScalingLists = list[list[int] | None]


def sps(*, profile: int = 100, chroma_format: int = 1, separate_planes: int = 0,
        scaling: ScalingLists | None = None, poc_type: int = 0, width_mbs: int = 40,
        height_units: int = 23, frame_mbs_only: int = 1,
        crop: tuple[int, int, int, int] | None = None) -> bytes:
    """An SPS NAL unit with a start code, written as H.264 7.3.2.1.1 lays it out.
    ``scaling`` holds, per list, the deltas coded (None: list absent)."""
    w = BitWriter().u(8, profile).u(8, 0).u(8, 30).ue(0)
    if profile in (100, 122, 244):
        w.ue(chroma_format)
        if chroma_format == 3:
            w.u(1, separate_planes)
        w.ue(0).ue(0).u(1, 0).u(1, scaling is not None)
        for deltas in scaling or []:
            w.u(1, deltas is not None)
            for delta in deltas or []:
                w.se(delta)
    w.ue(0).ue(poc_type)
    if poc_type == 0:
        w.ue(2)
    elif poc_type == 1:
        # Two large offsets: 30 zero bits in a row, which need emulation prevention.
        w.u(1, 0).se(16384).se(16384).ue(3).se(1).se(-2).se(3)
    w.ue(1).u(1, 0).ue(width_mbs - 1).ue(height_units - 1).u(1, frame_mbs_only)
    if not frame_mbs_only:
        w.u(1, 1)  # mb_adaptive_frame_field_flag
    w.u(1, 1).u(1, crop is not None)
    for offset in crop or ():
        w.ue(offset)
    w.u(1, 0).u(1, 1)  # no VUI; rbsp_stop_one_bit
    return START + bytes([0x67]) + escape(w.bytes())


AUD = START + b"\x09\xf0"
FAKE_IDR = START + b"\x65\x88\x84\x00\x21\xff"


def h264(*nals: bytes) -> PictureHeader | None:
    return key_picture_header("H264", AUD + b"".join(nals) + FAKE_IDR)


def test_h264_scaling_lists_and_pic_order_cnt_type_1() -> None:
    """Lists cut short by a zero scale ([-8]: 8 - 8 = 0; [4, -2, -10]: 12, 10, 0),
    full ones, absent ones; then a pic_order_cnt cycle that needs 00 00 03."""
    lists: ScalingLists = [[-8], None, [4, -2, -10], None, None, [0] * 16, [0] * 64,
                           [1, 1, 1, -11]]
    nal = sps(scaling=lists, poc_type=1, crop=(0, 0, 0, 4))
    assert b"\x00\x00\x03" in nal
    assert h264(nal) == PictureHeader(640, 360, 100)


def test_h264_separate_colour_planes_crop_single_samples() -> None:
    """4:4:4 with 12 scaling lists; ChromaArrayType 0: crop units of one sample."""
    lists: ScalingLists = [None] * 8 + [[-8], None, None, [0] * 64]
    nal = sps(profile=244, chroma_format=3, separate_planes=1, scaling=lists,
              width_mbs=20, height_units=15, crop=(2, 2, 1, 1))
    assert h264(nal) == PictureHeader(316, 238, 244)


def test_h264_monochrome_fields_crop_one_column_and_two_rows() -> None:
    nal = sps(chroma_format=0, frame_mbs_only=0, height_units=12, crop=(0, 4, 0, 12))
    assert h264(nal) == PictureHeader(636, 360, 100)


def test_h264_422_fields_crop_two_columns_and_two_rows() -> None:
    nal = sps(profile=122, chroma_format=2, frame_mbs_only=0, height_units=12,
              crop=(1, 1, 1, 1))
    assert h264(nal) == PictureHeader(636, 380, 122)


def test_h264_baseline_without_high_profile_fields() -> None:
    assert h264(sps(profile=66, poc_type=2, width_mbs=11, height_units=9)) == \
        PictureHeader(176, 144, 66)


def test_h264_the_first_sps_counts_and_nonsense_is_refused() -> None:
    first = sps(profile=66, poc_type=2, width_mbs=11, height_units=9)
    assert h264(first, sps()) == PictureHeader(176, 144, 66)
    assert h264(sps(width_mbs=1, crop=(4, 4, 0, 0))) is None  # cropped to nothing
    assert h264(sps(chroma_format=4)) is None  # no such chroma format
    assert h264(sps(poc_type=3)) is None  # no such pic_order_cnt_type


def h263_plus(*, ufep: int = 1, source_format: int = 6, picture_type: int = 0,
              cpm: int = 0, size: tuple[int, int] = (320, 240), marker: int = 1) -> bytes:
    """An H.263 picture header with PLUSPTYPE, as H.263 5.1.1-5.1.7 lays it out."""
    w = BitWriter().u(22, 0x20).u(8, 0)
    w.u(1, 1).u(1, 0).u(3, 0).u(3, 7)  # PTYPE: source format 7 = PLUSPTYPE
    w.u(3, ufep)
    if ufep == 1:  # OPPTYPE: format, 11 option flags, "1", reserved 000
        w.u(3, source_format).u(11, 0).u(1, 1).u(3, 0)
    w.u(3, picture_type).u(3, 0).u(2, 0).u(1, 1)  # MPPTYPE
    w.u(1, cpm)
    if cpm:
        w.u(2, 3)  # PSBI
    if ufep == 1 and source_format == 6:  # CPFMT
        w.u(4, 2).u(9, size[0] // 4 - 1).u(1, marker).u(9, size[1] // 4)
    w.u(5, 10).u(1, 0)  # PQUANT, PEI
    return w.bytes() + b"\x55" * 8


@pytest.mark.parametrize("codec", ["H263-1998", "H263-2000"])
def test_h263_plus_headers(codec: str) -> None:
    def read(**fields: object) -> PictureHeader | None:
        return key_picture_header(codec, h263_plus(**fields))  # type: ignore[arg-type]

    assert read() == PictureHeader(320, 240)
    assert read(cpm=1, size=(2048, 1152)) == PictureHeader(2048, 1152)  # PSBI skipped
    assert read(source_format=2) == PictureHeader(176, 144)
    assert read(source_format=5, cpm=1) == PictureHeader(1408, 1152)
    assert read(ufep=0) is None  # no format in this picture
    assert read(ufep=2) is None  # reserved
    assert read(picture_type=1) is None  # P picture
    assert read(picture_type=3) is None  # B picture
    assert read(marker=0) is None
    assert read(source_format=0) is None  # forbidden
    assert read(source_format=7) is None  # reserved
    assert read(size=(320, 0)) is None  # forbidden height
    assert key_picture_header("H263", h263_plus()) is None


def test_vp8_ignores_the_scaling_bits() -> None:
    tag = bytes([0x10, 0x02, 0x00])  # key frame, version 0, shown
    scaled = (320 | 0xC000).to_bytes(2, "little") + (240 | 0x4000).to_bytes(2, "little")
    assert key_picture_header("VP8", tag + b"\x9d\x01\x2a" + scaled) == PictureHeader(320, 240)
    assert key_picture_header("VP8", tag + b"\x9d\x01\x2b" + scaled) is None


# Never raising ----------------------------------------------------------------------


def _declared(result: PictureHeader | None) -> bool:
    """A valid result: nothing, or a picture with a size."""
    return result is None or (isinstance(result, PictureHeader)
                              and result.width > 0 and result.height > 0)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_a_truncated_key_picture_says_the_same_or_nothing(case: Case) -> None:
    data = case.key_picture()
    for n in range(len(data[:200])):
        assert key_picture_header(case.codec, data[:n]) in (None, case.expected)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_a_damaged_key_picture_never_raises(case: Case) -> None:
    rng = random.Random(1)
    data = bytearray(case.key_picture()[:100])
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] ^= rng.randint(1, 255)
        assert _declared(key_picture_header(case.codec, bytes(damaged)))


PREFIXES = {  # the start of each codec's header, to lead random bytes deep into the parser
    "H264": START + b"\x67", "VP8": b"\x00\x00\x00\x9d\x01\x2a", "H263": b"\x00\x00\x82",
    "H263-1998": b"\x00\x00\x82\x1c", "H263-2000": b"\x00\x00\x82\x1c", "H261": b"\x00\x01\x00",
}


@pytest.mark.parametrize("codec", sorted(PREFIXES))
def test_random_bytes_never_raise(codec: str) -> None:
    rng = random.Random(1)
    for index in range(500):
        garbage = rng.randbytes(rng.randrange(300))
        if index % 2:
            garbage = PREFIXES[codec] + garbage
        assert _declared(key_picture_header(codec, garbage))
