"""The RTSP camera gateway: an IP camera as a video-only conference participant.

``dial("rtsp://[user:pass@]host[:port]/path", seat, ...)`` makes a ``CameraLeg`` (an
``RtpLeg``: protocol "rtsp", never sent video or audio, no key-frame methods: a
camera is never asked) and joins the seat at once: the camera is a participant while
it connects, its cell the camera-off slate until pictures come. One task per camera
then runs attempts, one at a time, as ``camera.CameraCore`` (sans-IO) decides:

  DESCRIBE -> choose the first video stream with a codec ``depacketizer_for`` knows
  (and, with the ``audio`` option, the first audio stream in PCMU, PCMA, G722 or AAC)
  -> SETUP (UDP client ports from the shared allocator, or TCP interleaved) -> PLAY
  -> media through a fresh ``RtpMediaSession`` (UDP sockets, or ``carried``: the
  RTSP connection's ``Interleaved`` frames, a read's at a time, are handed to
  ``RtpMediaSession.receive_many``).

Camera audio is heard only with the ``audio`` option (cameras' microphones are noisy):
the leg then has an audio format from the start (silent PCMU until the camera's own
audio comes), so the mixer takes it in; a camera without usable audio stays silent.

An attempt ends on a failure (the client's ``Failed``: refused, dropped, TEARDOWN or
close by the server, wrong credentials), an unsupported codec, the UDP fallback, or
media that stopped; its media then stops receiving (``video_receiving`` False: the
mixer shows the slate, never a frozen picture), its ports go back, and the next
attempt waits out the core's backoff. The leg stays in the conference throughout,
until ``hang_up`` (TEARDOWN, media closed, ``Hangup`` posted) or ``stop``.

Credentials live only in the URL this module keeps privately and hands the client;
every log line, statistic, repr and display name uses ``redact_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from gateway.gateway import GatewayContext, UnsupportedUri
from gateway.leg import Hangup, Seat
from gateway.log import log_event
from gateway.media import (
    VIDEO_CLOCK_RATE,
    AudioFormat,
    EncodedAudio,
    EncodedVideo,
    VideoSendFormat,
)
from gateway.rtp.media import (
    AudioPlan,
    MediaPlan,
    RtpLeg,
    RtpMediaSession,
    StreamPlan,
    VideoPlan,
)
from gateway.rtp.payload.aac import AacDepacketizer
from gateway.rtp.ports import PortsExhausted
from gateway.rtp.settings import RtpSettings
from gateway.rtp.video import depacketizer_for
from gateway.sdp.model import Media, SessionDescription
from gateway.sdp.video import parse_fmtp

from .camera import CameraCore
from .client import (
    Closed,
    Event,
    Failed,
    Interleaved,
    Playing,
    Ready,
    RtspClient,
    StreamInfo,
    redact_url,
)
from .settings import RtspSettings
from .shell import RtspConnection

log = logging.getLogger("gateway.rtsp")

TICK_S = 0.25  # how often an attempt asks the core whether to end it
TEARDOWN_WAIT_S = 2.0
_NOWHERE = ("0.0.0.0", 0)  # never sent to (transport._sendable)
_FRAMESIZE = re.compile(r"^\s*(\d+)\s+(\d+)-(\d+)\s*$")  # a=framesize:<pt> W-H
_DIMENSIONS = re.compile(r"^\s*(\d+)\s*,\s*(\d+)\s*$")  # a=x-dimensions:W,H
_numbers = itertools.count(1)
_EVENTS = ("reconnects", "udp_fallbacks", "stalls", "failures")  # in statistics()
_AUDIO_CODECS = ("PCMU", "PCMA", "G722", "MPEG4-GENERIC")  # what the mixer decodes
SILENT_AUDIO = AudioFormat("PCMU", 0, 8000)  # a camera's audio until its own comes


class CameraLeg(RtpLeg):
    """An ``RtpLeg`` whose statistics add the camera's connection state."""

    camera: _Camera

    @property
    def audio_format(self) -> AudioFormat | None:  # type: ignore[override]
        """The camera's audio format; with the ``audio`` option, a silent one until
        (and whenever) the camera sends none, so the mixer has the leg from the start."""
        own = super().audio_format
        return own or (SILENT_AUDIO if self.camera.audio else None)

    def read_video(self) -> list[EncodedVideo]:
        self._pull()
        return super().read_video()

    def read_audio(self) -> EncodedAudio | None:
        self._pull()
        return super().read_audio()

    def _pull(self) -> None:
        """The mixers read at their tick: the camera's stream is read then, all that
        came since in one read (``RtspConnection.pull``; issue 12)."""
        attempt = self.camera.attempt
        if attempt is not None and attempt.conn is not None:
            attempt.conn.pull()

    def statistics(self) -> dict[str, object]:
        return {**super().statistics(), "camera": self.camera.describe()}


@dataclass(frozen=True, slots=True)
class _Chosen:
    """One stream chosen at DESCRIBE: its codec and fmtp (the parameter sets, AAC's
    config and sizes the camera gives in SDP)."""

    format: VideoSendFormat | AudioFormat
    fmtp: dict[str, str]


@dataclass(slots=True)
class _Attempt:
    media: RtpMediaSession
    transport: str
    conn: RtspConnection | None = None
    channels: dict[int, tuple[str, bool]] = field(default_factory=dict)  # tcp: channel ->
    chosen: dict[str, _Chosen] = field(default_factory=dict)  # (kind, rtp); kind -> codec
    end: tuple[str, bool] | None = None  # (reason, retryable) once over


@dataclass(slots=True)
class _Camera:
    leg_id: str
    url: str  # with credentials: only ever given to RtspClient
    shown_url: str  # redacted
    core: CameraCore
    audio: bool = False  # the camera's audio is heard
    leg: CameraLeg | None = None
    attempt: _Attempt | None = None
    first_media: RtpMediaSession | None = None  # ports reserved by dial
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False

    def describe(self) -> dict[str, object]:
        return {"state": self.core.state, "reason": self.core.reason, "url": self.shown_url,
                "transport": self.core.transport, **self.core.counters}

    @property
    def ports_held(self) -> int:
        held = self.first_media.ports_held if self.first_media is not None else 0
        return held + (self.attempt.media.ports_held if self.attempt is not None else 0)


class RtspGateway:
    """``gateway.gateway.Gateway`` for ``rtsp://`` cameras (dial-out only)."""

    name = "rtsp"
    schemes = ("rtsp",)

    def __init__(self, settings: RtspSettings, rtp: RtpSettings,
                 context: GatewayContext) -> None:
        self.settings = settings
        self._rtp = rtp
        self._context = context
        self._cameras: dict[str, _Camera] = {}  # until their task has given all back
        self._retired = dict.fromkeys(_EVENTS, 0)

    @classmethod
    def factory(cls, settings: Any, context: GatewayContext) -> RtspGateway:
        return cls(settings.rtsp_client, settings.rtp, context)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        cameras = list(self._cameras.values())
        for camera in cameras:
            self._end(camera, "shutdown")
        tasks = [c.task for c in cameras if c.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    def registrations(self) -> list[dict[str, object]]:
        return []  # cameras are pulled: nothing to register

    def statistics(self) -> dict[str, int]:
        return {"calls": sum(not c.stopping for c in self._cameras.values()),
                "rtp_ports_in_use": sum(c.ports_held for c in self._cameras.values()),
                **{f"camera_{name}": count + sum(c.core.counters[name]
                                                 for c in self._cameras.values())
                   for name, count in self._retired.items()}}

    def camera(self, leg_id: str) -> dict[str, object] | None:
        """The camera's state for tools and tests: state, reason, url, transport."""
        camera = self._cameras.get(leg_id)
        return camera.describe() if camera is not None else None

    # ---- dialling ---------------------------------------------------------------------

    def dial(self, uri: str, seat: Seat, *, conference: str, display_name: str,
             options: Mapping[str, str] | None = None) -> str:
        """``options``: ``name`` (the camera's label; default its host), ``transport``
        ("auto", "udp", "tcp"; default the ``rtsp_client`` setting) and ``audio``
        ("true" to hear the camera; default "false")."""
        options = options or {}
        settings = self.settings
        transport = options.get("transport", settings.transport)
        if transport not in ("auto", "udp", "tcp"):
            raise UnsupportedUri(f"transport {transport!r} is not auto, udp or tcp")
        audio = options.get("audio", "false").lower()
        if audio not in ("true", "false"):
            raise UnsupportedUri(f"audio {audio!r} is not true or false")
        settings = settings.model_copy(update={"transport": transport})
        try:
            RtspClient(uri, transport="tcp", media=("video",))  # checks the URL's form
        except ValueError as error:
            raise UnsupportedUri(str(error)) from None
        shown = redact_url(uri)
        leg_id = f"rtsp-{next(_numbers)}"
        camera = _Camera(leg_id, uri, shown, CameraCore(settings), audio=audio == "true")
        if settings.transport != "tcp":
            first = self._media(camera)
            first.reserve_video(required=True)  # PortsExhausted: nothing held
            camera.first_media = first
        parts = urlsplit(shown)
        host = parts.hostname or shown
        remote = f"{host}:{parts.port or 554}"
        # ``display_name`` is how the MCU presents itself (Gateway.dial): the conference's
        # name, not the camera's; the camera is shown by its host.
        leg = CameraLeg(leg_id, self.name, options.get("name") or host, remote,
                        self._idle_media(),
                        hang_up=lambda reason: self._end(camera, reason))
        leg.camera = camera
        camera.leg = leg
        self._cameras[leg_id] = camera
        camera.task = asyncio.get_running_loop().create_task(self._run(camera),
                                                             name=f"camera-{leg_id}")
        try:
            seat.join(leg)
        except BaseException:
            self._end(camera, "not-joined")  # its task gives the ports back
            raise
        log_event(log, "rtsp.camera.state", leg=leg_id, url=shown, state=camera.core.state,
                  reason="", transport=camera.core.transport)
        return leg_id

    def _media(self, camera: _Camera) -> RtpMediaSession:
        return RtpMediaSession(self._context.ports, self.settings.rtp_host, self._rtp,
                               remote=camera.shown_url)

    def _default_format(self, payload_type: int = 96, codec: str = "H264") -> VideoSendFormat:
        return VideoSendFormat(codec, payload_type, self.settings.video_width,
                               self.settings.video_height, 30.0, 0)

    def _idle_media(self) -> RtpMediaSession:
        """What the leg shows before its first pictures: a video stream that receives
        nothing (the mixer's camera-off slate, not an audio-only one)."""
        media = RtpMediaSession(self._context.ports, self.settings.rtp_host, self._rtp)
        stream = StreamPlan(_NOWHERE, _NOWHERE, False, sending=False, receiving=False)
        media.start(MediaPlan(video=VideoPlan(self._default_format(), stream)), carried=True)
        return media

    def _end(self, camera: _Camera, reason: str) -> None:
        """Hang up (ours, the operator's or shutdown): TEARDOWN and close in the task."""
        if camera.stopping:
            return
        camera.stopping = True
        camera.wake.set()
        log_event(log, "rtsp.camera.hangup", leg=camera.leg_id, url=camera.shown_url,
                  reason=reason)
        if camera.leg is not None:
            camera.leg.post(Hangup(reason, by_remote=False))

    # ---- one camera's life --------------------------------------------------------------

    async def _run(self, camera: _Camera) -> None:
        loop = asyncio.get_running_loop()
        try:
            assert camera.leg is not None
            await camera.leg.media.close()  # the idle stream: no task, no port
            while not camera.stopping:
                transport = camera.core.begin(loop.time())
                await self._attempt(camera, transport)
                if camera.stopping:
                    break
                attempt = camera.attempt
                assert attempt is not None and attempt.end is not None
                reason, retryable = attempt.end
                camera.attempt = None
                delay = camera.core.ended(reason, retryable, loop.time())
                self._log_state(camera)
                if reason != "fallback":
                    log_event(log, "rtsp.camera.retry", leg=camera.leg_id, url=camera.shown_url,
                              delay_s=f"{delay:.2f}", retries=camera.core.backoff.attempts)
                camera.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(camera.wake.wait(), delay)
        finally:
            if camera.first_media is not None:
                camera.first_media.release()
                camera.first_media = None
            if self._cameras.pop(camera.leg_id, None) is not None:
                self._retire(camera)

    async def _attempt(self, camera: _Camera, transport: str) -> None:
        loop = asyncio.get_running_loop()
        media, camera.first_media = camera.first_media, None
        if media is not None and transport == "tcp":
            media.release()
            media = None
        media = media or self._media(camera)
        attempt = camera.attempt = _Attempt(media, transport)
        try:
            ports = self._client_ports(camera, media) if transport == "udp" else {}
            if ports is None:
                attempt.end = ("no free RTP ports", True)
                return
            kinds = ("video", "audio") if camera.audio and (
                transport == "tcp" or "audio" in ports) else ("video",)
            client = RtspClient(camera.url, transport=transport, client_ports=ports,
                                media=kinds,
                                choose=lambda sdp: self._choose(camera, attempt, sdp))
            attempt.conn = RtspConnection(
                client, lambda event: self._on_event(camera, attempt, event),
                on_interleaved=lambda frames: self._on_interleaved(camera, attempt, frames))
            await attempt.conn.start()
            while attempt.end is None and not camera.stopping:
                camera.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(camera.wake.wait(), TICK_S)
                now = loop.time()
                video = media.video
                camera.core.media(video.session.last_received if video else None, now)
                self._log_state(camera)
                action = camera.core.check(now)
                if action is not None and attempt.end is None:
                    reason = "fallback" if action == "fallback" else "no video from the camera"
                    attempt.end = (reason, True)
        finally:
            await self._close_attempt(camera, attempt)

    def _client_ports(self, camera: _Camera, media: RtpMediaSession
                      ) -> dict[str, tuple[int, int]] | None:
        """UDP ports to offer the camera: video's (None when there are none), and
        audio's when its audio is wanted and a pair is free."""
        try:
            rtp = media.reserve_video(required=True)
        except PortsExhausted:
            return None
        assert rtp is not None
        ports = {"video": (rtp, rtp + 1)}
        if camera.audio:
            with contextlib.suppress(PortsExhausted):
                audio = media.reserve_audio()
                ports["audio"] = (audio, audio + 1)
        return ports

    async def _close_attempt(self, camera: _Camera, attempt: _Attempt) -> None:
        media = attempt.media
        if media.started and media.plan.video is not None:
            # Stop showing it at once: the mixer draws the slate, not the last picture.
            video = media.plan.video
            media.update(replace(media.plan, video=replace(
                video, stream=replace(video.stream, receiving=False))))
        if attempt.conn is not None:
            with contextlib.suppress(Exception):
                await attempt.conn.close(timeout=TEARDOWN_WAIT_S)
        if media.started:
            await media.close()
        else:
            media.release()

    # ---- RTSP events (synchronous, on the loop) ------------------------------------------

    def _on_event(self, camera: _Camera, attempt: _Attempt, event: Event) -> None:
        if attempt.end is not None or camera.stopping:
            return
        # Interleaved packets come to ``_on_interleaved``, a read's at a time.
        if isinstance(event, Ready):
            self._start_media(camera, attempt, event)
        elif isinstance(event, Playing):
            camera.core.playing(self._now(attempt))
        elif isinstance(event, Failed):
            if event.reason.startswith("SETUP answered 461") and camera.core.transport_refused():
                self._finish(camera, attempt, "fallback", retryable=True)
            else:
                self._finish(camera, attempt, event.reason, event.retryable)
        elif isinstance(event, Closed):
            self._finish(camera, attempt, "closed", retryable=True)

    def _on_interleaved(self, camera: _Camera, attempt: _Attempt,
                        frames: list[Interleaved]) -> None:
        """The packets of one read, each run of one channel's handed on in one call."""
        if attempt.end is not None or camera.stopping:
            return
        now, channels, receive = self._now(attempt), attempt.channels, attempt.media.receive_many
        start = 0
        for end in range(1, len(frames) + 1):
            if end < len(frames) and frames[end].channel == frames[start].channel:
                continue
            stream = channels.get(frames[start].channel)
            if stream is not None:
                receive(*stream, [frame.data for frame in frames[start:end]], now)
            start = end

    def _now(self, attempt: _Attempt) -> float:
        assert attempt.conn is not None
        return attempt.conn.now()

    def _finish(self, camera: _Camera, attempt: _Attempt, reason: str, retryable: bool) -> None:
        if attempt.end is None:
            attempt.end = (reason, retryable)
        camera.wake.set()

    def _choose(self, camera: _Camera, attempt: _Attempt, sdp: SessionDescription
                ) -> list[int] | str:
        """The media sections to set up (RtspClient asks at DESCRIBE): the first video
        stream with a codec we can depacketize, whichever stream of the SDP it is, and
        with ``audio`` the first audio stream we can decode; or why there is none."""
        video = self._choose_video(sdp)
        if isinstance(video, str):
            return video
        index, attempt.chosen["video"] = video
        chosen = [index]
        if camera.audio:
            audio = _choose_audio(sdp)
            if audio is not None:
                chosen.append(audio[0])
                attempt.chosen["audio"] = audio[1]
            else:
                log_event(log, "rtsp.camera.no_audio", leg=camera.leg_id,
                          url=camera.shown_url, offered=_codecs(sdp, "audio"))
        return chosen

    def _choose_video(self, sdp: SessionDescription) -> tuple[int, _Chosen] | str:
        for index, media in enumerate(sdp.media):
            if media.media != "video":
                continue
            for pt, rtpmap in media.rtpmaps().items():
                if rtpmap.clock_rate != VIDEO_CLOCK_RATE:
                    continue
                codec = rtpmap.encoding.upper()
                fmtp = parse_fmtp(media.fmtp(pt))
                try:
                    depacketizer_for(codec, fmtp)
                except ValueError:
                    continue
                width, height = _picture_size(media, pt) or (self.settings.video_width,
                                                             self.settings.video_height)
                fmt = replace(self._default_format(pt, codec), width=width, height=height)
                return index, _Chosen(fmt, fmtp)
        offered = _codecs(sdp, "video")
        if not offered:
            return "the camera offers no video"
        return f"unsupported video codec: {offered}"

    def _start_media(self, camera: _Camera, attempt: _Attempt, ready: Ready) -> None:
        streams = {info.kind: info for info in ready.streams}
        if "video" not in streams or "video" not in attempt.chosen:
            self._finish(camera, attempt, "the camera set up no video", retryable=False)
            return
        tcp = ready.streams[0].transport == "tcp"
        plans: dict[str, StreamPlan] = {}
        for kind, info in streams.items():
            plans[kind] = self._stream_plan(attempt, info)
        video = attempt.chosen["video"]
        assert isinstance(video.format, VideoSendFormat)
        audio_plan = None
        audio = attempt.chosen.get("audio")
        if audio is not None and "audio" in plans:
            assert isinstance(audio.format, AudioFormat)
            audio_plan = AudioPlan(audio.format, plans["audio"], fmtp=audio.fmtp)
        attempt.media.start(MediaPlan(audio=audio_plan, video=VideoPlan(
            video.format, plans["video"], fmtp=video.fmtp)), carried=tcp)
        assert camera.leg is not None
        camera.leg.media = attempt.media  # the leg now shows this attempt's pictures

    @staticmethod
    def _stream_plan(attempt: _Attempt, info: StreamInfo) -> StreamPlan:
        """Receive only: from the interleaved channels, or from the server's ports."""
        if info.transport == "tcp":
            rtp, rtcp = info.interleaved or (0, 1)
            attempt.channels[rtp] = (info.kind, True)
            attempt.channels[rtcp] = (info.kind, False)
            return StreamPlan(_NOWHERE, _NOWHERE, False, sending=False, receiving=True)
        host = info.server_address or _NOWHERE[0]
        rtp_port, rtcp_port = info.server_ports or (0, 0)
        return StreamPlan((host, rtp_port), (host, rtcp_port), False, sending=False,
                          receiving=True)

    # ---- the operator's view -------------------------------------------------------------

    def _log_state(self, camera: _Camera) -> None:
        for change in camera.core.changes():
            log_event(log, "rtsp.camera.state", leg=camera.leg_id, url=camera.shown_url,
                      state=change.state, reason=change.reason,
                      transport=camera.core.transport)

    def _retire(self, camera: _Camera) -> None:
        """Keep a gone camera's event counts, so the gateway's stay monotonic."""
        for name in _EVENTS:
            self._retired[name] += camera.core.counters[name]


def _picture_size(media: Media, payload_type: int) -> tuple[int, int] | None:
    """The picture size the SDP names, if any (a=framesize, a=x-dimensions)."""
    for value in media.values("framesize"):
        match = _FRAMESIZE.match(value)
        if match and int(match.group(1)) == payload_type:
            return int(match.group(2)), int(match.group(3))
    for value in media.values("x-dimensions"):
        match = _DIMENSIONS.match(value)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def _choose_audio(sdp: SessionDescription) -> tuple[int, _Chosen] | None:
    """The first audio stream in a codec the mixer decodes (AAC with a usable fmtp)."""
    for index, media in enumerate(sdp.media):
        if media.media != "audio":
            continue
        for pt, rtpmap in media.rtpmaps().items():
            name = rtpmap.encoding.upper()
            if name not in _AUDIO_CODECS:
                continue
            fmtp = parse_fmtp(media.fmtp(pt))
            config = None
            if name == "MPEG4-GENERIC":
                try:
                    config = AacDepacketizer.from_fmtp(fmtp).config
                except ValueError:
                    continue
            elif rtpmap.clock_rate != 8000:
                continue
            fmt = AudioFormat(name, pt, rtpmap.clock_rate, rtpmap.channels or 1, config)
            return index, _Chosen(fmt, fmtp)
    return None


def _codecs(sdp: SessionDescription, kind: str) -> str:
    """The codecs the SDP offers for ``kind``, for reasons and logs."""
    names = [rtpmap.encoding.upper() for media in sdp.media if media.media == kind
             for rtpmap in media.rtpmaps().values()]
    return ", ".join(dict.fromkeys(names)) or ("none named" if any(
        m.media == kind for m in sdp.media) else "")
