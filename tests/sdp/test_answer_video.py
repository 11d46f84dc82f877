"""The audio+video answer: ``answer_offer`` with a video port and policy, and
``offers_video``."""

from __future__ import annotations

import pytest

from gateway.media import AudioFormat
from gateway.sdp import LocalSession, answer_offer, parse_sdp
from gateway.sdp.model import SessionDescription
from gateway.sdp.negotiate import Negotiated, offers_video
from gateway.sdp.video import VideoPolicy, parse_fmtp
from tests.sdp.offers import BARESIP_G711, sdp
from tests.sdp.video_offers import BARESIP_AVCODEC, BARESIP_H264_MODE0, POLYCOM

PREFS = ["opus", "G722", "PCMU", "PCMA"]
LOCAL = "203.0.113.5"
AUDIO_PORT, VIDEO_PORT = 30000, 30002
POLICY = VideoPolicy(max_size=(1280, 720), max_fps=30.0, max_bitrate_bps=1_500_000)

# Audio at the session address; video on its own c= (media level wins), rtcp-mux.
AUDIO_H264 = sdp("""
    v=0
    o=- 100 1 IN IP4 192.0.2.10
    s=-
    c=IN IP4 192.0.2.10
    t=0 0
    m=audio 5000 RTP/AVP 0 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=sendrecv
    m=video 5002 RTP/AVPF 96
    c=IN IP4 198.51.100.20
    a=rtpmap:96 H264/90000
    a=fmtp:96 profile-level-id=42e01f;packetization-mode=1
    a=rtcp-fb:96 nack
    a=rtcp-fb:96 nack pli
    a=rtcp-fb:96 ccm fir
    a=rtcp-fb:96 goog-remb
    a=rtcp-mux
    a=sendrecv
""")

# Video without rtcp-mux, RTCP on an explicit a=rtcp port (RFC 3605).
AUDIO_H264_RTCP_PORT = sdp("""
    v=0
    o=- 101 1 IN IP4 192.0.2.11
    s=-
    c=IN IP4 192.0.2.11
    t=0 0
    m=audio 5010 RTP/AVP 8
    m=video 5012 RTP/AVP 97
    a=rtpmap:97 H264/90000
    a=fmtp:97 profile-level-id=42e01f;packetization-mode=1
    a=rtcp:6013
    a=sendrecv
""")

ONLY_H265 = sdp("""
    v=0
    o=- 102 1 IN IP4 192.0.2.12
    s=-
    c=IN IP4 192.0.2.12
    t=0 0
    m=audio 5020 RTP/AVP 0
    m=video 5022 RTP/AVP 99
    a=rtpmap:99 H265/90000
    a=fmtp:99 profile-id=1
""")

# Video first, audio second, and an application m-line: the answer keeps the order.
VP8_FIRST = sdp("""
    v=0
    o=- 103 1 IN IP4 192.0.2.13
    s=-
    c=IN IP4 192.0.2.13
    t=0 0
    m=video 5032 RTP/AVP 100
    a=rtpmap:100 VP8/90000
    a=fmtp:100 max-fs=3600;max-fr=30
    a=rtcp-fb:* nack pli
    m=application 5034 UDP/BFCP *
    m=audio 5030 RTP/AVP 9 0
    a=rtpmap:9 G722/8000
""")

H263 = sdp("""
    v=0
    o=- 104 1 IN IP4 192.0.2.14
    s=-
    c=IN IP4 192.0.2.14
    t=0 0
    m=audio 5040 RTP/AVP 0
    m=video 5042 RTP/AVP 98 34
    b=AS:384
    a=rtpmap:98 H263-1998/90000
    a=fmtp:98 CIF=1;QCIF=1
    a=rtpmap:34 H263/90000
    a=sendrecv
""")

PORT0_VIDEO = sdp("""
    v=0
    o=- 105 1 IN IP4 192.0.2.15
    s=-
    c=IN IP4 192.0.2.15
    t=0 0
    m=audio 5050 RTP/AVP 0
    m=video 0 RTP/AVP 96
    a=rtpmap:96 H264/90000
""")



def answer(
    offer: bytes,
    *,
    video_port: int | None = VIDEO_PORT,
    policy: VideoPolicy | None = POLICY,
    session: LocalSession | None = None,
) -> Negotiated:
    return answer_offer(
        offer,
        local_ip=LOCAL,
        audio_port=AUDIO_PORT,
        preferences=PREFS,
        session=session or LocalSession(session_id=42),
        video_port=video_port,
        video_policy=policy,
    )


def parsed(result: Negotiated) -> SessionDescription:
    """The answer parsed back: it must be well-formed SDP with our origin."""
    desc = parse_sdp(result.answer_sdp)
    assert desc.origin.session_id == "42"
    assert desc.connection is not None and desc.connection.address == LOCAL
    return desc


def kinds(desc: SessionDescription) -> list[tuple[str, int]]:
    return [(m.media, m.port) for m in desc.media]


# -- audio + H.264 -------------------------------------------------------------------


def test_audio_and_h264_offer_gets_both_m_lines() -> None:
    result = answer(AUDIO_H264)
    desc = parsed(result)
    assert kinds(desc) == [("audio", AUDIO_PORT), ("video", VIDEO_PORT)]
    video = desc.media[1]
    assert video.proto == "RTP/AVPF" and video.formats == ["96"]
    assert video.rtpmaps()[96].encoding == "H264" and video.rtpmaps()[96].clock_rate == 90000
    fmtp = parse_fmtp(video.fmtp(96))
    assert fmtp["packetization-mode"] == "1" and fmtp["profile-level-id"] == "42e01f"
    assert video.bandwidths == ["AS:1500", "TIAS:1500000"]
    # What we support of what was offered, in our order; goog-remb is not echoed.
    assert video.values("rtcp-fb") == ["96 nack", "96 nack pli", "96 ccm fir"]
    assert video.rtcp_mux and video.direction == "sendrecv"
    assert desc.media[0].formats == ["0", "101"]


def test_audio_and_h264_negotiated_fields() -> None:
    result = answer(AUDIO_H264)
    assert result.audio == AudioFormat("PCMU", 0, 8000)
    assert result.remote_rtp == ("192.0.2.10", 5000)
    assert result.video is not None
    assert result.video.format.name == "H264" and result.video.format.payload_type == 96
    assert result.video.format.packetization_mode == 1
    assert result.video.size == (1280, 720) and result.video.bitrate_bps == 1_500_000
    assert result.video.rtcp_fb == ("nack", "nack pli", "ccm fir")
    # The video's own c= overrides the session's; rtcp-mux puts RTCP on the RTP port.
    assert result.video_rtp == ("198.51.100.20", 5002)
    assert result.video_rtcp == ("198.51.100.20", 5002)
    assert result.video_rtcp_mux


def test_video_rtcp_on_an_a_rtcp_port_without_mux() -> None:
    result = answer(AUDIO_H264_RTCP_PORT)
    assert result.video is not None
    assert result.video_rtp == ("192.0.2.11", 5012)
    assert result.video_rtcp == ("192.0.2.11", 6013)
    assert not result.video_rtcp_mux
    assert not parsed(result).media[1].rtcp_mux


def test_video_rtcp_defaults_to_the_next_port() -> None:
    result = answer(H263)
    assert result.video_rtp == ("192.0.2.14", 5042)
    assert result.video_rtcp == ("192.0.2.14", 5043)


# -- video declined, audio kept -----------------------------------------------------


def test_without_a_video_port_video_is_declined_and_the_call_stays_audio_only() -> None:
    for result in (answer(AUDIO_H264, video_port=None), answer(AUDIO_H264, policy=None)):
        desc = parsed(result)
        assert kinds(desc) == [("audio", AUDIO_PORT), ("video", 0)]
        assert desc.media[1].proto == "RTP/AVPF" and desc.media[1].formats == ["96"]
        assert result.video is None
        assert result.video_rtp == ("0.0.0.0", 0) and not result.video_rtcp_mux
        assert result.audio == AudioFormat("PCMU", 0, 8000)


def test_video_with_only_a_codec_we_do_not_carry_is_declined() -> None:
    result = answer(ONLY_H265)
    desc = parsed(result)
    assert kinds(desc) == [("audio", AUDIO_PORT), ("video", 0)]
    assert result.video is None and result.audio is not None
    assert result.video_rtp == ("0.0.0.0", 0)


def test_slides_video_is_declined_while_the_main_one_is_answered() -> None:
    result = answer(POLYCOM)
    desc = parsed(result)
    assert kinds(desc) == [("audio", AUDIO_PORT), ("video", VIDEO_PORT), ("video", 0)]
    assert result.video is not None
    assert desc.media[1].attribute("content") == "main"
    assert desc.media[2].attribute("content") is None  # declined: nothing but the m-line
    assert result.video_rtp == ("10.1.2.30", 49172)


def test_slides_only_video_is_declined() -> None:
    slides_only = AUDIO_H264.replace(b"a=rtcp-mux\r\n", b"a=rtcp-mux\r\na=content:slides\r\n")
    result = answer(slides_only)
    assert kinds(parsed(result)) == [("audio", AUDIO_PORT), ("video", 0)]
    assert result.video is None
    assert not offers_video(slides_only)


# -- other codecs ------------------------------------------------------------------------


def test_vp8_offer_and_m_line_order_kept() -> None:
    result = answer(VP8_FIRST)
    desc = parsed(result)
    # RFC 3264 section 6: one answer m-line per offer m-line, in the offer's order.
    assert kinds(desc) == [("video", VIDEO_PORT), ("application", 0), ("audio", AUDIO_PORT)]
    assert desc.media[1].proto == "UDP/BFCP"
    assert result.audio == AudioFormat("G722", 9, 8000)
    assert result.remote_rtp == ("192.0.2.13", 5030)
    assert result.video is not None and result.video.format.name == "VP8"
    video = desc.media[0]
    assert video.formats == ["100"] and video.rtpmaps()[100].encoding == "VP8"
    assert parse_fmtp(video.fmtp(100)) == {"max-fs": "3600", "max-fr": "30"}
    assert video.values("rtcp-fb") == ["100 nack pli"]
    assert result.video_rtp == ("192.0.2.13", 5032)


def test_h263_1998_offer() -> None:
    result = answer(H263)
    desc = parsed(result)
    assert kinds(desc) == [("audio", AUDIO_PORT), ("video", VIDEO_PORT)]
    video = desc.media[1]
    assert video.formats == ["98"] and video.rtpmaps()[98].encoding == "H263-1998"
    assert parse_fmtp(video.fmtp(98)) == {"cif": "1", "qcif": "1"}
    assert video.values("rtcp-fb") == []  # none offered, none answered
    assert result.video is not None
    assert result.video.size == (352, 288)
    assert result.video.bitrate_bps == 384_000  # the offer's b=AS caps what we send


@pytest.mark.parametrize(
    "offer",
    [AUDIO_H264, AUDIO_H264_RTCP_PORT, VP8_FIRST, H263, POLYCOM, BARESIP_AVCODEC],
    ids=["h264", "a-rtcp", "vp8-first", "h263", "polycom", "baresip-avcodec"],
)
def test_answer_m_lines_follow_the_offer(offer: bytes) -> None:
    desc = parsed(answer(offer))
    offered = parse_sdp(offer)
    assert [(m.media, m.proto) for m in desc.media] == [(m.media, m.proto) for m in offered.media]
    assert sum(1 for m in desc.media if m.media == "video" and m.port) == 1


# -- offers_video ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer", "expected"),
    [
        (AUDIO_H264, True),
        (BARESIP_H264_MODE0, True),
        (ONLY_H265, True),  # a camera stream: worth a port, even if declined later
        (PORT0_VIDEO, False),
        (BARESIP_G711, False),
        (b"", False),
        (b"\xff\xfe not sdp", False),
        (b"v=0\r\nm=video\r\n", False),
        (b"hello world", False),
    ],
    ids=["h264", "baresip", "h265", "port-0", "audio-only", "empty", "not-utf8", "broken", "text"],
)
def test_offers_video(offer: bytes, expected: bool) -> None:
    assert offers_video(offer) is expected


# -- o= version ---------------------------------------------------------------------------


def version(result: Negotiated) -> str:
    return parse_sdp(result.answer_sdp).origin.session_version


def test_origin_version_kept_for_an_identical_reoffer_and_bumped_on_change() -> None:
    session = LocalSession(session_id=42)
    first = answer(AUDIO_H264, session=session)
    again = answer(AUDIO_H264, session=session)
    assert version(first) == version(again) == "0"
    assert first.answer_sdp == again.answer_sdp
    # The peer puts video on hold: our video answer becomes recvonly.
    held = answer(
        AUDIO_H264.replace(b"a=rtcp-mux\r\na=sendrecv", b"a=rtcp-mux\r\na=sendonly"),
        session=session,
    )
    assert parse_sdp(held.answer_sdp).media[1].direction == "recvonly"
    assert version(held) == "1"
    # Video dropped from our side (no port): changes again.
    assert version(answer(AUDIO_H264, video_port=None, session=session)) == "2"
    assert version(answer(AUDIO_H264, video_port=None, session=session)) == "2"


# -- a real baresip ------------------------------------------------------------------------


def test_baresip_h264_mode0_offer_gets_a_mode0_answer() -> None:
    result = answer(BARESIP_H264_MODE0)
    desc = parsed(result)
    assert kinds(desc) == [("audio", AUDIO_PORT), ("video", VIDEO_PORT)]
    assert result.audio == AudioFormat("PCMU", 0, 8000)
    assert result.telephone_event_pt == 101
    assert result.video is not None
    assert result.video.format.packetization_mode == 0
    video = desc.media[1]
    assert video.proto == "RTP/AVP" and video.formats == ["96"]
    assert parse_fmtp(video.fmtp(96))["packetization-mode"] == "0"
    assert video.values("rtcp-fb") == ["96 nack pli"]  # from baresip's rtcp-fb:*
    assert video.attribute("content") == "main"
    assert result.video.frame_rate == 15  # baresip's a=framerate:15.00
    assert result.video_rtp == ("127.0.0.1", 57932)
    assert result.video_rtcp == ("127.0.0.1", 57933) and not result.video_rtcp_mux


def test_baresip_avcodec_offer_prefers_mode1_unless_mode0_is_first() -> None:
    default = answer(BARESIP_AVCODEC)
    assert default.video is not None and default.video.format.payload_type == 97
    mode0 = answer(BARESIP_AVCODEC, policy=VideoPolicy(h264_modes=(0, 1)))
    assert mode0.video is not None and mode0.video.format.payload_type == 96
    assert parse_fmtp(parsed(mode0).media[1].fmtp(96))["packetization-mode"] == "0"
