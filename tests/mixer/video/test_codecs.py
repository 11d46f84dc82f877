from __future__ import annotations

import numpy as np
import pytest
from av.video.frame import PictureType

from gateway.media import EncodedVideo, VideoSendFormat
from gateway.rtp.payload.h264 import split_annex_b
from mcu.mixer.video.codecs import VideoDecoder, VideoEncoder, encoder_size
from mcu.mixer.video.picture import Picture, rgb_to_yuv, yuv_to_rgb

CODECS = ["H264", "VP8", "H263-1998", "H263-2000"]
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255)]
IDR, SPS, PPS, NON_IDR = 5, 7, 8, 1


def encoder(codec: str, width: int = 320, height: int = 180, **kwargs: object) -> VideoEncoder:
    fmt = VideoSendFormat(codec, 96, width, height, 30.0, 500_000, **kwargs)  # type: ignore[arg-type]
    return VideoEncoder(fmt)


def noisy(width: int, height: int, seed: int = 0) -> Picture:
    rng = np.random.default_rng(seed)
    return Picture(rng.integers(0, 256, (height * 3 // 2, width), dtype=np.uint8))


def textured(width: int, height: int, shift: int = 0) -> Picture:
    """A smooth moving pattern: predicted frames stay predicted (noise would make the
    h263p encoder's scene-change detection code every frame intra)."""
    x = np.arange(width)[None, :] + shift
    y = np.arange(height)[:, None]
    picture = Picture.blank(width, height, (128, 128, 128))
    picture.y[:] = (128 + 60 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.uint8)
    return picture


def nal_types(unit: EncodedVideo) -> list[int]:
    return [nal[0] & 0x1F for nal in split_annex_b(unit.data)]


@pytest.mark.parametrize("codec", CODECS)
def test_solid_colours_survive_encode_and_decode(codec: str) -> None:
    enc, dec = encoder(codec), VideoDecoder(codec)
    for colour in COLOURS:
        unit = enc.encode(Picture.blank(320, 180, colour), keyframe=True)
        assert unit is not None and unit.keyframe
        frame = dec.decode(unit)
        assert frame is not None and (frame.width, frame.height) == (320, 180)
        got = Picture.from_frame(frame).mean_yuv()
        want = rgb_to_yuv(colour)
        assert all(abs(g - w) <= 4 for g, w in zip(got, want, strict=True)), (colour, got)
        rgb = yuv_to_rgb(got)
        assert all(abs(g - w) <= 10 for g, w in zip(rgb, colour, strict=True)), (colour, rgb)
    assert dec.errors == 0 and not dec.take_error()


@pytest.mark.parametrize("codec", CODECS)
def test_forced_keyframe_and_pts(codec: str) -> None:
    enc = encoder(codec)
    units = [enc.encode(textured(320, 180, i), keyframe=i == 5) for i in range(8)]
    assert all(u is not None for u in units)
    flags = [u.keyframe for u in units if u is not None]
    assert flags == [True, False, False, False, False, True, False, False]
    assert [u.timestamp for u in units if u is not None][:3] == [0, 3000, 6000]
    assert enc.frames == 8


def test_h264_idr_carries_sps_and_pps() -> None:
    enc = encoder("H264")
    first = enc.encode(textured(320, 180))
    predicted = enc.encode(textured(320, 180, 1))
    forced = enc.encode(textured(320, 180, 2), keyframe=True)
    assert first is not None and predicted is not None and forced is not None
    for unit in (first, forced):
        types = nal_types(unit)
        assert IDR in types
        assert types.index(SPS) < types.index(PPS) < types.index(IDR)
    assert NON_IDR in nal_types(predicted) and IDR not in nal_types(predicted)
    # Annex B with start codes, no AVCC length prefix.
    assert forced.data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))


def test_h264_constrained_baseline() -> None:
    unit = encoder("H264").encode(textured(320, 180))
    assert unit is not None
    sps = next(nal for nal in split_annex_b(unit.data) if nal[0] & 0x1F == SPS)
    profile_idc, constraints = sps[1], sps[2]
    assert profile_idc == 66 and constraints & 0x40  # constraint_set1: constrained baseline


def test_vp8_keyframe_bit() -> None:
    enc = encoder("VP8")
    units = [enc.encode(textured(320, 180, i), keyframe=i == 2) for i in range(3)]
    # VP8 frame tag: bit 0 of the first byte is 0 for a key frame.
    assert [u.data[0] & 1 for u in units if u is not None] == [0, 1, 0]


def test_h263_intra_picture_type() -> None:
    enc = encoder("H263-1998")
    units = [enc.encode(textured(320, 180, i), keyframe=i == 2) for i in range(3)]
    dec = VideoDecoder("H263-1998")
    types = []
    for unit in units:
        assert unit is not None
        frame = dec.decode(unit)
        assert frame is not None
        types.append(PictureType(frame.pict_type).name)
    assert types == ["I", "P", "I"]


def test_mode0_nal_units_fit_the_mtu() -> None:
    enc = encoder("H264", 1280, 720, packetization_mode=0, mtu=1200)
    sizes = []
    for i in range(3):
        unit = enc.encode(noisy(1280, 720, seed=i), keyframe=i == 2)
        assert unit is not None
        sizes += [len(nal) for nal in split_annex_b(unit.data)]
    assert len(sizes) > 20 and max(sizes) <= 1200


def test_h263_sizes_round_to_multiples_of_four() -> None:
    assert encoder_size("H263-1998", 426, 240) == (424, 240)
    assert encoder_size("H263-2000", 4096, 2160) == (2048, 1152)
    assert encoder_size("H264", 426, 240) == (426, 240)
    enc = encoder("H263-1998", 426, 240)
    assert (enc.width, enc.height) == (424, 240)
    unit = enc.encode(Picture.blank(426, 240, (0, 0, 255)))  # scaled to fit
    frame = VideoDecoder("H263-1998").decode(unit) if unit else None
    assert frame is not None and (frame.width, frame.height) == (424, 240)


def test_unknown_codec() -> None:
    with pytest.raises(ValueError):
        VideoDecoder("THEORA")
    with pytest.raises(ValueError):
        encoder("THEORA")


@pytest.mark.parametrize("codec", CODECS)
def test_decoder_survives_bad_input_and_recovers(codec: str) -> None:
    enc = encoder(codec)
    units = [enc.encode(textured(320, 180, i)) for i in range(4)]
    key, p1, p2, p3 = (u for u in units if u is not None)
    dec = VideoDecoder(codec)
    rng = np.random.default_rng(3)

    assert dec.decode(p1) is None  # a P-frame before any key frame
    assert dec.take_error() and not dec.take_error()
    assert dec.decode(EncodedVideo(rng.bytes(700), 0, False)) is None  # garbage
    assert dec.decode(EncodedVideo(b"", 0, False)) is None  # empty: not a flush
    assert dec.errors >= 2 and dec.take_error()
    assert dec.waiting_for_keyframe

    assert dec.decode(key) is not None and not dec.waiting_for_keyframe
    assert dec.decode(p1) is not None
    errors = dec.errors
    dec.decode(EncodedVideo(p2.data[: len(p2.data) // 2], 0, False))  # truncated
    dec.decode(EncodedVideo(key.data[: len(key.data) // 3], 0, True))
    dec.decode(EncodedVideo(rng.bytes(3000), 0, True))
    assert dec.errors > errors and dec.take_error()
    frame = dec.decode(key)
    assert frame is not None and (frame.width, frame.height) == (320, 180)
    assert dec.decode(p1) is not None
    assert not dec.take_error()


@pytest.mark.parametrize("codec", CODECS)
def test_decoder_follows_a_resolution_change(codec: str) -> None:
    big, small = encoder(codec, 640, 360), encoder(codec, 320, 180)
    dec = VideoDecoder(codec)
    sizes = []
    for i in range(3):
        frame = dec.decode(big.encode(textured(640, 360, i)))  # type: ignore[arg-type]
        sizes.append(frame and (frame.width, frame.height))
    # The new stream's first picture is its key frame; then its predicted ones.
    for i in range(3):
        frame = dec.decode(small.encode(textured(320, 180, i)))  # type: ignore[arg-type]
        sizes.append(frame and (frame.width, frame.height))
    assert sizes == [(640, 360)] * 3 + [(320, 180)] * 3
    assert dec.errors == 0
    # Back to the big stream mid-way: its P-frames don't match; its next key frame does.
    dec.decode(big.encode(textured(640, 360, 5)))  # type: ignore[arg-type]
    frame = dec.decode(big.encode(textured(640, 360, 6), keyframe=True))  # type: ignore[arg-type]
    assert frame is not None and (frame.width, frame.height) == (640, 360)
