"""Our own offer with video (dial-out, offerless INVITE) and the answer's video."""

from __future__ import annotations

from gateway.sdp import parse_sdp
from gateway.sdp.negotiate import LocalSession, accept_answer, answer_offer, make_offer
from gateway.sdp.video import VideoPolicy

POLICY = VideoPolicy()


def offer() -> bytes:
    return make_offer("127.0.0.1", 20000, ["PCMU"], LocalSession(), video_port=20002,
                      video_policy=POLICY)


def test_offer_lists_every_video_codec_with_what_we_receive() -> None:
    video = parse_sdp(offer()).media[1]
    assert video.media == "video" and video.port == 20002
    names = [(pt, m.encoding) for pt, m in video.rtpmaps().items()]
    assert names == [(96, "H264"), (97, "H264"), (98, "VP8"), (99, "H263-1998"), (34, "H263"),
                     (31, "H261")]
    assert "packetization-mode=1" in (video.fmtp(96) or "")
    assert "packetization-mode=0" in (video.fmtp(97) or "")
    assert video.fmtp(99) == "CIF=1;QCIF=1"
    assert video.fmtp(34) == "CIF=1;QCIF=1"  # H.263 1996, RFC 2190 (issue 13)
    assert "* nack pli" in video.values("rtcp-fb") and "* ccm fir" in video.values("rtcp-fb")


def test_no_video_port_means_an_audio_only_offer() -> None:
    desc = parse_sdp(make_offer("127.0.0.1", 20000, ["PCMU"], LocalSession()))
    assert [m.media for m in desc.media] == ["audio"]


def test_answer_choosing_vp8_gives_what_to_send() -> None:
    ours = offer()
    theirs = answer_offer(ours, local_ip="127.0.0.2", audio_port=30000, preferences=["PCMU"],
                          session=LocalSession(), video_port=30002,
                          video_policy=VideoPolicy(preferences=("VP8",)))
    negotiated = accept_answer(ours, theirs.answer_sdp, POLICY)
    assert negotiated.video is not None
    assert negotiated.video.format.name == "VP8" and negotiated.video.format.payload_type == 98
    assert negotiated.video.size == (1280, 720)
    assert negotiated.video_rtp == ("127.0.0.2", 30002) and negotiated.video_rtcp_mux


def test_answer_choosing_h264_mode_0_keeps_its_limits() -> None:
    ours = offer()
    small = VideoPolicy(preferences=("H264",), max_size=(352, 288), max_fps=15,
                        h264_modes=(0,))
    theirs = answer_offer(ours, local_ip="127.0.0.2", audio_port=30000, preferences=["PCMU"],
                          session=LocalSession(), video_port=30002, video_policy=small)
    negotiated = accept_answer(ours, theirs.answer_sdp, POLICY)
    assert negotiated.video is not None
    assert negotiated.video.format.payload_type == 97
    assert negotiated.video.format.packetization_mode == 0


def test_declined_video_leaves_an_audio_call() -> None:
    ours = offer()
    theirs = answer_offer(ours, local_ip="127.0.0.2", audio_port=30000, preferences=["PCMU"],
                          session=LocalSession())  # no video port: m=video port 0
    negotiated = accept_answer(ours, theirs.answer_sdp, POLICY)
    assert negotiated.audio is not None and negotiated.video is None


def test_without_a_policy_the_answers_video_is_ignored() -> None:
    ours = offer()
    theirs = answer_offer(ours, local_ip="127.0.0.2", audio_port=30000, preferences=["PCMU"],
                          session=LocalSession(), video_port=30002, video_policy=POLICY)
    assert accept_answer(ours, theirs.answer_sdp).video is None
