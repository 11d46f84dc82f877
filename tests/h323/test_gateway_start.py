"""A call signalling port the MCU cannot bind (1720 is privileged; here: one in use)
does not stop it: the H.323 gateway says so, naming ``h323.port``, and serves nothing."""

from __future__ import annotations

import logging
import socket

from gateway.gateway import GatewayContext
from gateway.h323.gateway import H323Gateway
from gateway.h323.settings import H323Settings
from gateway.leg import Refuse, RefuseCause
from gateway.rtp.ports import PortAllocator
from gateway.rtp.settings import MediaSettings, RtpSettings


async def test_a_port_it_cannot_bind_is_said_and_start_up_goes_on(caplog) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        context = GatewayContext(lambda info: Refuse(RefuseCause.NOT_FOUND, "-"),
                                 PortAllocator(41000, 41099))
        gateway = H323Gateway(H323Settings(host="127.0.0.1", port=port), RtpSettings(),
                              MediaSettings(), context)
        with caplog.at_level(logging.ERROR, logger="gateway.h323"):
            await gateway.start()
        assert any("h323.not_listening" in r.message and "h323.port" in r.message
                   for r in caplog.records)
        assert gateway.statistics()["calls"] == 0
        await gateway.stop()
