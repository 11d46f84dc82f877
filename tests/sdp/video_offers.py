"""Video offers: one captured from baresip, the rest written after real devices'
habits (their origin is said on each). CRLF line ends added by ``sdp``."""

from __future__ import annotations

from tests.sdp.offers import sdp

# Captured: baresip 1.0.0 (Debian), modules g711 + avcodec + vp8, video_source
# fakevideo,nil, dialing a UDP socket that printed the INVITE. Note the H.263 is
# RFC 2190 H263/90000 on static PT 34, not H263-1998, so we do not take it.
BARESIP_AVCODEC = sdp("""
    v=0
    o=- 573965424 1258516336 IN IP4 192.0.2.2
    s=-
    c=IN IP4 192.0.2.2
    t=0 0
    a=tool:baresip 1.0.0
    m=audio 44370 RTP/AVP 0 8 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=sendrecv
    a=label:1
    a=rtcp-rsize
    a=ssrc:4205455018 cname:sip:cap@127.0.0.1
    a=minptime:20
    a=ptime:20
    m=video 31492 RTP/AVP 96 97 34 98 99 100
    a=rtpmap:96 H264/90000
    a=fmtp:96 packetization-mode=0;profile-level-id=42e01f
    a=rtpmap:97 H264/90000
    a=fmtp:97 packetization-mode=1;profile-level-id=42e01f
    a=rtpmap:34 H263/90000
    a=fmtp:34 CIF=1;CIF4=1
    a=rtpmap:98 MP4V-ES/90000
    a=fmtp:98 profile-level-id=3
    a=rtpmap:99 H265/90000
    a=fmtp:99 profile-id=1
    a=rtpmap:100 VP8/90000
    a=fmtp:100 max-fs=3600
    a=sendrecv
    a=label:2
    a=rtcp-rsize
    a=ssrc:740231532 cname:sip:cap@127.0.0.1
    a=framerate:30.00
    a=rtcp-fb:* nack pli
    a=content:main
""")

# Written after Polycom Group/HDX offers: High 4.0 first, then baseline 2.2 that
# signals 720p through max-mbps/max-fs, then constrained baseline mode 0; H.263+
# and H.261 for old bridges; b=AS and b=TIAS both; a second m=video for content.
POLYCOM = sdp("""
    v=0
    o=GroupSeries 1529339486 0 IN IP4 10.1.2.30
    s=-
    c=IN IP4 10.1.2.30
    b=AS:2048
    t=0 0
    a=sendrecv
    m=audio 49170 RTP/AVP 9 0 8 101
    a=rtpmap:9 G722/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    m=video 49172 RTP/AVP 109 110 111 96 34 31
    b=AS:1920
    b=TIAS:1920000
    a=rtpmap:109 H264/90000
    a=fmtp:109 profile-level-id=640028; packetization-mode=1; max-br=4000
    a=rtpmap:110 H264/90000
    a=fmtp:110 profile-level-id=428016; packetization-mode=1; max-mbps=108000; max-fs=3600
    a=rtpmap:111 H264/90000
    a=fmtp:111 profile-level-id=42e01f; packetization-mode=0
    a=rtpmap:96 H263-1998/90000
    a=fmtp:96 CIF4=2;CIF=1;QCIF=1;SQCIF=1
    a=rtpmap:34 H263/90000
    a=fmtp:34 CIF=1;QCIF=1
    a=rtpmap:31 H261/90000
    a=fmtp:31 CIF=1;QCIF=1
    a=rtcp-fb:* ccm fir
    a=rtcp-fb:* ccm tmmbr
    a=rtcp-fb:* nack
    a=rtcp-fb:* nack pli
    a=content:main
    a=label:1
    m=video 49174 RTP/AVP 109
    b=AS:768
    a=rtpmap:109 H264/90000
    a=fmtp:109 profile-level-id=428016; packetization-mode=1
    a=content:slides
    a=label:3
""")

# Written after Cisco/Tandberg offers: mode 1 and mode 0 on separate PTs with the
# same constrained-baseline 3.1 profile, per-PT rtcp-fb, b=TIAS only.
CISCO = sdp("""
    v=0
    o=tandberg 2 1 IN IP4 192.0.2.40
    s=-
    c=IN IP4 192.0.2.40
    t=0 0
    m=audio 2336 RTP/AVP 0 8 101
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    m=video 2338 RTP/AVP 97 126 34
    b=TIAS:1472000
    a=rtpmap:97 H264/90000
    a=fmtp:97 profile-level-id=42e01f;packetization-mode=1;max-mbps=108000;max-fs=3600
    a=rtpmap:126 H264/90000
    a=fmtp:126 profile-level-id=42e01f;packetization-mode=0;max-mbps=108000;max-fs=3600
    a=rtpmap:34 H263/90000
    a=fmtp:34 CIF=1
    a=rtcp-fb:97 ccm fir
    a=rtcp-fb:97 nack pli
    a=rtcp-fb:126 ccm fir
    a=sendrecv
""")

# Written after Chrome's H.264/VP8 list, as a SIP gateway that drops DTLS hands it
# on (plain RTP/AVPF, rtcp-mux): VP8 first, many H.264 profiles, rtx/red/ulpfec.
CHROME_LIKE = sdp("""
    v=0
    o=- 2890844526 2 IN IP4 127.0.0.1
    s=-
    t=0 0
    m=audio 40000 RTP/AVPF 111
    c=IN IP4 198.51.100.7
    a=rtpmap:111 opus/48000/2
    a=rtcp-mux
    m=video 40002 RTP/AVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 114 115 116
    c=IN IP4 198.51.100.7
    a=rtcp:9 IN IP4 0.0.0.0
    a=rtpmap:96 VP8/90000
    a=rtcp-fb:96 goog-remb
    a=rtcp-fb:96 transport-cc
    a=rtcp-fb:96 ccm fir
    a=rtcp-fb:96 nack
    a=rtcp-fb:96 nack pli
    a=rtpmap:97 rtx/90000
    a=fmtp:97 apt=96
    a=rtpmap:102 H264/90000
    a=rtcp-fb:102 ccm fir
    a=rtcp-fb:102 nack
    a=rtcp-fb:102 nack pli
    a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
    a=rtpmap:103 rtx/90000
    a=fmtp:103 apt=102
    a=rtpmap:104 H264/90000
    a=rtcp-fb:104 nack
    a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f
    a=rtpmap:105 rtx/90000
    a=fmtp:105 apt=104
    a=rtpmap:106 H264/90000
    a=rtcp-fb:106 ccm fir
    a=rtcp-fb:106 nack
    a=rtcp-fb:106 nack pli
    a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
    a=rtpmap:107 rtx/90000
    a=fmtp:107 apt=106
    a=rtpmap:108 H264/90000
    a=rtcp-fb:108 nack
    a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f
    a=rtpmap:109 rtx/90000
    a=fmtp:109 apt=108
    a=rtpmap:127 H264/90000
    a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f
    a=rtpmap:125 rtx/90000
    a=fmtp:125 apt=127
    a=rtpmap:39 H264/90000
    a=fmtp:39 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640034
    a=rtpmap:40 rtx/90000
    a=fmtp:40 apt=39
    a=rtpmap:114 red/90000
    a=rtpmap:115 rtx/90000
    a=fmtp:115 apt=114
    a=rtpmap:116 ulpfec/90000
    a=rtcp-mux
    a=rtcp-rsize
    a=sendrecv
""")

# Written after an old H.263+-only videophone (Grandstream/Snom era): RFC 4629
# picture sizes, a custom size, MaxBR, no rtcp-fb, b=AS.
H263_ONLY = sdp("""
    v=0
    o=- 8 8 IN IP4 192.0.2.60
    s=-
    c=IN IP4 192.0.2.60
    t=0 0
    m=audio 5004 RTP/AVP 0
    m=video 5006 RTP/AVP 98 34
    b=AS:384
    a=rtpmap:98 H263-1998/90000
    a=fmtp:98 CIF=1;QCIF=1;SQCIF=1;CUSTOM=320,240,2;MaxBR=3200
    a=rtpmap:34 H263/90000
    a=sendrecv
""")

# H.263-2000 only, with a profile and CIF4 at half rate.
H263_2000_ONLY = sdp("""
    v=0
    o=- 9 9 IN IP4 192.0.2.61
    s=-
    c=IN IP4 192.0.2.61
    t=0 0
    m=video 5008 RTP/AVP 99
    a=rtpmap:99 H263-2000/90000
    a=fmtp:99 profile=3;level=30;CIF4=2;CIF=1
    a=recvonly
""")

# Codecs we do not carry in calls (MPEG-4, H.265): the caller declines video.
NO_COMMON = sdp("""
    v=0
    o=- 10 10 IN IP4 192.0.2.62
    s=-
    c=IN IP4 192.0.2.62
    t=0 0
    m=audio 5010 RTP/AVP 0
    m=video 5012 RTP/AVP 98 99
    a=rtpmap:98 MP4V-ES/90000
    a=rtpmap:99 H265/90000
""")

# Broken fmtp lines as seen in the wild: odd separators, missing values, bad hex.
GARBAGE_FMTP = sdp("""
    v=0
    o=- 11 11 IN IP4 192.0.2.63
    s=-
    c=IN IP4 192.0.2.63
    t=0 0
    m=video 5014 RTP/AVP 96 97 100
    b=AS:abc
    a=rtpmap:96 H264/90000
    a=fmtp:96 profile-level-id=zzzzzz;;packetization-mode=;max-fs=-3; ;=;x
    a=rtpmap:97 H264/90000
    a=fmtp:97 packetization-mode=7
    a=rtpmap:100 VP8/90000
    a=fmtp:100 max-fs=lots max-fr=
    a=framerate:fast
    a=rtcp-fb:96
""")

# Captured: baresip 1.0.0 (Debian 12), modules g711 + avcodec, account
# video_codecs=H264 (as tests/peers/baresip.py runs it), dialing a UDP socket that
# printed the INVITE: avcodec offers H.264 packetization-mode 0 only.
BARESIP_H264_MODE0 = sdp("""
    v=0
    o=- 2970167391 553428768 IN IP4 127.0.0.1
    s=-
    c=IN IP4 127.0.0.1
    t=0 0
    a=tool:baresip 1.0.0
    m=audio 57928 RTP/AVP 0 8 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=sendrecv
    a=label:1
    a=rtcp-rsize
    a=ssrc:1670356554 cname:sip:cap@127.0.0.1:19740
    a=minptime:20
    a=ptime:20
    m=video 57932 RTP/AVP 96
    a=rtpmap:96 H264/90000
    a=fmtp:96 packetization-mode=0;profile-level-id=42e01f
    a=sendrecv
    a=label:2
    a=rtcp-rsize
    a=ssrc:3718871486 cname:sip:cap@127.0.0.1:19740
    a=framerate:15.00
    a=rtcp-fb:* nack pli
    a=content:main
""")
