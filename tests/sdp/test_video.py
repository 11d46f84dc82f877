from __future__ import annotations

import pytest

from gateway.sdp import parse_sdp
from gateway.sdp.model import Media, RtpMap
from gateway.sdp.video import (
    VideoAnswer,
    VideoFormat,
    main_video_index,
    negotiate_video,
    our_level,
    parse_fmtp,
    rank_formats,
)
from tests.sdp.offers import BARESIP_OPUS_VIDEO, sdp
from tests.sdp.video_offers import (
    BARESIP_AVCODEC,
    CHROME_LIKE,
    CISCO,
    GARBAGE_FMTP,
    H263_2000_ONLY,
    H263_ONLY,
    NO_COMMON,
    POLYCOM,
)


def video_of(offer: bytes, index: int | None = None) -> Media:
    desc = parse_sdp(offer)
    found = main_video_index(desc) if index is None else index
    assert found is not None
    return desc.media[found]


def answer(offer: bytes, *args, **kwargs) -> VideoAnswer:
    desc = parse_sdp(offer)
    index = main_video_index(desc)
    assert index is not None
    result = negotiate_video(desc.media[index], *args, port=40000, session=desc, **kwargs)
    assert result is not None
    return result


def h264(fmtp: str, pt: int = 96) -> VideoFormat:
    fmt = VideoFormat.from_offer(RtpMap(pt, "H264", 90000), fmtp)
    assert fmt is not None
    return fmt


def vp8(fmtp: str | None) -> VideoFormat:
    fmt = VideoFormat.from_offer(RtpMap(100, "VP8", 90000), fmtp)
    assert fmt is not None
    return fmt


def h263(fmtp: str | None, name: str = "H263-1998") -> VideoFormat:
    fmt = VideoFormat.from_offer(RtpMap(98, name, 90000), fmtp)
    assert fmt is not None
    return fmt


def answer_fmtp(result: VideoAnswer) -> dict[str, str]:
    return parse_fmtp(result.media.fmtp(result.format.payload_type))


# -- VideoFormat: parsing ---------------------------------------------------------


def test_profile_level_id_parsed() -> None:
    fmt = h264("packetization-mode=1;profile-level-id=42e01f")
    assert (fmt.profile_idc, fmt.profile_iop, fmt.level_idc) == (0x42, 0xE0, 0x1F)
    assert fmt.profile_level_id == "42e01f"
    assert fmt.level == "3.1"
    assert fmt.packetization_mode == 1
    assert fmt.constrained_baseline
    assert fmt.clock_rate == 90000


@pytest.mark.parametrize(
    ("pli", "cb"),
    [
        ("42e01f", True),
        ("42c01e", True),
        ("42401f", True),
        ("42001f", False),  # baseline without constraint_set1
        ("428016", False),  # constraint_set0 only
        ("4d801f", True),  # main with constraint_set0
        ("4d001f", False),
        ("58c01e", True),
        ("640028", False),
    ],
)
def test_constrained_baseline_detection(pli: str, cb: bool) -> None:
    assert h264(f"profile-level-id={pli}").constrained_baseline is cb


def test_level_1b_both_spellings() -> None:
    assert h264("profile-level-id=42f00b").level == "1b"  # level_idc 11 + constraint_set3
    assert h264("profile-level-id=640009").level == "1b"
    assert h264("profile-level-id=42e00b").level == "1.1"


def test_h264_defaults_when_fmtp_absent() -> None:
    fmt = h264("")
    assert fmt.profile_level_id == "42000a"  # RFC 6184: baseline level 1
    assert fmt.packetization_mode == 0
    assert fmt.max_frame_size() == (128, 96)


def test_h264_max_params() -> None:
    fmt = h264("profile-level-id=428016; packetization-mode=1; max-mbps=108000; max-fs=3600")
    assert (fmt.max_mbps, fmt.max_fs, fmt.level) == (108000, 3600, "2.2")
    assert fmt.max_frame_size() == (1280, 720)
    assert fmt.max_frame_rate() == 30


def test_vp8_and_h263_params() -> None:
    fmt = vp8("max-fr=15;max-fs=1200")
    assert (fmt.max_fr, fmt.max_fs) == (15, 1200)
    sizes = h263("CIF=1;QCIF=2;SQCIF=3;CUSTOM=320,240,2;MaxBR=3200").image_sizes
    assert sizes == ((128, 96, 3), (176, 144, 2), (352, 288, 1), (320, 240, 2))
    assert h263(None).image_sizes == ((176, 144, 1),)  # RFC 4629: none listed means QCIF=1


def test_unknown_codec_or_clock_rate_is_none() -> None:
    assert VideoFormat.from_offer(RtpMap(98, "MP4V-ES", 90000), None) is None
    rfc2190 = VideoFormat.from_offer(RtpMap(34, "H263", 90000), "CIF=1")  # issue 13
    assert rfc2190 is not None and rfc2190.image_sizes == ((352, 288, 1),)
    assert VideoFormat.from_offer(RtpMap(96, "H264", 8000), None) is None
    assert VideoFormat.from_offer(RtpMap(96, "h264", 90000), None) is not None


# -- VideoFormat: what we may send ------------------------------------------------


@pytest.mark.parametrize(
    ("fmtp", "size", "fps"),
    [
        ("profile-level-id=42e01f", (1280, 720), 30),  # 3.1
        ("profile-level-id=42e028", (1280, 720), 30),  # 4.0, capped by our maximum
        ("profile-level-id=42e01e", (848, 480), 40500 / 1590),  # 3.0
        ("profile-level-id=42e016", (512, 288), 30),  # 2.2: MaxMBPS limits the size
        ("profile-level-id=42e015", (512, 288), 30),  # 2.1
        ("profile-level-id=42e00d", (352, 288), 30),  # 1.3 -> CIF
        ("profile-level-id=42e00c", (320, 180), 6000 / 240),  # 1.2
        ("profile-level-id=42e01f;max-fs=396", (352, 288), 30),
        ("profile-level-id=42e00d;max-fs=3600;max-mbps=108000", (1280, 720), 30),
    ],
)
def test_h264_size_and_rate_from_level(fmtp: str, size: tuple[int, int], fps: float) -> None:
    fmt = h264(fmtp)
    assert fmt.max_frame_size() == size
    assert fmt.max_frame_rate(size) == pytest.approx(fps)


def test_h264_size_respects_configured_maximum() -> None:
    fmt = h264("profile-level-id=640033")
    assert fmt.max_frame_size((1920, 1080)) == (1920, 1080)
    assert fmt.max_frame_size((640, 360)) == (640, 360)
    assert fmt.max_frame_rate((640, 360), limit=25) == 25


@pytest.mark.parametrize(
    ("fmtp", "size"),
    [
        ("max-fs=3600", (1280, 720)),
        ("max-fs=396", (352, 288)),
        ("max-fs=8160", (1280, 720)),
        (None, (1280, 720)),
    ],
)
def test_vp8_size_from_max_fs(fmtp: str | None, size: tuple[int, int]) -> None:
    assert vp8(fmtp).max_frame_size() == size


def test_vp8_rate_from_max_fr() -> None:
    assert vp8("max-fr=15").max_frame_rate() == 15
    assert vp8(None).max_frame_rate() == 30


def test_h263_size_and_rate() -> None:
    fmt = h263("CIF4=2;CIF=1;QCIF=1")
    assert fmt.max_frame_size() == (704, 576)
    assert fmt.max_frame_rate() == pytest.approx(30000 / 1001 / 2)
    assert fmt.max_frame_size((640, 360)) == (352, 288)  # 4CIF is taller than our maximum
    assert fmt.max_frame_rate((352, 288)) == pytest.approx(30000 / 1001)
    assert h263("QCIF=1").max_frame_size((100, 80)) == (176, 144)  # nothing fits: smallest


def test_codec_bit_rate_limits() -> None:
    assert h264("profile-level-id=42e01f").max_bitrate_bps() == 14_000_000
    assert h264("profile-level-id=42e00d;max-br=1500").max_bitrate_bps() == 1_500_000
    assert h263("CIF=1;MaxBR=3200").max_bitrate_bps() == 320_000
    assert vp8(None).max_bitrate_bps() is None


def test_our_level() -> None:
    assert our_level((1280, 720), 30) == 0x1F
    assert our_level((1920, 1080), 30) == 40
    assert our_level((352, 288), 30) == 13
    assert our_level((176, 144), 15) == 10


# -- negotiate_video: choice ------------------------------------------------------


def test_baresip_avcodec_prefers_h264_mode_1() -> None:
    result = answer(BARESIP_AVCODEC)
    assert (result.format.name, result.format.payload_type) == ("H264", 97)
    assert result.format.packetization_mode == 1
    alts = [(f.name, f.payload_type) for f in result.alternatives]
    assert alts == [("H264", 96), ("VP8", 100), ("H263", 34)]  # RFC 2190 last (issue 13)
    assert (result.size, result.frame_rate) == ((1280, 720), 30)
    assert result.profile_level_id == "42e01f"


def test_baresip_mode_0_when_settings_prefer_it() -> None:
    result = answer(BARESIP_AVCODEC, h264_modes=(0, 1))
    assert result.format.payload_type == 96
    assert answer_fmtp(result)["packetization-mode"] == "0"
    assert [f.payload_type for f in result.alternatives] == [97, 100, 34]


def test_mode_0_only_settings_drop_mode_1() -> None:
    result = answer(CISCO, h264_modes=(0,))
    assert result.format.payload_type == 126
    assert [f.name for f in result.alternatives] == ["H263"]  # no H.264 mode 1 left


def test_preferences_order_wins_over_offer_order() -> None:
    assert answer(BARESIP_AVCODEC, ["VP8", "H264"]).format.name == "VP8"
    assert answer(CHROME_LIKE).format.name == "H264"  # offered VP8 first
    assert answer(CHROME_LIKE, ["vp8"]).format.payload_type == 96
    assert answer(BARESIP_OPUS_VIDEO).format.name == "VP8"


def test_chrome_like_picks_constrained_baseline_mode_1() -> None:
    result = answer(CHROME_LIKE)
    assert result.format.payload_type == 106  # 42e01f mode 1, not 42001f (102) or high
    assert [f.payload_type for f in result.alternatives] == [102, 127, 39, 108, 104, 96]
    fmtp = answer_fmtp(result)
    assert fmtp["level-asymmetry-allowed"] == "1"
    assert fmtp["profile-level-id"] == "42e01f"
    assert result.media.rtcp_mux
    assert result.media.proto == "RTP/AVPF"


def test_polycom_prefers_baseline_over_high_in_mode_1() -> None:
    result = answer(POLYCOM)
    assert result.format.payload_type == 110  # 428016 with max-fs=3600
    assert [f.payload_type for f in result.alternatives] == [109, 111, 96, 34, 31]
    assert (result.size, result.frame_rate) == ((1280, 720), 30)


def test_polycom_main_video_skips_content_slides() -> None:
    desc = parse_sdp(POLYCOM)
    assert main_video_index(desc) == 1
    assert desc.media[2].attribute("content") == "slides"


def test_h263_only_offer() -> None:
    result = answer(H263_ONLY)
    assert (result.format.name, result.format.payload_type) == ("H263-1998", 98)
    assert result.size == (352, 288)
    assert result.frame_rate == pytest.approx(30000 / 1001)
    assert result.bitrate_bps == 320_000  # MaxBR below b=AS:384
    assert result.rtcp_fb == ()
    assert answer_fmtp(result) == {"sqcif": "1", "qcif": "1", "cif": "1"}


def test_h263_2000_needs_a_preference() -> None:
    media = video_of(H263_2000_ONLY)
    assert negotiate_video(media, port=1) is None  # default preferences omit it
    result = negotiate_video(media, ["H264", "H263-2000"], port=40000)
    assert result is not None
    assert result.format.name == "H263-2000"
    assert result.size == (704, 576)
    assert result.local_direction == "sendonly"
    assert result.sending and not result.receiving


def test_no_common_codec_is_none() -> None:
    assert negotiate_video(video_of(NO_COMMON), port=40000) is None
    h261 = video_of(NO_COMMON.replace(b"RTP/AVP 98 99", b"RTP/AVP 31 98 99"))
    answer = negotiate_video(h261, port=40000)  # issue 13: H.261 is carried now
    assert answer is not None and answer.format.name == "H261" and answer.size == (176, 144)
    assert negotiate_video(video_of(BARESIP_AVCODEC), ["H263-1998"], port=40000) is None


def test_unusable_media_is_none() -> None:
    desc = parse_sdp(BARESIP_AVCODEC)
    assert negotiate_video(desc.media[0], port=40000) is None  # audio
    declined = video_of(BARESIP_AVCODEC)
    declined.port = 0
    assert negotiate_video(declined, port=40000) is None
    other = video_of(BARESIP_AVCODEC)
    other.proto = "TCP/RTP/AVP"  # not an RTP profile we speak (DTLS-SRTP now is)
    assert negotiate_video(other, port=40000) is None


def test_garbage_fmtp_tolerated() -> None:
    result = answer(GARBAGE_FMTP)
    assert result.format.payload_type == 96  # 97 has packetization-mode=7
    assert result.format.profile_level_id == "42000a"
    assert result.format.packetization_mode == 0
    assert result.format.max_fs is None
    assert result.size == (128, 96)
    assert result.bitrate_bps == 64_000  # level 1 MaxBR; b=AS:abc ignored
    assert result.rtcp_fb == ()
    assert [f.payload_type for f in result.alternatives] == [100]
    assert result.alternatives[0].max_fs is None


# -- negotiate_video: answer text and limits --------------------------------------


def test_answer_m_line_text() -> None:
    result = answer(BARESIP_AVCODEC)
    assert result.text.startswith("m=video 40000 RTP/AVP 97\r\n")
    assert "a=rtpmap:97 H264/90000\r\n" in result.text
    assert "a=fmtp:97 profile-level-id=42e01f;packetization-mode=1\r\n" in result.text
    assert "a=rtcp-fb:97 nack pli\r\n" in result.text
    assert "a=rtcp-fb:97 nack\r\n" not in result.text  # offered only "nack pli"
    assert "b=TIAS:2000000\r\n" in result.text and "b=AS:2000\r\n" in result.text
    assert result.text.endswith("a=sendrecv\r\n")
    assert "a=content:main\r\n" in result.text
    # The section parses back with our own parser.
    reparsed = parse_sdp(
        sdp(f"v=0\no=- 1 1 IN IP4 192.0.2.9\ns=-\nc=IN IP4 192.0.2.9\nt=0 0\n{result.text}")
    )
    assert reparsed.media[0].formats == ["97"]
    assert reparsed.media[0].bandwidths == ["AS:2000", "TIAS:2000000"]


def test_rtcp_fb_echoed_per_payload_type() -> None:
    assert answer(POLYCOM).rtcp_fb == ("nack", "nack pli", "ccm fir")  # no tmmbr
    cisco = answer(CISCO)
    assert cisco.rtcp_fb == ("nack pli", "ccm fir")
    assert answer(CISCO, h264_modes=(0, 1)).rtcp_fb == ("ccm fir",)
    assert answer(CHROME_LIKE).rtcp_fb == ("nack", "nack pli", "ccm fir")
    assert answer(CHROME_LIKE, ["VP8"]).media.values("rtcp-fb") == [
        "96 nack",
        "96 nack pli",
        "96 ccm fir",
    ]


def test_bitrate_from_b_lines() -> None:
    assert answer(POLYCOM).bitrate_bps == 1_920_000  # media TIAS
    assert answer(CISCO).bitrate_bps == 1_472_000
    assert answer(BARESIP_AVCODEC).bitrate_bps == 2_000_000  # none: our maximum
    assert answer(BARESIP_AVCODEC, max_bitrate_bps=768_000).bitrate_bps == 768_000
    as_only = POLYCOM.replace(b"b=TIAS:1920000\r\n", b"")
    assert answer(as_only).bitrate_bps == 1_920_000
    session_only = as_only.replace(b"b=AS:1920\r\n", b"")
    assert answer(session_only, max_bitrate_bps=4_000_000).bitrate_bps == 2_048_000
    low = BARESIP_AVCODEC.replace(
        b"m=video 31492 RTP/AVP 96 97 34 98 99 100\r\n",
        b"m=video 31492 RTP/AVP 96 97 34 98 99 100\r\nb=AS:256\r\n",
    )
    assert answer(low).bitrate_bps == 256_000
    tias = low.replace(b"b=AS:256", b"b=TIAS:300000")
    assert answer(tias).bitrate_bps == 300_000


def test_codec_max_br_caps_bitrate() -> None:
    capped = CISCO.replace(b"max-fs=3600\r\n", b"max-fs=3600;max-br=1000\r\n", 1)
    assert answer(capped).bitrate_bps == 1_000_000


def test_answer_level_not_above_offer_without_asymmetry() -> None:
    result = answer(POLYCOM)  # 428016: level 2.2, receives 720p via max-fs/max-mbps
    fmtp = answer_fmtp(result)
    assert fmtp["profile-level-id"] == "42e016"
    assert (fmtp["max-mbps"], fmtp["max-fs"]) == ("108000", "3600")
    assert "level-asymmetry-allowed" not in fmtp
    low = answer(
        H263_ONLY.replace(b"m=video 5006 RTP/AVP 98 34", b"m=video 5006 RTP/AVP 96 98").replace(
            b"a=rtpmap:34 H263/90000",
            b"a=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=42e00d",
        )
    )
    assert answer_fmtp(low)["profile-level-id"] == "42e00d"
    assert low.size == (352, 288)


def test_answer_level_capped_by_ours() -> None:
    result = answer(POLYCOM, ["H264"], h264_modes=(1,), max_size=(640, 360))
    assert result.size == (640, 360)
    assert answer_fmtp(result)["profile-level-id"] == "42e016"  # 2.2 offered; ours 3.0
    big = answer(CHROME_LIKE, max_size=(640, 360))
    assert answer_fmtp(big)["profile-level-id"] == "42e01e"  # asymmetry: our own 3.0


def test_level_asymmetry_states_our_level() -> None:
    offer = CHROME_LIKE.replace(b"profile-level-id=42e01f", b"profile-level-id=42e00d")
    result = answer(offer)
    assert result.format.payload_type == 106
    assert result.size == (352, 288)  # we send what they receive: 1.3
    fmtp = answer_fmtp(result)
    assert fmtp["profile-level-id"] == "42e01f"  # we receive 3.1
    assert fmtp["level-asymmetry-allowed"] == "1"
    assert "max-fs" not in fmtp


def test_framerate_attribute_limits_rate() -> None:
    offer = BARESIP_AVCODEC.replace(b"a=framerate:30.00", b"a=framerate:15")
    assert answer(offer).frame_rate == 15
    assert answer(BARESIP_AVCODEC, max_fps=25).frame_rate == 25


def test_vp8_answer_fmtp_and_size() -> None:
    result = answer(BARESIP_OPUS_VIDEO)
    assert (result.size, result.frame_rate) == ((1280, 720), 25)  # a=framerate:25.00
    assert answer_fmtp(result) == {"max-fs": "3600", "max-fr": "30"}
    assert result.profile_level_id is None


def test_direction_and_hold() -> None:
    offer = BARESIP_AVCODEC.replace(b"a=sendrecv\r\na=label:2", b"a=sendonly\r\na=label:2")
    result = answer(offer)
    assert (result.remote_direction, result.local_direction) == ("sendonly", "recvonly")
    assert result.text.endswith("a=recvonly\r\n")
    held = BARESIP_AVCODEC.replace(b"c=IN IP4 192.0.2.2", b"c=IN IP4 0.0.0.0")
    assert answer(held).local_direction == "recvonly"  # RFC 2543 hold


def test_rank_formats_without_session() -> None:
    media = video_of(BARESIP_AVCODEC)
    assert [f.payload_type for f in rank_formats(media, ["H264", "VP8"])] == [97, 96, 100]
    result = negotiate_video(media, port=5000)  # no session: media-level info only
    assert result is not None and result.bitrate_bps == 2_000_000
