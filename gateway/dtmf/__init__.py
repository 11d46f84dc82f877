"""DTMF: in-band tone detection (RFC 4733 and SIP INFO live with their protocols)."""

from __future__ import annotations

from gateway.dtmf.inband import DetectorSettings, InbandDtmfDetector

__all__ = ["DetectorSettings", "InbandDtmfDetector"]
