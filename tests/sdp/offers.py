"""Offers as real user agents send them (CRLF line ends added by ``sdp``)."""

from __future__ import annotations


def sdp(text: str) -> bytes:
    lines = [line.strip() for line in text.strip().splitlines()]
    return ("\r\n".join(lines) + "\r\n").encode()


# Captured from baresip 1.0.0 (opus, g722, g711 modules, VP8 video), loopback.
BARESIP_OPUS_VIDEO = sdp("""
    v=0
    o=- 1970839466 108265868 IN IP4 127.0.0.1
    s=-
    c=IN IP4 127.0.0.1
    t=0 0
    a=tool:baresip 1.0.0
    m=audio 22564 RTP/AVP 96 9 0 8 101
    a=rtpmap:96 opus/48000/2
    a=fmtp:96 stereo=1;sprop-stereo=1;maxaveragebitrate=64000
    a=rtpmap:9 G722/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=sendrecv
    a=label:1
    a=rtcp-rsize
    a=ssrc:1256017434 cname:sip:bob@127.0.0.1:15064
    a=minptime:20
    a=ptime:20
    m=video 22584 RTP/AVP 96
    a=rtpmap:96 VP8/90000
    a=fmtp:96 max-fs=3600
    a=sendrecv
    a=label:2
    a=rtcp-rsize
    a=ssrc:2147097002 cname:sip:bob@127.0.0.1:15064
    a=framerate:25.00
    a=rtcp-fb:* nack pli
    a=content:main
""")

# Captured from baresip 1.0.0 with g711 only.
BARESIP_G711 = sdp("""
    v=0
    o=- 3020246342 1396935843 IN IP4 127.0.0.1
    s=-
    c=IN IP4 127.0.0.1
    t=0 0
    a=tool:baresip 1.0.0
    m=audio 22566 RTP/AVP 0 8 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=sendrecv
    a=label:1
    a=rtcp-rsize
    a=ssrc:292319287 cname:sip:alice4@127.0.0.1:15064
    a=minptime:20
    a=ptime:20
""")

# A Yealink/Polycom-style desk phone: static PTs, G729, wideband first.
DESK_PHONE = sdp("""
    v=0
    o=- 20013 20013 IN IP4 10.0.1.50
    s=SDP data
    c=IN IP4 10.0.1.50
    t=0 0
    m=audio 11780 RTP/AVP 9 0 8 18 101
    a=rtpmap:9 G722/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:18 G729/8000
    a=fmtp:18 annexb=no
    a=ptime:20
    a=sendrecv
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
""")

# An older Cisco-style phone: static PTs with no rtpmap at all, media-level c=,
# explicit a=rtcp on a non-adjacent port.
STATIC_ONLY = sdp("""
    v=0
    o=CiscoSystemsSIP-GW-UserAgent 4158 9212 IN IP4 192.0.2.10
    s=SIP Call
    t=0 0
    m=audio 16384 RTP/AVP 0 8 101
    c=IN IP4 192.0.2.11
    a=rtcp:16501 IN IP4 192.0.2.12
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
""")

# A WebRTC-ish SIP client (JsSIP over a gateway): opus with telephone-event/48000,
# rtcp-mux, AVPF.
OPUS_MUX = sdp("""
    v=0
    o=- 4611731400430051336 2 IN IP4 127.0.0.1
    s=-
    t=0 0
    a=msid-semantic: WMS
    m=audio 40000 RTP/AVPF 111 0 8 110 126
    c=IN IP4 198.51.100.7
    a=rtcp:9 IN IP4 0.0.0.0
    a=rtpmap:111 opus/48000/2
    a=fmtp:111 minptime=10;useinbandfec=1
    a=rtpmap:110 telephone-event/48000
    a=rtpmap:126 telephone-event/8000
    a=rtcp-mux
    a=sendrecv
""")


def with_direction(offer: bytes, direction: str) -> bytes:
    return offer.replace(b"a=sendrecv", f"a={direction}".encode())
