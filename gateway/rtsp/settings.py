"""The RTSP camera client's settings (section ``rtsp_client``; ``rtsp`` is reserved for
the RTSP server's port). Owned here so the gateway needs nothing of ``mcu/``;
``mcu/settings.py`` composes it, e.g. ``MCU_RTSP_CLIENT__TRANSPORT=tcp``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class RtspSettings(BaseModel):
    transport: Literal["auto", "udp", "tcp"] = Field(
        "auto", description="auto: UDP, then TCP interleaved when no RTP arrives in time")
    udp_fallback_s: float = Field(4.0, gt=0, description="auto: wait this long for the first "
                                  "RTP packet over UDP before setting up over TCP")
    media_timeout_s: float = Field(3.0, gt=0, description="a live camera silent this long "
                                   "is offline and reconnected")
    reconnect_min_s: float = Field(1.0, gt=0, description="first retry delay (doubles)")
    reconnect_max_s: float = Field(30.0, gt=0, description="retry delay cap; also the delay "
                                   "after a failure retrying cannot fix soon (credentials)")
    rtp_host: str = Field("0.0.0.0", description="local address of the cameras' RTP sockets")
    video_width: int = Field(1280, ge=16, description="picture size assumed when the SDP "
                             "names none (only used to depacketize)")
    video_height: int = Field(720, ge=16)

    @model_validator(mode="after")
    def _ordered(self) -> RtspSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("rtsp_client.reconnect_max_s must be >= reconnect_min_s")
        return self


class RtspServerSettings(BaseModel):
    """The RTSP server conferences are watched through (issue 15; section ``rtsp``,
    e.g. ``MCU_RTSP__PORT=8554``): ``rtsp://host:port/<numeric id>``."""

    enabled: bool = Field(True, description="serve conferences over RTSP")
    host: str = Field("127.0.0.1", description="address the RTSP server listens on")
    port: int = Field(8554, ge=0, le=65535, description="RTSP port (0: any free port)")
    session_timeout_s: float = Field(60.0, ge=5, description="a session with no request "
                                     "for this long ends (players send keep-alives)")
    max_viewers: int = Field(200, ge=1, description="viewers at once; more get 503")
    max_send_buffer_bytes: int = Field(1_000_000, ge=65_536, description="each viewer's "
                                       "socket send buffer; one whose unsent data passes "
                                       "this too is dropped (it stopped reading); the "
                                       "others never wait for it")
