"""The H.323 gateway: a thin asyncio shell around ``gateway/h323/call.H323Call``.

It listens for H.225.0 call signalling on ``h323.port`` (TCP, TPKT framing), gives
each connection a call core, asks the MCU to admit the call (``CallInfo`` with the
dialled alias, like a SIP request URI), reserves the RTP ports, runs the separate
H.245 connection when the peer does not tunnel, and turns the core's media plans into
an ``RtpMediaSession`` with an ``RtpLeg``, the same as every other protocol's calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.gateway import GatewayContext, UnsupportedUri
from gateway.h323 import call as core
from gateway.h323.settings import H323Settings
from gateway.h323.tpkt import TpktError, TpktReader, frame
from gateway.leg import CallInfo, Dtmf, Hangup, KeyFrameRequest, Refuse, RefuseCause, Seat
from gateway.log import log_event
from gateway.media import AudioFormat
from gateway.rtp.media import (
    AudioPlan,
    MediaPlan,
    RtpLeg,
    RtpMediaSession,
    StreamPlan,
    VideoPlan,
)
from gateway.rtp.ports import PortsExhausted
from gateway.rtp.settings import MediaSettings, RtpSettings
from gateway.sdp.video import VideoPolicy

log = logging.getLogger("gateway.h323")
KEY_MS = 100  # userInputIndication carries no duration
NOWHERE = ("0.0.0.0", 9)  # a stream whose far end is not known yet (never sent to)


@dataclass(eq=False, slots=True)
class _Call:
    """One signalling connection and the call on it."""

    number: int
    core: core.H323Call
    remote: str  # "ip:port" of the peer's signalling
    transport: asyncio.Transport | None = None
    reader: TpktReader = field(default_factory=TpktReader)
    timer: asyncio.TimerHandle | None = None
    seat: Seat | None = None
    media: RtpMediaSession | None = None
    leg: RtpLeg | None = None
    h245: asyncio.Transport | None = None
    h245_reader: TpktReader = field(default_factory=TpktReader)
    h245_server: asyncio.Server | None = None
    h245_task: asyncio.Task[None] | None = None
    closing: asyncio.Task[None] | None = None
    local_ip: str = ""
    display: str = ""  # the caller's display name or aliases

    @property
    def leg_id(self) -> str:
        return f"h323-{self.number}"


class _Signalling(asyncio.Protocol):
    """Bytes of one call signalling connection into the gateway."""

    def __init__(self, gateway: H323Gateway, call: _Call | None = None) -> None:
        self.gateway = gateway
        self.call = call  # set for a call we make; else made when the peer connects

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.call is not None:
            self.call.transport = transport  # type: ignore[assignment]
            return
        self.call = self.gateway._opened(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self.call is not None:
            self.gateway._received(self.call, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.call is not None:
            self.gateway._lost(self.call)


class _H245(asyncio.Protocol):
    """Bytes of a separate H.245 connection into its call."""

    def __init__(self, gateway: H323Gateway, call: _Call) -> None:
        self.gateway = gateway
        self.call = call

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.call.h245 is not None or self.call.core.state == "released":
            transport.close()  # one H.245 connection per call
            return
        self.call.h245 = transport  # type: ignore[assignment]
        self.gateway._h245_up(self.call)

    def data_received(self, data: bytes) -> None:
        self.gateway._h245_received(self.call, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.call.h245 is not None:
            self.call.h245 = None
            self.call.core.h245_lost(self.gateway._now())
            self.gateway._run(self.call)


class H323Gateway:
    name = "h323"

    def __init__(self, settings: H323Settings, rtp: RtpSettings, media: MediaSettings,
                 context: GatewayContext, *, video_policy: VideoPolicy | None = None,
                 mtu: int = 1200) -> None:
        self.settings = settings
        self.video_policy = video_policy
        self.mtu = mtu
        self.rtp_settings = rtp
        self.media_settings = media
        self.context = context
        self.ports = context.ports
        self.audio_codecs = [c.upper() for c in media.audio_codecs
                             if c.upper() in ("PCMU", "PCMA", "G722")] or ["PCMU", "PCMA"]
        self._server: asyncio.Server | None = None
        self._calls: dict[int, _Call] = {}
        self._numbers = itertools.count(1)
        self._per_address: dict[str, int] = {}
        self._refusing: set[str] = set()  # addresses told about once per flood episode
        self.counters = dict.fromkeys(("calls_total", "refused", "bad_messages",
                                       "connections_refused"), 0)
        self.port = settings.port

    @classmethod
    def factory(cls, settings: Any, context: GatewayContext) -> H323Gateway:
        return cls(settings.h323, settings.rtp, settings.media, context,
                   video_policy=settings.video.policy(), mtu=settings.video.mtu)

    @property
    def schemes(self) -> tuple[str, ...]:
        return ("h323",) if self.settings.enabled else ()

    async def start(self) -> None:
        if not self.settings.enabled:
            return
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: _Signalling(self),
                                                    self.settings.host, self.settings.port,
                                                    reuse_address=True)
        except OSError as error:
            # 1720 is a privileged port: as a plain user the MCU still serves SIP and
            # the web control, and says how to take H.323 calls (dial-out still works).
            log_event(log, "h323.not_listening", level=logging.ERROR,
                      host=self.settings.host, port=self.settings.port, reason=str(error),
                      fix="set h323.port (MCU_H323__PORT) to a free port above 1023, or "
                          "run with CAP_NET_BIND_SERVICE")
            return
        self.port = self._server.sockets[0].getsockname()[1]
        log_event(log, "h323.listening", host=self.settings.host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for call in list(self._calls.values()):
            call.core.hang_up("shutdown")
            self._run(call)
        closing = [c.closing for c in self._calls.values() if c.closing is not None]
        if closing:
            await asyncio.wait(closing, timeout=2.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def dial(self, uri: str, seat: Seat, *, conference: str, display_name: str,
             options: Mapping[str, str] | None = None) -> str:
        """``h323:alias@host[:port]`` or ``h323:host[:port]`` (port 1720 by default): a
        Setup with Fast Connect proposals, calling as ``conference``."""
        alias, host, port = parse_uri(uri)
        call = _Call(next(self._numbers), core.H323Call(
            self._now(), audio_codecs=self.audio_codecs, video_policy=self.video_policy,
            mtu=self.mtu, media_timeout_s=self.settings.media_timeout_s, caller=True),
            f"{host}:{port}", seat=seat, display=alias or host)
        media = RtpMediaSession(self.ports, self.settings.host, self.rtp_settings,
                                on_timeout=lambda: self._media_timeout(call),
                                remote=call.remote)
        audio_port = media.reserve_audio()  # PortsExhausted: nothing held
        video_port = media.reserve_video() if self.video_policy is not None else None
        call.media = media
        self._calls[call.number] = call
        self.counters["calls_total"] += 1
        log_event(log, "h323.call.outgoing", remote=call.remote, alias=alias, leg=call.leg_id)
        asyncio.get_running_loop().create_task(
            self._call_out(call, alias, host, port, audio_port, video_port, conference,
                           display_name))
        return call.leg_id

    async def _call_out(self, call: _Call, alias: str, host: str, port: int, audio_port: int,
                        video_port: int | None, conference: str, display_name: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await asyncio.wait_for(loop.create_connection(
                lambda: _Signalling(self, call), host, port), 10.0)
        except (OSError, TimeoutError) as error:
            log_event(log, "h323.call.unreachable", level=logging.WARNING, remote=call.remote,
                      reason=str(error) or type(error).__name__)
            call.core.connection_lost()
            self._run(call)
            return
        if call.closing is not None:  # hung up while connecting
            transport.close()
            return
        sock = transport.get_extra_info("sockname") or ("127.0.0.1", 0)
        call.local_ip = self.media_settings.advertised_address or str(sock[0])
        peer = transport.get_extra_info("peername") or (host, port)
        call.core.setup(core.Local(call.local_ip, audio_port, video_port), self._now(),
                        destination=alias, signal_address=(str(peer[0]), int(peer[1])),
                        source_name=display_name or "MCU", source_number=conference)
        self._run(call)

    def registrations(self) -> list[dict[str, object]]:
        return []

    def statistics(self) -> dict[str, int]:
        calls = [c for c in self._calls.values() if c.core.state != "released"]
        held = sum(c.media.ports_held for c in self._calls.values() if c.media is not None)
        return {"calls": len(calls), "rtp_ports_in_use": held, **self.counters}

    @property
    def open_connections(self) -> int:
        """Signalling connections (and calls being closed) held now."""
        return len(self._calls)

    # -- connections ------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _opened(self, transport: asyncio.Transport) -> _Call | None:
        peer = transport.get_extra_info("peername") or ("?", 0)
        address = str(peer[0])
        if (len(self._calls) >= self.settings.max_connections
                or self._per_address.get(address, 0)
                >= self.settings.max_connections_per_address):
            self.counters["connections_refused"] += 1
            if address not in self._refusing:  # said once per episode, not per connection
                self._refusing.add(address)
                log_event(log, "h323.connection.refused", level=logging.WARNING,
                          remote=address, open=self._per_address.get(address, 0))
            transport.abort()
            return None
        self._refusing.discard(address)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        sock = transport.get_extra_info("sockname") or ("127.0.0.1", 0)
        call = _Call(next(self._numbers), core.H323Call(
            self._now(), audio_codecs=self.audio_codecs, video_policy=self.video_policy,
            mtu=self.mtu, setup_timeout_s=self.settings.setup_timeout_s,
            media_timeout_s=self.settings.media_timeout_s),
                     f"{peer[0]}:{peer[1]}", transport,
                     local_ip=self.media_settings.advertised_address or str(sock[0]))
        self._calls[call.number] = call
        self._arm(call)
        return call

    def _received(self, call: _Call, data: bytes) -> None:
        try:
            payloads = call.reader.feed(data)
        except TpktError as error:
            self._bad(call, str(error))
            call.core.connection_lost()
            self._run(call)
            return
        now = self._now()
        for payload in payloads:
            call.core.receive(payload, now)
        self._run(call)

    def _lost(self, call: _Call) -> None:
        call.transport = None
        if call.reader.pending and call.core.state != "released":
            self._bad(call, f"connection closed inside a TPKT packet "
                            f"({call.reader.pending} bytes)")
        call.core.connection_lost()
        self._run(call)

    def _bad(self, call: _Call, why: str) -> None:
        self.counters["bad_messages"] += 1
        log_event(log, "h323.bad_input", level=logging.WARNING, remote=call.remote, reason=why)

    # -- H.245 on its own connection ----------------------------------------------------------

    def _h245_up(self, call: _Call) -> None:
        if call.h245_server is not None:
            call.h245_server.close()  # one connection is all it waits for
        call.core.h245_connected(self._now())
        self._run(call)

    def _h245_received(self, call: _Call, data: bytes) -> None:
        try:
            payloads = call.h245_reader.feed(data)
        except TpktError as error:
            self._bad(call, f"H.245: {error}")
            call.core.hang_up("bad H.245 framing", core.Cause.PROTOCOL_ERROR)
            self._run(call)
            return
        now = self._now()
        for payload in payloads:
            call.core.receive_h245(payload, now)
        self._run(call)

    async def _listen_h245(self, call: _Call) -> tuple[str, int] | None:
        loop = asyncio.get_running_loop()
        try:
            call.h245_server = await loop.create_server(lambda: _H245(self, call),
                                                        call.local_ip, 0)
        except OSError:
            return None
        return call.local_ip, call.h245_server.sockets[0].getsockname()[1]

    async def _connect_h245(self, call: _Call, address: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.create_connection(lambda: _H245(self, call),
                                                          *address), 5.0)
        except (TimeoutError, OSError) as error:
            log_event(log, "h323.h245.connect_failed", level=logging.WARNING,
                      remote=call.remote, address=f"{address[0]}:{address[1]}",
                      reason=str(error) or type(error).__name__)
            call.core.hang_up("H.245 connection failed", core.Cause.TEMPORARY_FAILURE)
            self._run(call)

    # -- the core's actions ---------------------------------------------------------------------

    def _run(self, call: _Call) -> None:
        """Carry out what the core asks, including what handling it asks next (an
        admitted call's answer)."""
        while actions := call.core.actions():
            for action in actions:
                handler = _HANDLERS.get(type(action))
                if handler is not None:
                    handler(self, call, action)
        self._arm(call)

    def _arm(self, call: _Call) -> None:
        when = call.core.next_timer()
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None
        if when is not None:
            call.timer = asyncio.get_running_loop().call_at(when, self._fire, call)

    def _fire(self, call: _Call) -> None:
        call.timer = None
        call.core.handle_timer(self._now())
        self._run(call)

    def _send_q931(self, call: _Call, action: core.SendQ931) -> None:
        if call.transport is not None and not call.transport.is_closing():
            call.transport.write(frame(action.data))

    def _send_h245(self, call: _Call, action: core.SendH245) -> None:
        if call.h245 is not None and not call.h245.is_closing():
            call.h245.write(frame(action.data))

    def _incoming(self, call: _Call, action: core.Incoming) -> None:
        info = CallInfo(user=action.dialled, display_name=action.display_name,
                        from_uri=f"h323:{action.caller or '?'}@{call.remote.split(':')[0]}",
                        remote=call.remote, protocol="h323")
        verdict = self.context.admit(info)
        if isinstance(verdict, Refuse):
            self.counters["refused"] += 1
            log_event(log, "h323.call.refused", remote=call.remote, dialled=action.dialled,
                      cause=verdict.cause.value, reason=verdict.reason)
            call.core.refuse(verdict.cause, verdict.reason)
            return
        call.seat = verdict
        call.display = action.display_name or f"H.323 {call.remote.rsplit(':', 1)[0]}"
        call.media = RtpMediaSession(self.ports, self.settings.host, self.rtp_settings,
                                     on_timeout=lambda: self._media_timeout(call),
                                     remote=call.remote)
        try:
            port = call.media.reserve_audio()
        except PortsExhausted:
            call.core.refuse(RefuseCause.FULL, "no free RTP ports")
            return
        video_port = call.media.reserve_video() if self.video_policy is not None else None
        self.counters["calls_total"] += 1
        log_event(log, "h323.call.incoming", remote=call.remote, dialled=action.dialled,
                  leg=call.leg_id, tunnelling=not action.separate_h245)
        local = core.Local(call.local_ip, port, video_port)
        if action.separate_h245:
            asyncio.get_running_loop().create_task(self._accept_separate(call, local))
        else:
            call.core.accept(local, self._now())

    async def _accept_separate(self, call: _Call, local: core.Local) -> None:
        address = await self._listen_h245(call)
        if call.closing is not None:  # the caller went while we opened the listener
            if call.h245_server is not None:
                call.h245_server.close()
            return
        call.core.accept(local, self._now(), h245_address=address)
        self._run(call)

    def _connect_h245_action(self, call: _Call, action: core.ConnectH245) -> None:
        call.h245_task = asyncio.get_running_loop().create_task(
            self._connect_h245(call, action.address))

    def _media(self, call: _Call, action: core.Media) -> None:
        media = call.media
        if media is None:
            return
        plan = MediaPlan(audio=_audio_plan(action.audio) if action.audio else None,
                         video=_video_plan(action.video) if action.video else None)
        if not media.started:
            media.start(plan)
            call.leg = RtpLeg(call.leg_id, "h323", call.display, call.remote, media,
                              hang_up=lambda reason: self._hang_up(call, reason),
                              signalled_keyframes={"h245": lambda: self._ask_keyframe(call)},
                              resize=lambda width, height, rate: self._ask_size(
                                  call, width, height, rate))
            if call.seat is not None:
                call.seat.join(call.leg)
        else:
            media.update(plan)

    def _ask_size(self, call: _Call, width: int, height: int, frame_rate: float) -> bool:
        """A size request (issue 14) as H.245 can say it: a cap on the peer's bit rate."""
        asked = call.core.request_video_size(width, height, frame_rate)
        self._run(call)
        return asked

    def _ask_keyframe(self, call: _Call) -> bool:
        asked = call.core.request_keyframe()
        self._run(call)
        return asked

    def _key(self, call: _Call, action: core.Key) -> None:
        if call.leg is not None:
            call.leg.post(Dtmf(action.digit, KEY_MS, "h245"))

    def _keyframe(self, call: _Call, action: core.KeyFrameAsked) -> None:
        if call.leg is not None:
            call.leg.post(KeyFrameRequest("h245"))

    def _ended(self, call: _Call, action: core.Ended) -> None:
        log_event(log, "h323.call.ended", remote=call.remote, leg=call.leg_id,
                  reason=action.reason, cause=action.cause, by_remote=action.by_remote)
        if call.leg is not None:
            call.leg.post(Hangup(action.reason, by_remote=action.by_remote))
        elif call.seat is not None:
            call.seat.abandon()
        call.seat = None

    def _close(self, call: _Call, action: core.Close) -> None:
        if call.closing is None:
            call.closing = asyncio.get_running_loop().create_task(self._close_call(call))

    async def _close_call(self, call: _Call) -> None:
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None
        if call.transport is not None:
            call.transport.close()
        if call.h245 is not None:
            call.h245.close()
        if call.h245_server is not None:
            call.h245_server.close()
        if call.h245_task is not None and not call.h245_task.done():
            call.h245_task.cancel()
        if call.media is not None:
            if call.media.started:
                await call.media.close()
            else:
                call.media.release()
        self._calls.pop(call.number, None)
        address = call.remote.rsplit(":", 1)[0]
        left = self._per_address.get(address, 1) - 1
        if left > 0:
            self._per_address[address] = left
        else:
            self._per_address.pop(address, None)

    def _hang_up(self, call: _Call, reason: str) -> None:
        call.core.hang_up(reason)
        self._run(call)

    def _media_timeout(self, call: _Call) -> None:
        call.core.hang_up("rtp-timeout", core.Cause.RECOVERY_ON_TIMER_EXPIRY)
        self._run(call)


def _stream_plan(stream: core.Stream) -> StreamPlan:
    send_to = stream.send_to or NOWHERE
    return StreamPlan(send_to, stream.send_rtcp_to or (send_to[0], send_to[1] + 1),
                      rtcp_mux=False, sending=stream.send_to is not None,
                      receiving=stream.receiving, symmetric=False)


def _audio_plan(stream: core.Stream) -> AudioPlan:
    return AudioPlan(AudioFormat(stream.codec, stream.payload_type, 8000),
                     _stream_plan(stream))


def _video_plan(stream: core.Stream) -> VideoPlan | None:
    if stream.video is None:
        return None
    # One payload type both ways: the session depacketizes what it sends.
    return VideoPlan(replace(stream.video, payload_type=stream.payload_type),
                     _stream_plan(stream))


def parse_uri(uri: str) -> tuple[str, str, int]:
    """(alias, host, port) of ``h323:[alias@]host[:port]``; UnsupportedUri otherwise."""
    scheme, _, rest = uri.partition(":")
    if scheme.lower() != "h323" or not rest:
        raise UnsupportedUri(f"{uri!r} is not an h323: URI")
    alias, _, where = rest.rpartition("@")
    host, _, port_text = where.partition(":")
    if host.startswith("["):
        raise UnsupportedUri(f"{uri!r}: IPv6 is not supported for H.323")
    try:
        port = int(port_text) if port_text else 1720
    except ValueError:
        raise UnsupportedUri(f"{uri!r}: port {port_text!r} is not a number") from None
    if not host or not 0 < port < 65536 or any(c in host for c in "/?;# "):
        raise UnsupportedUri(f"{uri!r} names no host to call")
    return alias, host, port


_HANDLERS = {
    core.SendQ931: H323Gateway._send_q931,
    core.SendH245: H323Gateway._send_h245,
    core.Incoming: H323Gateway._incoming,
    core.ConnectH245: H323Gateway._connect_h245_action,
    core.Media: H323Gateway._media,
    core.Key: H323Gateway._key,
    core.KeyFrameAsked: H323Gateway._keyframe,
    core.Ended: H323Gateway._ended,
    core.Close: H323Gateway._close,
}
