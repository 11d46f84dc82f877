"""The SIP gateway: SIP calls in (and out), each presented to the MCU as a Leg.

Signalling only: the sans-IO SIP core (``endpoint``) and SDP offer/answer
(``gateway.sdp``) decide what media to run; each negotiation becomes a
protocol-neutral ``MediaPlan`` that the call's ``RtpMediaSession`` carries and its
``RtpLeg`` presents (``gateway/rtp/media.py``, shared with every gateway). It knows
nothing of conferences: an ``admit`` callback decides, per incoming call, between a
``Refuse`` (sent as the SIP final answer of its cause) and a ``Seat`` that takes the
Leg once the call is confirmed. Every call holds its port pairs from the moment it is
answered until it ends, whichever way it ends, so ports never leak.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway.dtmf.info import InfoDtmfError, parse_info_dtmf
from gateway.gateway import Notice, UnsupportedUri
from gateway.leg import (
    Admit,
    CallInfo,
    Hangup,
    HoldChanged,
    InfoReceived,
    KeyFrameMethodRefused,
    KeyFrameRequest,
    LegEvent,
    Refuse,
    RefuseCause,
    Seat,
    TextReceived,
)
from gateway.log import log_event
from gateway.media import VideoSendFormat
from gateway.rtp.dtls import DtlsCredentials, DtlsPlan
from gateway.rtp.media import AudioPlan, MediaPlan, RtpLeg, RtpMediaSession, StreamPlan, VideoPlan
from gateway.rtp.ports import PortAllocator, PortsExhausted
from gateway.rtp.settings import MediaSettings, RtpSettings
from gateway.sdp.crypto import DtlsSetup, SrtpKeys
from gateway.sdp.model import SdpError
from gateway.sdp.negotiate import (
    LocalSession,
    Negotiated,
    accept_answer,
    answer_offer,
    make_offer,
    offers_only_srtp,
    offers_video,
)
from gateway.sdp.resize import asking_for_size
from gateway.sdp.video import VideoAnswer, VideoPolicy
from gateway.sip import endpoint as sip
from gateway.sip.admission import AdmissionGuard, Drop, Refuse503, Verdict
from gateway.sip.credentials import Credentials
from gateway.sip.media_control import (
    FAST_UPDATE_BODY,
    MEDIA_CONTROL_TYPE,
    MediaControlError,
    is_fast_update,
)
from gateway.sip.message import SipParseError, SipUri, parse_uri
from gateway.sip.resolve import ResolveError, SipResolver, Target, is_ip
from gateway.sip.settings import SipRegistration, SipSettings
from gateway.sip.transport import SipTransport
from gateway.tls import TlsIdentity, client_context

log = logging.getLogger("gateway.sip")

RETRY_AFTER_SECONDS = 30
SIZE_RETRY_S = 2.0  # a size request that met another transaction (or 491) goes out again

# How each neutral refusal is said in SIP (RFC 3261 21.4/21.5).
SIP_ANSWERS: dict[RefuseCause, tuple[int, str]] = {
    RefuseCause.NOT_FOUND: (404, "Not Found"),
    RefuseCause.BUSY: (486, "Busy Here"),
    RefuseCause.FULL: (503, "Service Unavailable"),
    RefuseCause.CLOSED_NOW: (480, "Temporarily Unavailable"),
    RefuseCause.NEEDS_ENCRYPTION: (488, "Not Acceptable Here"),
    RefuseCause.NO_COMMON_MEDIA: (488, "Not Acceptable Here"),
    RefuseCause.BAD_REQUEST: (400, "Bad Request"),
}


def sip_answer(refuse: Refuse) -> tuple[int, str, list[tuple[str, str]]]:
    """The SIP final response for a refusal: status, reason phrase, headers."""
    status, phrase = SIP_ANSWERS[refuse.cause]
    headers = [("Retry-After", str(refuse.retry_after))] if refuse.retry_after else []
    return status, f"{phrase} ({refuse.reason})", headers


def leg_id_of(handle: str) -> str:
    """The Leg id of a SIP call handle (what the web control calls a participant)."""
    return f"sip-{handle}"


@dataclass(eq=False, slots=True)
class _Call:
    handle: str
    info: CallInfo
    media: RtpMediaSession
    seat: Seat | None = None
    sdp_session: LocalSession = field(default_factory=LocalSession)
    local_ip: str = ""
    our_offer: bytes | None = None  # dial-out, or offerless INVITE (offer in our 200)
    negotiated: Negotiated | None = None
    leg: RtpLeg | None = None
    transport: str = "udp"  # of the signalling: "tls" may carry SRTP keys
    dial: _Dial | None = None  # dial-out: what each INVITE to a next target repeats
    headers: list[tuple[str, str]] = field(default_factory=list)  # dial-out's extension ones
    # Asking the peer for a picture size by re-INVITE (issue 14): the size wanted, the
    # offer in flight, and whether the peer refused (then never again).
    size_wanted: tuple[int, int] | None = None
    size_offer: bytes | None = None
    size_asked: tuple[int, int] | None = None  # what size_offer asks for
    size_refused: bool = False


@dataclass(eq=False, slots=True)
class _Dial:
    """A dial-out by name (RFC 3263): its Leg id is fixed before any SIP call exists,
    and the targets not tried yet are where the INVITE goes next when one fails."""

    leg_id: str
    request_uri: str
    conference: str
    display_name: str
    name: str  # the host resolved, for log lines
    route: list[str] = field(default_factory=list)  # the outbound proxy's, preloaded
    targets: list[Target] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)  # "transport:ip:port status reason"
    progressed: bool = False  # a provisional came: the callee was reached, no failover
    task: asyncio.Task[None] | None = None  # resolving


def send_format(video: VideoAnswer, mtu: int) -> VideoSendFormat:
    """The encoder's target for a negotiated video stream."""
    fmt = video.format
    return VideoSendFormat(fmt.name, fmt.payload_type, video.size[0], video.size[1],
                           video.frame_rate, video.bitrate_bps,
                           packetization_mode=fmt.packetization_mode or 0, mtu=mtu)


def _protection(keys: SrtpKeys | DtlsSetup | None,
                credentials: DtlsCredentials | None) -> SrtpKeys | DtlsPlan | None:
    """SDES keys as they are; a DTLS setup with the certificate to shake hands with."""
    if isinstance(keys, DtlsSetup):
        assert credentials is not None  # answer_offer refuses DTLS without them
        return DtlsPlan(keys.server, keys.remote_fingerprint, credentials)
    return keys


def media_plan(negotiated: Negotiated, mtu: int,
               credentials: DtlsCredentials | None = None) -> MediaPlan:
    """What an offer/answer exchange asks the RTP layer to run."""
    audio = None
    if negotiated.audio is not None:
        audio = AudioPlan(negotiated.audio,
                          StreamPlan(negotiated.remote_rtp, negotiated.remote_rtcp,
                                     negotiated.rtcp_mux, sending=negotiated.sending,
                                     receiving=negotiated.receiving,
                                     srtp=_protection(negotiated.audio_srtp, credentials)),
                          negotiated.telephone_event_pt, negotiated.telephone_event_rate)
    video = negotiated.video
    if video is None:
        return MediaPlan(audio)
    feedback = tuple(method for method, fb in (("pli", "nack pli"), ("fir", "ccm fir"))
                     if fb in video.rtcp_fb)
    stream = StreamPlan(negotiated.video_rtp, negotiated.video_rtcp, negotiated.video_rtcp_mux,
                        sending=video.sending and not negotiated.on_hold,
                        receiving=video.receiving,
                        srtp=_protection(negotiated.video_srtp, credentials))
    return MediaPlan(audio, VideoPlan(send_format(video, mtu), stream, feedback))


class SipService:
    """The SIP gateway (``gateway.gateway.Gateway``)."""

    name = "sip"
    schemes: tuple[str, ...] = ("sip",)

    def __init__(
        self,
        sip_settings: SipSettings,
        rtp_settings: RtpSettings,
        media_settings: MediaSettings,
        admit: Admit,
        *,
        video_policy: VideoPolicy | None = None,
        mtu: int = 1200,
        ports: PortAllocator | None = None,
        notice: Callable[[Notice], None] | None = None,
        total_seats: int = 200,
        tls: TlsIdentity | None = None,
        verify_peers: bool = False,
    ):
        self._rtp_settings = rtp_settings
        self._media = media_settings
        self._video_policy = video_policy
        self._mtu = mtu
        self._admit = admit
        self._notice = notice or (lambda notice: None)  # operators' audit log (issue 19)
        # Per-source limits on new calls (issue 19); the core asks it before an INVITE
        # gets any answer, we tell it which calls each address holds.
        self.admission = AdmissionGuard(sip_settings.limits, total_seats)
        self.endpoint = sip.SipEndpoint(sip.SipCoreConfig.from_settings(sip_settings),
                                        check_info=check_info, screen_invite=self._screen)
        self.transport = SipTransport(
            self.endpoint,
            sip_settings.host,
            sip_settings.port,
            udp=sip_settings.udp,
            tcp=sip_settings.tcp,
            on_events=self._on_events,
            limits=sip_settings.limits, on_notice=self._notice,
            tls_port=sip_settings.tls_port,
            tls_server=tls.server_context() if tls is not None else None,
            tls_client=client_context(verify_peers) if tls is not None else None,
        )
        self.tls = tls
        # DTLS-SRTP (peers that offer only it) shakes hands with the TLS certificate.
        self._dtls = DtlsCredentials.load(tls.certificate, tls.private_key) if tls else None
        self.schemes = ("sip", "sips") if tls is not None else ("sip",)
        self._sdes_without_tls = sip_settings.sdes_without_tls
        # Shared with the other gateways when the MCU passes its allocator.
        self.ports = ports or PortAllocator(rtp_settings.port_min, rtp_settings.port_max)
        self._rtp_host = sip_settings.host
        self.calls: dict[str, _Call] = {}
        self._closing: set[asyncio.Task[None]] = set()
        # Dial-out by name (RFC 3263): resolved off the loop, through a TTL cache; the
        # same resolver serves any other SIP URI to locate (an outbound proxy).
        self.resolver = SipResolver(sip_settings.dns_servers, sip_settings.dns_timeout_s)
        self._resolving: dict[str, _Call] = {}  # by Leg id, until their first INVITE
        self._dial_ids = itertools.count(1)
        self._transports = tuple(name for name, on in (
            ("udp", sip_settings.udp), ("tcp", sip_settings.tcp), ("tls", tls is not None))
            if on)
        self._stopping = False
        # Issue 20: calls through an outbound proxy, digest answers, registrations.
        self._proxy = parse_uri(sip_settings.outbound_proxy) if sip_settings.outbound_proxy \
            else None
        account = sip_settings.credentials
        self._credentials = Credentials(account.username, account.password.get_secret_value(),
                                        account.realm) if account is not None else None
        self._registrations = list(sip_settings.registrations)
        self._registering: set[asyncio.Task[None]] = set()
        self._binding_aors: dict[str, str] = {}  # registrant handle -> AOR

    async def start(self) -> None:
        await self.transport.start()
        if self.tls is not None:
            log_event(log, "sip.tls", port=self.transport.tls_port,
                      certificate=str(self.tls.certificate), generated=self.tls.generated,
                      fingerprint=self.tls.fingerprint)
        loop = asyncio.get_running_loop()
        for registration in self._registrations:
            task = loop.create_task(self._register(registration))
            self._registering.add(task)
            task.add_done_callback(self._registering.discard)

    # -- the registrant (issue 20) -----------------------------------------------------

    async def _register(self, registration: SipRegistration) -> None:
        """Locate the registrar (RFC 3263 when it is a name) and start its binding; the
        core keeps it registered from then on."""
        registrar = parse_uri(registration.registrar)
        try:
            targets = await self.resolver.resolve_uri(
                registrar.scheme, registrar.host.strip("[]"), registrar.port,
                registrar.params.get("transport"), self._transports)
        except ResolveError as error:
            log_event(log, "sip.registration", level=logging.WARNING, aor=registration.aor,
                      registrar=registration.registrar, state="failed",
                      reason=f"cannot resolve {error.name}: {error.reason}")
            return
        target = targets[0]
        aor_user = _user_of(registration.aor)
        password = registration.password.get_secret_value()
        credentials = Credentials(registration.username or aor_user, password) \
            if password else self._credentials
        handle = self.endpoint.register(
            f"{registrar.scheme}:{registrar.host}", (target.ip, target.port), registration.aor,
            transport=target.transport, contact_user=registration.contact_user or aor_user,
            expires=registration.expires, credentials=credentials,
            local=self.transport.local_address(target.ip, target.transport),
            now=self.transport.now())
        self._binding_aors[handle] = registration.aor
        self.transport.flush()

    def registrations(self) -> list[dict[str, object]]:
        """Each registration's state for the status page: aor, registrar, state
        (registering, registered, failed, unregistered), reason, granted expiry."""
        return self.endpoint.registrant_bindings()

    async def stop(self, grace: float = 2.0) -> None:
        """End every call with BYE (or a final answer), remove our registrations, wait
        for both, close sockets."""
        self._stopping = True
        for task in list(self._registering):
            task.cancel()
        for handle in list(self._binding_aors):
            self.endpoint.unregister(handle, now=self.transport.now())
        self.transport.flush()
        resolving = [call.dial.task for call in self._resolving.values()
                     if call.dial is not None and call.dial.task is not None]
        for task in resolving:
            task.cancel()  # each gives back its seat and ports
        if resolving:
            await asyncio.gather(*resolving, return_exceptions=True)
        for handle in list(self.calls):
            self.hang_up(handle, "shutdown")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # Wait for the BYEs to be answered, not just sent: the SIP core ends a call
        # for us at once, but its dialog lives until the BYE transaction completes.
        while ((self.calls or self.endpoint.call_count or self.endpoint.registrant_bindings())
               and loop.time() < deadline):
            await asyncio.sleep(0.02)
        for call in list(self.calls.values()):  # peers that never answered our BYE
            self._end(call, "shutdown", by_remote=False)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self.transport.close()

    def statistics(self) -> dict[str, int]:
        """The gateway's counters (``Gateway.statistics``)."""
        calls = [*self.calls.values(), *self._resolving.values()]
        states = [b["state"] for b in self.endpoint.registrant_bindings()]
        return {"calls": len(calls),
                "rtp_ports_in_use": sum(c.media.ports_held for c in calls),
                **self.transport.statistics(), **self.admission.counts,
                **{f"registrations_{state}": states.count(state)
                   for state in ("registered", "registering", "failed")}}

    def _screen(self, address: str, now: float) -> Verdict:
        """The core's question for a new INVITE: the guard's verdict, and operators told
        once when an address starts being held back and once when it is served again."""
        verdict = self.admission.check(address, now)
        if isinstance(verdict, Refuse503 | Drop):
            if verdict.first:
                self._notice(Notice(self.name, verdict.what, address, verdict.detail))
        else:
            for episode in verdict.served_again:
                self._notice(Notice(self.name, episode.what, address,
                                    f"served again after: {episode.detail}", ended=True))
        return verdict

    def _new_call(self, handle: str, info: CallInfo, seat: Seat) -> _Call:
        media = RtpMediaSession(self.ports, self._rtp_host, self._rtp_settings,
                                on_timeout=lambda: self._rtp_timeout(call.handle),
                                remote=info.remote)
        call = _Call(handle, info, media, seat=seat)
        return call

    def dial(self, uri: str, seat: Seat, *, conference: str = "mcu",
             display_name: str = "", options: Mapping[str, str] | None = None) -> str:
        """Call out (UAC); the Leg joins ``seat`` once the callee answers. Returns
        the Leg's id. We call from ``conference`` (the From user part).

        ``;transport=tcp`` and ``;transport=tls`` are honoured, and a ``sips:`` URI is
        called over TLS (port 5061 unless it says otherwise). A host that is a name
        is located by RFC 3263 (NAPTR, SRV, A/AAAA) in a task: the Leg id is returned
        at once; an unresolvable name ends the dial (logged with the name and why, the
        seat abandoned, the ports released); a target that does not answer (timeout,
        503, connection refused) is followed by the next one (RFC 3263 section 4.3).
        Raises UnsupportedUri for a URI we cannot dial and PortsExhausted when no RTP
        ports are left; nothing is held after either. ``options`` named ``header:NAME``
        are sent as extension headers of the INVITE (``X-...`` only).
        """
        headers = _extension_headers(options or {})
        try:
            target = parse_uri(uri)
        except SipParseError as error:
            raise UnsupportedUri(f"not a SIP URI: {error}") from None
        if target.scheme not in self.schemes or not target.host:
            raise UnsupportedUri(f"not a {' or '.join(self.schemes)} URI: {uri!r}")
        transport = (target.params.get("transport") or "udp").lower()
        if target.scheme == "sips":
            transport = "tls"
        if transport not in ("udp", "tcp", "tls") or (transport == "tls" and self.tls is None):
            raise UnsupportedUri(f"unsupported transport {transport!r} in {uri!r}")
        if self._proxy is not None:  # every call through the outbound proxy (loose routing)
            proxy = self._proxy
            return self._dial_by_name(uri, proxy.scheme, proxy.host.strip("[]"), proxy.port,
                                      proxy.params.get("transport"), str(target), seat,
                                      conference, display_name,
                                      route=[f"<{_loose(proxy)}>"], headers=headers)
        host = target.host.strip("[]")
        if not is_ip(host):
            return self._dial_by_name(uri, target.scheme, host, target.port,
                                      target.params.get("transport"), str(target), seat,
                                      conference, display_name, headers=headers)
        remote = (host, target.port or (5061 if transport == "tls" else 5060))
        info = CallInfo(target.user or "", display_name, uri, f"{remote[0]}:{remote[1]}",
                        encrypted=transport == "tls")
        call = self._new_call("", info, seat)
        call.headers = headers
        call.media.reserve_audio()
        try:
            self._invite(call, Target(transport, *remote), str(target), conference,
                         display_name)
        except Exception:
            call.media.release()
            raise
        return leg_id_of(call.handle)

    def _invite(self, call: _Call, target: Target, request_uri: str, conference: str,
                display_name: str) -> None:
        """Send the call's INVITE to ``target``: our addresses and offer for it."""
        local = self.transport.local_address(target.ip, target.transport)
        call.transport = target.transport
        call.local_ip = self._media.advertised_address or local[0]
        call.info = dataclasses.replace(call.info, remote=f"{target.ip}:{target.port}",
                                        encrypted=target.transport == "tls")
        call.sdp_session = LocalSession()  # each attempt is a new dialog
        call.our_offer = self._offer(call)
        call.handle = self.endpoint.invite(request_uri, (target.ip, target.port),
                                           target.transport, from_user=conference,
                                           display_name=display_name or None,
                                           sdp=call.our_offer, local=local,
                                           now=self.transport.now(),
                                           credentials=self._credentials,
                                           route=call.dial.route if call.dial else None,
                                           headers=call.headers)
        self.calls[call.handle] = call
        self.transport.flush()
        extra = {"leg": call.dial.leg_id} if call.dial is not None else {}
        log_event(log, "sip.dialing", call=call.handle, remote=call.info.remote,
                  transport=target.transport, **extra)

    # -- dial-out by name (RFC 3263) -------------------------------------------------

    def _dial_by_name(self, uri: str, scheme: str, host: str, port: int | None,
                      transport: str | None, request_uri: str, seat: Seat,
                      conference: str, display_name: str,
                      route: list[str] | None = None,
                      headers: list[tuple[str, str]] | None = None) -> str:
        leg_id = leg_id_of(f"d{next(self._dial_ids)}")
        info = CallInfo(_user_of(uri), display_name, uri,
                        f"{host}:{port}" if port else host, encrypted=scheme == "sips")
        call = self._new_call("", info, seat)
        call.headers = list(headers or [])
        call.dial = _Dial(leg_id, request_uri, conference, display_name, host,
                          route=list(route or []))
        call.media.reserve_audio()  # PortsExhausted here: nothing else is held yet
        self._resolving[leg_id] = call
        call.dial.task = asyncio.get_running_loop().create_task(
            self._resolve_and_call(call, scheme, host, port, transport))
        log_event(log, "sip.resolving", leg=leg_id, uri=uri, name=host)
        return leg_id

    async def _resolve_and_call(self, call: _Call, scheme: str, host: str,
                                port: int | None, transport: str | None) -> None:
        dial = call.dial
        assert dial is not None
        try:
            targets = await self.resolver.resolve_uri(scheme, host, port, transport,
                                                      self._transports)
        except ResolveError as error:
            self._dial_failed(call, f"cannot resolve {error.name}: {error.reason}")
            return
        except asyncio.CancelledError:
            self._dial_failed(call, "shutdown")
            raise
        except Exception as error:  # a resolver bug must still give the seat back
            log.exception("sip: resolving %s failed", host)
            self._dial_failed(call, f"cannot resolve {host}: {error}")
            return
        finally:
            self._resolving.pop(dial.leg_id, None)
            dial.task = None
        if self._stopping:
            self._dial_failed(call, "shutdown")
            return
        dial.targets = targets
        log_event(log, "sip.resolved", leg=dial.leg_id, name=host,
                  targets=" ".join(str(t) for t in targets))
        self._call_next_target(call)

    def _call_next_target(self, call: _Call) -> None:
        """INVITE the next target; when none is left, the dial has failed."""
        dial = call.dial
        assert dial is not None
        while dial.targets and not self._stopping:
            target = dial.targets.pop(0)
            try:
                self._invite(call, target, dial.request_uri, dial.conference,
                             dial.display_name)
                return
            except Exception as error:  # this target cannot be called: the next may
                log.exception("sip: calling %s failed", target)
                dial.tried.append(f"{target} {error}")
        self._dial_failed(call, "shutdown" if self._stopping else
                          "no target answered: " + "; ".join(dial.tried))

    def _failover(self, call: _Call, handle: str, status: int, reason: str) -> bool:
        """RFC 3263 section 4.3: an INVITE to one target that timed out, was refused
        (no connection) or answered 503 is sent to the next target, if any."""
        dial = call.dial
        if (dial is None or dial.progressed or status not in (408, 503)
                or self._stopping or self.calls.get(handle) is not call):
            return False
        dial.tried.append(f"{call.info.remote} {status} {reason}")
        if not dial.targets:
            return False
        del self.calls[handle]  # its CallEnded follows and finds nothing to end
        log_event(log, "sip.dial_failover", level=logging.WARNING, leg=dial.leg_id,
                  call=handle, remote=call.info.remote, status=status, reason=reason,
                  next=str(dial.targets[0]))
        self._call_next_target(call)  # same ports (media never started), new offer
        return True

    def _dial_failed(self, call: _Call, reason: str) -> None:
        """A dial by name that never became a SIP call (unresolvable, no target left
        to try, shutdown while resolving): its ports and seat go back."""
        dial = call.dial
        assert dial is not None
        self._resolving.pop(dial.leg_id, None)
        call.media.release()
        if call.seat is not None:
            call.seat.abandon()
            call.seat = None
        log_event(log, "sip.dial_failed", level=logging.WARNING, leg=dial.leg_id,
                  uri=call.info.from_uri, name=dial.name, reason=reason)

    def _respond(self, handle: str, status: int, reason: str, **kwargs: object) -> None:
        self.endpoint.respond_invite(handle, status, reason, now=self.transport.now(),
                                     **kwargs)  # type: ignore[arg-type]

    def hang_up(self, handle: str, reason: str) -> None:
        if handle in self.calls:
            self.endpoint.hangup(handle, reason, now=self.transport.now())
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
            case sip.ReInviteAnswered(call=handle, status=status, sdp=sdp):
                self._size_answered(handle, status, sdp)
            case sip.InfoReceived(call=handle, content_type=content_type, body=body):
                call = self.calls.get(handle)
                if call and call.leg:
                    # The core answered 400 already when a body was malformed.
                    call.leg.post(_info_event(content_type, body))
            case sip.MessageReceived(call=handle, text=text):
                call = self.calls.get(handle)
                if call and call.leg:
                    call.leg.post(TextReceived(text))
            case sip.InfoAnswered(call=handle, status=status, content_type=content_type):
                call = self.calls.get(handle)
                # RFC 6086: 415 (or 501, no INFO at all) means "not this": stop asking so.
                if (call and call.leg and status in (415, 501)
                        and MEDIA_CONTROL_TYPE in (content_type or "").lower()):
                    call.leg.post(KeyFrameMethodRefused("info"))
            case sip.CallProgress(call=handle):
                call = self.calls.get(handle)
                if call is not None and call.dial is not None:
                    call.dial.progressed = True
            case sip.CallFailed(call=handle, status=status, reason=reason):
                call = self.calls.get(handle)
                if call is not None:
                    self._failover(call, handle, status, reason)
            case sip.RegistrationChanged(registration=handle, aor=aor, state=state,
                                         reason=reason):
                log_event(log, "sip.registration",
                          level=logging.WARNING if state == "failed" else logging.INFO,
                          aor=aor, state=state, reason=reason)
                if state == "unregistered":
                    self._binding_aors.pop(handle, None)
            case sip.CallEnded(call=handle, reason=reason, by_remote=by_remote):
                call = self.calls.get(handle)
                if call is not None:
                    self._end(call, reason, by_remote)

    def _incoming(self, ev: sip.IncomingCall) -> None:
        remote = f"{ev.remote[0]}:{ev.remote[1]}"
        encrypted = ev.transport == "tls" and ev.sdp is not None and offers_only_srtp(ev.sdp)
        info = CallInfo(ev.user, ev.display_name or "", ev.from_uri, remote,
                        encrypted=encrypted, headers=ev.headers)
        decision = self._admit(info)
        if isinstance(decision, Refuse):
            self._refuse(ev.call, info, decision)
            return
        call = self._new_call(ev.call, info, decision)
        call.transport = ev.transport
        call.local_ip = self._media.advertised_address or ev.local[0]
        try:
            call.media.reserve_audio()
        except PortsExhausted:
            decision.abandon()
            self._refuse(ev.call, info, Refuse(RefuseCause.FULL, "no media ports",
                                               retry_after=RETRY_AFTER_SECONDS))
            return
        try:
            body = self._first_answer(call, ev.sdp)
        except SdpError as error:
            call.media.release()
            decision.abandon()
            self._refuse(ev.call, info, _sdp_refusal(error))
            return
        self.calls[ev.call] = call
        self.admission.pending(ev.remote[0], ev.call)  # its seat and ports, until ACK or end
        if call.negotiated is not None:
            call.media.start(media_plan(call.negotiated, self._mtu, self._dtls))
        self._respond(ev.call, 200, "OK", body=body)
        video = call.negotiated.video if call.negotiated else None
        log_event(log, "sip.answered", call=ev.call, user=ev.user, remote=info.remote,
                  transport=ev.transport, rtp_port=call.media.audio_ports.rtp_port
                  if call.media.audio_ports else None,
                  codec=call.negotiated.audio.name
                  if call.negotiated and call.negotiated.audio else "offer-in-200",
                  video=f"{video.format.name} {video.size[0]}x{video.size[1]}" if video else None)

    def _video_port(self, call: _Call, offer: bytes | None) -> int | None:
        """A second port pair when video will be negotiated (an offer with video, or
        our own offer); without one the call goes on audio-only, never refused for it."""
        if self._video_policy is None or (offer is not None and not offers_video(offer)):
            return None
        return call.media.reserve_video()

    def _offer(self, call: _Call) -> bytes:
        """Our offer (dial-out, offerless INVITE): audio, and video when enabled."""
        audio_port = call.media.reserve_audio()
        return make_offer(call.local_ip, audio_port, self._media.audio_codecs,
                          call.sdp_session, video_port=self._video_port(call, None),
                          video_policy=self._video_policy, srtp=call.transport == "tls")

    def _refuse(self, handle: str, info: CallInfo, refuse: Refuse) -> None:
        status, reason, headers = sip_answer(refuse)
        log_event(log, "sip.refused", call=handle, user=info.user, remote=info.remote,
                  status=status, cause=refuse.cause, reason=refuse.reason)
        self._respond(handle, status, reason, headers=headers)

    def _first_answer(self, call: _Call, offer: bytes | None) -> bytes:
        if offer is None:  # offerless INVITE: we offer in the 200, the ACK answers
            call.our_offer = self._offer(call)
            return call.our_offer
        call.negotiated = self._answer(call, offer)
        return call.negotiated.answer_sdp

    def _answer(self, call: _Call, offer: bytes) -> Negotiated:
        audio_port = call.media.reserve_audio()
        return answer_offer(offer, local_ip=call.local_ip, audio_port=audio_port,
                            preferences=self._media.audio_codecs, session=call.sdp_session,
                            video_port=self._video_port(call, offer),
                            video_policy=self._video_policy,
                            sdes=call.transport == "tls" or self._sdes_without_tls,
                            dtls_fingerprint=self._dtls.fingerprint if self._dtls else None)

    def _confirmed(self, handle: str, sdp: bytes | None) -> None:
        call = self.calls.get(handle)
        if call is None:
            return
        self.admission.confirmed(handle)
        if call.negotiated is None and call.our_offer is not None:
            try:
                call.negotiated = accept_answer(call.our_offer, sdp or b"",
                                                self._video_policy)
                if call.negotiated.audio is None:
                    raise SdpError(488, "answer accepted no audio")
            except SdpError as error:
                log_event(log, "sip.ack_sdp_rejected", level=logging.WARNING, call=handle,
                          remote=call.info.remote, reason=error.reason)
                self.hang_up(handle, "bad-sdp-in-ack")
                return
            call.media.start(media_plan(call.negotiated, self._mtu, self._dtls))
        if call.leg is None and call.seat is not None:
            call.leg = self._leg(call)
            call.seat.join(call.leg)

    def _leg(self, call: _Call) -> RtpLeg:
        handle = call.handle
        # Endpoints that send no display name are shown by their From user part.
        name = call.info.display_name or _user_of(call.info.from_uri)
        leg_id = call.dial.leg_id if call.dial is not None else leg_id_of(handle)
        return RtpLeg(leg_id, self.name, name, call.info.remote, call.media,
                      secure_signalling=call.transport == "tls",
                      hang_up=lambda reason: self.hang_up(handle, reason),
                      # SIP INFO works whatever RTCP feedback the peer negotiated.
                      signalled_keyframes={"info": lambda: self.send_fast_update(handle)},
                      text=lambda text: self.send_text(handle, text),
                      resize=lambda width, height, _rate: self.request_video_size(
                          handle, width, height))

    def _reinvite(self, handle: str, offer: bytes | None) -> None:
        call = self.calls.get(handle)
        if call is None or not call.media.started or call.negotiated is None:
            self._respond(handle, 491, "Request Pending")
            return
        if offer is None:  # offerless re-INVITE: offer what we use now (RFC 3261 14.2)
            ours = self.endpoint.local_sdp(handle) or call.negotiated.answer_sdp
            self._respond(handle, 200, "OK", body=ours)
            return
        try:
            negotiated = self._answer(call, offer)
        except SdpError as error:  # keep the session as it was (RFC 3264 section 8)
            status, reason, _ = sip_answer(_sdp_refusal(error))
            self._respond(handle, status, reason)
            return
        was_on_hold = call.negotiated.on_hold
        call.negotiated = negotiated
        call.media.update(media_plan(negotiated, self._mtu, self._dtls))
        self._respond(handle, 200, "OK", body=negotiated.answer_sdp)
        if call.leg and negotiated.on_hold != was_on_hold:
            log_event(log, "sip.hold", call=handle, on_hold=negotiated.on_hold)
            call.leg.post(HoldChanged(negotiated.on_hold))

    def request_video_size(self, handle: str, width: int, height: int) -> bool:
        """Ask the peer by re-INVITE to send at most ``width`` x ``height``
        (``gateway.sdp.resize``); the latest wish goes out once the dialog is free.
        False when this call cannot ask: no video, encrypted media (a new offer would
        renegotiate its keys), or the peer refused an earlier request."""
        call = self.calls.get(handle)
        if (call is None or call.negotiated is None or call.negotiated.video is None
                or call.size_refused or call.negotiated.video_srtp is not None):
            return False
        call.size_wanted = (width, height)
        self._send_size(handle)
        return True

    def _send_size(self, handle: str) -> None:
        call = self.calls.get(handle)
        ours = self.endpoint.local_sdp(handle)
        if (call is None or call.size_wanted is None or call.size_offer is not None
                or call.size_refused or not ours):
            return
        offer = asking_for_size(ours, call.sdp_session, *call.size_wanted)
        try:
            self.endpoint.reinvite(handle, offer, now=self.transport.now())
        except sip.SipStateError:  # another transaction in the dialog: try again soon
            asyncio.get_running_loop().call_later(SIZE_RETRY_S, self._send_size, handle)
            return
        call.size_offer, call.size_asked, call.size_wanted = offer, call.size_wanted, None
        self.transport.flush()
        log_event(log, "sip.size_asked", call=handle, remote=call.info.remote,
                  width=call.size_asked[0], height=call.size_asked[1])

    def _size_answered(self, handle: str, status: int, sdp: bytes | None) -> None:
        """The peer's answer to our size request: a new session on 2xx; 491 (glare)
        tries again later; any other failure leaves the session as it was and ends
        asking."""
        call = self.calls.get(handle)
        if call is None or call.size_offer is None:
            return
        offer, call.size_offer = call.size_offer, None
        if 200 <= status < 300:
            try:
                negotiated = accept_answer(offer, sdp or b"", self._video_policy)
            except SdpError as error:
                log_event(log, "sip.size_answer_rejected", level=logging.WARNING,
                          call=handle, remote=call.info.remote, reason=error.reason)
                self.hang_up(handle, "bad-sdp-in-answer")
                return
            call.negotiated = negotiated
            call.media.update(media_plan(negotiated, self._mtu, self._dtls))
        elif status == 491:
            call.size_wanted = call.size_wanted or call.size_asked
            asyncio.get_running_loop().call_later(SIZE_RETRY_S, self._send_size, handle)
        else:
            call.size_refused = True
            log_event(log, "sip.size_refused", level=logging.WARNING, call=handle,
                      remote=call.info.remote, status=status)
        if call.size_wanted is not None and status != 491:
            self._send_size(handle)

    def call_statistics(self, handle: str) -> dict[str, object] | None:
        """What the call's media streams carry and how they fare (``Leg.statistics``)."""
        call = self.calls.get(handle)
        if call is None:
            return None
        return call.leg.statistics() if call.leg else {"remote": call.info.remote}

    def send_fast_update(self, handle: str) -> bool:
        """SIP INFO picture_fast_update (RFC 5168) in the call's dialog."""
        if handle not in self.calls:
            return False
        try:
            self.endpoint.send_info(handle, MEDIA_CONTROL_TYPE, FAST_UPDATE_BODY,
                                    now=self.transport.now())
        except sip.SipStateError:
            return False
        self.transport.flush()
        return True

    def send_text(self, handle: str, text: str) -> bool:
        """SIP MESSAGE (RFC 3428) with `text` in the call's dialog."""
        if handle not in self.calls:
            return False
        try:
            self.endpoint.send_text(handle, text, now=self.transport.now())
        except sip.SipStateError:
            return False
        self.transport.flush()
        return True

    def _rtp_timeout(self, handle: str) -> None:
        call = self.calls.get(handle)
        if call is not None:
            log_event(log, "sip.rtp_timeout", level=logging.WARNING, call=handle,
                      remote=call.info.remote)
            self.hang_up(handle, "rtp-timeout")

    async def _close_media(self, call: _Call) -> None:
        try:
            await call.media.close()
        finally:
            self._closing.discard(asyncio.current_task())  # type: ignore[arg-type]

    def _end(self, call: _Call, reason: str, by_remote: bool) -> None:
        """The one way a call ends: free its media, tell its leg or give back its seat."""
        self.calls.pop(call.handle, None)
        self.admission.ended(call.handle)
        if call.media.started:
            self._closing.add(asyncio.get_running_loop().create_task(self._close_media(call)))
        else:
            call.media.release()
        if call.leg is not None:
            call.leg.post(Hangup(reason, by_remote))
        elif call.seat is not None:
            call.seat.abandon()
        # A dial by name that never got up: every target it tried, and how each failed.
        tried = call.dial.tried if call.dial is not None and call.leg is None else []
        extra = {"leg": call.dial.leg_id, "tried": "; ".join(tried)} if tried else {}
        log_event(log, "sip.ended", call=call.handle, remote=call.info.remote, reason=reason,
                  by_remote=by_remote, **extra)


def _loose(proxy: SipUri) -> str:
    """The proxy's URI as a Route entry: loose routing (RFC 3261 16.12)."""
    text = str(proxy)
    return text if ";lr" in text else f"{text};lr"


def _user_of(uri: str) -> str:
    try:
        return parse_uri(uri.strip("<>")).user or ""
    except Exception:  # a From we could route on but not parse again: show nothing
        return ""


def _info_event(content_type: str, body: bytes) -> LegEvent:
    """What an INFO means to the conference: a key press, a fast update, or neither."""
    try:
        dtmf = parse_info_dtmf(content_type, body)
        if dtmf is not None:
            return dtmf
        if is_fast_update(content_type, body):
            return KeyFrameRequest("info")
    except (InfoDtmfError, MediaControlError):
        pass
    return InfoReceived(content_type, body)


def check_info(content_type: str, body: bytes) -> tuple[int, str] | None:
    """The SIP core's INFO check: a malformed DTMF or media control body is refused
    with 400 (RFC 6086)."""
    try:
        parse_info_dtmf(content_type, body)
        is_fast_update(content_type, body)
    except (InfoDtmfError, MediaControlError) as error:
        return 400, f"Bad Request ({error})"
    return None


def _sdp_refusal(error: SdpError) -> Refuse:
    """A malformed offer is a bad request; one with nothing in common, no media."""
    cause = RefuseCause.BAD_REQUEST if error.status == 400 else RefuseCause.NO_COMMON_MEDIA
    return Refuse(cause, error.reason)


def _extension_headers(options: Mapping[str, str]) -> list[tuple[str, str]]:
    """Dial options ``header:X-Name`` -> INVITE headers; only extension (``X-``) headers
    with one-line values, so no option can forge the request's own headers."""
    headers = []
    for key, value in options.items():
        name = key.removeprefix("header:")
        if name == key:
            continue
        if not re.fullmatch(r"X-[A-Za-z0-9-]{1,64}", name) or any(c in value for c in "\r\n"):
            raise UnsupportedUri(f"dial option {key!r}: only X- headers with one-line values")
        headers.append((name, value))
    return headers
