"""The protocols this MCU speaks: one registration line per gateway package.

``mcu/app.py`` builds every factory listed here and then knows each gateway only as a
``gateway.gateway.Gateway`` keyed by the URI schemes it dials. A factory takes the
composed settings and a ``GatewayContext``: the admission callback (``CallInfo`` →
``Refuse`` | ``Seat``) and the RTP port range every gateway shares.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.gateway import Gateway, GatewayContext
from gateway.rtsp.gateway import RtspGateway
from gateway.sip.service import SipService
from mcu.settings import Settings

GatewayFactory = Callable[[Settings, GatewayContext], Gateway]


def _sip(settings: Settings, context: GatewayContext) -> Gateway:
    return SipService(settings.sip, settings.rtp, settings.media, context.admit,
                      video_policy=settings.video.policy(), mtu=settings.video.mtu,
                      ports=context.ports, notice=context.notice,
                      total_seats=settings.conferences.max_total_participants)


GATEWAYS: tuple[GatewayFactory, ...] = (
    _sip,
    RtspGateway.factory,
)
