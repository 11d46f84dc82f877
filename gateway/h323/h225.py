"""H.225.0 User-user information (H323-UserInformation), PER-coded by pycrate.

pycrate's compiled H.225.0 module does the ASN.1 aligned PER; this module only says
which fields the MCU reads from a peer's messages and fills in its own. Decoding never
raises anything but ``H225Error``. pycrate's objects are module-wide and stateful, so
everything here runs on the one event loop (never from worker threads).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pycrate_asn1dir import H225

PROTOCOL_IDENTIFIER = (0, 0, 8, 2250, 0, 4)  # H.225.0 version 4
_USER_INFORMATION = H225.H323_MESSAGES.H323_UserInformation
_VENDOR = {
    "vendor": {"t35CountryCode": 0xB5, "t35Extension": 0, "manufacturerCode": 0x6D63},
    "productId": b"Python MCU",
    "versionId": b"1",
}
MCU_ENDPOINT: dict[str, Any] = {"vendor": _VENDOR, "mcu": {}, "mc": True,
                                "undefinedNode": False}


class H225Error(ValueError):
    """User-user information that does not decode (or is not H.225.0's)."""


Address = tuple[str, int]


@dataclass(slots=True)
class Pdu:
    """What the MCU uses of one H323-UU-PDU."""

    body: str  # "setup", "connect", "facility", "empty", ...
    fields: dict[str, Any]  # the body's decoded fields (pycrate values)
    tunnelling: bool = False
    h245: list[bytes] = field(default_factory=list)  # tunnelled H.245 messages

    @property
    def fast_start(self) -> list[bytes]:
        return list(self.fields.get("fastStart", []))

    @property
    def call_identifier(self) -> bytes | None:
        value = self.fields.get("callIdentifier")
        return value.get("guid") if isinstance(value, dict) else None

    @property
    def h245_address(self) -> Address | None:
        return transport_address(self.fields.get("h245Address"))

    @property
    def destination_aliases(self) -> list[str]:
        return [alias for alias in map(_alias_text, self.fields.get("destinationAddress", []))
                if alias]

    @property
    def source_aliases(self) -> list[str]:
        return [alias for alias in map(_alias_text, self.fields.get("sourceAddress", []))
                if alias]


def _alias_text(alias: Any) -> str:
    """dialledDigits and h323-ID as text; url/email/transport aliases as written."""
    try:
        kind, value = alias
    except (TypeError, ValueError):
        return ""
    if kind in ("dialledDigits", "h323-ID", "url-ID", "email-ID"):
        return str(value)
    return ""


def transport_address(value: Any) -> Address | None:
    """An H.225 TransportAddress (ipAddress only) as (host, port)."""
    try:
        kind, inner = value
        if kind != "ipAddress":
            return None
        return str(ipaddress.IPv4Address(inner["ip"])), int(inner["port"])
    except (TypeError, ValueError, KeyError):
        return None


def ip_address(address: Address) -> tuple[str, dict[str, Any]]:
    return ("ipAddress", {"ip": ipaddress.IPv4Address(address[0]).packed,
                          "port": address[1]})


def decode(per: bytes) -> Pdu:
    try:
        _USER_INFORMATION.from_aper(per)
        value = _USER_INFORMATION.get_val()
        pdu = value["h323-uu-pdu"]
        body, fields = pdu["h323-message-body"]
    except Exception as error:  # noqa: BLE001 - pycrate raises many kinds on bad PER
        raise H225Error(f"H.225.0 user information does not decode: {error}") from None
    return Pdu(body, fields if isinstance(fields, dict) else {},
               bool(pdu.get("h245Tunnelling", False)), list(pdu.get("h245Control", [])))


def encode(body: str, fields: dict[str, Any] | None, *, tunnelling: bool,
           h245: Sequence[bytes] = ()) -> bytes:
    pdu: dict[str, Any] = {"h323-message-body": (body, fields if fields is not None else 0),
                           "h245Tunnelling": tunnelling}
    if h245:
        pdu["h245Control"] = list(h245)
    _USER_INFORMATION.set_val({"h323-uu-pdu": pdu})
    return _USER_INFORMATION.to_aper()


# -- the bodies the MCU sends ---------------------------------------------------------


def call_proceeding(call_id: bytes) -> dict[str, Any]:
    return {"protocolIdentifier": PROTOCOL_IDENTIFIER, "destinationInfo": MCU_ENDPOINT,
            "callIdentifier": {"guid": call_id}, "multipleCalls": False,
            "maintainConnection": False}


def connect(call_id: bytes, conference_id: bytes, *, fast_start: Sequence[bytes] = (),
            h245_address: Address | None = None) -> dict[str, Any]:
    fields = {"protocolIdentifier": PROTOCOL_IDENTIFIER, "destinationInfo": MCU_ENDPOINT,
              "conferenceID": conference_id, "callIdentifier": {"guid": call_id},
              "multipleCalls": False, "maintainConnection": False}
    if fast_start:
        fields["fastStart"] = list(fast_start)
    if h245_address is not None:
        fields["h245Address"] = ip_address(h245_address)
    return fields


def setup(call_id: bytes, conference_id: bytes, *, destination: str, source_name: str,
          source_number: str, signal_address: Address, fast_start: Sequence[bytes]
          ) -> dict[str, Any]:
    destination_alias = (("dialledDigits", destination)
                         if destination and all(c in "0123456789*#," for c in destination)
                         else ("h323-ID", destination))
    fields: dict[str, Any] = {
        "protocolIdentifier": PROTOCOL_IDENTIFIER,
        "sourceAddress": [("h323-ID", source_name)] + (
            [("dialledDigits", source_number)] if source_number else []),
        "sourceInfo": MCU_ENDPOINT,
        "destCallSignalAddress": ip_address(signal_address),
        "activeMC": False, "conferenceID": conference_id,
        "conferenceGoal": ("create", 0), "callType": ("pointToPoint", 0),
        "callIdentifier": {"guid": call_id}, "mediaWaitForConnect": False,
        "canOverlapSend": False, "multipleCalls": False, "maintainConnection": False,
    }
    if destination:
        fields["destinationAddress"] = [destination_alias]
    if fast_start:
        fields["fastStart"] = list(fast_start)
    return fields


def release_complete(call_id: bytes | None) -> dict[str, Any]:
    """Without the optional ``reason``: the Q.931 Cause element says why. (pycrate
    0.7/0.8 mis-aligns the extension bitmap after a root ReleaseCompleteReason, which
    every decoder, its own and tshark's, then reads as malformed.)"""
    fields: dict[str, Any] = {"protocolIdentifier": PROTOCOL_IDENTIFIER}
    if call_id is not None:
        fields["callIdentifier"] = {"guid": call_id}
    return fields


def facility(call_id: bytes) -> dict[str, Any]:
    return {"protocolIdentifier": PROTOCOL_IDENTIFIER, "reason": ("undefinedReason", 0),
            "callIdentifier": {"guid": call_id}, "multipleCalls": False,
            "maintainConnection": False}
