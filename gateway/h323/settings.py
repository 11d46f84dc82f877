"""H.323 settings (section ``h323``, e.g. ``MCU_H323__PORT=1720``). Owned here so the
gateway needs nothing of ``mcu/``; ``mcu/settings.py`` composes it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class H323Settings(BaseModel):
    enabled: bool = Field(True, description="take and make H.323 calls")
    host: str = Field("0.0.0.0", description="address the call signalling port listens on")
    port: int = Field(1720, ge=0, le=65535, description="H.225.0 call signalling (TCP; "
                      "0: any free port)")
    max_connections: int = Field(200, ge=1, description="signalling connections at once; "
                                 "more are closed at once")
    max_connections_per_address: int = Field(50, ge=1, description="from one address at "
                                             "once (a Setup flood)")
    setup_timeout_s: float = Field(10.0, gt=0, description="a connection that sends no "
                                   "Setup within this is closed")
    media_timeout_s: float = Field(15.0, gt=0, description="a call answered without Fast "
                                   "Connect whose H.245 agrees no media channel within this "
                                   "is released (cause 102)")
