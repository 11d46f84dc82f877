"""RFC 5168 picture_fast_update bodies: what real endpoints send, and what we refuse."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gateway.sip.media_control import (
    FAST_UPDATE_BODY,
    MAX_BODY,
    MEDIA_CONTROL_TYPE,
    MediaControlError,
    is_fast_update,
)

MC = MEDIA_CONTROL_TYPE

BARE = (
    b"<media_control><vc_primitive><to_encoder><picture_fast_update/>"
    b"</to_encoder></vc_primitive></media_control>"
)


def test_our_body_is_a_fast_update():
    assert MEDIA_CONTROL_TYPE == "application/media_control+xml"
    assert is_fast_update(MC, FAST_UPDATE_BODY)
    root = ET.fromstring(FAST_UPDATE_BODY)
    assert root.tag == "media_control"
    assert root.find("vc_primitive/to_encoder/picture_fast_update") is not None


@pytest.mark.parametrize(
    "body",
    [
        BARE,
        b'<?xml version="1.0" encoding="utf-8" ?>\n' + BARE,
        b"<?xml version='1.0'?>" + BARE + b"\r\n",
        b"\xef\xbb\xbf" + BARE,  # UTF-8 byte order mark
        b"\r\n  <media_control>\n\t<vc_primitive >\n  <to_encoder>\n"
        b"   <picture_fast_update></picture_fast_update>\n </to_encoder>\n"
        b"</vc_primitive>\n</media_control>\n\n",
        # extra elements and attributes (RFC 5168 stream_id, vendor additions)
        b"<media_control><vc_primitive><stream_id>1</stream_id><to_encoder x='1'>"
        b"<vendor_thing/><picture_fast_update/></to_encoder></vc_primitive>"
        b"<extra>text</extra></media_control>",
        # a second vc_primitive carries it
        b"<media_control><vc_primitive><to_encoder/></vc_primitive>"
        b"<vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive>"
        b"</media_control>",
        b"<!-- from a room system --><media_control><vc_primitive><to_encoder>"
        b"<picture_fast_update/></to_encoder></vc_primitive></media_control>",
        b'<media_control xmlns="urn:example:mc"><vc_primitive><to_encoder>'
        b"<picture_fast_update/></to_encoder></vc_primitive></media_control>",
    ],
    ids=[
        "bare",
        "declaration",
        "single quotes",
        "bom",
        "whitespace",
        "extra",
        "second",
        "comment",
        "namespaced",
    ],
)
def test_fast_update_forms(body):
    assert is_fast_update(MC, body)


@pytest.mark.parametrize(
    "content_type",
    ["Application/Media_Control+XML", "application/media_control+xml; charset=utf-8", " " + MC],
)
def test_content_type_is_case_and_parameter_tolerant(content_type):
    assert is_fast_update(content_type, BARE)


@pytest.mark.parametrize("content_type", ["application/dtmf-relay", "application/sdp", ""])
def test_other_content_types_are_someone_elses(content_type):
    assert not is_fast_update(content_type, BARE)
    assert not is_fast_update(content_type, b"not xml at all <")


@pytest.mark.parametrize(
    "body",
    [
        b"<media_control/>",
        b"<media_control><general_error>bad</general_error></media_control>",
        b"<media_control><vc_primitive><to_encoder/></vc_primitive></media_control>",
        # the primitive in the wrong place is not one
        b"<media_control><picture_fast_update/></media_control>",
        b"<media_control><vc_primitive><picture_fast_update/></vc_primitive></media_control>",
    ],
    ids=["empty", "general_error", "no primitive", "top level", "no to_encoder"],
)
def test_media_control_without_fast_update(body):
    assert not is_fast_update(MC, body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"picture_fast_update",
        b"<media_control><vc_primitive>",
        b"<media_control></vc_primitive>",
        b"\xff\xfe<\x00m\x00/\x00>\x00",  # UTF-16 with a byte order mark
        "<media_control/>".encode("utf-16-le"),  # without one: valid UTF-8 bytes, NULs
        "<media_control>\u00e9</media_control>".encode("latin-1"),
        b"<media_control>&undefined;</media_control>",
    ],
    ids=["empty", "text", "unclosed", "mismatched", "utf16", "utf16le", "latin1", "entity"],
)
def test_not_xml_is_an_error(body):
    with pytest.raises(MediaControlError, match="not XML"):
        is_fast_update(MC, body)


@pytest.mark.parametrize(
    "body",
    [
        b"<picture_fast_update/>",
        b"<vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive>",
        b"<html><body>media_control</body></html>",
    ],
)
def test_wrong_root_is_an_error(body):
    with pytest.raises(MediaControlError, match="root"):
        is_fast_update(MC, body)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?>\n<!DOCTYPE media_control SYSTEM "http://example.com/x.dtd">\n'
        + BARE,
        b'<!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<media_control>&lol2;</media_control>",
        b"<!doctype media_control>" + BARE,
        b'<media_control><!ENTITY x "y"></media_control>',
    ],
    ids=["external dtd", "billion laughs", "lower case", "stray entity"],
)
def test_doctype_and_entities_are_refused(body):
    with pytest.raises(MediaControlError, match="DOCTYPE or ENTITY"):
        is_fast_update(MC, body)


def test_utf16_cannot_smuggle_a_doctype():
    """expat detects UTF-16 by itself; a byte search for DOCTYPE would not see it."""
    body = ('<!DOCTYPE x [<!ENTITY e "boom">]><media_control>&e;</media_control>').encode(
        "utf-16-le"
    )
    with pytest.raises(MediaControlError, match="UTF-8"):
        is_fast_update(MC, body)


def test_declared_encoding_does_not_change_the_reading():
    body = b'<?xml version="1.0" encoding="UTF-16"?>' + BARE
    assert is_fast_update(MC, body)


def test_size_limit():
    padded = BARE.replace(b"<media_control>", b"<media_control>" + b" " * MAX_BODY)
    with pytest.raises(MediaControlError, match="bytes"):
        is_fast_update(MC, padded)
    fits = BARE.replace(b"<media_control>", b"<media_control>" + b" " * (MAX_BODY - len(BARE)))
    assert len(fits) == MAX_BODY and is_fast_update(MC, fits)


def test_error_is_a_value_error():
    assert issubclass(MediaControlError, ValueError)
