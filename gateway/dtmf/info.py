"""SIP INFO DTMF: turn an INFO request's body into one key press, sans-IO.

Some endpoints (Cisco and the many that copied it, older room systems, PBXs that strip
RTP events) send key presses as SIP INFO requests instead of RFC 4733 packets or tones.
There is no RFC for the bodies; two forms are in common use:

* ``application/dtmf-relay``: ``key=value`` lines, ``Signal=5`` and ``Duration=160``
  (milliseconds). Key names in any case, CRLF or LF, spaces around ``=``, unknown keys
  ignored.
* ``application/dtmf``: the body is just the key.

Either may carry the key as a character (``0``-``9``, ``*``, ``#``, ``A``-``D``) or as
its RFC 4733 event code (``10`` is ``*``, ``11`` is ``#``, ``12``-``15`` are ``A``-``D``).

The SIP layer hands every INFO body here: ``None`` means "not DTMF, someone else's"
(media control XML, for instance), ``InfoDtmfError`` means "DTMF, but broken", which the
caller answers with a 4xx and a log line rather than a digit it had to guess.
"""

from __future__ import annotations

from gateway.leg import Dtmf

DTMF_RELAY = "application/dtmf-relay"
DTMF_PLAIN = "application/dtmf"
DTMF_INFO_TYPES: frozenset[str] = frozenset({DTMF_RELAY, DTMF_PLAIN})

EVENT_DIGITS = "0123456789*#ABCD"  # RFC 4733 section 3.2 event codes 0-15
MAX_BODY = 1024  # bytes; a key press is a few dozen, anything bigger is not one
DEFAULT_DURATION_MS = 250  # what a missing Duration means (Cisco's default)
MIN_DURATION_MS = 10
MAX_DURATION_MS = 10_000


class InfoDtmfError(ValueError):
    """An INFO body of a DTMF content type that does not hold exactly one valid key."""


def media_type(content_type: str) -> str:
    """``"Application/DTMF-Relay; charset=x"`` -> ``"application/dtmf-relay"``."""
    return content_type.split(";", 1)[0].strip().lower()


def parse_info_dtmf(content_type: str, body: bytes) -> Dtmf | None:
    """The key press in an INFO body; ``None`` when the content type is not a DTMF one.

    Raises ``InfoDtmfError`` when the type is a DTMF one but the body is malformed.
    """
    kind = media_type(content_type)
    if kind not in DTMF_INFO_TYPES:
        return None
    if len(body) > MAX_BODY:
        raise InfoDtmfError(f"{kind} body of {len(body)} bytes (more than {MAX_BODY})")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InfoDtmfError(f"{kind} body is not UTF-8: {exc}") from None
    if kind == DTMF_PLAIN:
        return Dtmf(_digit(text), DEFAULT_DURATION_MS, "info")
    return _parse_relay(text)


def _parse_relay(text: str) -> Dtmf:
    signal: str | None = None
    duration: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise InfoDtmfError(f"dtmf-relay line {number} is not key=value: {line[:40]!r}")
        key = key.strip().lower()
        if key == "signal":
            if signal is not None:
                raise InfoDtmfError("dtmf-relay body has more than one Signal line")
            signal = value
        elif key == "duration":
            if duration is not None:
                raise InfoDtmfError("dtmf-relay body has more than one Duration line")
            duration = value
    if signal is None:
        raise InfoDtmfError("dtmf-relay body has no Signal line")
    return Dtmf(_digit(signal), _duration(duration), "info")


def _digit(value: str) -> str:
    """One key from ``"5"``, ``"#"``, ``"a"`` or an event code ``"11"``."""
    text = value.strip()
    if not text:
        raise InfoDtmfError("DTMF signal is empty")
    if len(text) == 1 and text.upper() in EVENT_DIGITS:
        return text.upper()
    if text.isascii() and text.isdigit():
        code = int(text)
        if 10 <= code <= 15 and len(text) == 2:
            return EVENT_DIGITS[code]
        raise InfoDtmfError(f"DTMF signal {text[:20]!r} is neither one key nor an event 10-15")
    raise InfoDtmfError(f"DTMF signal {text[:20]!r} is not a key (0-9 * # A-D)")


def _duration(value: str | None) -> int:
    if value is None:
        return DEFAULT_DURATION_MS
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise InfoDtmfError(f"dtmf-relay Duration {text[:20]!r} is not a whole number of ms")
    return max(MIN_DURATION_MS, min(MAX_DURATION_MS, int(text)))
