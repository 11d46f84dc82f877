"""RTP and media settings (sections ``rtp`` and ``media``), shared by every gateway.

Owned here so gateways need nothing of ``mcu/``; ``mcu/settings.py`` composes them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator, model_validator


class RtpSettings(BaseModel):
    port_min: int = Field(20000, ge=1024, le=65535)
    port_max: int = Field(20999, ge=1024, le=65535)
    inactivity_timeout: float = Field(30.0, gt=0, description="seconds without RTP before BYE")
    jitter_min_ms: int = Field(20, ge=0)
    jitter_max_ms: int = Field(200, ge=20)

    @model_validator(mode="after")
    def _range_holds_a_pair(self) -> RtpSettings:
        if self.port_max - self.port_min < 1:
            raise ValueError("rtp.port_max must exceed rtp.port_min by at least 1")
        return self


class MediaSettings(BaseModel):
    advertised_address: str | None = Field(None, description="address put in SDP c= (NAT)")
    audio_codecs: list[str] = ["opus", "G722", "PCMU", "PCMA"]

    @field_validator("audio_codecs")
    @classmethod
    def _known_codecs(cls, value: list[str]) -> list[str]:
        known = {"opus", "g722", "pcmu", "pcma"}
        unknown = [c for c in value if c.lower() not in known]
        if unknown:
            raise ValueError(f"media.audio_codecs: unknown codec(s) {unknown}")
        return value
