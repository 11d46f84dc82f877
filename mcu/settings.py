"""The one settings model: defaults here, then ``config/mcu.toml``, then ``MCU_*`` env.

Nested fields use ``__`` in the environment, e.g. ``MCU_SIP__PORT=5062``.
Each gateway package owns its section's model (``gateway/sip/settings.py``,
``gateway/rtp/settings.py``, ``gateway/rtsp/settings.py``); this module composes them
with the MCU's own.
Every field has a default that works on a fresh machine with no file at all.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.h323.settings import H323Settings
from gateway.rtp.settings import MediaSettings, RtpSettings
from gateway.rtsp.settings import RtspServerSettings, RtspSettings
from gateway.sdp.video import VideoPolicy
from gateway.sip.settings import SipSettings
from gateway.tls import TlsSettings

if TYPE_CHECKING:
    from layouts.registry import LayoutRegistry

DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "mcu.toml"


class MixerSettings(BaseModel):
    speakers: int = Field(3, ge=1, le=16, description="K loudest speakers mixed")
    vad_on_dbov: float = -45.0
    vad_off_dbov: float = -50.0
    vad_hangover_ms: int = 400


class VideoSettings(BaseModel):
    """Continuous-presence video: what we answer, compose and send."""

    enabled: bool = Field(True, description="answer m=video; off: audio-only answers")
    codecs: list[str] = Field(["H264", "VP8", "H263-1998", "H263", "H261"],
                              description="preference order (H263: RFC 2190, payload 34; "
                              "H261: RFC 4587, payload 31)")
    h264_modes: list[int] = Field([1, 0], description="H.264 packetization modes, preferred "
                                  "first")
    width: int = Field(1280, ge=64, le=1920, description="composed picture, and the most we send")
    height: int = Field(720, ge=64, le=1080)
    frame_rate: float = Field(30.0, gt=0, le=60)
    max_bitrate_bps: int = Field(2_000_000, ge=64_000, description="b=AS/TIAS we answer")
    layout: str = Field("equal-auto", description="conference layout (layouts/ name)")
    fit: Literal["crop", "letterbox"] = "crop"
    self_view: bool = Field(False, description="participants see their own picture too")
    keyframe_min_interval_s: float = Field(1.0, ge=0, description="at most one IDR per this, "
                                           "per encoder")
    stalled_after_s: float = Field(2.0, gt=0, description="a silent camera shows a slate after")
    workers: int = Field(2, ge=1, le=32, description="decode/scale/encode threads")
    preset: str = Field("ultrafast", description="libx264 preset")
    mtu: int = Field(1200, ge=300, le=1460, description="largest RTP payload we send")
    custom_layouts: dict[str, list[Any]] = Field(
        {}, description="name -> cells {x, y, width, height[, importance]} in 0..1 "
        "coordinates, or [x, y, width, height(, importance)] lists")

    @field_validator("codecs")
    @classmethod
    def _known_codecs(cls, value: list[str]) -> list[str]:
        known = {"h264", "vp8", "h263-1998", "h263-2000", "h263", "h261"}
        unknown = [c for c in value if c.lower() not in known]
        if unknown:
            raise ValueError(f"video.codecs: unknown codec(s) {unknown}")
        return value

    @field_validator("h264_modes")
    @classmethod
    def _known_modes(cls, value: list[int]) -> list[int]:
        if not value or any(mode not in (0, 1) for mode in value):
            raise ValueError("video.h264_modes: list 0 and/or 1")
        return value

    @model_validator(mode="after")
    def _even_and_known_layout(self) -> VideoSettings:
        if self.width % 2 or self.height % 2:
            raise ValueError("video.width and video.height must be even (4:2:0)")
        from layouts.registry import LayoutRegistry  # layouts/ imports nothing of settings

        registry = LayoutRegistry(self.custom_layouts)
        if self.layout not in registry:
            raise ValueError(f"video.layout: unknown layout {self.layout!r}")
        return self

    def policy(self) -> VideoPolicy | None:
        """What gateways may negotiate (None: video off, audio-only answers)."""
        if not self.enabled:
            return None
        return VideoPolicy(tuple(self.codecs), (self.width, self.height), self.frame_rate,
                           tuple(self.h264_modes), self.max_bitrate_bps)

    def layout_registry(self) -> LayoutRegistry:
        from layouts.registry import LayoutRegistry

        return LayoutRegistry(self.custom_layouts)


class StaticConference(BaseModel):
    numeric_id: str = Field(pattern=r"^[0-9]{1,32}$")
    name: str = ""
    max_participants: int | None = Field(None, ge=1)


class DialRule(BaseModel):
    """One gateway rule (``[[dial_plan.rules]]``): a number starting with ``prefix``
    is a call to ``uri``, where ``{number}`` is what follows the prefix."""

    prefix: str = Field(pattern=r"^[0-9]{1,16}$")
    uri: str = Field(description="e.g. h323:{number}@192.0.2.10 or sip:{number}@pbx")
    name: str = ""

    @field_validator("uri")
    @classmethod
    def _dialable(cls, value: str) -> str:
        scheme, colon, rest = value.partition(":")
        if not colon or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) or not rest:
            raise ValueError(f"dial_plan.rules.uri: {value!r} is not a URI (scheme:...)")
        leftover = value.replace("{number}", "")
        if "{" in leftover or "}" in leftover:
            raise ValueError(f"dial_plan.rules.uri: {value!r}: only {{number}} may be "
                             "filled in")
        return value


class DialPlanSettings(BaseModel):
    """Numbers that reach another endpoint through the MCU (SIP <-> H.323) instead of
    a conference; configured conferences with the same number win."""

    rules: list[DialRule] = []


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
        {"*6": "toggle_mute", "2": "previous_layout", "8": "next_layout",
         "*7": "toggle_recording"},
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
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger request bodies "
                                "are refused with 413 before they are read")
    tls: bool = Field(False, description="serve HTTPS with the `tls` section's certificate "
                      "(secure cookies, HSTS); off: plain HTTP, meant for loopback")


class ChatSettings(BaseModel):
    """Chats (issue 17): limits on what is sent, where files go, flood control, SIP."""

    max_text_chars: int = Field(4000, ge=1, description="longer message text: 413")
    max_file_bytes: int = Field(524_288, ge=1, description="larger files: 413 (they travel "
                                "base64 in JSON, so keep under http.max_body_bytes * 3/4)")
    files_dir: str = Field("var/chat-files", description="where sent files are kept")
    content_types: list[str] = Field(
        ["text/plain", "image/png", "image/jpeg", "image/gif", "application/pdf"],
        description="file types accepted; the bytes must match the declared type: 415",
    )
    rate_messages: int = Field(20, ge=1, description="messages one user may send per window")
    rate_window_s: float = Field(10.0, gt=0, description="beyond the rate: 429")
    sip_message: bool = Field(True, description="SIP endpoints exchange the conference chat "
                              "by SIP MESSAGE (RFC 3428) in their dialog")
    sip_captions: bool = Field(False, description="also show new conference chat messages "
                               "as the caption overlay on the video")


class StreamingSettings(BaseModel):
    """The conference out (issue 15): one stream profile, encoded once per conference
    however many watch, and HLS segments in ``folder``."""

    width: int = Field(1280, ge=64, le=1920, description="stream picture width")
    height: int = Field(720, ge=64, le=1080, description="stream picture height")
    frame_rate: float = Field(30.0, gt=0, le=60, description="stream pictures per second")
    video_bitrate_bps: int = Field(2_000_000, ge=64_000, description="H.264 bit rate")
    audio_bitrate_bps: int = Field(96_000, ge=16_000, le=320_000, description="AAC bit rate")
    segment_s: float = Field(2.0, ge=0.5, le=10, description="HLS segment length (a key "
                             "frame starts each)")
    playlist_size: int = Field(6, ge=2, le=60, description="segments in the sliding playlist")
    idle_stop_s: float = Field(30.0, gt=0, description="a stream nobody fetched from for this "
                               "long stops (its encoder and files go)")
    folder: str = Field("var/streams", description="where HLS playlists and segments live")
    recording_folder: str = Field("var/recordings", description="where recordings are "
                                  "written (fragmented MP4)")
    recording_min_free_mb: int = Field(500, ge=0, description="recordings stop by themselves "
                                       "when the recording folder's disk has less free")

    @model_validator(mode="after")
    def _even_size(self) -> StreamingSettings:
        if self.width % 2 or self.height % 2:
            raise ValueError("streaming.width and streaming.height must be even")
        return self


class DatabaseSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///var/mcu.db"


class ClusterSettings(BaseModel):
    """Several MCU nodes behind Kamailio's dispatcher sharing one PostgreSQL store
    (issue 18): each node publishes its load and a heartbeat; a conference lives on the
    node that holds its lease. Off: one machine, nothing published."""

    enabled: bool = Field(False, description="join the cluster (needs a PostgreSQL "
                          "database.url shared by every node)")
    node_id: str = Field("", pattern=r"^[A-Za-z0-9._-]{0,64}$",
                         description="this node's name in the cluster; empty: the host name")
    advertised_address: str = Field("", description="the address Kamailio and the other "
                                    "nodes reach this node's SIP and HTTP at; empty: "
                                    "sip.host, or 127.0.0.1 when that is 0.0.0.0")
    heartbeat_s: float = Field(2.0, gt=0, le=60, description="load and leases published "
                               "this often")
    lease_s: float = Field(10.0, gt=0, le=600, description="a lease (and a node) not renewed "
                           "for this long is free for another node to take")

    @model_validator(mode="after")
    def _lease_outlives_beats(self) -> ClusterSettings:
        if self.lease_s < 2 * self.heartbeat_s:
            raise ValueError("cluster.lease_s must be at least twice cluster.heartbeat_s "
                             "(one lost heartbeat must not lose a conference)")
        return self

    def name(self) -> str:
        return self.node_id or socket.gethostname()

    def address(self, sip_host: str) -> str:
        if self.advertised_address:
            return self.advertised_address
        return "127.0.0.1" if sip_host in ("0.0.0.0", "::", "") else sip_host


class LogSettings(BaseModel):
    level: str = "INFO"


__all__ = ["ChatSettings", "ClusterSettings", "MediaSettings", "RtpSettings", "RtspSettings",
           "SipSettings", "Settings", "StreamingSettings", "load_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MCU_", env_nested_delimiter="__", extra="ignore", toml_file=None
    )

    sip: SipSettings = SipSettings()
    rtp: RtpSettings = RtpSettings()
    media: MediaSettings = MediaSettings()
    rtsp_client: RtspSettings = RtspSettings()  # cameras we pull
    rtsp: RtspServerSettings = RtspServerSettings()  # conferences watched over RTSP
    h323: H323Settings = H323Settings()  # H.323 calls (H.225.0 on h323.port)
    dial_plan: DialPlanSettings = DialPlanSettings()  # gateway calls SIP <-> H.323
    mixer: MixerSettings = MixerSettings()
    video: VideoSettings = VideoSettings()
    conferences: ConferenceSettings = ConferenceSettings()
    entry: EntrySettings = EntrySettings()
    http: HttpSettings = HttpSettings()
    tls: TlsSettings = TlsSettings()  # SIP over TLS and HTTPS share the certificate
    chat: ChatSettings = ChatSettings()
    streaming: StreamingSettings = StreamingSettings()
    database: DatabaseSettings = DatabaseSettings()
    cluster: ClusterSettings = ClusterSettings()  # nodes behind Kamailio (issue 18)
    log: LogSettings = LogSettings()

    @model_validator(mode="after")
    def _cluster_shares_a_database(self) -> Settings:
        if self.cluster.enabled and not self.database.url.startswith("postgresql"):
            raise ValueError("cluster.enabled needs a database every node shares: set "
                             "database.url to postgresql+asyncpg://...")
        return self

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
