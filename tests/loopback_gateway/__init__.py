"""A protocol that exists only in the tests: proof that a gateway is a plug-in.

``loop:NAME@HOST:PORT`` "dials" a plain RTP peer at HOST:PORT (PCMU, no signalling:
the call is up at once) and ``ring(user, rtp_peer)`` plays an incoming call. It is
built exactly as a real gateway is — a ``Gateway`` over the shared
``gateway/rtp/media`` session, importing nothing of ``mcu/`` — and registered with
one line: ``Mcu(settings, gateways=(*GATEWAYS, LoopbackGateway.factory))``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any

from gateway.gateway import GatewayContext, UnsupportedUri
from gateway.leg import CallInfo, Hangup, Refuse, Seat
from gateway.media import AudioFormat
from gateway.rtp.media import AudioPlan, MediaPlan, RtpLeg, RtpMediaSession, StreamPlan
from gateway.rtp.settings import RtpSettings

PCMU = AudioFormat("PCMU", 0, 8000)
_numbers = itertools.count(1)


class LoopbackGateway:
    name = "loop"
    schemes = ("loop",)

    def __init__(self, rtp: RtpSettings, context: GatewayContext) -> None:
        self._rtp = rtp
        self._context = context
        self.legs: dict[str, RtpLeg] = {}
        self.running = False
        self._closing: set[asyncio.Task[None]] = set()

    @classmethod
    def factory(cls, settings: Any, context: GatewayContext) -> LoopbackGateway:
        return cls(settings.rtp, context)

    async def start(self) -> None:
        self.running = True

    async def stop(self) -> None:
        for leg_id in list(self.legs):
            self._end(leg_id, "shutdown", by_remote=False)
        await asyncio.gather(*self._closing, return_exceptions=True)
        self.running = False

    def registrations(self) -> list[dict[str, object]]:
        return []

    def statistics(self) -> dict[str, int]:
        return {"calls": len(self.legs),
                "rtp_ports_in_use": sum(leg.media.ports_held for leg in self.legs.values())}

    def dial(self, uri: str, seat: Seat, *, conference: str, display_name: str,
             options: Mapping[str, str] | None = None) -> str:
        scheme, _, rest = uri.partition(":")
        name, _, hostport = rest.partition("@")
        host, _, port = hostport.rpartition(":")
        if scheme != "loop" or not name or not host or not port.isdigit():
            raise UnsupportedUri(f"not a loop:NAME@HOST:PORT URI: {uri!r}")
        return self._connect(seat, name, (host, int(port)))

    def ring(self, user: str, rtp_peer: tuple[str, int], name: str = "Loop caller"
             ) -> Refuse | str:
        """An incoming call to ``user``: the MCU's answer, or the new leg's id."""
        info = CallInfo(user, name, f"loop:{name}", f"{rtp_peer[0]}:{rtp_peer[1]}",
                        protocol=self.name)
        decision = self._context.admit(info)
        if isinstance(decision, Refuse):
            return decision
        return self._connect(decision, name, rtp_peer)

    def local_port(self, leg_id: str) -> int:
        ports = self.legs[leg_id].media.audio_ports
        assert ports is not None
        return ports.rtp_port

    def _connect(self, seat: Seat, name: str, peer: tuple[str, int]) -> str:
        leg_id = f"loop-{next(_numbers)}"
        media = RtpMediaSession(self._context.ports, "127.0.0.1", self._rtp,
                                on_timeout=lambda: self._end(leg_id, "rtp-timeout", True))
        media.reserve_audio()
        stream = StreamPlan(peer, (peer[0], peer[1] + 1), rtcp_mux=False, sending=True,
                            receiving=True)
        media.start(MediaPlan(audio=AudioPlan(PCMU, stream)))
        leg = RtpLeg(leg_id, self.name, name, f"{peer[0]}:{peer[1]}", media,
                     hang_up=lambda reason: self._end(leg_id, reason, by_remote=False))
        self.legs[leg_id] = leg
        seat.join(leg)
        return leg_id

    def _end(self, leg_id: str, reason: str, by_remote: bool) -> None:
        leg = self.legs.pop(leg_id, None)
        if leg is None:
            return
        task = asyncio.get_running_loop().create_task(leg.media.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        leg.post(Hangup(reason, by_remote))
