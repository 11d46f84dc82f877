"""The watcher's view (issue 15): a conference as someone who watches it gets it.

A ``WatcherLeg`` joins a conference's mixers without being a participant: the video
mixer gives it the common picture at the conference layout with nobody excluded (its
state is ``watching``: never shown, never slated), the audio mixer the full mix of
everyone (it sends nothing, so nobody is left out of its mix). Its picture is encoded
by the video mixer once per stream profile, as for any viewer (an ``H264`` send format
of the profile's size, rate and bit rate), and its audio arrives as L16 PCM.

``HlsWriter`` muxes what the leg receives into an HLS playlist with PyAV (MPEG-TS
segments, a sliding playlist, old segments deleted), encoding the audio to AAC once.
Muxing and AAC encoding run in the writer's own thread so the loop never waits on
them; what arrives while the thread is behind is dropped and counted, never queued
without bound. Timestamps come from when the mixer handed each picture over (the mix
clock is drift-free) and from the audio sample count, so audio never drifts from the
picture it was mixed with.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from gateway.leg import Leg, LegEvent
from gateway.log import log_event
from gateway.media import INTERNAL_RATE, AudioFormat, EncodedAudio, EncodedVideo, VideoSendFormat

log = logging.getLogger(__name__)

VIDEO_TIME_BASE = Fraction(1, 90_000)
AUDIO_TIME_BASE = Fraction(1, INTERNAL_RATE)
L16 = AudioFormat("L16", payload_type=-1, clock_rate=INTERNAL_RATE)
QUEUE_LIMIT = 120  # about two seconds of pictures and audio frames together
AAC_FRAME = 1024
PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg%05d.ts"
FRAGMENT_S = 1.0  # a recording loses at most about this much in a crash


class MuxWriter:
    """Muxes a watcher's pictures and audio into one output, in its own thread.

    Subclasses say what the output is (``_open``) and what closing leaves behind.
    """

    def __init__(self, name: str, fmt: VideoSendFormat | None, *,
                 audio_bitrate_bps: int) -> None:
        self.format = fmt  # None: audio only (a conference without video)
        self.audio_bitrate_bps = audio_bitrate_bps
        self.dropped = 0  # items the thread was too far behind to take
        self.pictures = 0
        self.failure: str | None = None  # why the thread stopped early, if it did
        self._queue: queue.Queue[tuple[str, object, float] | None] = queue.Queue(QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def put_video(self, frame: EncodedVideo, at: float) -> None:
        self._put(("video", frame, at))

    def put_audio(self, pcm: bytes, at: float) -> None:
        self._put(("audio", pcm, at))

    def _put(self, item: tuple[str, object, float]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Finish the output and stop the thread (call off the loop: it joins)."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1.0)
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _open(self) -> av.container.OutputContainer:
        raise NotImplementedError

    # ---- the writer's thread

    def _run(self) -> None:
        try:
            self._write()
        except Exception as exc:  # noqa: BLE001 - a broken output must not take the MCU down
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("%s failed", self._thread.name)

    def _write(self) -> None:
        output = self._open()
        if self.format is not None:
            video = output.add_stream("h264", rate=round(self.format.frame_rate))
            video.width, video.height = self.format.width, self.format.height
            video.pix_fmt = "yuv420p"
            video.time_base = VIDEO_TIME_BASE
        audio = output.add_stream("aac", rate=INTERNAL_RATE)
        audio.layout = "mono"
        audio.time_base = AUDIO_TIME_BASE
        audio.bit_rate = self.audio_bitrate_bps
        fifo = av.AudioFifo()
        # pts 0: the arrival of the first key frame (of the first audio, without video)
        started: float | None = None
        last_video_pts = -1
        audio_samples: int | None = None  # pts of the next audio sample
        try:
            while (item := self._queue.get()) is not None:
                kind, payload, at = item
                if kind == "video":
                    frame = payload
                    assert isinstance(frame, EncodedVideo)
                    if started is None:
                        if not frame.keyframe:
                            continue  # a segment must start with a key frame
                        started = at
                    pts = max(last_video_pts + 1, round((at - started) / VIDEO_TIME_BASE))
                    last_video_pts = pts
                    packet = av.Packet(frame.data)
                    packet.stream = video
                    packet.time_base = VIDEO_TIME_BASE
                    packet.pts = packet.dts = pts
                    packet.is_keyframe = frame.keyframe
                    output.mux(packet)
                    self.pictures += 1
                elif started is not None or self.format is None:
                    assert isinstance(payload, bytes)
                    started = at if started is None else started
                    if audio_samples is None:
                        audio_samples = max(0, round((at - started) * INTERNAL_RATE))
                    audio_samples = self._audio(output, audio, fifo, payload, audio_samples)
            for packet in audio.encode(None):
                output.mux(packet)
        finally:
            output.close()

    @staticmethod
    def _audio(output: av.container.OutputContainer, audio: av.audio.stream.AudioStream,
               fifo: av.AudioFifo, pcm: bytes, pts: int) -> int:
        """Queue ``pcm`` (L16) for AAC; ``pts``: that of the next AAC frame, returned
        advanced by the frames encoded (the FIFO keeps no time of its own)."""
        samples = np.frombuffer(pcm, dtype=">i2").astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = INTERNAL_RATE
        fifo.write(frame)
        while fifo.samples >= AAC_FRAME:  # the AAC encoder takes 1024 samples a frame
            chunk = fifo.read(AAC_FRAME)
            chunk.pts, chunk.time_base = pts, AUDIO_TIME_BASE
            pts += AAC_FRAME
            for packet in audio.encode(chunk):
                output.mux(packet)
        return pts


class HlsWriter(MuxWriter):
    """One HLS rendition in ``folder``: MPEG-TS segments and a sliding playlist, old
    segments deleted by the muxer; the folder goes when the writer closes."""

    def __init__(self, folder: Path, fmt: VideoSendFormat | None, *, audio_bitrate_bps: int,
                 segment_s: float, playlist_size: int) -> None:
        super().__init__(f"hls-{folder.name}", fmt, audio_bitrate_bps=audio_bitrate_bps)
        self.folder = folder
        self.segment_s = segment_s
        self.playlist_size = playlist_size

    @property
    def playlist(self) -> Path:
        return self.folder / PLAYLIST

    def start(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)  # a previous run's segments
        self.folder.mkdir(parents=True, exist_ok=True)
        super().start()

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _open(self) -> av.container.OutputContainer:
        return av.open(str(self.playlist), "w", format="hls", options={
            "hls_time": f"{self.segment_s:g}",
            "hls_list_size": str(self.playlist_size),
            "hls_flags": "delete_segments+omit_endlist+independent_segments",
            "hls_segment_filename": str(self.folder / SEGMENT_PATTERN),
        })


class RecordingWriter(MuxWriter):
    """A recording: fragmented MP4 written as it goes (a fragment at least every
    ``FRAGMENT_S``, each flushed), so a crash loses at most the last fragment and what
    is on disk plays."""

    def __init__(self, path: Path, fmt: VideoSendFormat | None, *,
                 audio_bitrate_bps: int) -> None:
        super().__init__(f"recording-{path.stem}", fmt, audio_bitrate_bps=audio_bitrate_bps)
        self.path = path

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        super().start()

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _open(self) -> av.container.OutputContainer:
        return av.open(str(self.path), "w", format="mp4", options={
            "movflags": "frag_keyframe+empty_moov+default_base_moof",
            "frag_duration": str(int(FRAGMENT_S * 1_000_000)),
            "flush_packets": "1",
        })


def aac_encoder(bit_rate: int) -> av.audio.codeccontext.AudioCodecContext:
    """The AAC-LC encoder of a stream's audio: mono at the mix rate."""
    context = av.CodecContext.create("aac", "w")
    context.sample_rate = INTERNAL_RATE
    context.layout = "mono"
    context.format = "fltp"
    context.bit_rate = bit_rate
    context.open()
    return context


@functools.cache
def aac_config(bit_rate: int) -> bytes:
    """The AudioSpecificConfig our AAC streams carry (the SDP's ``config=``)."""
    return bytes(aac_encoder(bit_rate).extradata or b"")


class FeedWriter(MuxWriter):
    """Feeds a publisher (RTSP) the stream's H.264 as it is and its audio encoded to
    AAC once, in this writer's thread; both are handed over on the event loop."""

    def __init__(self, name: str, fmt: VideoSendFormat | None, *, audio_bitrate_bps: int,
                 loop: asyncio.AbstractEventLoop,
                 video: Callable[[EncodedVideo, float], None],
                 audio: Callable[[bytes, int], None]) -> None:
        super().__init__(name, fmt, audio_bitrate_bps=audio_bitrate_bps)
        self._loop = loop
        self._video = video
        self._audio_out = audio

    def _write(self) -> None:
        encoder = aac_encoder(self.audio_bitrate_bps)
        fifo = av.AudioFifo()
        sample = 0  # samples taken in
        emitted = 0  # samples handed over: the next access unit's first (from 0)
        while (item := self._queue.get()) is not None:
            kind, payload, at = item
            if kind == "video":
                assert isinstance(payload, EncodedVideo)
                self.pictures += 1
                self._hand_over(self._video, payload, at)
                continue
            assert isinstance(payload, bytes)
            pcm = np.frombuffer(payload, dtype=">i2").astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = INTERNAL_RATE
            fifo.write(frame)
            while fifo.samples >= AAC_FRAME:
                chunk = fifo.read(AAC_FRAME)
                chunk.pts, chunk.time_base = sample, AUDIO_TIME_BASE
                for packet in encoder.encode(chunk):
                    self._hand_over(self._audio_out, bytes(packet), emitted)
                    emitted += AAC_FRAME
                sample += AAC_FRAME

    def _hand_over(self, to: Callable[[Any, Any], None], what: object, when: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: the MCU is stopping
            self._loop.call_soon_threadsafe(to, what, when)


class WatcherLeg:
    """What the mixers see of a conference's watchers and recordings: one leg per
    stream profile, handing each picture and audio frame to every writer using it."""

    protocol = "watch"
    remote = ""
    audio_format: AudioFormat | None = L16
    encrypted = False
    audio_sending = True
    dtmf_events = False
    video_receiving = False
    video_sending = True
    video_needs_keyframe = False
    keyframe_methods: tuple[str, ...] = ()

    def __init__(self, leg_id: str, fmt: VideoSendFormat, clock: Callable[[], float]) -> None:
        self.id = leg_id
        self.display_name = "stream"
        self.video_format: VideoSendFormat | None = fmt
        # Replaced whole, never changed in place: the mixers read it from their threads.
        self.writers: tuple[MuxWriter, ...] = ()
        self._clock = clock

    def attach(self, writer: MuxWriter) -> None:
        self.writers = (*self.writers, writer)

    def detach(self, writer: MuxWriter) -> None:
        self.writers = tuple(w for w in self.writers if w is not writer)

    def read_audio(self) -> EncodedAudio | None:
        return None  # watchers are never heard

    def write_audio(self, frame: EncodedAudio) -> None:
        at = self._clock()
        for writer in self.writers:
            writer.put_audio(frame.payload, at)

    def read_video(self) -> list[EncodedVideo]:
        return []  # nor seen

    def write_video(self, frame: EncodedVideo) -> None:
        at = self._clock()
        for writer in self.writers:
            writer.put_video(frame, at)

    def request_keyframe(self, method: str, repeat: bool = False) -> bool:
        return False

    def statistics(self) -> dict[str, object]:
        return {"writers": len(self.writers),
                "pictures": max((w.pictures for w in self.writers), default=0),
                "dropped": sum(w.dropped for w in self.writers)}

    async def events(self) -> AsyncIterator[LegEvent]:
        return
        yield  # an async generator with nothing to say

    async def hang_up(self, reason: str) -> None:
        log_event(log, "stream.stopped", leg=self.id, reason=reason)

    def send_text(self, text: str) -> bool:
        return False


def stream_leg(leg: WatcherLeg) -> Leg:
    """The watcher as the Leg the mixers take (it has every member they read)."""
    return leg  # type: ignore[return-value]
