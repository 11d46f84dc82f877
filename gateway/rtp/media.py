"""One call's RTP media, whatever signalled it: the media half of every Leg.

SIP (SDP offer/answer), RTSP (DESCRIBE/SETUP) and H.323 (H.245 logical channels) all
end up with the same thing to run: an audio stream, a video stream, or both, each
with a codec, payload type, remote addresses, rtcp-mux and directions. They describe
it as a protocol-neutral ``MediaPlan``; ``RtpMediaSession`` owns the ports and the
RTP endpoints that carry it (allocate, start, re-plan, statistics, close), and
``RtpLeg`` presents it to the conference as a ``gateway.leg.Leg``. A gateway only
signals: it builds plans and says how to hang up and which key-frame requests its
signalling can carry besides RTCP (SIP INFO, H.245 videoFastUpdatePicture).

Ports: a session reserves one pair per stream from the shared ``PortAllocator`` as
soon as the signalling knows the stream is wanted, and gives every pair back on
``close`` (or ``release`` when media never started), whichever way the call ends.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from gateway.leg import Hangup, KeyFrameRequest, LegEvent
from gateway.log import log_event
from gateway.media import AudioFormat, EncodedAudio, EncodedVideo, VideoSendFormat
from gateway.rtp.dtls import DtlsPlan
from gateway.rtp.ports import PortAllocator, PortPair, PortsExhausted
from gateway.rtp.session import AacRtpSession, RtpSession
from gateway.rtp.settings import RtpSettings
from gateway.rtp.transport import CarriedEndpoint, RtpEndpoint, StreamShell
from gateway.rtp.video import VideoRtpSession
from gateway.sdp.crypto import SrtpKeys

log = logging.getLogger("gateway.rtp")

Address = tuple[str, int]
RTCP_KEYFRAME_METHODS = ("pli", "fir")  # RFC 4585 PLI, RFC 5104 FIR: cheapest first


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """Where one stream goes and which ways it flows (from our point of view)."""

    remote_rtp: Address
    remote_rtcp: Address
    rtcp_mux: bool
    sending: bool  # we send and the peer takes it (not on hold, not its sendonly)
    receiving: bool  # the peer sends to us
    srtp: SrtpKeys | DtlsPlan | None = None  # SDES keys, or keys DTLS will make; None: RTP
    # Send where the peer's packets come from (RFC 4961; NAT) rather than to the
    # signalled address. H.323 endpoints often send from another port than they
    # receive on, and H.245 names the receive address exactly: False there.
    symmetric: bool = True


@dataclass(frozen=True, slots=True)
class AudioPlan:
    format: AudioFormat
    stream: StreamPlan
    telephone_event_pt: int | None = None  # RFC 4733 events, when the peer sends them
    telephone_event_rate: int | None = None
    fmtp: Mapping[str, str] | None = None  # what the peer sends: AAC's mode and sizes


@dataclass(frozen=True, slots=True)
class VideoPlan:
    format: VideoSendFormat  # what we send (the peer's limits); its codec is also what
    stream: StreamPlan  # we depacketize
    feedback: tuple[str, ...] = ()  # RTCP key-frame requests the peer honours: "pli", "fir"
    fmtp: Mapping[str, str] | None = None  # what the peer sends: e.g. sprop parameter sets


@dataclass(frozen=True, slots=True)
class MediaPlan:
    """What to run: audio, video or both (a camera is video only)."""

    audio: AudioPlan | None = None
    video: VideoPlan | None = None


class RtpMediaSession:
    """Ports and RTP endpoints of one call, built from ``MediaPlan``s."""

    def __init__(self, allocator: PortAllocator, host: str, settings: RtpSettings,
                 *, on_timeout: Callable[[], None] | None = None, remote: str = "") -> None:
        self._allocator = allocator
        self._host = host
        self._settings = settings
        self._on_timeout = on_timeout
        self._remote = remote  # for log lines
        self.audio_ports: PortPair | None = None
        self.video_ports: PortPair | None = None
        self.plan = MediaPlan()
        self.audio: StreamShell | None = None
        self.video: StreamShell | None = None
        self.carried = False
        self._starting: list[asyncio.Task[None]] = []
        self._closed = False

    # -- ports ----------------------------------------------------------------------

    def reserve_audio(self) -> int:
        """A port pair for audio; raises PortsExhausted. Returns the RTP port."""
        if self.audio_ports is None:
            self.audio_ports = self._allocator.allocate(self._host)
        return self.audio_ports.rtp_port

    def reserve_video(self, *, required: bool = False) -> int | None:
        """A port pair for video. Without one a call goes on without video (None),
        unless video is all it is (``required``: raises PortsExhausted)."""
        if self.video_ports is None:
            try:
                self.video_ports = self._allocator.allocate(self._host)
            except PortsExhausted:
                if required:
                    raise
                log_event(log, "rtp.no_video_ports", level=logging.WARNING,
                          remote=self._remote)
                return None
        return self.video_ports.rtp_port

    @property
    def ports_held(self) -> int:
        """Ports (RTP and RTCP) this call holds now."""
        return 2 * sum(pair is not None for pair in (self.audio_ports, self.video_ports))

    # -- media ----------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self.audio is not None or self.video is not None

    def start(self, plan: MediaPlan, *, carried: bool = False) -> None:
        """Open the planned streams on their reserved ports (a stream planned without
        ports is left out). The watchdog ends the call when the peer's media stops:
        on audio when there is audio, else on video (a camera).

        ``carried``: the packets come by another carrier (RTSP interleaved over TCP),
        not by UDP: every planned stream is built without sockets or ports and the
        gateway hands it each packet through ``receive``; what the streams would send
        back (RTCP reports) is dropped (``transport.CarriedEndpoint``)."""
        if self.started or self._closed:
            return
        self.plan = plan
        self.carried = carried
        if plan.audio is not None and (carried or self.audio_ports is not None):
            self.audio = self._endpoint(_audio_session(plan.audio, self._settings),
                                        self.audio_ports, watched=True)
        if plan.video is not None and (carried or self.video_ports is not None):
            video = plan.video
            session = VideoRtpSession(video.format, video.stream.remote_rtp,
                                      video.stream.remote_rtcp, video.stream.rtcp_mux,
                                      fmtp=video.fmtp)
            # A receive-only or camera-off peer sends no video at all: only a video-only
            # call watches its video.
            self.video = self._endpoint(session, self.video_ports, watched=self.audio is None)
        self._apply(plan)

    def _endpoint(self, session: RtpSession | VideoRtpSession, ports: PortPair | None,
                  watched: bool) -> StreamShell:
        timeout = self._settings.inactivity_timeout if watched else math.inf
        on_timeout = self._on_timeout if watched else None
        endpoint: RtpEndpoint | CarriedEndpoint
        if self.carried or ports is None:
            endpoint = CarriedEndpoint(session, inactivity_timeout=timeout, on_timeout=on_timeout)
        else:
            endpoint = RtpEndpoint(session, ports, self._allocator, inactivity_timeout=timeout,
                                   on_timeout=on_timeout)
        # start() only wraps the sockets already bound, so it completes at once; packets
        # that arrive before it wait in the kernel's socket buffer.
        self._starting.append(asyncio.get_running_loop().create_task(endpoint.start()))
        return endpoint

    def receive_many(self, kind: str, rtp: bool, datas: list[bytes], now: float) -> None:
        """Packets of one ``carried`` stream ("audio" or "video"; RTP or RTCP) that came
        together from its carrier (one read of a camera's TCP connection); ignored for a
        stream that is not carried or not running."""
        endpoint = self.audio if kind == "audio" else self.video if kind == "video" else None
        if isinstance(endpoint, CarriedEndpoint):
            endpoint.receive_many(rtp, datas, now)

    def update(self, plan: MediaPlan) -> None:
        """A renegotiation (re-INVITE, new channels): new remotes, directions, formats.
        A stream the new plan drops keeps its port and goes silent both ways."""
        self.plan = plan
        self._apply(plan)

    def _apply(self, plan: MediaPlan) -> None:
        if self.audio is not None:
            _direct(self.audio, plan.audio.stream if plan.audio else None)
        if self.video is not None:
            if plan.video is not None:
                session: VideoRtpSession = self.video.session  # type: ignore[assignment]
                session.set_format(plan.video.format)
            _direct(self.video, plan.video.stream if plan.video else None)

    @property
    def encrypted(self) -> bool:
        """Every stream that runs is SRTP (False with none running)."""
        running = [e for e in (self.audio, self.video) if e is not None]
        return bool(running) and all(getattr(e, "encrypted", False) for e in running)

    def statistics(self) -> dict[str, object]:
        """Codecs, packets, loss, jitter and key frames of each stream, both ways; SRTP
        suite and drops (replayed, failed authentication) where it runs."""
        out: dict[str, object] = {}
        if self.audio is not None and self.plan.audio is not None:
            out["audio"] = {"codec": self.plan.audio.format.name, **self.audio.session.stats,
                            **_srtp_statistics(self.audio)}
        if self.video is not None and self.plan.video is not None:
            fmt = self.plan.video.format
            out["video"] = {"codec": fmt.codec, "send_size": [fmt.width, fmt.height],
                            "send_frame_rate": fmt.frame_rate,
                            "send_bitrate_bps": fmt.bitrate_bps,
                            **self.video.session.stats, **_srtp_statistics(self.video)}
        return out

    async def close(self) -> None:
        """Stop both streams (RTCP BYE), close their sockets, give every port back."""
        if self._closed:
            return
        self._closed = True
        # Never close sockets a start is still wrapping.
        await asyncio.gather(*self._starting, return_exceptions=True)
        for endpoint in (self.audio, self.video):
            if endpoint is not None:
                await endpoint.close()  # a UDP one frees its own ports
        for pair, endpoint in ((self.audio_ports, self.audio), (self.video_ports, self.video)):
            if pair is not None and not isinstance(endpoint, RtpEndpoint):
                self._allocator.release(pair)  # never started, or carried instead
        self.audio_ports = self.video_ports = None

    def release(self) -> None:
        """Give back the reserved ports of a call whose media never started."""
        assert not self.started, "started media closes with close()"
        self._closed = True
        for pair in (self.audio_ports, self.video_ports):
            if pair is not None:
                self._allocator.release(pair)
        self.audio_ports = self.video_ports = None


def _audio_session(audio: AudioPlan, settings: RtpSettings) -> RtpSession:
    """The receive side the codec needs: AAC access units as they come, else a jitter
    buffer of 20 ms frames."""
    extra: dict[str, object] = {"telephone_event_rate": audio.telephone_event_rate}
    kind: type[RtpSession] = RtpSession
    if audio.format.name.upper() == "MPEG4-GENERIC":
        kind, extra["fmtp"] = AacRtpSession, dict(audio.fmtp or {})
    return kind.from_settings(audio.format, audio.telephone_event_pt, audio.stream.remote_rtp,
                              audio.stream.remote_rtcp, audio.stream.rtcp_mux, settings,
                              **extra)


def _srtp_statistics(endpoint: StreamShell) -> dict[str, object]:
    if not isinstance(endpoint, RtpEndpoint):
        return {"srtp": None}
    return endpoint.protection.statistics()


def _direct(endpoint: StreamShell, stream: StreamPlan | None) -> None:
    if isinstance(endpoint, RtpEndpoint) and stream is not None:
        endpoint.set_protection(stream.srtp)  # before directions: nothing leaves in clear
    if stream is None:  # dropped by a renegotiation: keep the port, send nothing
        session = endpoint.session
        endpoint.update_remote(session.remote_rtp, session.remote_rtcp, session.rtcp_mux,
                               sending=False, receiving=False)
        return
    endpoint.session.symmetric = stream.symmetric
    endpoint.update_remote(stream.remote_rtp, stream.remote_rtcp, stream.rtcp_mux,
                           sending=stream.sending, receiving=stream.receiving)


class RtpLeg:
    """A ``gateway.leg.Leg`` over an ``RtpMediaSession``; the gateway gives it the
    signalling half: how to hang up, the key-frame requests its signalling carries
    (asked after the RTCP ones, in the order given), when it carries text, how to
    send some (``text``: a ``gateway.leg.TextLeg``) and, when it can ask the peer for
    another picture size, how (``resize``: a ``gateway.leg.VideoSizeLeg``)."""

    def __init__(
        self,
        leg_id: str,
        protocol: str,
        display_name: str,
        remote: str,
        media: RtpMediaSession,
        *,
        hang_up: Callable[[str], None],
        signalled_keyframes: Mapping[str, Callable[[], bool]] | None = None,
        secure_signalling: bool = False,
        text: Callable[[str], bool] | None = None,
        resize: Callable[[int, int, float], bool] | None = None,
    ) -> None:
        self.id = leg_id
        self.protocol = protocol
        self.display_name = display_name
        self.remote = remote
        self.media = media
        self._hang_up = hang_up
        self._signalled = dict(signalled_keyframes or {})
        self._secure_signalling = secure_signalling
        self._text = text
        self._resize = resize
        self._queue: asyncio.Queue[LegEvent] = asyncio.Queue()

    @property
    def encrypted(self) -> bool:
        """Signalling over TLS and every running media stream SRTP."""
        return self._secure_signalling and self.media.encrypted

    # -- audio ----------------------------------------------------------------------

    @property
    def audio_format(self) -> AudioFormat | None:
        audio = self.media.plan.audio
        return audio.format if audio is not None and self.media.audio is not None else None

    @property
    def audio_sending(self) -> bool:
        """Whether what we send reaches the peer: the mixer encodes nothing for a peer
        that takes no audio (a camera)."""
        rtp = self.media.audio
        return rtp is not None and rtp.sending

    @property
    def dtmf_events(self) -> bool:
        """Whether the peer sends keys as RFC 4733 events (else listen for tones)."""
        audio = self.media.plan.audio
        return audio is not None and audio.telephone_event_pt is not None

    def read_audio(self) -> EncodedAudio | None:
        rtp = self.media.audio
        if rtp is None:
            return None
        for dtmf in rtp.events():  # drained once a tick: DTMF rides the media clock
            self.post(dtmf)
        return rtp.read_audio()

    def write_audio(self, frame: EncodedAudio) -> None:
        if self.media.audio is not None:
            self.media.audio.send_audio(frame)

    # -- video (None / no-ops without video) -----------------------------------------

    @property
    def _video_session(self) -> VideoRtpSession | None:
        rtp = self.media.video
        return rtp.session if rtp is not None else None  # type: ignore[return-value]

    @property
    def video_format(self) -> VideoSendFormat | None:
        """What to encode for this peer; None when it sends and takes no video."""
        session = self._video_session
        return session.format if session is not None and self.media.plan.video else None

    @property
    def video_receiving(self) -> bool:
        """Whether the peer's video reaches us (it may be receive-only, or on hold)."""
        rtp = self.media.video
        return rtp is not None and self.media.plan.video is not None and rtp.receiving

    @property
    def video_sending(self) -> bool:
        """Whether what we send reaches the peer: the mixer encodes nothing for a peer
        that takes no video."""
        rtp = self.media.video
        return rtp is not None and rtp.sending

    @property
    def keyframe_methods(self) -> tuple[str, ...]:
        """How this peer can be asked for a key frame, in the order to try."""
        video = self.media.plan.video
        if video is None or self.media.video is None:
            return ()
        rtcp = tuple(m for m in RTCP_KEYFRAME_METHODS if m in video.feedback)
        return (*rtcp, *self._signalled)

    @property
    def video_needs_keyframe(self) -> bool:
        session = self._video_session
        return session is not None and session.needs_keyframe

    def read_video(self) -> list[EncodedVideo]:
        session = self._video_session
        if session is None:
            return []
        for ask in session.keyframe_asks():
            self.post(KeyFrameRequest(ask.kind.value))
        return session.read_frames()

    def write_video(self, frame: EncodedVideo) -> None:
        rtp, session = self.media.video, self._video_session
        if rtp is not None and session is not None and rtp.sending:
            rtp.send_packets(session.packetize(frame, rtp.now()))

    def request_keyframe(self, method: str, repeat: bool = False) -> bool:
        """Ask the peer for a key frame by one of ``keyframe_methods``; False when it
        cannot go out (yet: no packet from the peer names its SSRC)."""
        if method in self._signalled:
            return self._signalled[method]()
        rtp, session = self.media.video, self._video_session
        if rtp is None or session is None or method not in RTCP_KEYFRAME_METHODS:
            return False
        packet = session.build_keyframe_request(method, repeat=repeat)
        if packet is None:
            return False
        rtp.send_rtcp_now(packet)
        return True

    def request_video_size(self, width: int, height: int, frame_rate: float) -> bool:
        """``gateway.leg.VideoSizeLeg``: by the signalling's way of asking (a SIP
        re-INVITE); False when it has none."""
        return (self._resize(width, height, frame_rate) if self._resize is not None
                else False)

    # -- the rest of the Leg ---------------------------------------------------------

    def statistics(self) -> dict[str, object]:
        return {"remote": self.remote, "protocol": self.protocol, "encrypted": self.encrypted,
                **self.media.statistics()}

    async def events(self) -> AsyncIterator[LegEvent]:
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, Hangup):
                return

    async def hang_up(self, reason: str) -> None:
        self._hang_up(reason)

    def send_text(self, text: str) -> bool:
        """Text to the peer by the signalling's own means (``TextLeg``), if it has one."""
        return self._text is not None and self._text(text)

    def post(self, event: LegEvent) -> None:
        """An event for the conference (the gateway's signalling posts them too)."""
        self._queue.put_nowait(event)
