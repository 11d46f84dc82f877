"""The protocols this MCU speaks: one registration line per gateway package.

``mcu/app.py`` builds every factory listed here and then knows each gateway only as a
``gateway.gateway.Gateway`` keyed by the URI schemes it dials. A factory takes the
composed settings and a ``GatewayContext``: the admission callback (``CallInfo`` →
``Refuse`` | ``Seat``) and the RTP port range every gateway shares. Publishers (who
serve conferences out to watchers) register the same way with a ``PublishContext``.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.gateway import Gateway, GatewayContext
from gateway.h323.gateway import H323Gateway
from gateway.publish import PublishContext, Publisher
from gateway.rtsp.gateway import RtspGateway
from gateway.rtsp.publisher import RtspPublisher
from gateway.sip.service import SipService
from gateway.tls import load_identity
from mcu.settings import Settings

GatewayFactory = Callable[[Settings, GatewayContext], Gateway]
# A publisher serves conferences out (issue 15); None when its settings turn it off.
PublisherFactory = Callable[[Settings, PublishContext], Publisher | None]


def _sip(settings: Settings, context: GatewayContext) -> Gateway:
    # TlsSettingsError (naming the setting) stops start-up here when TLS is on.
    identity = load_identity(settings.tls) if settings.sip.tls else None
    return SipService(settings.sip, settings.rtp, settings.media, context.admit,
                      video_policy=settings.video.policy(), mtu=settings.video.mtu,
                      ports=context.ports, notice=context.notice,
                      total_seats=settings.conferences.max_total_participants,
                      tls=identity, verify_peers=settings.tls.verify_peers)


GATEWAYS: tuple[GatewayFactory, ...] = (
    _sip,
    RtspGateway.factory,
    H323Gateway.factory,
)

PUBLISHERS: tuple[PublisherFactory, ...] = (
    RtspPublisher.factory,
)
