"""H.245 messages the MCU reads and writes, PER-coded by pycrate.

pycrate's compiled H.245 module does the ASN.1; this module maps what the MCU cares
about (capabilities, logical channels, keys, key-frame requests) to plain values and
back. ``decode`` raises nothing but ``H245Error``. Runs on the event loop only
(pycrate's objects are module-wide and stateful).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pycrate_asn1dir import H245

from gateway.h323 import video
from gateway.sdp.video import VideoFormat

PROTOCOL_IDENTIFIER = (0, 0, 8, 245, 0, 13)
MCU_TERMINAL_TYPE = 190  # H.323 table 1: an MCU with MC and audio/video MP
_MESSAGE = H245.MULTIMEDIA_SYSTEM_CONTROL.MultimediaSystemControlMessage
_OLC = H245.MULTIMEDIA_SYSTEM_CONTROL.OpenLogicalChannel

# H.245 audio capability -> (SDP encoding name, static RTP payload type)
AUDIO_CODECS = {"g711Ulaw64k": ("PCMU", 0), "g711Alaw64k": ("PCMA", 8), "g722-64k": ("G722", 9)}
AUDIO_CAPABILITIES = {name: cap for cap, (name, _) in AUDIO_CODECS.items()}
AUDIO_PAYLOAD_TYPES = {name: pt for name, pt in AUDIO_CODECS.values()}
FRAMES_PER_PACKET = 20  # G.711/G.722 "frames" are milliseconds here: 20 ms packets

Address = tuple[str, int]


class H245Error(ValueError):
    """Bytes that are not an H.245 MultimediaSystemControlMessage."""


@dataclass(frozen=True, slots=True)
class Message:
    category: str  # request, response, command, indication
    name: str  # e.g. terminalCapabilitySet
    value: Any  # pycrate's value of that alternative


def decode(per: bytes) -> Message:
    try:
        _MESSAGE.from_aper(per)
        category, (name, value) = _MESSAGE.get_val()
    except Exception as error:  # noqa: BLE001 - pycrate raises many kinds on bad PER
        raise H245Error(f"H.245 message does not decode: {error}") from None
    return Message(category, name, value)


def encode(category: str, name: str, value: Any) -> bytes:
    _MESSAGE.set_val((category, (name, value)))
    return _MESSAGE.to_aper()


# -- addresses ----------------------------------------------------------------------------


def unicast(address: Address) -> tuple[str, Any]:
    return ("unicastAddress", ("iPAddress", {
        "network": ipaddress.IPv4Address(address[0]).packed, "tsapIdentifier": address[1]}))


def from_unicast(value: Any) -> Address | None:
    try:
        kind, inner = value
        if kind != "unicastAddress":
            return None
        ip_kind, ip = inner
        if ip_kind != "iPAddress":
            return None
        return str(ipaddress.IPv4Address(ip["network"])), int(ip["tsapIdentifier"])
    except (TypeError, ValueError, KeyError):
        return None


# -- capabilities ---------------------------------------------------------------------------


def audio_codecs_of(tcs: Any) -> list[str]:
    """The audio codecs (SDP names) a TerminalCapabilitySet says the peer receives."""
    out: list[str] = []
    for entry in tcs.get("capabilityTable", []) if isinstance(tcs, dict) else []:
        capability = entry.get("capability")
        if not capability:
            continue
        kind, value = capability
        if kind in ("receiveAudioCapability", "receiveAndTransmitAudioCapability"):
            codec = AUDIO_CODECS.get(value[0] if isinstance(value, tuple) else "")
            if codec and codec[0] not in out:
                out.append(codec[0])
    return out


def _no_multipoint() -> dict[str, Any]:
    return {"multicastCapability": False, "multiUniCastConference": False,
            "mediaDistributionCapability": [dict.fromkeys(
                ("centralizedControl", "distributedControl", "centralizedAudio",
                 "distributedAudio", "centralizedVideo", "distributedVideo"), False)]}


def terminal_capability_set(sequence: int, audio: Sequence[str],
                            video: Sequence[Any] = ()) -> bytes:
    """Our capabilities: the audio codecs (SDP names) and video capabilities
    (``gateway.h323.video.capabilities``) we take, and keys as user input."""
    table: list[dict[str, Any]] = []

    def add(capability: Any) -> int:
        table.append({"capabilityTableEntryNumber": len(table) + 1, "capability": capability})
        return len(table)

    audio_entries = [add(("receiveAudioCapability",
                          (AUDIO_CAPABILITIES[name], FRAMES_PER_PACKET))) for name in audio]
    video_entries = [add(("receiveVideoCapability", capability)) for capability in video]
    keys = [[add(("receiveUserInputCapability", (kind, 0)))] for kind in ("basicString",
                                                                          "dtmf")]
    alternatives = [audio_entries, video_entries, *keys]
    return encode("request", "terminalCapabilitySet", {
        "sequenceNumber": sequence & 0xFF,
        "protocolIdentifier": PROTOCOL_IDENTIFIER,
        "multiplexCapability": ("h2250Capability", {
            "maximumAudioDelayJitter": 60,
            "receiveMultipointCapability": _no_multipoint(),
            "transmitMultipointCapability": _no_multipoint(),
            "receiveAndTransmitMultipointCapability": _no_multipoint(),
            "mcCapability": {"centralizedConferenceMC": False,
                             "decentralizedConferenceMC": False},
            "rtcpVideoControlCapability": False,
            "mediaPacketizationCapability": {"h261aVideoPacketization": False},
        }),
        "capabilityTable": table,
        "capabilityDescriptors": [{"capabilityDescriptorNumber": 0,
                                   "simultaneousCapabilities": [
                                       a for a in alternatives if a]}],
    })


def terminal_capability_set_ack(sequence: int) -> bytes:
    return encode("response", "terminalCapabilitySetAck", {"sequenceNumber": sequence})


# -- master/slave determination --------------------------------------------------------------


def master_slave_determination(number: int) -> bytes:
    return encode("request", "masterSlaveDetermination", {
        "terminalType": MCU_TERMINAL_TYPE, "statusDeterminationNumber": number & 0xFFFFFF})


def we_are_master(ours: tuple[int, int], theirs: tuple[int, int]) -> bool | None:
    """H.245 C.2: the larger terminal type is master; else the status determination
    numbers decide (modulo 2**24); None when indeterminate (equal)."""
    if ours[0] != theirs[0]:
        return ours[0] > theirs[0]
    difference = (theirs[1] - ours[1]) % (1 << 24)
    if difference in (0, 1 << 23):
        return None
    return difference < (1 << 23)


def master_slave_ack(peer_is_master: bool) -> bytes:
    """The Ack says what the peer it goes to is."""
    return encode("response", "masterSlaveDeterminationAck",
                  {"decision": ("master" if peer_is_master else "slave", 0)})


# -- logical channels -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Channel:
    """One proposed or opened logical channel, from the proposer's point of view."""

    number: int
    forward: bool  # True: the proposer sends on it; False (fast start reverse): it receives
    kind: str  # "audio", "video", "other"
    codec: str | None  # SDP name when we know it
    session_id: int
    media: Address | None  # where RTP goes (the receiver's)
    media_control: Address | None  # the sender's or receiver's RTCP
    raw: Any  # the decoded OpenLogicalChannel
    payload_type: int | None = None  # dynamicRTPPayloadType, when stated
    data_type: Any = None


def _data_type(value: Any) -> tuple[str, str | None]:
    try:
        kind, inner = value
    except (TypeError, ValueError):
        return "other", None
    if kind == "audioData":
        name = inner[0] if isinstance(inner, tuple) else ""
        codec = AUDIO_CODECS.get(name)
        return "audio", codec[0] if codec else None
    if kind == "videoData":
        fmt = video.format_of(inner)
        return "video", fmt.name if fmt is not None else None
    return ("null" if kind == "nullData" else "other"), None


def video_formats_of(tcs: Any) -> list[VideoFormat]:
    """The video formats a TerminalCapabilitySet says the peer receives."""
    out: list[VideoFormat] = []
    for entry in tcs.get("capabilityTable", []) if isinstance(tcs, dict) else []:
        capability = entry.get("capability")
        if capability and capability[0] in ("receiveVideoCapability",
                                            "receiveAndTransmitVideoCapability"):
            fmt = video.format_of(capability[1])
            if fmt is not None and all(f.name != fmt.name for f in out):
                out.append(fmt)
    return out


def channel_of(olc: Any) -> Channel | None:
    """An OpenLogicalChannel as a ``Channel``; None when it uses nothing but H.225.0
    multiplexing we understand (or is bidirectional, which the MCU never opens)."""
    try:
        number = int(olc["forwardLogicalChannelNumber"])
        forward_params = olc["forwardLogicalChannelParameters"]
        reverse_params = olc.get("reverseLogicalChannelParameters")
        kind, codec = _data_type(forward_params["dataType"])
        if kind == "null":
            if reverse_params is None:
                return None
            params, forward = reverse_params, False
            kind, codec = _data_type(params["dataType"])
        elif reverse_params is not None:
            return None
        else:
            params, forward = forward_params, True
        mux_kind, mux = params["multiplexParameters"]
        if mux_kind != "h2250LogicalChannelParameters":
            return None
        return Channel(number, forward, kind, codec, int(mux.get("sessionID", 0)),
                       from_unicast(mux.get("mediaChannel")),
                       from_unicast(mux.get("mediaControlChannel")), olc,
                       mux.get("dynamicRTPPayloadType"), params["dataType"])
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def decode_olc(per: bytes) -> Any:
    try:
        _OLC.from_aper(per)
        return _OLC.get_val()
    except Exception as error:  # noqa: BLE001
        raise H245Error(f"OpenLogicalChannel does not decode: {error}") from None


def encode_olc(olc: Any) -> bytes:
    _OLC.set_val(olc)
    return _OLC.to_aper()


def audio_data_type(codec: str) -> Any:
    return ("audioData", (AUDIO_CAPABILITIES[codec], FRAMES_PER_PACKET))


def channel_olc(number: int, data_type: Any, session_id: int, media_control: Address,
                media: Address | None = None, *, reverse: bool = False,
                payload_type: int | None = None) -> dict[str, Any]:
    """An OpenLogicalChannel of ``data_type``: forward (we send; ``media`` unset until
    the peer acks) or, for fast start, reverse (we receive at ``media``)."""
    mux: dict[str, Any] = {"sessionID": session_id,
                           "mediaControlChannel": unicast(media_control)}
    if media is not None:
        mux["mediaChannel"] = unicast(media)
    if payload_type is not None and payload_type >= 96:
        mux["dynamicRTPPayloadType"] = payload_type
    params = {"dataType": data_type,
              "multiplexParameters": ("h2250LogicalChannelParameters", mux)}
    if not reverse:
        return {"forwardLogicalChannelNumber": number,
                "forwardLogicalChannelParameters": params}
    return {"forwardLogicalChannelNumber": number,
            "forwardLogicalChannelParameters": {"dataType": ("nullData", 0),
                                                "multiplexParameters": ("none", 0)},
            "reverseLogicalChannelParameters": params}


def fast_start_answer(channel: Channel, *, number: int, media: Address,
                      media_control: Address) -> dict[str, Any]:
    """The proposal accepted, as the callee returns it (H.323 8.1.7.1): a channel the
    caller sends on gets our RTP and RTCP addresses; one it receives on gets our
    channel number and RTCP address (RTP goes to the caller's ``media``)."""
    olc = _copy(channel.raw)
    if channel.forward:
        mux = olc["forwardLogicalChannelParameters"]["multiplexParameters"][1]
        mux["mediaChannel"] = unicast(media)
        mux["mediaControlChannel"] = unicast(media_control)
    else:
        olc["forwardLogicalChannelNumber"] = number
        mux = olc["reverseLogicalChannelParameters"]["multiplexParameters"][1]
        mux.pop("mediaChannel", None)
        mux["mediaControlChannel"] = unicast(media_control)
    return olc


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_copy(item) for item in value)
    return value


def open_logical_channel(olc: dict[str, Any]) -> bytes:
    return encode("request", "openLogicalChannel", olc)


def open_logical_channel_ack(number: int, session_id: int, media: Address,
                             media_control: Address) -> bytes:
    return encode("response", "openLogicalChannelAck", {
        "forwardLogicalChannelNumber": number,
        "forwardMultiplexAckParameters": ("h2250LogicalChannelAckParameters", {
            "sessionID": session_id, "mediaChannel": unicast(media),
            "mediaControlChannel": unicast(media_control)})})


def ack_media(value: Any) -> tuple[Address | None, Address | None]:
    """The peer's RTP and RTCP addresses from an openLogicalChannelAck."""
    try:
        kind, params = value["forwardMultiplexAckParameters"]
        if kind != "h2250LogicalChannelAckParameters":
            return None, None
        return (from_unicast(params.get("mediaChannel")),
                from_unicast(params.get("mediaControlChannel")))
    except (TypeError, ValueError, KeyError):
        return None, None


def open_logical_channel_reject(number: int, cause: str = "dataTypeNotSupported") -> bytes:
    return encode("response", "openLogicalChannelReject",
                  {"forwardLogicalChannelNumber": number, "cause": (cause, 0)})


def close_logical_channel_ack(number: int) -> bytes:
    return encode("response", "closeLogicalChannelAck", {"forwardLogicalChannelNumber": number})


def request_channel_close_ack(number: int) -> bytes:
    return encode("response", "requestChannelCloseAck", {"forwardLogicalChannelNumber": number})


# -- the rest ----------------------------------------------------------------------------------


def round_trip_delay_response(sequence: int) -> bytes:
    return encode("response", "roundTripDelayResponse", {"sequenceNumber": sequence})


def end_session() -> bytes:
    return encode("command", "endSessionCommand", ("disconnect", 0))


def video_fast_update(channel: int) -> bytes:
    return encode("command", "miscellaneousCommand", {
        "logicalChannelNumber": channel, "type": ("videoFastUpdatePicture", 0)})


def flow_control(channel: int, bitrate_bps: int | None) -> bytes:
    """flowControlCommand on one logical channel: send at most ``bitrate_bps`` (in
    H.245's 100 bit/s units), or ``None``: no restriction."""
    restriction: tuple[str, int] = (
        ("noRestriction", 0) if bitrate_bps is None
        else ("maximumBitRate", max(0, min(MAX_BIT_RATE_UNITS, bitrate_bps // 100))))
    return encode("command", "flowControlCommand", {
        "scope": ("logicalChannelNumber", channel), "restriction": restriction})


MAX_BIT_RATE_UNITS = 16_777_215  # FlowControlCommand.restriction.maximumBitRate's range


def function_not_understood(message: Message) -> bytes:
    return encode("indication", "functionNotUnderstood", (message.category, (message.name,
                                                                           message.value)))


def user_input(digit: str) -> bytes:
    return encode("indication", "userInput", ("alphanumeric", digit))


KEYS = frozenset("0123456789*#ABCD")


def keys_of(value: Any) -> list[str]:
    """The keys a userInputIndication carries: alphanumeric text or a signal."""
    try:
        kind, inner = value
    except (TypeError, ValueError):
        return []
    if kind == "alphanumeric":
        text: Iterable[str] = str(inner)
    elif kind == "signal":
        text = str(inner.get("signalType", ""))
    else:
        return []
    return [key for key in (c.upper() for c in text) if key in KEYS]
