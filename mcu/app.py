"""Wires the MCU into one uvloop event loop: SIP gateway → entry → conferences → mixers."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import uvloop

from gateway.leg import Leg, Refuse
from gateway.log import log_event
from gateway.sip.service import CallInfo, SipService
from mcu.conference import Conference
from mcu.entry import Admit, ConferenceDirectory
from mcu.log import configure_logging
from mcu.settings import Settings

log = logging.getLogger("mcu.app")
MEDIA_WORKERS = 2  # the bounded pool for decode/mix/encode: one per core here


class DialOutRefused(Exception):
    def __init__(self, refuse: Refuse):
        super().__init__(refuse.reason)
        self.refuse = refuse


@dataclass(slots=True)
class _ConferenceSeat:
    """A seat reserved by ``ConferenceDirectory.route`` for one call being set up."""

    mcu: Mcu
    admitted: Admit[Conference]

    def join(self, leg: Leg) -> None:
        self.admitted.conference.join(leg)

    def abandon(self) -> None:
        self.mcu.release_seat(self.admitted.numeric_id)


class Mcu:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.executor = ThreadPoolExecutor(MEDIA_WORKERS, thread_name_prefix="media")
        self.directory: ConferenceDirectory[Conference] = ConferenceDirectory(
            settings.conferences, self._create_conference
        )
        self.sip = SipService(settings.sip, settings.rtp, settings.media, admit=self._admit)
        self._closing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.sip.start()
        log_event(log, "mcu.started", sip_port=self.settings.sip.port,
                  rtp_ports=f"{self.settings.rtp.port_min}-{self.settings.rtp.port_max}",
                  ad_hoc=self.settings.conferences.ad_hoc)

    async def stop(self) -> None:
        """End every call with BYE, then every conference, then the media pool."""
        await self.sip.stop()
        for conference in self.directory.conferences():
            await conference.close("shutdown")
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        self.executor.shutdown(wait=True)
        log_event(log, "mcu.stopped")

    def dial_out(self, numeric_id: str, uri: str, display_name: str | None = None) -> str:
        """Bring ``uri`` into conference ``numeric_id`` by calling it (for the web control).

        Raises ``DialOutRefused`` when the conference cannot take another participant,
        ValueError for an undiallable URI, PortsExhausted when no RTP ports are left.
        """
        routed = self.directory.route(numeric_id)
        if isinstance(routed, Refuse):
            raise DialOutRefused(routed)
        seat = _ConferenceSeat(self, routed)
        try:
            return self.sip.dial(uri, seat, from_user=numeric_id,
                                 display_name=display_name or routed.conference.name)
        except Exception:
            seat.abandon()
            raise

    def release_seat(self, numeric_id: str) -> None:
        emptied = self.directory.release(numeric_id)
        if emptied is not None:  # an ad hoc conference nobody is in any more
            task = asyncio.get_running_loop().create_task(emptied.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _admit(self, call: CallInfo) -> Refuse | _ConferenceSeat:
        routed = self.directory.route(call.user)
        if isinstance(routed, Refuse):
            return routed
        return _ConferenceSeat(self, routed)

    def _create_conference(self, numeric_id: str, name: str) -> Conference:
        log_event(log, "conference.created", conference=numeric_id, name=name)
        return Conference(
            numeric_id, name, self.settings.mixer, self.executor,
            on_leave=lambda conference, leg: self.release_seat(conference.numeric_id),
        )


async def run_until_signalled(settings: Settings) -> None:
    mcu = Mcu(settings)
    await mcu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await mcu.stop()


def serve(settings: Settings) -> int:
    configure_logging(settings.log.level)
    try:
        uvloop.run(run_until_signalled(settings))
    except OSError as error:  # e.g. the SIP port is taken: say so, no traceback
        log_event(log, "mcu.failed", level=logging.ERROR, error=str(error))
        return 1
    return 0
