"""The SIP gateway's settings (section ``sip``; env ``MCU_SIP__*``).

Owned here so the gateway needs nothing of ``mcu/``; ``mcu/settings.py`` composes it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class SipSettings(BaseModel):
    host: str = "0.0.0.0"
    port: int = Field(5060, ge=1, le=65535)
    udp: bool = True
    tcp: bool = True
    max_message_bytes: int = Field(65535, ge=1024)
    user_agent: str = "mcu/0.1"
    t1: float = Field(0.5, gt=0, le=5, description="RFC 3261 T1 (RTT estimate), seconds")
