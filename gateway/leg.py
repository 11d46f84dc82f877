"""The Leg: the one interface every protocol presents to a conference.

A gateway (SIP now; RTSP, WebRTC, H.323 later) turns each remote party into a Leg.
``mcu/`` talks only to this interface, so a new protocol changes nothing there. Most
gateways get their Leg from ``gateway/rtp/media.RtpLeg`` (RTP media, whatever
signalled it) and add only the signalling half (hang-up, key-frame requests their
signalling carries).

A leg may carry audio, video or both: a camera is video only (``audio_format`` None,
never heard), an audio phone has ``video_format`` None.

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
its ``keyframe_methods``: names that are the leg's own, in the order to try (the
mixer asks "the next method" and never interprets them).

Keys: ``Dtmf`` events on the event stream, whatever carried them; ``dtmf_events``
False means the peer sends none, so the mixer listens for in-band tones.

Sizes: a leg that is also a ``VideoSizeLeg`` can ask its peer to send smaller (or
larger) pictures, the size the conference shows them at; how is the leg's.

Text: what the peer typed arrives as ``TextReceived`` (SIP MESSAGE, RFC 3428); a leg
whose signalling carries text back is also a ``TextLeg`` (``send_text``), which the
conference uses for its chat. Neither knows what a chat is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from gateway.media import AudioFormat, EncodedAudio, EncodedVideo, VideoSendFormat


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str  # "0"-"9", "*", "#", "A"-"D"
    duration_ms: int
    source: str  # "rfc4733", "info", "inband"


@dataclass(frozen=True, slots=True)
class KeyFrameRequest:
    source: str  # how the peer asked, for logs: "pli", "fir", "info", ...


@dataclass(frozen=True, slots=True)
class KeyFrameMethodRefused:
    """The peer rejected one way of asking it for key frames (a SIP INFO answered 415):
    the mixer never asks it that way again."""

    method: str  # one of the leg's keyframe_methods


@dataclass(frozen=True, slots=True)
class HoldChanged:
    on_hold: bool


@dataclass(frozen=True, slots=True)
class InfoReceived:
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class TextReceived:
    """Text the peer sent (SIP MESSAGE), already checked and decoded by the gateway."""

    text: str


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str  # "bye", "rtp-timeout", "shutdown", ...
    by_remote: bool


LegEvent = (
    Dtmf | KeyFrameRequest | KeyFrameMethodRefused | HoldChanged | InfoReceived | TextReceived
    | Hangup
)


@runtime_checkable
class Leg(Protocol):
    id: str  # opaque and unique across gateways (the gateway chooses it)
    protocol: str  # the gateway's name: "sip", "rtsp", "h323", ...
    display_name: str
    remote: str  # "ip:port" of the signalling peer
    audio_format: AudioFormat | None  # None: the leg carries no audio (a camera)

    @property
    def encrypted(self) -> bool:
        """Signalling and every media stream encrypted (SIP over TLS with SRTP)."""

    @property
    def audio_sending(self) -> bool:
        """Whether audio we send reaches the peer (False: a camera, or on hold)."""

    @property
    def dtmf_events(self) -> bool:
        """Whether keys arrive as ``Dtmf`` events (else the mixer detects tones)."""

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

    def statistics(self) -> dict[str, object]:
        """Its media streams for the operator: codecs, packets, loss, jitter and key
        frames, both directions (JSON-ready)."""

    def events(self) -> AsyncIterator[LegEvent]:
        """Everything the peer does besides media (keys, hold, key-frame requests,
        hang-up), in order; ends after ``Hangup``."""

    async def hang_up(self, reason: str) -> None: ...


@runtime_checkable
class TextLeg(Protocol):
    """A leg whose signalling can carry text to the peer (SIP MESSAGE)."""

    def send_text(self, text: str) -> bool:
        """Send `text`; False when this call cannot carry it now."""


@runtime_checkable
class VideoSizeLeg(Protocol):
    """A leg whose peer can be asked to send pictures of another size (issue 14: a
    camera shown in a small tile need not send 720p)."""

    def request_video_size(self, width: int, height: int, frame_rate: float) -> bool:
        """Ask the peer to send at most ``width`` x ``height`` at ``frame_rate`` from
        now on (it may send less; the picture changes size at its next key frame).
        False: this leg cannot ask (its peer agreed to no way of asking)."""


class RefuseCause(StrEnum):
    """Why a call is not taken, in no protocol's words: each gateway maps a cause to
    its own answer (SIP 404/486/503/480/488/400, a Q.931 cause, an RTSP status)."""

    NOT_FOUND = "not_found"  # no conference (or nothing) answers to what was dialled
    BUSY = "busy"  # the conference is full
    FULL = "full"  # the MCU is full (seats or media ports): try again later
    CLOSED_NOW = "closed_now"  # exists, but takes no calls at this time (schedule)
    NEEDS_ENCRYPTION = "needs_encryption"  # only encrypted calls are admitted
    NO_COMMON_MEDIA = "no_common_media"  # nothing negotiable in common
    BAD_REQUEST = "bad_request"  # the request itself is malformed


@dataclass(frozen=True, slots=True)
class Refuse:
    """A call the MCU will not take: a protocol-neutral final answer.

    ``reason`` is for people (logs, the caller's display where the protocol carries
    text); ``retry_after`` (seconds) says when trying again may work."""

    cause: RefuseCause
    reason: str
    retry_after: int | None = None


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
    encrypted: bool = False  # signalling and every media stream offered are encrypted
    headers: tuple[tuple[str, str], ...] = ()  # the request's own headers, where it has them


Admit = Callable[[CallInfo], "Refuse | Seat"]
"""A gateway's question to the MCU for each incoming call."""
