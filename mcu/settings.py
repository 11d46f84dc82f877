"""The one settings model: defaults here, then ``config/mcu.toml``, then ``MCU_*`` env.

Nested fields use ``__`` in the environment, e.g. ``MCU_SIP__PORT=5062``.
Every field has a default that works on a fresh machine with no file at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "mcu.toml"


class SipSettings(BaseModel):
    host: str = "0.0.0.0"
    port: int = Field(5060, ge=1, le=65535)
    udp: bool = True
    tcp: bool = True
    max_message_bytes: int = Field(65535, ge=1024)
    user_agent: str = "mcu/0.1"
    t1: float = Field(0.5, gt=0, le=5, description="RFC 3261 T1 (RTT estimate), seconds")


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


class MixerSettings(BaseModel):
    speakers: int = Field(3, ge=1, le=16, description="K loudest speakers mixed")
    vad_on_dbov: float = -45.0
    vad_off_dbov: float = -50.0
    vad_hangover_ms: int = 400


class StaticConference(BaseModel):
    numeric_id: str = Field(pattern=r"^[0-9]{1,32}$")
    name: str = ""
    max_participants: int | None = Field(None, ge=1)


class ConferenceSettings(BaseModel):
    ad_hoc: bool = True
    max_participants: int = Field(50, ge=1, description="per conference")
    max_total_participants: int = Field(200, ge=1, description="whole MCU")
    static: list[StaticConference] = []


class EntrySettings(BaseModel):
    """Endpoint entry by keypad: auto attendant, PINs, guessing limits, in-call keys."""

    attendant_number: str = Field("0", pattern=r"^[0-9]{0,32}$",
                                  description="dialling this (or the bare host) reaches the menu")
    direct_entry: bool = Field(True, description="dialling ID*PIN (or ID**PIN) skips prompts")
    pin_attempts: int = Field(3, ge=1, description="wrong PINs before the MCU hangs up")
    digit_timeout_s: float = Field(10.0, gt=0, description="silence before asking again")
    timeouts_allowed: int = Field(2, ge=0, description="re-prompts for silence, then hang up")
    max_digits: int = Field(32, ge=1, le=64, description="longer entries are wrong")
    lockout_failures: int = Field(20, ge=1, description="more wrong PINs than this in the "
                                  "window lock PIN entry for that source or conference")
    lockout_window_s: float = Field(600.0, gt=0)
    lockout_s: float = Field(600.0, gt=0, description="how long a lockout lasts")
    inband_dtmf: Literal["auto", "always", "off"] = Field(
        "auto", description="auto: detect tones only on legs without telephone-event")
    keys: dict[str, str] = Field(
        {"*6": "toggle_mute", "2": "previous_layout", "8": "next_layout"},
        description="in-conference keypad commands",
    )

    @field_validator("keys")
    @classmethod
    def _known_keys(cls, value: dict[str, str]) -> dict[str, str]:
        from mcu.keys import check_bindings  # mcu.keys imports nothing of settings

        return check_bindings(value)


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535, description="0: any free port (tests)")


class DatabaseSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///var/mcu.db"


class LogSettings(BaseModel):
    level: str = "INFO"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MCU_", env_nested_delimiter="__", extra="ignore", toml_file=None
    )

    sip: SipSettings = SipSettings()
    rtp: RtpSettings = RtpSettings()
    media: MediaSettings = MediaSettings()
    mixer: MixerSettings = MixerSettings()
    conferences: ConferenceSettings = ConferenceSettings()
    entry: EntrySettings = EntrySettings()
    http: HttpSettings = HttpSettings()
    database: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then environment, then the TOML file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, _config_file()))


def _config_file() -> Path | None:
    """``MCU_CONFIG`` names the file; else the packaged default, when present."""
    named = os.environ.get("MCU_CONFIG")
    if named:
        return Path(named)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)
