"""The SIP gateway: SIP calls in (and out), each presented to the MCU as a Leg.

Glue between the sans-IO SIP core (``endpoint``), SDP offer/answer
(``gateway.sdp``) and RTP (``gateway.rtp``). It knows nothing of conferences: an
``admit`` callback decides, per incoming call, between a ``Refuse`` (sent as the
SIP final answer) and a ``Seat`` that takes the Leg once the call is confirmed.
Every call owns exactly one RTP port pair from the moment it is answered until it
ends, whichever way it ends, so ports never leak.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.dtmf.info import InfoDtmfError, parse_info_dtmf
from gateway.leg import Dtmf, Hangup, HoldChanged, InfoReceived, LegEvent, Refuse, Seat
from gateway.log import log_event
from gateway.media import AudioFormat, EncodedAudio
from gateway.rtp.ports import PortAllocator, PortPair, PortsExhausted
from gateway.rtp.session import RtpSession
from gateway.rtp.transport import RtpEndpoint
from gateway.sdp.model import SdpError
from gateway.sdp.negotiate import LocalSession, Negotiated, accept_answer, answer_offer, make_offer
from gateway.sip import endpoint as sip
from gateway.sip.message import parse_uri
from gateway.sip.transport import SipTransport

if TYPE_CHECKING:
    from mcu.settings import MediaSettings, RtpSettings, SipSettings

log = logging.getLogger("gateway.sip")

RETRY_AFTER_SECONDS = "30"


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What the MCU is told about an incoming call before it decides."""

    user: str  # request-URI user part: the dialled number
    display_name: str
    from_uri: str
    remote: str


Admit = Callable[[CallInfo], Refuse | Seat]


def leg_id_of(handle: str) -> str:
    """The Leg id of a SIP call handle (what the web control calls a participant)."""
    return f"sip-{handle}"


class SipLeg:
    """One SIP call as the conference sees it (gateway.leg.Leg)."""

    def __init__(self, service: SipService, call: _Call):
        self.id = leg_id_of(call.handle)
        # Endpoints that send no display name are shown by their From user part.
        self.display_name = call.info.display_name or _user_of(call.info.from_uri)
        self.remote = call.info.remote
        self._service = service
        self._call = call
        self._queue: asyncio.Queue[LegEvent] = asyncio.Queue()

    @property
    def audio_format(self) -> AudioFormat | None:
        return self._call.negotiated.audio if self._call.negotiated else None

    @property
    def dtmf_events(self) -> bool:
        """Whether the peer sends keys as RFC 4733 events (else listen for tones)."""
        negotiated = self._call.negotiated
        return negotiated is not None and negotiated.telephone_event_pt is not None

    def read_audio(self) -> EncodedAudio | None:
        rtp = self._call.rtp
        if rtp is None:
            return None
        for dtmf in rtp.events():  # drained once a tick: DTMF rides the media clock
            self.post(dtmf)
        return rtp.read_audio()

    def write_audio(self, frame: EncodedAudio) -> None:
        if self._call.rtp is not None:
            self._call.rtp.send_audio(frame)

    def read_video(self) -> object | None:
        return None  # video arrives with the video issue

    def write_video(self, packets: object) -> None:
        return None

    async def events(self) -> AsyncIterator[LegEvent]:
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, Hangup):
                return

    async def hang_up(self, reason: str) -> None:
        self._service.hang_up(self._call.handle, reason)

    def post(self, event: LegEvent) -> None:
        self._queue.put_nowait(event)


@dataclass(eq=False, slots=True)
class _Call:
    handle: str
    info: CallInfo
    seat: Seat | None = None
    rtp: RtpEndpoint | None = None
    sdp_session: LocalSession = field(default_factory=LocalSession)
    local_ip: str = ""
    ports: PortPair | None = None
    our_offer: bytes | None = None  # dial-out, or offerless INVITE (offer in our 200)
    negotiated: Negotiated | None = None
    leg: SipLeg | None = None
    rtp_started: asyncio.Task[None] | None = None


class SipService:
    def __init__(
        self,
        sip_settings: SipSettings,
        rtp_settings: RtpSettings,
        media_settings: MediaSettings,
        admit: Admit,
    ):
        self._rtp_settings = rtp_settings
        self._media = media_settings
        self._admit = admit
        self.endpoint = sip.SipEndpoint(sip.SipCoreConfig.from_settings(sip_settings),
                                        check_info=check_info)
        self.transport = SipTransport(
            self.endpoint,
            sip_settings.host,
            sip_settings.port,
            udp=sip_settings.udp,
            tcp=sip_settings.tcp,
            on_events=self._on_events,
        )
        self.ports = PortAllocator(rtp_settings.port_min, rtp_settings.port_max)
        self._rtp_host = sip_settings.host
        self.calls: dict[str, _Call] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.transport.start()

    async def stop(self, grace: float = 2.0) -> None:
        """End every call with BYE (or a final answer), wait for them, close sockets."""
        for handle in list(self.calls):
            self.hang_up(handle, "shutdown")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # Wait for the BYEs to be answered, not just sent: the SIP core ends a call
        # for us at once, but its dialog lives until the BYE transaction completes.
        while (self.calls or self.endpoint.call_count) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for call in list(self.calls.values()):  # peers that never answered our BYE
            self._end(call, "shutdown", by_remote=False)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self.transport.close()

    def dial(self, uri: str, seat: Seat, *, from_user: str = "mcu",
             display_name: str | None = None) -> str:
        """Call out (UAC); the Leg joins ``seat`` once the callee answers.

        The URI's host must be an IP address (no DNS yet); ``;transport=tcp`` is
        honoured. Raises ValueError for a URI we cannot dial and PortsExhausted when
        no RTP ports are left; nothing is held after either.
        """
        target = parse_uri(uri)
        if target.scheme != "sip" or not target.host:
            raise ValueError(f"not a sip: URI: {uri!r}")
        transport = (target.params.get("transport") or "udp").lower()
        if transport not in ("udp", "tcp"):
            raise ValueError(f"unsupported transport {transport!r} in {uri!r}")
        remote = (target.host.strip("[]"), target.port or 5060)
        try:  # a name would need a (blocking) DNS lookup on the event loop
            ipaddress.ip_address(remote[0])
        except ValueError:
            raise ValueError(f"the host of {uri!r} must be an IP address") from None
        local = self.transport.local_address(remote[0])
        info = CallInfo(target.user or "", display_name or "", uri, f"{remote[0]}:{remote[1]}")
        ports = self.ports.allocate(self._rtp_host)
        local_ip = self._media.advertised_address or local[0]
        call = _Call("", info, seat=seat, ports=ports, local_ip=local_ip)
        call.our_offer = make_offer(local_ip, ports.rtp_port, self._media.audio_codecs,
                                    call.sdp_session)
        try:
            call.handle = self.endpoint.invite(str(target), remote, transport,
                                               from_user=from_user, display_name=display_name,
                                               sdp=call.our_offer, local=local)
        except Exception:
            self.ports.release(ports)
            raise
        self.calls[call.handle] = call
        self.transport.flush()
        log_event(log, "sip.dialing", call=call.handle, remote=info.remote, transport=transport)
        return call.handle

    def hang_up(self, handle: str, reason: str) -> None:
        if handle in self.calls:
            self.endpoint.hangup(handle, reason)
            self.transport.flush()

    # -- SIP events -------------------------------------------------------------------

    def _on_events(self, events: list[sip.Event]) -> None:
        for event in events:
            try:
                self._dispatch(event)
            except Exception:  # one call's failure must not take the others down
                log.exception("sip event %s failed", type(event).__name__)

    def _dispatch(self, event: sip.Event) -> None:
        match event:
            case sip.IncomingCall():
                self._incoming(event)
            case sip.CallConfirmed(call=handle, sdp=sdp) | sip.CallAnswered(call=handle, sdp=sdp):
                self._confirmed(handle, sdp)  # UAS: ACK came; UAC: 200 came (core ACKs)
            case sip.ReInvite(call=handle, sdp=sdp):
                self._reinvite(handle, sdp)
            case sip.InfoReceived(call=handle, content_type=content_type, body=body):
                call = self.calls.get(handle)
                if call and call.leg:
                    # The core answered 400 already when a DTMF body was malformed.
                    dtmf = _info_dtmf(content_type, body)
                    call.leg.post(dtmf or InfoReceived(content_type, body))
            case sip.CallEnded(call=handle, reason=reason, by_remote=by_remote):
                call = self.calls.get(handle)
                if call is not None:
                    self._end(call, reason, by_remote)

    def _incoming(self, ev: sip.IncomingCall) -> None:
        remote = f"{ev.remote[0]}:{ev.remote[1]}"
        info = CallInfo(ev.user, ev.display_name or "", ev.from_uri, remote)
        decision = self._admit(info)
        if isinstance(decision, Refuse):
            self._refuse(ev.call, info, decision)
            return
        call = _Call(ev.call, info, seat=decision)
        call.local_ip = self._media.advertised_address or ev.local[0]
        try:
            call.ports = self.ports.allocate(self._rtp_host)
        except PortsExhausted:
            decision.abandon()
            self._refuse(ev.call, info, Refuse(503, "Service Unavailable (no media ports)",
                                               (("Retry-After", RETRY_AFTER_SECONDS),)))
            return
        try:
            body = self._first_answer(call, ev.sdp)
        except SdpError as error:
            self.ports.release(call.ports)
            decision.abandon()
            self._refuse(ev.call, info, Refuse(error.status, _reason(error)))
            return
        self.calls[ev.call] = call
        if call.negotiated is not None:
            self._start_media(call)
        self.endpoint.respond_invite(ev.call, 200, "OK", body=body)
        log_event(log, "sip.answered", call=ev.call, user=ev.user, remote=info.remote,
                  transport=ev.transport, rtp_port=call.ports.rtp_port,
                  codec=call.negotiated.audio.name if call.negotiated else "offer-in-200")

    def _refuse(self, handle: str, info: CallInfo, refuse: Refuse) -> None:
        log_event(log, "sip.refused", call=handle, user=info.user, remote=info.remote,
                  status=refuse.status, reason=refuse.reason)
        self.endpoint.respond_invite(handle, refuse.status, refuse.reason,
                                     headers=list(refuse.headers))

    def _first_answer(self, call: _Call, offer: bytes | None) -> bytes:
        assert call.ports is not None
        prefs = self._media.audio_codecs
        if offer is None:  # offerless INVITE: we offer in the 200, the ACK answers
            call.our_offer = make_offer(call.local_ip, call.ports.rtp_port, prefs,
                                        call.sdp_session)
            return call.our_offer
        call.negotiated = self._answer(call, offer)
        return call.negotiated.answer_sdp

    def _answer(self, call: _Call, offer: bytes) -> Negotiated:
        assert call.ports is not None
        return answer_offer(offer, local_ip=call.local_ip, audio_port=call.ports.rtp_port,
                            preferences=self._media.audio_codecs, session=call.sdp_session)

    def _start_media(self, call: _Call) -> None:
        negotiated, ports = call.negotiated, call.ports
        assert negotiated is not None and negotiated.audio is not None and ports is not None
        session = RtpSession.from_settings(
            negotiated.audio, negotiated.telephone_event_pt, negotiated.remote_rtp,
            negotiated.remote_rtcp, negotiated.rtcp_mux, self._rtp_settings,
            telephone_event_rate=negotiated.telephone_event_rate,
        )
        call.rtp = RtpEndpoint(
            session, ports, self.ports,
            inactivity_timeout=self._rtp_settings.inactivity_timeout,
            on_timeout=lambda: self._rtp_timeout(call.handle),
        )
        self._apply_directions(call.rtp, negotiated)
        # start() only wraps the sockets already bound, so it completes at once; packets
        # that arrive before it are waiting in the kernel's socket buffer.
        call.rtp_started = asyncio.get_running_loop().create_task(call.rtp.start())

    def _confirmed(self, handle: str, sdp: bytes | None) -> None:
        call = self.calls.get(handle)
        if call is None:
            return
        if call.negotiated is None and call.our_offer is not None:
            try:
                call.negotiated = accept_answer(call.our_offer, sdp or b"")
                if call.negotiated.audio is None:
                    raise SdpError(488, "answer accepted no audio")
            except SdpError as error:
                log_event(log, "sip.ack_sdp_rejected", level=logging.WARNING, call=handle,
                          remote=call.info.remote, reason=error.reason)
                self.hang_up(handle, "bad-sdp-in-ack")
                return
            self._start_media(call)
        if call.leg is None and call.seat is not None:
            call.leg = SipLeg(self, call)
            call.seat.join(call.leg)

    def _reinvite(self, handle: str, offer: bytes | None) -> None:
        call = self.calls.get(handle)
        if call is None or call.rtp is None or call.negotiated is None:
            self.endpoint.respond_invite(handle, 491, "Request Pending")
            return
        if offer is None:  # offerless re-INVITE: offer what we use now (RFC 3261 14.2)
            self.endpoint.respond_invite(handle, 200, "OK", body=call.negotiated.answer_sdp)
            return
        try:
            negotiated = self._answer(call, offer)
        except SdpError as error:  # keep the session as it was (RFC 3264 section 8)
            self.endpoint.respond_invite(handle, error.status, _reason(error))
            return
        was_on_hold = call.negotiated.on_hold
        call.negotiated = negotiated
        self._apply_directions(call.rtp, negotiated)
        self.endpoint.respond_invite(handle, 200, "OK", body=negotiated.answer_sdp)
        if call.leg and negotiated.on_hold != was_on_hold:
            log_event(log, "sip.hold", call=handle, on_hold=negotiated.on_hold)
            call.leg.post(HoldChanged(negotiated.on_hold))

    @staticmethod
    def _apply_directions(rtp: RtpEndpoint, negotiated: Negotiated) -> None:
        rtp.update_remote(negotiated.remote_rtp, negotiated.remote_rtcp, negotiated.rtcp_mux,
                          sending=negotiated.sending, receiving=negotiated.receiving)

    def _rtp_timeout(self, handle: str) -> None:
        call = self.calls.get(handle)
        if call is not None:
            log_event(log, "sip.rtp_timeout", level=logging.WARNING, call=handle,
                      remote=call.info.remote)
            self.hang_up(handle, "rtp-timeout")

    async def _close_media(self, call: _Call) -> None:
        assert call.rtp is not None
        try:
            if call.rtp_started is not None:
                await call.rtp_started  # never close sockets a start is still wrapping
            await call.rtp.close()
        finally:
            self._closing.discard(asyncio.current_task())  # type: ignore[arg-type]

    def _end(self, call: _Call, reason: str, by_remote: bool) -> None:
        """The one way a call ends: free its media, tell its leg or give back its seat."""
        self.calls.pop(call.handle, None)
        if call.rtp is not None:
            self._closing.add(asyncio.get_running_loop().create_task(self._close_media(call)))
        elif call.ports is not None:
            self.ports.release(call.ports)
        if call.leg is not None:
            call.leg.post(Hangup(reason, by_remote))
        elif call.seat is not None:
            call.seat.abandon()
        log_event(log, "sip.ended", call=call.handle, remote=call.info.remote, reason=reason,
                  by_remote=by_remote)


def _user_of(uri: str) -> str:
    try:
        return parse_uri(uri.strip("<>")).user or ""
    except Exception:  # a From we could route on but not parse again: show nothing
        return ""


def _info_dtmf(content_type: str, body: bytes) -> Dtmf | None:
    try:
        return parse_info_dtmf(content_type, body)
    except InfoDtmfError:
        return None


def check_info(content_type: str, body: bytes) -> tuple[int, str] | None:
    """The SIP core's INFO check: a malformed DTMF body is refused with 400 (RFC 6086)."""
    try:
        parse_info_dtmf(content_type, body)
    except InfoDtmfError as error:
        return 400, f"Bad Request ({error})"
    return None


def _reason(error: SdpError) -> str:
    phrase = {400: "Bad Request", 488: "Not Acceptable Here"}.get(error.status, "Error")
    return f"{phrase} ({error.reason})"
