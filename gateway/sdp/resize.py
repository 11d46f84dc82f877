"""Asking a SIP peer for pictures of another size, sans-IO (issue 14).

The conference shows a participant in a tile; a camera sending 720p into a 426x240
tile costs the MCU a 720p decode for nothing. ``asking_for_size`` turns the last
description we sent into a new offer that says how large a picture we want to
receive, for a re-INVITE (RFC 3264 section 8: same m-lines, version bumped):

* ``a=imageattr:PT send * recv [x=W,y=H]`` on each H.264 and VP8 format (RFC 6236,
  the standard way; our own sending is unconstrained, hence ``send *``);
* ``max-fs`` in their ``a=fmtp`` set to the picture's macroblocks (RFC 7741 for VP8;
  for H.264 RFC 6184 only lets max-fs raise the level's value, but a sender that
  believes the smaller number never overruns us: the reading
  ``VideoFormat._h264_limits`` applies to our own sending).

Which peers follow is theirs to decide (``docs/architecture.md`` records what baresip
does); a peer that ignores both keeps sending what it sent, which is never wrong.
"""

from __future__ import annotations

from gateway.sdp.model import Media, SessionDescription, parse_sdp
from gateway.sdp.negotiate import LocalSession
from gateway.sdp.video import macroblocks, parse_fmtp

RESIZABLE = ("H264", "VP8")


def asking_for_size(ours: bytes, session: LocalSession, width: int, height: int) -> bytes:
    """``ours`` (the last description we sent) as an offer asking to receive at most
    ``width`` x ``height`` on its video stream; the o= version bumped when it changed."""
    desc = parse_sdp(ours)
    for media in desc.media:
        if media.media == "video" and media.port:
            _ask(media, width, height)
    return _stamped(desc, session)


def _ask(media: Media, width: int, height: int) -> None:
    maps = media.rtpmaps()
    resizable = [pt for pt, rtpmap in maps.items() if rtpmap.encoding.upper() in RESIZABLE]
    attributes = [(name, value) for name, value in media.attributes
                  if not (name == "imageattr" and _pt_of(value) in resizable)]
    for index, (name, value) in enumerate(attributes):
        pt = _pt_of(value) if name == "fmtp" else None
        if pt in resizable:
            attributes[index] = ("fmtp", f"{pt} {_with_max_fs(value or '', width, height)}")
    for pt in resizable:
        if media.fmtp(pt) is None:
            attributes.append(("fmtp", f"{pt} max-fs={macroblocks(width, height)}"))
        attributes.append(("imageattr", f"{pt} send * recv [x={width},y={height}]"))
    media.attributes = attributes


def _with_max_fs(value: str, width: int, height: int) -> str:
    """An fmtp value (after its payload type) with max-fs set, other params kept."""
    _, _, params = value.partition(" ")
    kept = [token for token in params.split(";")
            if token.strip() and "max-fs" not in parse_fmtp(token)]
    return ";".join([*(token.strip() for token in kept), f"max-fs={macroblocks(width, height)}"])


def _pt_of(value: str | None) -> int | None:
    head = (value or "").split(" ", 1)[0]
    return int(head) if head.isdigit() else None


def _stamped(desc: SessionDescription, session: LocalSession) -> bytes:
    body = [line for line in desc.lines() if not line.startswith("o=")]
    session.stamp(body)
    desc.origin = session.origin(desc.origin.address)
    return desc.serialize()
