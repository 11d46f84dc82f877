from __future__ import annotations

import pytest

from gateway.sdp import SdpError, parse_sdp
from tests.sdp.offers import BARESIP_OPUS_VIDEO, DESK_PHONE, STATIC_ONLY, sdp


def test_parses_baresip_offer() -> None:
    desc = parse_sdp(BARESIP_OPUS_VIDEO)
    assert desc.origin.session_id == "1970839466"
    assert desc.connection is not None and desc.connection.address == "127.0.0.1"
    audio, video = desc.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 22564, "RTP/AVP")
    assert audio.formats == ["96", "9", "0", "8", "101"]
    maps = audio.rtpmaps()
    assert (maps[96].encoding, maps[96].clock_rate, maps[96].channels) == ("opus", 48000, 2)
    assert maps[0].encoding == "PCMU"
    assert audio.fmtp(101) == "0-15"
    assert audio.attribute("ptime") == "20"
    assert desc.direction_for(audio) == "sendrecv"
    assert video.rtpmaps()[96].encoding == "VP8"


def test_static_payload_types_need_no_rtpmap() -> None:
    desc = parse_sdp(STATIC_ONLY)
    media = desc.media[0]
    maps = media.rtpmaps()
    assert maps[0].encoding == "PCMU" and maps[8].encoding == "PCMA"
    assert desc.connection is None and desc.connection_for(media).address == "192.0.2.11"
    assert media.rtcp() == (16501, "192.0.2.12")


def test_round_trip_keeps_unknown_lines() -> None:
    text = sdp("""
        v=0
        o=- 1 2 IN IP4 10.0.0.1
        s=call
        i=session info
        c=IN IP4 10.0.0.1
        b=CT:128
        t=0 0
        z=2882844526 -1h
        k=prompt
        a=recvonly
        a=group:BUNDLE 0
        m=audio 5004 RTP/AVP 0
        i=audio info
        b=AS:64
        a=mid:0
    """)
    desc = parse_sdp(text)
    assert ("i", "session info") in desc.other
    assert desc.media[0].bandwidths == ["AS:64"]
    assert desc.serialize() == text
    assert parse_sdp(desc.serialize()).serialize() == text


def test_accepts_bare_lf_line_ends() -> None:
    desc = parse_sdp(DESK_PHONE.replace(b"\r\n", b"\n"))
    assert desc.media[0].port == 11780


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        (b"", "empty"),
        (b"\xff\xfe garbage", "UTF-8"),
        (b"hello world\r\n", "not type=value"),
        (b"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", "v="),
        (b"v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\n", "version"),
        (b"v=0\r\ns=-\r\n", "no o="),
        (b"v=0\r\no=- 1 IN IP4 1.2.3.4\r\n", "o="),
        (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP9 x\r\n", "c="),
        (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio\r\n", "m="),
        (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n", "port"),
        (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\n", "no c="),
        (
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n"
            b"m=audio 5000 RTP/AVP 96\r\na=rtpmap:96 opus\r\n",
            "rtpmap",
        ),
    ],
)
def test_garbage_is_400_naming_the_fault(body: bytes, fault: str) -> None:
    with pytest.raises(SdpError) as info:
        parse_sdp(body)
    assert info.value.status == 400
    assert fault in info.value.reason
