"""Media value types shared by every gateway and the mixer.

Kept free of codec state: encoders and decoders live in ``mcu/mixer`` (one place
for codec state); gateways only move encoded payloads.
"""

from __future__ import annotations

from dataclasses import dataclass

FRAME_MS = 20
"""Every audio frame crossing a Leg is 20 ms long."""

INTERNAL_RATE = 48000
"""The mixer's internal PCM rate (mono, int16): Opus's native rate, a multiple of 8k/16k."""


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """One negotiated audio codec, as SDP names it."""

    name: str  # "PCMU", "PCMA", "G722", "opus"
    payload_type: int
    clock_rate: int  # RTP timestamp rate (G722 says 8000 by RFC 3551 although it samples 16k)
    channels: int = 1

    @property
    def sample_rate(self) -> int:
        """The PCM rate the codec really carries."""
        return 16000 if self.name.upper() == "G722" else self.clock_rate

    @property
    def rtp_ticks_per_frame(self) -> int:
        return self.clock_rate * FRAME_MS // 1000

    @property
    def key(self) -> tuple[str, int]:
        """What makes two legs able to share one encoded mix."""
        return (self.name.upper(), self.sample_rate)


@dataclass(frozen=True, slots=True)
class EncodedAudio:
    """One 20 ms frame of encoded audio (no RTP header)."""

    payload: bytes
