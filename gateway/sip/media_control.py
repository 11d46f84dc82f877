"""RFC 5168 fast update over SIP INFO: ``application/media_control+xml``, sans-IO.

Many room systems and gateways (Polycom, Tandberg/Cisco, Lifesize, and the MCUs they
talk to) ask for a key frame with a SIP INFO carrying this XML instead of, or as well
as, RTCP PLI/FIR (``gateway/rtp/feedback``), often because their RTCP path is broken by
NAT or they never negotiated ``a=rtcp-fb``. RFC 5168 documents the practice::

    <?xml version="1.0" encoding="utf-8" ?>
    <media_control>
      <vc_primitive>
        <to_encoder>
          <picture_fast_update/>
        </to_encoder>
      </vc_primitive>
    </media_control>

Receiving: the SIP layer hands every INFO body to ``is_fast_update``. ``False`` means
"not a fast update" (another content type, or media control XML without the primitive,
such as a ``general_error`` report), ``True`` means "ask the encoder for an IDR", and
``MediaControlError`` means "media control, but broken", which the caller answers with
400. Sending: an INFO with ``Content-Type: MEDIA_CONTROL_TYPE`` and ``FAST_UPDATE_BODY``;
a peer that answers 415/501 does not support it and should not get another.

The XML comes from the network, so it is parsed defensively without defusedxml (not
installed): bodies are small (``MAX_BODY``), decoded as UTF-8 by us (so the check below
sees exactly the text the parser sees), and anything with a DOCTYPE or ENTITY declaration is
refused before parsing -- without a DTD, expat knows only the predefined entities, so
entity expansion attacks and external entities are impossible.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

MEDIA_CONTROL_TYPE = "application/media_control+xml"
MAX_BODY = 4096  # bytes; a fast update is ~200, a few stream_id elements add little

FAST_UPDATE_BODY: bytes = (
    b'<?xml version="1.0" encoding="utf-8" ?>\r\n'
    b"<media_control>\r\n"
    b"  <vc_primitive>\r\n"
    b"    <to_encoder>\r\n"
    b"      <picture_fast_update/>\r\n"
    b"    </to_encoder>\r\n"
    b"  </vc_primitive>\r\n"
    b"</media_control>\r\n"
)

_FORBIDDEN = ("<!doctype", "<!entity")


class MediaControlError(ValueError):
    """A body of the media control content type that is not well-formed, safe XML
    rooted at ``media_control``."""


def _media_type(content_type: str) -> str:
    """``"Application/Media_Control+XML; charset=utf-8"`` -> ``"application/media_control+xml"``."""
    return content_type.split(";", 1)[0].strip().lower()


def _local(tag: str) -> str:
    """A tag without its ``{namespace}``: RFC 5168 defines none, but tolerate one."""
    return tag.rsplit("}", 1)[-1]


def is_fast_update(content_type: str, body: bytes) -> bool:
    """Whether an INFO body asks our encoder for a picture fast update (a key frame).

    Raises ``MediaControlError`` when the content type is media control but the body is
    too big, not UTF-8 XML, declares a DOCTYPE/ENTITY or is not a ``media_control``.
    """
    if _media_type(content_type) != MEDIA_CONTROL_TYPE:
        return False
    if len(body) > MAX_BODY:
        raise MediaControlError(f"media_control body of {len(body)} bytes (over {MAX_BODY})")
    try:
        # Decoded here, not by expat: expat would auto-detect UTF-16 even without a byte
        # order mark, and a UTF-16 DOCTYPE is invisible to a check on the raw bytes.
        # XML forbids NUL, which every ASCII character in UTF-16 carries.
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MediaControlError(f"media_control body is not XML in UTF-8: {exc}") from None
    if "\x00" in text:
        raise MediaControlError("media_control body is not XML in UTF-8: it contains NUL")
    lowered = text.lower()
    if any(marker in lowered for marker in _FORBIDDEN):
        raise MediaControlError("media_control body declares a DOCTYPE or ENTITY")
    try:
        parser = ET.XMLParser()
        parser.feed(text)  # a str reaches expat as UTF-8 whatever the declaration says
        root = parser.close()
    except ET.ParseError as exc:
        raise MediaControlError(f"media_control body is not XML: {exc}") from None
    if _local(root.tag) != "media_control":
        raise MediaControlError(f"media_control body's root is <{_local(root.tag)[:40]}>")
    for primitive in root:
        if _local(primitive.tag) != "vc_primitive":
            continue
        for encoder in primitive:
            if _local(encoder.tag) != "to_encoder":
                continue
            if any(_local(command.tag) == "picture_fast_update" for command in encoder):
                return True
    return False
