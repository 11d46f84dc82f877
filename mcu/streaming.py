"""The conference out (issue 15): streams to watchers and recordings, on demand.

A conference that someone watches or records gets one ``WatcherLeg`` in its mixers
(one encoder for the stream profile, however many watch or record) and writers on it:
an ``HlsWriter`` under ``streaming.folder``/<numeric id>, started by the first
playlist request and kept by every later one (``streaming.idle_stop_s`` after the last
it stops and its files go), and a ``RecordingWriter`` per recording, until it is
stopped, the conference ends, free disk falls under ``recording_min_free_mb`` or the
MCU stops (``recording_ended`` is told each time, with the reason). With no writer
left the leg leaves. A key frame is asked for whenever a writer starts and every
``streaming.segment_s`` (HLS players join at a segment boundary; recordings fragment
at key frames).

Whether someone may watch is decided before anything here (``authorize``,
``WATCH_STREAM``): this module only runs streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gateway.log import log_event
from gateway.media import VideoSendFormat
from gateway.publish import StreamSubscriber
from mcu.conference import Conference
from mcu.mixer.watch import (
    FeedWriter,
    HlsWriter,
    MuxWriter,
    RecordingWriter,
    WatcherLeg,
    stream_leg,
)
from mcu.settings import StreamingSettings

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 0.25  # how often key frames are asked for and idle streams looked for
FIRST_PLAYLIST_SEGMENTS = 3  # a new stream's playlist is waited for this many segments
W = TypeVar("W", bound=MuxWriter)


@dataclass(slots=True)
class _Stream:
    """A conference's watcher leg and the writers using its one encoder."""

    conference: Conference
    leg: WatcherLeg
    used_at: float  # the HLS viewers' last request
    keyframe_at: float
    hls: HlsWriter | None = None
    recordings: dict[int, RecordingWriter] = field(default_factory=dict)
    segments: dict[str, bytes] = field(default_factory=dict)  # HLS segments served so far
    # Publishers' subscriptions (RTSP): the writer feeding each, and whom to tell the end.
    feeds: dict[int, tuple[FeedWriter, StreamSubscriber]] = field(default_factory=dict)

    @property
    def idle(self) -> bool:
        return self.hls is None and not self.recordings and not self.feeds


RecordingEnded = Callable[[int, str, int], Awaitable[None]]


class Streams:
    def __init__(self, settings: StreamingSettings, conference: Callable[[str], Conference | None],
                 executor: Executor, recording_ended: RecordingEnded | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._conference = conference
        self._executor = executor
        self._recording_ended = recording_ended
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self._task: asyncio.Task[None] | None = None
        self.started = 0  # watcher legs (encoders) ever started: what the tests count
        self._subscriptions = 0
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        return len(self._streams)

    @property
    def recordings_running(self) -> int:
        return sum(len(s.recordings) for s in self._streams.values())

    def format(self) -> VideoSendFormat:
        s = self.settings
        return VideoSendFormat("H264", 96, s.width, s.height, s.frame_rate,
                               s.video_bitrate_bps)

    # ---- HLS

    async def playlist(self, numeric_id: str) -> Path | None:
        """The conference's playlist, its stream started if need be and waited for;
        None when the conference is not running (or its first segment never came)."""
        stream = self._stream(numeric_id)
        if stream is None:
            return None
        stream.used_at = self._clock()
        if stream.hls is None:
            stream.hls = self._attach(stream, HlsWriter(
                Path(self.settings.folder) / numeric_id, self._picture(stream),
                audio_bitrate_bps=self.settings.audio_bitrate_bps,
                segment_s=self.settings.segment_s, playlist_size=self.settings.playlist_size))
        hls = stream.hls
        deadline = self._clock() + self.settings.segment_s * FIRST_PLAYLIST_SEGMENTS + 2.0
        while not hls.playlist.exists():
            if self._clock() > deadline or stream.hls is not hls:
                return None
            await asyncio.sleep(0.1)
        return hls.playlist

    async def segment(self, numeric_id: str, name: str) -> bytes | None:
        """A segment of a running stream (None once it is gone), keeping it running.
        Read from disk once (off the loop) and then served from memory to every viewer;
        the cache holds what the playlist can still name."""
        stream = self._streams.get(numeric_id)
        if stream is None or stream.hls is None:
            return None
        stream.used_at = self._clock()
        cached = stream.segments.get(name)
        if cached is not None:
            return cached
        path = stream.hls.folder / name
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(self._executor, path.read_bytes)
        except FileNotFoundError:
            return None
        stream.segments[name] = data
        while len(stream.segments) > self.settings.playlist_size + 2:
            del stream.segments[min(stream.segments)]  # names count up: the oldest goes
        return data

    # ---- recordings

    def recording_path(self, file_name: str) -> Path:
        return Path(self.settings.recording_folder) / file_name

    def start_recording(self, numeric_id: str, recording_id: int, file_name: str) -> Path | None:
        """Record the conference's watcher view into ``file_name``; None when the
        conference is not running."""
        stream = self._stream(numeric_id)
        if stream is None:
            return None
        path = self.recording_path(file_name)
        stream.recordings[recording_id] = self._attach(stream, RecordingWriter(
            path, self._picture(stream), audio_bitrate_bps=self.settings.audio_bitrate_bps))
        log_event(log, "recording.started", conference=numeric_id, recording=recording_id)
        return path

    # ---- publishers (RTSP)

    def subscribe(self, numeric_id: str, subscriber: StreamSubscriber
                  ) -> Callable[[], None] | None:
        """Feed ``subscriber`` the conference's stream; None when it is not running.
        Returns what ends the subscription."""
        stream = self._stream(numeric_id)
        if stream is None:
            return None
        self._subscriptions += 1
        key = self._subscriptions
        stream.feeds[key] = (self._attach(stream, FeedWriter(
            f"feed-{numeric_id}-{key}", self._picture(stream),
            audio_bitrate_bps=self.settings.audio_bitrate_bps,
            loop=asyncio.get_running_loop(), video=subscriber.video,
            audio=subscriber.audio)), subscriber)

        def unsubscribe() -> None:
            feed = stream.feeds.pop(key, None)
            if feed is not None:
                self._spawn(self._end_feed(numeric_id, stream, feed[0]))

        return unsubscribe

    async def _end_feed(self, numeric_id: str, stream: _Stream, writer: FeedWriter) -> None:
        await self._close(stream, writer)
        await self._stop_if_idle(numeric_id, stream)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def keyframe(self, numeric_id: str) -> None:
        stream = self._streams.get(numeric_id)
        if stream is not None:
            stream.keyframe_at = self._clock()
            stream.conference.request_keyframe(stream.leg.id)

    def recordings_of(self, numeric_id: str) -> list[int]:
        stream = self._streams.get(numeric_id)
        return [] if stream is None else list(stream.recordings)

    def recording(self, recording_id: int) -> RecordingWriter | None:
        return next((s.recordings[recording_id] for s in self._streams.values()
                     if recording_id in s.recordings), None)

    async def stop_recording(self, recording_id: int, reason: str = "stopped") -> bool:
        for numeric_id, stream in list(self._streams.items()):
            if recording_id in stream.recordings:
                await self._end_recording(stream, recording_id, reason)
                await self._stop_if_idle(numeric_id, stream)
                return True
        return False

    def free_bytes(self) -> int:
        folder = Path(self.settings.recording_folder)
        folder.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(folder).free

    # ---- the streams

    def _stream(self, numeric_id: str) -> _Stream | None:
        conference = self._conference(numeric_id)
        stream = self._streams.get(numeric_id)
        if stream is not None:  # one of a conference that ended goes at the next look
            return stream if stream.conference is conference and not conference.ended else None
        if conference is None or conference.ended:
            return None
        return self._start(numeric_id, conference)

    def _start(self, numeric_id: str, conference: Conference) -> _Stream:
        fmt = self.format()
        leg = WatcherLeg(f"stream-{numeric_id}", fmt, self._clock)
        conference.add_watcher(stream_leg(leg))
        now = self._clock()
        stream = self._streams[numeric_id] = _Stream(conference, leg, now, now)
        self.started += 1
        log_event(log, "stream.started", conference=numeric_id,
                  size=f"{fmt.width}x{fmt.height}", fps=fmt.frame_rate)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._housekeeping())
        return stream

    def _picture(self, stream: _Stream) -> VideoSendFormat | None:
        """The profile's picture, or None: a conference without video is heard only."""
        return self.format() if stream.conference.video is not None else None

    def _attach(self, stream: _Stream, writer: W) -> W:
        writer.start()
        stream.leg.attach(writer)
        stream.keyframe_at = self._clock()  # a new writer starts at a key frame: ask now
        stream.conference.request_keyframe(stream.leg.id)
        return writer

    async def _close(self, stream: _Stream, writer: MuxWriter) -> None:
        stream.leg.detach(writer)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, writer.close)  # joins its thread

    async def _end_recording(self, stream: _Stream, recording_id: int, reason: str) -> None:
        writer = stream.recordings.pop(recording_id)
        await self._close(stream, writer)
        log_event(log, "recording.stopped", recording=recording_id, reason=reason,
                  size=writer.size, pictures=writer.pictures, dropped=writer.dropped)
        if self._recording_ended is not None:
            await self._recording_ended(recording_id, reason, writer.size)

    async def _end_hls(self, stream: _Stream) -> None:
        if stream.hls is not None:
            hls, stream.hls = stream.hls, None
            stream.segments.clear()
            await self._close(stream, hls)

    async def _stop_if_idle(self, numeric_id: str, stream: _Stream) -> None:
        if stream.idle and self._streams.get(numeric_id) is stream:
            del self._streams[numeric_id]
            stream.conference.remove_watcher(stream.leg.id)
            log_event(log, "stream.stopped", conference=numeric_id)

    async def _stop(self, numeric_id: str, reason: str) -> None:
        stream = self._streams.get(numeric_id)
        if stream is None:
            return
        await self._end_hls(stream)
        for recording_id in list(stream.recordings):
            await self._end_recording(stream, recording_id, reason)
        for key, (writer, subscriber) in list(stream.feeds.items()):
            stream.feeds.pop(key, None)
            await self._close(stream, writer)
            subscriber.ended(reason)
        await self._stop_if_idle(numeric_id, stream)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            try:
                await self._look_after()
            except Exception:  # noqa: BLE001 - one bad stream must not stop the others'
                log.exception("stream housekeeping failed")

    async def _look_after(self) -> None:
        now = self._clock()
        low_disk = (any(s.recordings for s in self._streams.values())
                    and self.free_bytes() < self.settings.recording_min_free_mb * 1_000_000)
        for numeric_id, stream in list(self._streams.items()):
            if self._conference(numeric_id) is not stream.conference or stream.conference.ended:
                await self._stop(numeric_id, "conference-ended")
                continue
            for recording_id, writer in list(stream.recordings.items()):
                if low_disk or not writer.alive:
                    await self._end_recording(stream, recording_id,
                                              "disk-full" if low_disk else "writer-failed")
            for key, (feed, subscriber) in list(stream.feeds.items()):
                if not feed.alive:
                    stream.feeds.pop(key, None)
                    await self._close(stream, feed)
                    subscriber.ended("writer-failed")
            hls = stream.hls
            if hls is not None and (now - stream.used_at > self.settings.idle_stop_s
                                    or not hls.alive):
                await self._end_hls(stream)  # the next request starts a fresh one
            if stream.idle:
                await self._stop_if_idle(numeric_id, stream)
            elif now - stream.keyframe_at >= self.settings.segment_s:
                stream.keyframe_at = now
                stream.conference.request_keyframe(stream.leg.id)

    async def stop(self) -> None:
        for numeric_id in list(self._streams):
            await self._stop(numeric_id, "mcu-stopping")
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
