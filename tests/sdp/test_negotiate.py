from __future__ import annotations

import pytest

from gateway.media import AudioFormat
from gateway.sdp import LocalSession, SdpError, accept_answer, answer_offer, make_offer, parse_sdp
from gateway.sdp.negotiate import Negotiated
from tests.sdp.offers import (
    BARESIP_G711,
    BARESIP_OPUS_VIDEO,
    DESK_PHONE,
    OPUS_MUX,
    STATIC_ONLY,
    sdp,
    with_direction,
)

PREFS = ["opus", "G722", "PCMU", "PCMA"]
LOCAL = "203.0.113.5"


def answer(offer: bytes, prefs: list[str] = PREFS, session: LocalSession | None = None):
    return answer_offer(
        offer,
        local_ip=LOCAL,
        audio_port=30000,
        preferences=prefs,
        session=session or LocalSession(session_id=42),
    )


def test_baresip_opus_offer_declines_video() -> None:
    result = answer(BARESIP_OPUS_VIDEO)
    assert result.audio == AudioFormat("opus", 96, 48000, 2)
    # baresip offers only telephone-event/8000 next to opus: still taken (see _find_event).
    assert (result.telephone_event_pt, result.telephone_event_rate) == (101, 8000)
    assert result.remote_rtp == ("127.0.0.1", 22564)
    assert result.remote_rtcp == ("127.0.0.1", 22565)
    assert not result.rtcp_mux
    desc = parse_sdp(result.answer_sdp)
    audio, video = desc.media
    assert (audio.port, audio.formats) == (30000, ["96", "101"])
    assert audio.rtpmaps()[96].encoding == "opus"
    assert desc.connection is not None and desc.connection.address == LOCAL
    assert (video.media, video.port, video.proto, video.formats) == ("video", 0, "RTP/AVP", ["96"])
    assert desc.origin.session_id == "42"


def test_preference_order_wins_over_offer_order() -> None:
    assert answer(DESK_PHONE, ["PCMA", "PCMU"]).audio == AudioFormat("PCMA", 8, 8000)
    assert answer(DESK_PHONE, ["pcmu", "g722"]).audio == AudioFormat("PCMU", 0, 8000)
    g722 = answer(DESK_PHONE).audio
    assert g722 is not None and g722.name == "G722" and g722.sample_rate == 16000


def test_static_payload_types_without_rtpmap() -> None:
    result = answer(STATIC_ONLY, ["opus", "PCMA", "PCMU"])
    assert result.audio == AudioFormat("PCMA", 8, 8000)
    assert result.telephone_event_pt == 101
    assert result.remote_rtp == ("192.0.2.11", 16384)
    assert result.remote_rtcp == ("192.0.2.12", 16501)  # a=rtcp with its own address
    media = parse_sdp(result.answer_sdp).media[0]
    assert media.formats == ["8", "101"]
    assert media.fmtp(101) == "0-15"


def test_telephone_event_matches_codec_rate() -> None:
    opus = answer(OPUS_MUX)
    assert (opus.telephone_event_pt, opus.telephone_event_rate) == (110, 48000)
    pcmu = answer(OPUS_MUX, ["PCMU"])
    assert (pcmu.telephone_event_pt, pcmu.telephone_event_rate) == (126, 8000)


def test_telephone_event_only_if_offered() -> None:
    offer = sdp("""
        v=0
        o=- 1 1 IN IP4 10.0.0.9
        s=-
        c=IN IP4 10.0.0.9
        t=0 0
        m=audio 4000 RTP/AVP 0
    """)
    result = answer(offer)
    assert result.telephone_event_pt is None
    assert parse_sdp(result.answer_sdp).media[0].formats == ["0"]


def test_rtcp_mux_accepted() -> None:
    result = answer(OPUS_MUX)
    assert result.rtcp_mux
    assert result.remote_rtp == result.remote_rtcp == ("198.51.100.7", 40000)
    media = parse_sdp(result.answer_sdp).media[0]
    assert media.rtcp_mux and media.proto == "RTP/AVPF"


def test_no_common_codec_is_488() -> None:
    with pytest.raises(SdpError) as info:
        answer(DESK_PHONE.replace(b"RTP/AVP 9 0 8 18 101", b"RTP/AVP 18 101"))
    assert info.value.status == 488


def test_only_video_is_488() -> None:
    offer = sdp("""
        v=0
        o=- 1 1 IN IP4 10.0.0.9
        s=-
        c=IN IP4 10.0.0.9
        t=0 0
        m=video 4000 RTP/AVP 96
        a=rtpmap:96 H264/90000
    """)
    with pytest.raises(SdpError) as info:
        answer(offer)
    assert info.value.status == 488


def test_garbage_offer_is_400() -> None:
    with pytest.raises(SdpError) as info:
        answer(b"INVITE sip:x SIP/2.0\r\n")
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("offered", "answered", "hold"),
    [
        ("sendrecv", "sendrecv", False),
        ("sendonly", "recvonly", True),
        ("inactive", "inactive", True),
        ("recvonly", "sendonly", False),
    ],
)
def test_directions(offered: str, answered: str, hold: bool) -> None:
    result = answer(with_direction(DESK_PHONE, offered))
    assert result.remote_direction == offered
    assert result.local_direction == answered
    assert result.on_hold is hold
    assert parse_sdp(result.answer_sdp).media[0].direction == answered


def test_rfc2543_hold_with_zero_address() -> None:
    held = DESK_PHONE.replace(b"c=IN IP4 10.0.1.50", b"c=IN IP4 0.0.0.0")
    result = answer(held)
    assert result.on_hold
    assert result.remote_direction == "sendonly"
    assert result.local_direction == "recvonly"
    assert result.remote_rtp == ("0.0.0.0", 11780)


def test_hold_and_unhold_bump_the_version_only_on_change() -> None:
    session = LocalSession(session_id=7)
    first = answer(DESK_PHONE, session=session)
    again = answer(DESK_PHONE, session=session)  # session refresh re-INVITE: same answer
    held = answer(with_direction(DESK_PHONE, "sendonly"), session=session)
    resumed = answer(DESK_PHONE, session=session)
    versions = [parse_sdp(r.answer_sdp).origin.session_version for r in (first, again, held)]
    assert versions == ["0", "0", "1"]
    assert parse_sdp(resumed.answer_sdp).origin.session_version == "2"
    assert not resumed.on_hold and resumed.local_direction == "sendrecv"


def test_session_level_direction_applies() -> None:
    offer = BARESIP_G711.replace(b"a=tool:baresip 1.0.0", b"a=sendonly").replace(
        b"a=sendrecv\r\n", b""
    )
    assert answer(offer).remote_direction == "sendonly"


def test_make_offer_lists_every_preferred_codec() -> None:
    session = LocalSession(session_id=9)
    offer = parse_sdp(make_offer(LOCAL, 20000, PREFS, session))
    media = offer.media[0]
    names = [(m.encoding, m.clock_rate) for m in media.rtpmaps().values()]
    assert names == [
        ("opus", 48000),
        ("G722", 8000),
        ("PCMU", 8000),
        ("PCMA", 8000),
        ("telephone-event", 8000),
        ("telephone-event", 48000),
    ]
    assert media.rtcp_mux and media.direction == "sendrecv" and media.port == 20000
    assert offer.connection is not None and offer.connection.address == LOCAL


def test_offer_answer_round_trip_through_our_own_answerer() -> None:
    offer = make_offer("10.0.0.1", 20000, ["PCMU", "opus"], LocalSession())
    theirs = answer(offer, ["opus", "PCMU"])
    ours = accept_answer(offer, theirs.answer_sdp)
    assert ours.audio == AudioFormat("opus", 111, 48000, 2)
    assert (ours.telephone_event_pt, ours.telephone_event_rate) == (110, 48000)
    assert ours.remote_rtp == (LOCAL, 30000)
    assert ours.rtcp_mux and ours.remote_rtcp == ours.remote_rtp
    assert ours.local_direction == "sendrecv"


def test_accept_answer_from_desk_phone() -> None:
    offer = make_offer("10.0.0.1", 20000, PREFS, LocalSession())
    reply = sdp("""
        v=0
        o=- 5 5 IN IP4 10.0.1.50
        s=-
        c=IN IP4 10.0.1.50
        t=0 0
        m=audio 11800 RTP/AVP 9 101
        a=rtpmap:101 telephone-event/8000
        a=sendonly
    """)
    result: Negotiated = accept_answer(offer, reply)
    assert result.audio == AudioFormat("G722", 9, 8000)
    assert result.telephone_event_pt == 101
    assert not result.rtcp_mux and result.remote_rtcp == ("10.0.1.50", 11801)
    assert result.on_hold and result.local_direction == "recvonly"


def test_accept_answer_rejecting_audio_is_488() -> None:
    offer = make_offer("10.0.0.1", 20000, ["PCMU"], LocalSession())
    reply = sdp("""
        v=0
        o=- 5 5 IN IP4 10.0.1.50
        s=-
        c=IN IP4 10.0.1.50
        t=0 0
        m=audio 0 RTP/AVP 0
    """)
    with pytest.raises(SdpError) as info:
        accept_answer(offer, reply)
    assert info.value.status == 488
