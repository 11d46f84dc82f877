"""Q.931 messages as H.225.0 uses them (ITU-T Q.931 section 4, H.225.0 section 7).

Written here because no maintained Python library encodes Q.931 (pycrate has the
H.225.0 ASN.1 that rides inside the User-user element, not the Q.931 frame around it).
Only what H.225.0 needs: protocol discriminator 8, a two-byte call reference with its
flag, the message type, and information elements kept as raw bytes by identifier
(single-octet ones skipped). ``decode`` raises ``Q931Error`` for anything malformed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

PROTOCOL_DISCRIMINATOR = 0x08
USER_USER_PROTOCOL = 0x05  # X.208/X.209 coded user information (H.225.0 7.2.2.1)


class MessageType(IntEnum):
    ALERTING = 0x01
    CALL_PROCEEDING = 0x02
    PROGRESS = 0x03
    SETUP = 0x05
    CONNECT = 0x07
    SETUP_ACKNOWLEDGE = 0x0D
    RELEASE_COMPLETE = 0x5A
    FACILITY = 0x62
    NOTIFY = 0x6E
    STATUS_ENQUIRY = 0x75
    INFORMATION = 0x7B
    STATUS = 0x7D


class IE(IntEnum):
    BEARER_CAPABILITY = 0x04
    CAUSE = 0x08
    CALL_STATE = 0x14
    DISPLAY = 0x28
    KEYPAD = 0x2C
    SIGNAL = 0x34
    CALLING_PARTY_NUMBER = 0x6C
    CALLED_PARTY_NUMBER = 0x70
    USER_USER = 0x7E


class Cause(IntEnum):
    """The Q.931 causes the MCU gives (Q.850)."""

    UNALLOCATED_NUMBER = 1
    NORMAL_CLEARING = 16
    USER_BUSY = 17
    NO_USER_RESPONDING = 18
    CALL_REJECTED = 21
    INVALID_NUMBER_FORMAT = 28
    RESPONSE_TO_STATUS_ENQUIRY = 30
    NO_CIRCUIT_AVAILABLE = 34
    TEMPORARY_FAILURE = 41
    SWITCHING_EQUIPMENT_CONGESTION = 42
    RESOURCE_UNAVAILABLE = 47
    BEARER_CAPABILITY_NOT_AUTHORIZED = 57
    BEARER_CAPABILITY_NOT_IMPLEMENTED = 65
    INCOMPATIBLE_DESTINATION = 88
    INVALID_MESSAGE = 95
    MANDATORY_IE_MISSING = 96
    MESSAGE_TYPE_NONEXISTENT = 97
    MESSAGE_NOT_COMPATIBLE_WITH_STATE = 101
    RECOVERY_ON_TIMER_EXPIRY = 102
    PROTOCOL_ERROR = 111


class CallState(IntEnum):
    NULL = 0
    CALL_INITIATED = 1
    OUTGOING_CALL_PROCEEDING = 3
    CALL_DELIVERED = 4
    CALL_RECEIVED = 7
    CONNECT_REQUEST = 8
    INCOMING_CALL_PROCEEDING = 9
    ACTIVE = 10


class Q931Error(ValueError):
    """Bytes that are not a Q.931 message H.225.0 could carry."""


@dataclass(slots=True)
class Message:
    type: int  # a MessageType, or what the peer sent
    call_reference: int  # 15 bits
    from_destination: bool  # the call reference flag: sent by the side that did not pick it
    ies: dict[int, bytes] = field(default_factory=dict)

    # -- the elements H.225.0 uses -----------------------------------------------------

    @property
    def user_user(self) -> bytes | None:
        """The H.323-UserInformation PER bytes (after the protocol discriminator)."""
        body = self.ies.get(IE.USER_USER)
        if body is None or len(body) < 2:
            return None
        return body[1:]

    @property
    def called_number(self) -> str:
        return _number(self.ies.get(IE.CALLED_PARTY_NUMBER))

    @property
    def calling_number(self) -> str:
        return _number(self.ies.get(IE.CALLING_PARTY_NUMBER))

    @property
    def display(self) -> str:
        raw = self.ies.get(IE.DISPLAY, b"")
        return raw.split(b"\0", 1)[0].decode("latin-1").strip()

    @property
    def cause(self) -> int | None:
        raw = self.ies.get(IE.CAUSE)
        if raw is None or len(raw) < 2:
            return None
        pos = 1 if raw[0] & 0x80 else 2  # octet 3a (recommendation) is there without ext
        return raw[pos] & 0x7F if pos < len(raw) else None


def _number(raw: bytes | None) -> str:
    """The digits of a party number IE (octet 3, and 3a when its extension bit is 0)."""
    if not raw:
        return ""
    pos = 1 if raw[0] & 0x80 else 2
    return raw[pos:].decode("ascii", "replace")


def decode(data: bytes) -> Message:
    if len(data) < 3:
        raise Q931Error("shorter than a Q.931 header")
    if data[0] != PROTOCOL_DISCRIMINATOR:
        raise Q931Error(f"protocol discriminator {data[0]}, not Q.931's 8")
    ref_len = data[1] & 0x0F
    if ref_len != 2:
        raise Q931Error(f"call reference of {ref_len} bytes (H.225.0 uses 2)")
    if len(data) < 5:
        raise Q931Error("truncated header")
    flag = bool(data[2] & 0x80)
    ref = ((data[2] & 0x7F) << 8) | data[3]
    message = Message(data[4], ref, flag)
    pos = 5
    while pos < len(data):
        ident = data[pos]
        if ident & 0x80:  # single-octet element (shift, sending complete...): skipped
            pos += 1
            continue
        if ident == IE.USER_USER:
            if pos + 3 > len(data):
                raise Q931Error("truncated User-user element")
            size = (data[pos + 1] << 8) | data[pos + 2]
            start = pos + 3
        else:
            if pos + 2 > len(data):
                raise Q931Error(f"truncated element 0x{ident:02x}")
            size = data[pos + 1]
            start = pos + 2
        end = start + size
        if end > len(data):
            raise Q931Error(f"element 0x{ident:02x} runs past the message")
        message.ies.setdefault(ident, bytes(data[start:end]))
        pos = end
    return message


def encode(message: Message) -> bytes:
    ref = message.call_reference & 0x7FFF
    out = bytearray((PROTOCOL_DISCRIMINATOR, 2, (ref >> 8) | (0x80 if message.from_destination
                                                            else 0), ref & 0xFF,
                     message.type))
    for ident in sorted(message.ies):  # Q.931 4.5.1: ascending order of identifiers
        body = message.ies[ident]
        if ident == IE.USER_USER:
            out += bytes((ident,)) + len(body).to_bytes(2, "big") + body
        else:
            if len(body) > 255:
                raise ValueError(f"element 0x{ident:02x} longer than 255 bytes")
            out += bytes((ident, len(body))) + body
    return bytes(out)


# -- element builders ------------------------------------------------------------------


def cause_ie(cause: int) -> bytes:
    """Coding standard ITU-T, location: private network serving the local user."""
    return bytes((0x81, 0x80 | (int(cause) & 0x7F)))


def call_state_ie(state: int) -> bytes:
    return bytes((int(state) & 0x3F,))


def display_ie(text: str) -> bytes:
    return text.encode("latin-1", "replace")[:80] + b"\0"


def number_ie(digits: str) -> bytes:
    """Type unknown, ISDN/telephony numbering plan, then the IA5 digits."""
    return b"\x81" + digits.encode("ascii", "replace")[:32]


BEARER_CAPABILITY = bytes((0x88, 0x90, 0xA5))
"""Unrestricted digital information, 64 kbit/s circuit mode, H.221/H.242 (H.225.0 table 6)."""


def user_user_ie(per: bytes) -> bytes:
    return bytes((USER_USER_PROTOCOL,)) + per
