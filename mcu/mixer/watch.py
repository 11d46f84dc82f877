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

import contextlib
import logging
import queue
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from fractions import Fraction
from pathlib import Path

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


class HlsWriter:
    """One HLS rendition in ``folder``, written by its own thread."""

    def __init__(self, folder: Path, fmt: VideoSendFormat, *, audio_bitrate_bps: int,
                 segment_s: float, playlist_size: int) -> None:
        self.folder = folder
        self.format = fmt
        self.audio_bitrate_bps = audio_bitrate_bps
        self.segment_s = segment_s
        self.playlist_size = playlist_size
        self.dropped = 0  # items the thread was too far behind to take
        self.pictures = 0
        self._queue: queue.Queue[tuple[str, object, float] | None] = queue.Queue(QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name=f"hls-{folder.name}",
                                        daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def playlist(self) -> Path:
        return self.folder / PLAYLIST

    def start(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)  # a previous run's segments
        self.folder.mkdir(parents=True, exist_ok=True)
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
        """Finish the playlist and stop the thread (call off the loop: it joins)."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1.0)
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        shutil.rmtree(self.folder, ignore_errors=True)

    # ---- the writer's thread

    def _run(self) -> None:
        try:
            self._write()
        except Exception:  # noqa: BLE001 - a broken stream must not take the MCU down
            log.exception("hls writer for %s failed", self.folder)

    def _write(self) -> None:
        output = av.open(str(self.playlist), "w", format="hls", options={
            "hls_time": f"{self.segment_s:g}",
            "hls_list_size": str(self.playlist_size),
            "hls_flags": "delete_segments+omit_endlist+independent_segments",
            "hls_segment_filename": str(self.folder / SEGMENT_PATTERN),
        })
        video = output.add_stream("h264", rate=round(self.format.frame_rate))
        video.width, video.height = self.format.width, self.format.height
        video.pix_fmt = "yuv420p"
        video.time_base = VIDEO_TIME_BASE
        audio = output.add_stream("aac", rate=INTERNAL_RATE)
        audio.layout = "mono"
        audio.time_base = AUDIO_TIME_BASE
        audio.bit_rate = self.audio_bitrate_bps
        fifo = av.AudioFifo()
        started: float | None = None  # arrival time of the first key frame: pts 0
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
                elif started is not None:
                    assert isinstance(payload, bytes)
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


class WatcherLeg:
    """What the mixers see of a stream's watchers: one leg per stream profile."""

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

    def __init__(self, leg_id: str, fmt: VideoSendFormat, writer: HlsWriter,
                 clock: Callable[[], float]) -> None:
        self.id = leg_id
        self.display_name = "stream"
        self.video_format: VideoSendFormat | None = fmt
        self.writer = writer
        self._clock = clock

    def read_audio(self) -> EncodedAudio | None:
        return None  # watchers are never heard

    def write_audio(self, frame: EncodedAudio) -> None:
        self.writer.put_audio(frame.payload, self._clock())

    def read_video(self) -> list[EncodedVideo]:
        return []  # nor seen

    def write_video(self, frame: EncodedVideo) -> None:
        self.writer.put_video(frame, self._clock())

    def request_keyframe(self, method: str, repeat: bool = False) -> bool:
        return False

    def statistics(self) -> dict[str, object]:
        return {"pictures": self.writer.pictures, "dropped": self.writer.dropped}

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
