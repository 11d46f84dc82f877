"""Publishers: protocols that serve a conference out to watchers (issue 15).

A publisher (RTSP today) is the opposite of a gateway: nobody it serves joins the
conference, and nothing it receives goes in. The MCU lends it a ``StreamSource``: who
may watch which path (the MCU's accounts and rights: the protocol only carries the
credentials), what the stream is, and a feed of its encoded media -- the watcher view's
H.264 access units and AAC access units, encoded once by the MCU whatever the number of
viewers. A publisher packetizes and delivers them; like a gateway it is a plug-in the
MCU knows only through this module (one registration line in ``mcu/gateways.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.media import EncodedVideo
from gateway.rtp.ports import PortAllocator


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a viewer presented: Basic (``password``) or Digest (``params``, checked by
    the source against the account's stored digest, with ``method``)."""

    scheme: str  # "basic" | "digest"
    username: str
    password: str | None = field(default=None, repr=False)
    params: dict[str, str] = field(default_factory=dict, repr=False)
    method: str = ""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a path carries: the conference's name, its picture (None: audio only) and
    its AAC audio (sample rate, channels, the AudioSpecificConfig for the SDP)."""

    name: str
    width: int | None
    height: int | None
    frame_rate: float | None
    audio_rate: int
    audio_channels: int
    audio_config: bytes


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a viewer may not watch: 401 (no or wrong credentials: challenge again), 403
    (not allowed), 404 (no such stream now)."""

    status: int
    reason: str


class StreamSubscriber(Protocol):
    """Called on the event loop with the stream's media, in order."""

    def video(self, frame: EncodedVideo, at: float) -> None:
        """An H.264 access unit (Annex B) that left the mix clock at ``at``."""

    def audio(self, access_unit: bytes, sample: int) -> None:
        """A raw AAC access unit whose first sample is number ``sample`` of the stream."""

    def ended(self, reason: str) -> None:
        """The stream ended (the conference ended, the MCU stops): no more media."""


class StreamSource(Protocol):
    """What the MCU lends a publisher."""

    digest_realm: str  # the realm the accounts' digests were made for

    async def open(self, path: str, credentials: Credentials | None,
                   address: str) -> StreamInfo | Refusal:
        """May these credentials, from ``address``, watch ``path`` (a conference's
        numeric ID)? Asked for every request that needs it; refusals are logged once."""

    def subscribe(self, path: str, subscriber: StreamSubscriber) -> Callable[[], None] | None:
        """Start feeding ``subscriber`` (the stream starts if need be; a key frame is
        asked for); returns what stops it, or None when the stream cannot run now."""

    def keyframe(self, path: str) -> None:
        """Ask for a key frame soon (a viewer joined a running stream)."""


@dataclass(frozen=True, slots=True)
class PublishContext:
    """What the MCU lends every publisher it builds."""

    source: StreamSource
    ports: PortAllocator  # UDP delivery takes a pair from the one RTP range, while used


class Publisher(Protocol):
    name: str  # "rtsp": the label of its metrics and log lines

    async def start(self) -> None:
        """Listen; raises OSError naming the port when it cannot."""

    async def stop(self) -> None:
        """Drop every viewer and close every socket."""

    def statistics(self) -> dict[str, int]:
        """Viewers now, and counts of what was refused or dropped."""
