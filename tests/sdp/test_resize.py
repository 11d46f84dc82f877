"""The re-INVITE offer that asks a peer for smaller pictures (issue 14)."""

from __future__ import annotations

import pytest

from gateway.sdp.model import SdpError, parse_sdp
from gateway.sdp.negotiate import LocalSession, accept_answer, answer_offer
from gateway.sdp.resize import asking_for_size
from gateway.sdp.video import VideoPolicy, macroblocks

OURS = (
    b"v=0\r\no=mcu 42 3 IN IP4 127.0.0.1\r\ns=mcu\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    b"a=sendrecv\r\n"
    b"m=video 40002 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\n"
    b"a=fmtp:96 profile-level-id=42e01f;packetization-mode=1;max-fs=3600\r\n"
    b"a=rtpmap:97 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=sendrecv\r\n"
)


def session() -> LocalSession:
    local = LocalSession(session_id=42, version=3)
    asked = parse_sdp(OURS)
    local.stamp([line for line in asked.lines() if not line.startswith("o=")])
    return local


def test_the_offer_asks_for_the_size_on_each_resizable_format() -> None:
    offer = parse_sdp(asking_for_size(OURS, session(), 432, 240))
    video = offer.media[1]
    assert video.fmtp(96) == "profile-level-id=42e01f;packetization-mode=1;max-fs=405"
    assert video.fmtp(97) == "max-fs=405"
    assert video.values("imageattr") == ["96 send * recv [x=432,y=240]",
                                         "97 send * recv [x=432,y=240]"]
    assert video.values("rtcp-fb") == ["96 nack pli"]  # the rest kept
    assert video.port == 40002 and video.formats == ["96", "97"]
    assert offer.media[0].lines() == parse_sdp(OURS).media[0].lines()  # audio untouched
    assert offer.origin.session_id == "42" and offer.origin.session_version == "4"


def test_asking_again_replaces_the_request_and_the_same_request_keeps_the_version() -> None:
    local = session()
    first = asking_for_size(OURS, local, 432, 240)
    second = asking_for_size(first, local, 1280, 720)
    video = parse_sdp(second).media[1]
    assert video.values("imageattr") == ["96 send * recv [x=1280,y=720]",
                                         "97 send * recv [x=1280,y=720]"]
    assert video.fmtp(97) == "max-fs=3600"
    assert parse_sdp(second).origin.session_version == "5"
    again = asking_for_size(second, local, 1280, 720)
    assert parse_sdp(again).origin.session_version == "5"  # unchanged: same version


def test_our_own_answerer_sends_within_the_size_asked() -> None:
    """A cascade leg's far end is another MCU: answering the request, it sends no
    larger than the max-fs the offer gives (what the docs say our MCU honours)."""
    offer = asking_for_size(OURS, session(), 426, 240)
    negotiated = answer_offer(offer, local_ip="127.0.0.1", audio_port=41000,
                              preferences=["PCMU"], session=LocalSession(),
                              video_port=41002, video_policy=VideoPolicy())
    assert negotiated.video is not None
    assert macroblocks(*negotiated.video.size) <= macroblocks(426, 240), negotiated.video.size


def test_a_video_only_call_takes_the_answer_to_its_size_request() -> None:
    """A SIP camera's call has no audio: the re-INVITE asking for its size has none
    either, and the camera's answer is a video-only session (it hung the call up)."""
    camera = (b"v=0\r\no=cam 7 1 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
              b"m=video 42000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
              b"a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\na=sendonly\r\n")
    local = LocalSession()
    ours = answer_offer(camera, local_ip="127.0.0.1", audio_port=41000, preferences=["PCMU"],
                        session=local, video_port=41002, video_policy=VideoPolicy())
    assert ours.audio is None and ours.video is not None
    offer = asking_for_size(ours.answer_sdp, local, 426, 240)
    assert [m.media for m in parse_sdp(offer).media] == ["video"]
    theirs = answer_offer(offer, local_ip="127.0.0.1", audio_port=42000,
                          preferences=["PCMU"], session=LocalSession(), video_port=42002,
                          video_policy=VideoPolicy())
    taken = accept_answer(offer, theirs.answer_sdp, VideoPolicy())
    assert taken.audio is None and taken.video is not None
    assert taken.video_rtp == ("127.0.0.1", 42002)
    assert (taken.remote_direction, taken.local_direction) == (
        theirs.local_direction, theirs.remote_direction)
    with pytest.raises(SdpError):
        accept_answer(offer, theirs.answer_sdp.replace(b"m=video 42002", b"m=video 0"),
                      VideoPolicy())
