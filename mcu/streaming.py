"""Streams of running conferences to watchers (issue 15), started on demand.

The first request for a conference's playlist starts its stream: a ``WatcherLeg``
joins the conference's mixers (one encoder for the stream profile, whoever watches)
and an ``HlsWriter`` writes segments under ``streaming.folder``/<numeric id>. Every
later request (playlist or segment) keeps it alive; ``streaming.idle_stop_s`` after
the last one it stops, its encoder and files go. A conference that ends ends its
stream. A key frame is asked for every ``streaming.segment_s`` so each segment
starts with one (HLS players join at a segment boundary).

Whether someone may watch is decided before anything here (``authorize``,
``WATCH_STREAM``): this module only runs streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from gateway.log import log_event
from gateway.media import VideoSendFormat
from mcu.conference import Conference
from mcu.mixer.watch import HlsWriter, WatcherLeg, stream_leg
from mcu.settings import StreamingSettings

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 0.25  # how often key frames are asked for and idle streams looked for
FIRST_PLAYLIST_SEGMENTS = 3  # a new stream's playlist is waited for this many segments


@dataclass(slots=True)
class _Stream:
    conference: Conference
    leg: WatcherLeg
    writer: HlsWriter
    used_at: float
    keyframe_at: float


class Streams:
    def __init__(self, settings: StreamingSettings, conference: Callable[[str], Conference | None],
                 executor: Executor, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._conference = conference
        self._executor = executor
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self._task: asyncio.Task[None] | None = None
        self.started = 0  # streams (encoders) ever started: what the tests count

    @property
    def running(self) -> int:
        return len(self._streams)

    def format(self) -> VideoSendFormat:
        s = self.settings
        return VideoSendFormat("H264", 96, s.width, s.height, s.frame_rate,
                               s.video_bitrate_bps)

    async def playlist(self, numeric_id: str) -> Path | None:
        """The conference's playlist, its stream started if need be and waited for;
        None when the conference is not running (or its first segment never came)."""
        stream = self._stream(numeric_id)
        if stream is None:
            return None
        deadline = self._clock() + self.settings.segment_s * FIRST_PLAYLIST_SEGMENTS + 2.0
        while not stream.writer.playlist.exists():
            if self._clock() > deadline or self._streams.get(numeric_id) is not stream:
                return None
            await asyncio.sleep(0.1)
        return stream.writer.playlist

    def segment(self, numeric_id: str, name: str) -> Path | None:
        """A segment of a running stream (None once it is gone), keeping it running."""
        stream = self._streams.get(numeric_id)
        if stream is None:
            return None
        stream.used_at = self._clock()
        path = stream.writer.folder / name
        return path if path.is_file() else None

    def _stream(self, numeric_id: str) -> _Stream | None:
        conference = self._conference(numeric_id)
        stream = self._streams.get(numeric_id)
        if stream is not None and stream.conference is conference:
            stream.used_at = self._clock()
            return stream
        if conference is None:
            return None
        return self._start(numeric_id, conference)

    def _start(self, numeric_id: str, conference: Conference) -> _Stream:
        s = self.settings
        fmt = self.format()
        writer = HlsWriter(Path(s.folder) / numeric_id, fmt,
                           audio_bitrate_bps=s.audio_bitrate_bps, segment_s=s.segment_s,
                           playlist_size=s.playlist_size)
        writer.start()
        leg = WatcherLeg(f"stream-{numeric_id}", fmt, writer, self._clock)
        conference.add_watcher(stream_leg(leg))
        now = self._clock()
        stream = self._streams[numeric_id] = _Stream(conference, leg, writer, now, now)
        self.started += 1
        log_event(log, "stream.started", conference=numeric_id,
                  size=f"{fmt.width}x{fmt.height}", fps=fmt.frame_rate)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._housekeeping())
        return stream

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            now = self._clock()
            for numeric_id, stream in list(self._streams.items()):
                if self._conference(numeric_id) is not stream.conference:
                    await self._stop(numeric_id, "conference-ended")
                elif not stream.writer.alive:  # the next request starts a fresh one
                    await self._stop(numeric_id, "writer-failed")
                elif now - stream.used_at > self.settings.idle_stop_s:
                    await self._stop(numeric_id, "no-watchers")
                elif now - stream.keyframe_at >= self.settings.segment_s:
                    stream.keyframe_at = now
                    stream.conference.request_keyframe(stream.leg.id)

    async def _stop(self, numeric_id: str, reason: str) -> None:
        stream = self._streams.pop(numeric_id, None)
        if stream is None:
            return
        stream.conference.remove_watcher(stream.leg.id)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, stream.writer.close)  # joins its thread
        log_event(log, "stream.stopped", conference=numeric_id, reason=reason,
                  pictures=stream.writer.pictures, dropped=stream.writer.dropped)

    async def stop(self) -> None:
        for numeric_id in list(self._streams):
            await self._stop(numeric_id, "mcu-stopping")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
