"""SIP MESSAGE (RFC 3428) bodies, sans-IO: what the MCU takes and how it answers.

Only ``text/plain`` is taken (any charset parameter; the text must be UTF-8): anything
else is answered 415 with ``Accept: text/plain`` (RFC 3428 section 7, RFC 3261 21.4.13).
Bodies over `MAX_TEXT_BYTES` are 413: RFC 3428 asks pager-mode messages to stay small.
"""

from __future__ import annotations

TEXT_TYPE = "text/plain"
SEND_TYPE = "text/plain;charset=UTF-8"
MAX_TEXT_BYTES = 8192


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_text(content_type: str | None, body: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    """(status, reason, extra headers) to answer a MESSAGE with: 200 when it is taken."""
    if media_type(content_type) != TEXT_TYPE:
        return 415, "Unsupported Media Type", [("Accept", TEXT_TYPE)]
    if len(body) > MAX_TEXT_BYTES:
        return 413, f"Request Entity Too Large (at most {MAX_TEXT_BYTES} bytes)", []
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "Bad Request (text is not UTF-8)", []
    return 200, "OK", []


def decode_text(body: bytes) -> str:
    """The text of a body `check_text` took, without control characters but newlines."""
    text = body.decode("utf-8", errors="replace")
    return "".join(c for c in text if c in "\n\t" or c.isprintable()).strip()


__all__ = ["MAX_TEXT_BYTES", "SEND_TYPE", "TEXT_TYPE", "check_text", "decode_text",
           "media_type"]
