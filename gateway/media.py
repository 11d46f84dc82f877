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

    name: str  # "PCMU", "PCMA", "G722", "opus", "MPEG4-GENERIC" (AAC, from cameras)
    payload_type: int
    clock_rate: int  # RTP timestamp rate (G722 says 8000 by RFC 3551 although it samples 16k)
    channels: int = 1
    config: bytes | None = None  # codec configuration from the SDP: AAC's AudioSpecificConfig

    @property
    def sample_rate(self) -> int:
        """The PCM rate the mixer gets from this codec's decoder: what the codec really
        carries, except AAC, whose decoder resamples every rate a camera uses (44.1k,
        32k, ...) to 48 kHz."""
        name = self.name.upper()
        if name == "G722":
            return 16000
        return INTERNAL_RATE if name == "MPEG4-GENERIC" else self.clock_rate

    @property
    def one_byte_per_tick(self) -> bool:
        """Whether one payload byte is one RTP clock tick (G.711, G.722): such payloads
        can be cut into 20 ms frames anywhere."""
        return self.name.upper() in ("PCMU", "PCMA", "G722")

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


# -- video ----------------------------------------------------------------------------

VIDEO_CLOCK_RATE = 90000
"""RTP timestamp rate of every video payload format we carry (RFC 6184/7741/4629)."""


@dataclass(frozen=True, slots=True)
class EncodedVideo:
    """One complete encoded picture (access unit), without RTP framing.

    H.264 is Annex B (start codes); VP8 and H.263 are the codec's own frame bytes.
    ``timestamp`` is the sender's 90 kHz RTP timestamp on the way in; on the way out
    the leg stamps it with its own clock and ignores this field.
    """

    data: bytes
    timestamp: int
    keyframe: bool


@dataclass(frozen=True, slots=True)
class VideoSendFormat:
    """What one leg's peer can receive, from the SDP answer: what the mixer encodes.

    ``codec`` is "H264", "VP8", "H263-1998" or "H263-2000". Legs whose formats have
    the same ``encoder_key`` and see the same picture share one encoder.
    """

    codec: str
    payload_type: int
    width: int
    height: int
    frame_rate: float
    bitrate_bps: int
    packetization_mode: int = 1  # H.264 only: 0 = one NAL unit per packet
    mtu: int = 1200  # largest RTP payload we send

    @property
    def encoder_key(self) -> tuple[object, ...]:
        mode = self.packetization_mode if self.codec == "H264" else 0
        return (self.codec, mode, self.width, self.height, round(self.frame_rate, 2),
                self.bitrate_bps, self.mtu if mode == 0 else 0)
