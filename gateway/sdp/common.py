"""What the audio (``negotiate``) and video (``video``) answerers share: directions,
RTP profiles and how a format is written into an m-line. Its own module so that
``negotiate`` can build on ``video`` without an import cycle."""

from __future__ import annotations

from gateway.sdp.model import Media, RtpMap, SessionDescription

RTP_PROTOS = ("RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF",  # SAVP: SRTP, SDES keys
              "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")  # SRTP keyed by DTLS
ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


def remote_direction(desc: SessionDescription, media: Media) -> str:
    direction = desc.direction_for(media)
    conn = desc.connection_for(media)
    if conn is not None and conn.is_hold_address:
        # RFC 2543 hold: the peer will not receive, whatever the attribute says.
        return {"sendrecv": "sendonly", "recvonly": "inactive"}.get(direction, direction)
    return direction


def add_format(media: Media, rtpmap: RtpMap) -> None:
    media.formats.append(str(rtpmap.payload_type))
    channels = f"/{rtpmap.channels}" if rtpmap.channels != 1 else ""
    media.attributes.append(
        ("rtpmap", f"{rtpmap.payload_type} {rtpmap.encoding}/{rtpmap.clock_rate}{channels}")
    )
