"""The Leg: the one interface every protocol presents to a conference.

A gateway (SIP now; RTSP, WebRTC, H.323 later) turns each remote party into a Leg.
``mcu/`` talks only to this interface, so a new protocol changes nothing there.

Audio crosses the Leg *encoded*: ``read_audio`` yields the next 20 ms payload out of
the leg's jitter buffer (``None`` when nothing is due: loss, hold or silence) and
``write_audio`` takes a payload the mixer encoded once for every leg that shares the
codec; the leg adds its own SSRC, sequence number and timestamp. Decoding, concealment
and encoding are the mixer's, which owns all codec state.

Video crosses it encoded too, a whole picture at a time: ``read_video`` gives the
pictures the peer completed since the last call (the leg depacketizes and drops what
loss broke, setting ``video_needs_keyframe``), ``write_video`` takes one picture the
mixer encoded to ``video_format`` (shared by every leg that sees the same view with
the same format) and packetizes it for this peer. Key frames: the peer's requests
arrive as ``KeyFrameRequest`` events; ``request_keyframe`` asks the peer by one of
its ``keyframe_methods``. A leg without video has ``video_format`` None.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gateway.media import AudioFormat, EncodedAudio, EncodedVideo, VideoSendFormat


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str  # "0"-"9", "*", "#", "A"-"D"
    duration_ms: int
    source: str  # "rfc4733", "info", "inband"


@dataclass(frozen=True, slots=True)
class KeyFrameRequest:
    source: str  # "pli", "fir", "info"


@dataclass(frozen=True, slots=True)
class KeyFrameMethodRefused:
    """The peer rejected one way of asking it for key frames (an INFO answered 415)."""

    method: str  # "info"


@dataclass(frozen=True, slots=True)
class HoldChanged:
    on_hold: bool


@dataclass(frozen=True, slots=True)
class InfoReceived:
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str  # "bye", "rtp-timeout", "shutdown", ...
    by_remote: bool


LegEvent = Dtmf | KeyFrameRequest | KeyFrameMethodRefused | HoldChanged | InfoReceived | Hangup


@runtime_checkable
class Leg(Protocol):
    id: str  # opaque and unique across gateways (the gateway chooses it)
    protocol: str  # the gateway's name: "sip", "rtsp", "h323", ...
    display_name: str
    remote: str  # "ip:port" of the signalling peer
    audio_format: AudioFormat | None

    def read_audio(self) -> EncodedAudio | None: ...

    def write_audio(self, frame: EncodedAudio) -> None: ...

    @property
    def video_format(self) -> VideoSendFormat | None: ...

    @property
    def video_receiving(self) -> bool: ...

    @property
    def video_sending(self) -> bool: ...

    @property
    def video_needs_keyframe(self) -> bool: ...

    @property
    def keyframe_methods(self) -> tuple[str, ...]: ...

    def read_video(self) -> list[EncodedVideo]: ...

    def write_video(self, frame: EncodedVideo) -> None: ...

    def request_keyframe(self, method: str, repeat: bool = False) -> bool: ...

    def events(self) -> AsyncIterator[LegEvent]: ...

    async def hang_up(self, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Refuse:
    """A call the MCU will not take, as a protocol-neutral final answer (SIP status codes)."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


class Seat(Protocol):
    """What the MCU hands a gateway for a call it accepts: where the Leg goes once up."""

    def join(self, leg: Leg) -> None: ...

    def abandon(self) -> None:
        """The call never came up (cancelled, failed negotiation): give the seat back."""


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What the MCU is told about an incoming call before it decides."""

    user: str  # the dialled number (SIP request-URI user, H.323 alias, ...); "" if none
    display_name: str
    from_uri: str
    remote: str  # "ip:port" of the signalling peer
    protocol: str = "sip"


Admit = Callable[[CallInfo], "Refuse | Seat"]
"""A gateway's question to the MCU for each incoming call."""
