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
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.dtmf.info import InfoDtmfError, parse_info_dtmf
from gateway.gateway import UnsupportedUri
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
    Seat,
)
from gateway.log import log_event
from gateway.media import AudioFormat, EncodedAudio, EncodedVideo, VideoSendFormat
from gateway.rtp.ports import PortAllocator, PortPair, PortsExhausted
from gateway.rtp.session import RtpSession
from gateway.rtp.transport import RtpEndpoint
from gateway.rtp.video import VideoRtpSession
from gateway.sdp.model import SdpError
from gateway.sdp.negotiate import (
    LocalSession,
    Negotiated,
    accept_answer,
    answer_offer,
    make_offer,
    offers_video,
)
from gateway.sdp.video import VideoAnswer, VideoPolicy
from gateway.sip import endpoint as sip
from gateway.sip.media_control import (
    FAST_UPDATE_BODY,
    MEDIA_CONTROL_TYPE,
    MediaControlError,
    is_fast_update,
)
from gateway.sip.message import SipParseError, parse_uri
from gateway.sip.transport import SipTransport

if TYPE_CHECKING:
    from mcu.settings import MediaSettings, RtpSettings, SipSettings, VideoSettings

log = logging.getLogger("gateway.sip")

RETRY_AFTER_SECONDS = "30"


def leg_id_of(handle: str) -> str:
    """The Leg id of a SIP call handle (what the web control calls a participant)."""
    return f"sip-{handle}"


class SipLeg:
    """One SIP call as the conference sees it (gateway.leg.Leg)."""

    protocol = "sip"

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

    def statistics(self) -> dict[str, object]:
        """Codecs, packets, loss, jitter and key frames of both streams, both ways."""
        return self._service.call_statistics(self._call.handle) or {}

    # -- video (None / no-ops on an audio-only call) ---------------------------------

    @property
    def video_format(self) -> VideoSendFormat | None:
        """What to encode for this peer; None when it sends and takes no video."""
        return self._call.video_format()

    @property
    def video_receiving(self) -> bool:
        """Whether the peer's video reaches us (it may be receive-only, or on hold)."""
        negotiated = self._call.negotiated
        video = negotiated.video if negotiated else None
        return video is not None and video.receiving and self._call.video_rtp is not None

    @property
    def video_sending(self) -> bool:
        """Whether what we send reaches the peer (not receive-only on its side, not on
        hold): the mixer encodes nothing for a peer that takes no video."""
        rtp = self._call.video_rtp
        return rtp is not None and rtp.sending

    @property
    def keyframe_methods(self) -> tuple[str, ...]:
        """How this peer can be asked for a key frame, in the order to try."""
        negotiated = self._call.negotiated
        video = negotiated.video if negotiated else None
        if video is None:
            return ()
        methods = [m for m, fb in (("pli", "nack pli"), ("fir", "ccm fir")) if fb in video.rtcp_fb]
        return (*methods, "info")  # SIP INFO works whatever RTCP the peer negotiated

    @property
    def video_needs_keyframe(self) -> bool:
        rtp = self._call.video_rtp
        return rtp is not None and rtp.session.needs_keyframe  # type: ignore[union-attr]

    def read_video(self) -> list[EncodedVideo]:
        rtp = self._call.video_rtp
        if rtp is None:
            return []
        session: VideoRtpSession = rtp.session  # type: ignore[assignment]
        for ask in session.keyframe_asks():
            self.post(KeyFrameRequest(ask.kind.value))
        return session.read_frames()

    def write_video(self, frame: EncodedVideo) -> None:
        rtp = self._call.video_rtp
        if rtp is not None and rtp.sending:
            session: VideoRtpSession = rtp.session  # type: ignore[assignment]
            rtp.send_packets(session.packetize(frame, rtp.now()))

    def request_keyframe(self, method: str, repeat: bool = False) -> bool:
        """Ask the peer for a key frame by ``method`` ("pli", "fir", "info"); False when
        it cannot go out yet (no packet from the peer names its SSRC)."""
        if method == "info":
            return self._service.send_fast_update(self._call.handle)
        rtp = self._call.video_rtp
        if rtp is None:
            return False
        session: VideoRtpSession = rtp.session  # type: ignore[assignment]
        packet = session.build_keyframe_request(method, repeat=repeat)
        if packet is None:
            return False
        rtp.send_rtcp_now(packet)
        return True

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
    video_ports: PortPair | None = None  # allocated when the offer has video
    video_rtp: RtpEndpoint | None = None
    video_started: asyncio.Task[None] | None = None
    mtu: int = 1200

    def video_format(self) -> VideoSendFormat | None:
        video = self.negotiated.video if self.negotiated else None
        if video is None or self.video_rtp is None:
            return None
        return send_format(video, self.mtu)


def send_format(video: VideoAnswer, mtu: int) -> VideoSendFormat:
    """The encoder's target for a negotiated video stream."""
    fmt = video.format
    return VideoSendFormat(fmt.name, fmt.payload_type, video.size[0], video.size[1],
                           video.frame_rate, video.bitrate_bps,
                           packetization_mode=fmt.packetization_mode or 0, mtu=mtu)


class SipService:
    """The SIP gateway (``gateway.gateway.Gateway``)."""

    name = "sip"
    schemes = ("sip",)

    def __init__(
        self,
        sip_settings: SipSettings,
        rtp_settings: RtpSettings,
        media_settings: MediaSettings,
        admit: Admit,
        video_settings: VideoSettings | None = None,
    ):
        self._rtp_settings = rtp_settings
        self._media = media_settings
        self._video = video_settings
        self._video_policy = _video_policy(video_settings)
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

    def dial(self, uri: str, seat: Seat, *, conference: str = "mcu",
             display_name: str = "") -> str:
        """Call out (UAC); the Leg joins ``seat`` once the callee answers. Returns
        the Leg's id. We call from ``conference`` (the From user part).

        The URI's host must be an IP address (no DNS yet); ``;transport=tcp`` is
        honoured. Raises UnsupportedUri for a URI we cannot dial and PortsExhausted
        when no RTP ports are left; nothing is held after either.
        """
        try:
            target = parse_uri(uri)
        except SipParseError as error:
            raise UnsupportedUri(f"not a SIP URI: {error}") from None
        if target.scheme != "sip" or not target.host:
            raise UnsupportedUri(f"not a sip: URI: {uri!r}")
        transport = (target.params.get("transport") or "udp").lower()
        if transport not in ("udp", "tcp"):
            raise UnsupportedUri(f"unsupported transport {transport!r} in {uri!r}")
        remote = (target.host.strip("[]"), target.port or 5060)
        try:  # a name would need a (blocking) DNS lookup on the event loop
            ipaddress.ip_address(remote[0])
        except ValueError:
            raise UnsupportedUri(f"the host of {uri!r} must be an IP address") from None
        from_user, display_name = conference, display_name or None
        local = self.transport.local_address(remote[0])
        info = CallInfo(target.user or "", display_name or "", uri, f"{remote[0]}:{remote[1]}")
        ports = self.ports.allocate(self._rtp_host)
        local_ip = self._media.advertised_address or local[0]
        call = _Call("", info, seat=seat, ports=ports, local_ip=local_ip)
        call.our_offer = self._offer(call)
        try:
            call.handle = self.endpoint.invite(str(target), remote, transport,
                                               from_user=from_user, display_name=display_name,
                                               sdp=call.our_offer, local=local)
        except Exception:
            self._release_ports(call)
            raise
        self.calls[call.handle] = call
        self.transport.flush()
        log_event(log, "sip.dialing", call=call.handle, remote=info.remote, transport=transport)
        return leg_id_of(call.handle)

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
                    # The core answered 400 already when a body was malformed.
                    call.leg.post(_info_event(content_type, body))
            case sip.InfoAnswered(call=handle, status=status, content_type=content_type):
                call = self.calls.get(handle)
                # RFC 6086: 415 (or 501, no INFO at all) means "not this": stop asking so.
                if (call and call.leg and status in (415, 501)
                        and MEDIA_CONTROL_TYPE in (content_type or "").lower()):
                    call.leg.post(KeyFrameMethodRefused("info"))
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
        if self._video is not None:
            call.mtu = self._video.mtu
        try:
            call.ports = self.ports.allocate(self._rtp_host)
        except PortsExhausted:
            decision.abandon()
            self._refuse(ev.call, info, Refuse(503, "Service Unavailable (no media ports)",
                                               (("Retry-After", RETRY_AFTER_SECONDS),)))
            return
        self._allocate_video(call, ev.sdp)
        try:
            body = self._first_answer(call, ev.sdp)
        except SdpError as error:
            self._release_ports(call)
            decision.abandon()
            self._refuse(ev.call, info, Refuse(error.status, _reason(error)))
            return
        self.calls[ev.call] = call
        if call.negotiated is not None:
            self._start_media(call)
        self.endpoint.respond_invite(ev.call, 200, "OK", body=body)
        video = call.negotiated.video if call.negotiated else None
        log_event(log, "sip.answered", call=ev.call, user=ev.user, remote=info.remote,
                  transport=ev.transport, rtp_port=call.ports.rtp_port,
                  codec=call.negotiated.audio.name if call.negotiated else "offer-in-200",
                  video=f"{video.format.name} {video.size[0]}x{video.size[1]}" if video else None)

    def _offer(self, call: _Call) -> bytes:
        """Our offer (dial-out, offerless INVITE): audio, and video when enabled."""
        assert call.ports is not None
        if self._video is not None:
            call.mtu = self._video.mtu
        self._allocate_video(call, None)
        video_port = call.video_ports.rtp_port if call.video_ports else None
        return make_offer(call.local_ip, call.ports.rtp_port, self._media.audio_codecs,
                          call.sdp_session, video_port=video_port,
                          video_policy=self._video_policy)

    def _allocate_video(self, call: _Call, offer: bytes | None) -> None:
        """A second port pair when video will be negotiated (an offer with video, or
        our own offer); without one the call goes on audio-only, never refused for it."""
        if self._video_policy is None or call.video_ports is not None:
            return
        if offer is not None and not offers_video(offer):
            return
        try:
            call.video_ports = self.ports.allocate(self._rtp_host)
        except PortsExhausted:
            log_event(log, "sip.no_video_ports", level=logging.WARNING, call=call.handle,
                      remote=call.info.remote)

    def _release_ports(self, call: _Call) -> None:
        for pair in (call.ports, call.video_ports):
            if pair is not None:
                self.ports.release(pair)

    def _refuse(self, handle: str, info: CallInfo, refuse: Refuse) -> None:
        log_event(log, "sip.refused", call=handle, user=info.user, remote=info.remote,
                  status=refuse.status, reason=refuse.reason)
        self.endpoint.respond_invite(handle, refuse.status, refuse.reason,
                                     headers=list(refuse.headers))

    def _first_answer(self, call: _Call, offer: bytes | None) -> bytes:
        assert call.ports is not None
        if offer is None:  # offerless INVITE: we offer in the 200, the ACK answers
            call.our_offer = self._offer(call)
            return call.our_offer
        call.negotiated = self._answer(call, offer)
        return call.negotiated.answer_sdp

    def _answer(self, call: _Call, offer: bytes) -> Negotiated:
        assert call.ports is not None
        video_port = call.video_ports.rtp_port if call.video_ports else None
        return answer_offer(offer, local_ip=call.local_ip, audio_port=call.ports.rtp_port,
                            preferences=self._media.audio_codecs, session=call.sdp_session,
                            video_port=video_port, video_policy=self._video_policy)

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
        self._start_video(call)

    def _start_video(self, call: _Call) -> None:
        negotiated, ports = call.negotiated, call.video_ports
        if negotiated is None or negotiated.video is None or ports is None:
            return
        session = VideoRtpSession(send_format(negotiated.video, call.mtu), negotiated.video_rtp,
                                  negotiated.video_rtcp, negotiated.video_rtcp_mux)
        # No inactivity timeout: a receive-only or camera-off peer sends no video at all;
        # the audio stream's watchdog ends a dead call.
        call.video_rtp = RtpEndpoint(session, ports, self.ports, inactivity_timeout=math.inf)
        self._apply_video_directions(call.video_rtp, negotiated)
        call.video_started = asyncio.get_running_loop().create_task(call.video_rtp.start())

    def _confirmed(self, handle: str, sdp: bytes | None) -> None:
        call = self.calls.get(handle)
        if call is None:
            return
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
        if call.video_rtp is not None:
            self._apply_video_directions(call.video_rtp, negotiated)
        self.endpoint.respond_invite(handle, 200, "OK", body=negotiated.answer_sdp)
        if call.leg and negotiated.on_hold != was_on_hold:
            log_event(log, "sip.hold", call=handle, on_hold=negotiated.on_hold)
            call.leg.post(HoldChanged(negotiated.on_hold))

    @staticmethod
    def _apply_directions(rtp: RtpEndpoint, negotiated: Negotiated) -> None:
        rtp.update_remote(negotiated.remote_rtp, negotiated.remote_rtcp, negotiated.rtcp_mux,
                          sending=negotiated.sending, receiving=negotiated.receiving)

    @staticmethod
    def _apply_video_directions(rtp: RtpEndpoint, negotiated: Negotiated) -> None:
        video = negotiated.video
        if video is None:  # a re-INVITE declined video: keep the port, send nothing
            rtp.update_remote(rtp.session.remote_rtp, rtp.session.remote_rtcp,
                              rtp.session.rtcp_mux, sending=False, receiving=False)
            return
        session: VideoRtpSession = rtp.session  # type: ignore[assignment]
        session.set_format(send_format(video, session.format.mtu))
        rtp.update_remote(negotiated.video_rtp, negotiated.video_rtcp,
                          negotiated.video_rtcp_mux, sending=video.sending and not
                          negotiated.on_hold, receiving=video.receiving)

    def statistics(self) -> dict[str, int]:
        """The gateway's counters (``Gateway.statistics``)."""
        return {"calls": len(self.calls), "rtp_ports_in_use": 2 * self.ports.in_use}

    def call_statistics(self, handle: str) -> dict[str, object] | None:
        """What the call's media streams carry and how they fare, for the web control."""
        call = self.calls.get(handle)
        if call is None:
            return None
        negotiated = call.negotiated
        out: dict[str, object] = {"remote": call.info.remote}
        if call.rtp is not None and negotiated is not None and negotiated.audio is not None:
            out["audio"] = {"codec": negotiated.audio.name, **call.rtp.session.stats}
        video = negotiated.video if negotiated else None
        if call.video_rtp is not None and video is not None:
            out["video"] = {"codec": video.format.name, "send_size": list(video.size),
                            "send_frame_rate": video.frame_rate,
                            "send_bitrate_bps": video.bitrate_bps,
                            **call.video_rtp.session.stats}
        return out

    def send_fast_update(self, handle: str) -> bool:
        """SIP INFO picture_fast_update (RFC 5168) in the call's dialog."""
        if handle not in self.calls:
            return False
        try:
            self.endpoint.send_info(handle, MEDIA_CONTROL_TYPE, FAST_UPDATE_BODY)
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
        assert call.rtp is not None
        try:
            # Never close sockets a start is still wrapping.
            for started in (call.rtp_started, call.video_started):
                if started is not None:
                    await started
            await call.rtp.close()
            if call.video_rtp is not None:
                await call.video_rtp.close()
            elif call.video_ports is not None:
                self.ports.release(call.video_ports)
        finally:
            self._closing.discard(asyncio.current_task())  # type: ignore[arg-type]

    def _end(self, call: _Call, reason: str, by_remote: bool) -> None:
        """The one way a call ends: free its media, tell its leg or give back its seat."""
        self.calls.pop(call.handle, None)
        if call.rtp is not None:
            self._closing.add(asyncio.get_running_loop().create_task(self._close_media(call)))
        else:
            self._release_ports(call)
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


def _video_policy(settings: VideoSettings | None) -> VideoPolicy | None:
    if settings is None or not settings.enabled:
        return None
    return VideoPolicy(tuple(settings.codecs), (settings.width, settings.height),
                       settings.frame_rate, tuple(settings.h264_modes),
                       settings.max_bitrate_bps)


def _reason(error: SdpError) -> str:
    phrase = {400: "Bad Request", 488: "Not Acceptable Here"}.get(error.status, "Error")
    return f"{phrase} ({error.reason})"
