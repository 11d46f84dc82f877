"""The protocols this MCU speaks: one registration line per gateway package.

``mcu/app.py`` builds every factory listed here and then knows each gateway only as a
``gateway.gateway.Gateway`` keyed by the URI schemes it dials. A factory takes the
composed settings and the admission callback (``CallInfo`` → ``Refuse`` | ``Seat``).
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.gateway import Gateway
from gateway.leg import Admit
from gateway.sip.service import SipService
from mcu.settings import Settings

GatewayFactory = Callable[[Settings, Admit], Gateway]


def _sip(settings: Settings, admit: Admit) -> Gateway:
    return SipService(settings.sip, settings.rtp, settings.media, admit=admit,
                      video_settings=settings.video)


GATEWAYS: tuple[GatewayFactory, ...] = (
    _sip,
)
