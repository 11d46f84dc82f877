"""CPU cost of continuous-presence video: our compose path against FFmpeg's, and a live
conference on the real mixer.

Prints one JSON object (for "all", one per scenario under its name). Scenario
"ffmpeg": nine 720p30 H.264 inputs (distinct ``testsrc2`` pictures, generated first
and not measured) composed 3x3 into one 1280x720 picture and encoded once with
libx264, by us (``VideoDecoder`` -> ``scale`` into ``layouts`` cells with a crop Fit
-> ``Picture.paste`` -> ``VideoEncoder``) and by an FFmpeg ``crop,scale -> xstack ->
libx264`` filtergraph with the same decoder threads, scaling flags, sizes and x264
settings (``codecs.h264_options``), in one run.

CPU seconds, not wall time: ours is ``time.process_time()`` of this process (every
thread), FFmpeg's the ``RUSAGE_CHILDREN`` delta around its run. Our inputs are
demuxed into memory before the clock starts (the mixer receives access units from
RTP, it never demuxes); FFmpeg's demuxing is inside its figure, a small handicap.
Both also run on the first half of the frames: the marginal cost of a frame is the
difference over the frames between (``*_marginal_ms_per_frame``), fixed start-up
costs (FFmpeg's process, probing, codec set-up) subtracted. Timing never fails the run.

Scenario "conference": 20 participants at 720p30 in ``equal-3x3`` with self-view off
(the nine shown each get a personal picture of the others, the rest share one), every
one receiving H.264 1280x720@30 at 2 Mbit/s. Each fake leg replays one of nine
pre-encoded 720p30 clips in real time, starting at a random phase; ``VideoMixer`` runs
on a uvloop loop under ``video_clock`` (decode, compose and encode of neighbouring
ticks overlapped, half a period of grace) with a two-thread ``DeadlinePool``, as the
MCU wires it, for ``--seconds`` after a 1 s warm-up. It runs twice: with senders that
honour the mixer's size request (the nine shown switch, at a key frame, to a clip of
their cell's size: 426x240; the figures at the top) and with senders that keep
sending 720p whatever is asked (``fixed_720p_senders``). Added latency of a tick is
its delivery time minus the arrival time of the newest input picture it consumed (so
it includes the wait for the tick, up to one frame); jitter is how far the intervals
between one participant's deliveries stray from 33.3 ms. ``tick_stage_ms`` is each
stage's wall time, waits for the shared pool included. ``realtime`` is issue 14's
"done when": no deadline missed, >= 29 fps to every participant (``output_fps_min``),
and no tick's added latency above two frame periods (its ``max``, 66.7 ms);
``ticks_delayed_within_grace`` counts ticks that started up to half a period late
instead of being dropped.

Scenario "gateway_call" (issue 13): two parties at 720p30 H.264, each seeing the
other full screen, with the gateway call's pass-through and without it, in one run:
``cpu_ratio_relayed_vs_transcoded``.

    .venv/bin/python benchmarks/video_cp.py
        [--scenario ffmpeg|conference|small_conference|gateway_call|all]
        [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import av
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.media import EncodedVideo, VideoSendFormat  # noqa: E402
from layouts import Cell, fit, get_layout  # noqa: E402
from mcu.mixer.pool import DeadlinePool  # noqa: E402
from mcu.mixer.video.codecs import VideoDecoder, VideoEncoder, h264_options  # noqa: E402
from mcu.mixer.video.mixer import Collected, MixOutputs, VideoMixer, video_clock  # noqa: E402
from mcu.mixer.video.picture import Picture, scale  # noqa: E402
from mcu.mixer.video.sizes import rounded  # noqa: E402
from mcu.mixer.video.views import visible  # noqa: E402
from mcu.settings import VideoSettings  # noqa: E402

FFMPEG = "/usr/bin/ffmpeg"
WIDTH, HEIGHT, FPS = 1280, 720, 30
INPUTS = 9
LAYOUT = "equal-3x3"
FIT = "crop"
INTERPOLATION = "BILINEAR"  # swscale's SWS_BILINEAR; FFmpeg's scale=flags=bilinear
PRESET = "ultrafast"
BITRATE = 2_000_000
KEYFRAME_INTERVAL_S = 10.0
INPUT_BITRATE = "1500k"
# the conference scenario
PARTICIPANTS = 20
CONFERENCE_LAYOUT = "equal-3x3"
CONFERENCE_WORKERS = 2  # VideoSettings.workers' default: the MCU's video pool
CLIP_FRAMES = 2 * FPS  # each camera loops a 2 s clip (one IDR at its start)
WARM_UP_S = 1.0
REALTIME_FPS = 29.0
REALTIME_LATENCY_PERIODS = 2  # the most a tick may add, in frame periods


# -- reusable helpers ------------------------------------------------------------------


def generate_inputs(
    folder: Path, count: int, width: int, height: int, fps: int, frames: int
) -> list[Path]:
    """``count`` distinct H.264 streams (MPEG-TS, so packets are Annex B access units
    like those the RTP depacketizer yields), each a testsrc2 with its own hue."""
    paths = []
    for index in range(count):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"input{index}.ts"
        source = (f"testsrc2=size={width}x{height}:rate={fps},"
                  f"hue=h={index * 360 // max(count, 1)}")
        subprocess.run(
            [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", source, "-frames:v", str(frames),
             "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
             "-profile:v", "baseline", "-b:v", INPUT_BITRATE, "-g", str(fps * 2),
             "-pix_fmt", "yuv420p", str(path)],
            check=True,
        )
        paths.append(path)
    return paths


def read_access_units(path: Path) -> list[EncodedVideo]:
    """Every video packet of a file, as the mixer would receive it."""
    with av.open(str(path)) as container:
        return [
            EncodedVideo(bytes(packet), int(packet.pts or 0), bool(packet.is_keyframe))
            for packet in container.demux(video=0)
            if packet.size
        ]


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_child(command: Sequence[str]) -> float:
    """CPU seconds (user + system) one child process spends."""
    before = child_cpu_seconds()
    subprocess.run(list(command), check=True, stdin=subprocess.DEVNULL)
    return child_cpu_seconds() - before


def measure_self(work: Callable[[], object]) -> tuple[float, object]:
    """CPU seconds of this whole process (all threads) spent in ``work``."""
    before = time.process_time()
    result = work()
    return time.process_time() - before, result


def send_format(width: int, height: int) -> VideoSendFormat:
    return VideoSendFormat("H264", 96, width, height, float(FPS), BITRATE,
                           packetization_mode=1)


def cells(width: int, height: int, count: int) -> list[Cell]:
    return get_layout(LAYOUT).cells(count, width, height)


# -- ours ------------------------------------------------------------------------------


@dataclass
class OursResult:
    frames: int
    bytes_out: int
    keyframes: int


def compose_ours(
    streams: Sequence[Sequence[EncodedVideo]], width: int, height: int, frames: int
) -> OursResult:
    """Decode one access unit of each stream per output frame, scale it into its
    cell, paste, encode the canvas once."""
    decoders = [VideoDecoder("H264") for _ in streams]
    encoder = VideoEncoder(send_format(width, height), preset=PRESET,
                           keyframe_interval_s=KEYFRAME_INTERVAL_S)
    slots = cells(width, height, len(streams))
    out_bytes = keyframes = 0
    for n in range(frames):
        canvas = Picture.blank(width, height)  # a new picture per frame, as the mixer does
        for stream, decoder, cell in zip(streams, decoders, slots, strict=True):
            frame = decoder.decode(stream[n % len(stream)])
            if frame is None:
                continue
            placed = fit(frame.width, frame.height, cell, FIT)
            tile = scale(frame, placed.source, placed.dest.width, placed.dest.height,
                         INTERPOLATION)
            canvas.paste(tile, placed.dest.x, placed.dest.y)
        unit = encoder.encode(canvas)
        if unit is not None:
            out_bytes += len(unit.data)
            keyframes += unit.keyframe
    return OursResult(frames=frames, bytes_out=out_bytes, keyframes=keyframes)


# -- FFmpeg ----------------------------------------------------------------------------


def ffmpeg_command(
    paths: Sequence[Path], width: int, height: int, in_w: int, in_h: int, frames: int
) -> list[str]:
    """The same composition as a filtergraph: crop,scale per input -> xstack -> pad."""
    command = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error"]
    for path in paths:
        command += ["-threads", "1", "-i", str(path)]
    chains, positions = [], []
    for index, cell in enumerate(cells(width, height, len(paths))):
        placed = fit(in_w, in_h, cell, FIT)
        src, dest = placed.source, placed.dest
        chains.append(
            f"[{index}:v]crop={src.width}:{src.height}:{src.x}:{src.y},"
            f"scale={dest.width}:{dest.height}:flags={INTERPOLATION.lower()}[v{index}]"
        )
        positions.append(f"{dest.x}_{dest.y}")
    stacked = "".join(f"[v{i}]" for i in range(len(paths)))
    graph = ";".join(chains) + (
        f";{stacked}xstack=inputs={len(paths)}:layout={'|'.join(positions)}:fill=black,"
        f"pad={width}:{height}:0:0:black[out]"
    )
    options = h264_options(send_format(width, height), PRESET,
                           round(KEYFRAME_INTERVAL_S * FPS))
    command += ["-filter_complex_threads", "1", "-filter_complex", graph, "-map", "[out]",
                "-frames:v", str(frames), "-c:v", "libx264", "-threads", "1",
                "-b:v", str(BITRATE)]
    for name, value in options.items():
        command += [f"-{name}", value]
    return command + ["-f", "null", "-"]


# -- the conference: the real mixer on its real clock -----------------------------------


class ReplayLeg:
    """A participant whose camera replays pre-encoded access units in real time.

    Unit n "arrives" at ``start + phase + n / fps`` (the phase is random per leg, as
    cameras are not in step); ``read_video`` hands out every unit whose arrival time
    has passed, and remembers the newest arrival so the tick that read it can be
    timed. Everything the mixer writes back is kept with its delivery time.

    Times are ``time.monotonic()``: the loop's clock base (CLOCK_MONOTONIC), without
    uvloop's ``loop.time()`` granularity of a millisecond cached per iteration."""

    def __init__(self, leg_id: str, units: Sequence[EncodedVideo], fmt: VideoSendFormat,
                 start: float, phase: float, fps: float) -> None:
        assert units and units[0].keyframe, "a replay must begin with a key frame"
        self.id = leg_id
        self.display_name = leg_id
        self.remote = "192.0.2.1:5060"
        self.audio_format = None
        self.video_format = fmt
        self.video_receiving = True
        self.video_sending = True
        self.video_needs_keyframe = False
        self.keyframe_methods = ("pli",)
        self._units = units
        self._first = start + phase
        self._interval = 1.0 / fps
        self._next = 0  # index of the next unit to arrive (unbounded; wraps the clip)
        self._clip_start = 0  # the unit index at which the current clip began
        self.newest_arrival: float | None = None  # of the last batch read_video gave out
        self.delivered: list[float] = []  # when each of our outgoing pictures came
        self.keyframe_requests = 0
        self.recording = False

    def _arrival(self, n: int) -> float:
        return self._first + n * self._interval

    def read_video(self) -> list[EncodedVideo]:
        now = time.monotonic()
        batch = []
        while self._arrival(self._next) <= now:
            batch.append(self._units[(self._next - self._clip_start) % len(self._units)])
            self._next += 1
        self.newest_arrival = self._arrival(self._next - 1) if batch else None
        return batch

    def write_video(self, frame: EncodedVideo) -> None:
        if self.recording:
            self.delivered.append(time.monotonic())

    def request_keyframe(self, method: str, repeat: bool = False) -> bool:
        # The replay cannot make one on demand; its clip restarts with an IDR anyway.
        self.keyframe_requests += 1
        return True


class SizingReplayLeg(ReplayLeg):
    """A replaying camera that follows size requests (``VideoSizeLeg``), as a sender
    honouring ``imageattr``/``max-fs`` does: from its next picture on it sends the
    smallest pre-encoded clip at least the asked size, beginning with its key frame
    (the asked size is known before the run: the layout's cell, in macroblocks)."""

    def __init__(self, leg_id: str, clips: dict[tuple[int, int], Sequence[EncodedVideo]],
                 fmt: VideoSendFormat, start: float, phase: float, fps: float) -> None:
        super().__init__(leg_id, clips[(fmt.width, fmt.height)], fmt, start, phase, fps)
        self._clips = clips
        self.size_requests: list[tuple[int, int]] = []

    def request_video_size(self, width: int, height: int, frame_rate: float) -> bool:
        self.size_requests.append((width, height))
        fitting = [size for size in self._clips if size[0] >= width and size[1] >= height]
        size = min(fitting, key=lambda wh: wh[0] * wh[1], default=None)
        if size is not None and self._clips[size] is not self._units:
            self._units, self._clip_start = self._clips[size], self._next
        return True


class TimedMixer(VideoMixer):
    """The mixer, timing each tick from the newest input picture it read to delivery.

    With the stages overlapped, tick n+1 is collected before tick n is delivered: each
    record is kept under its tick's ``now`` (``MixOutputs.tick_at``) until delivered;
    one whose tick failed is dropped with the older ones."""

    def __init__(self, settings: VideoSettings, pool: Executor,
                 legs: dict[str, ReplayLeg], relay: bool = False) -> None:
        super().__init__(settings, pool, relay=relay)
        self._legs = legs
        self._pending: dict[float, float | None] = {}  # tick -> newest input arrival
        self.recording = False
        self.latencies_s: list[float] = []
        self.inputs_seen = 0
        # The counters as of the last delivered tick: read from the loop while a mix
        # is in flight, ``counters`` would hold half a tick (its decodes, not its tick).
        self.settled: dict[str, float] = dict(self.counters)

    def collect(self) -> Collected:
        collected = super().collect()
        arrivals = [self._legs[leg_id].newest_arrival for leg_id, units
                    in collected.frames.items() if units]
        self._pending[collected.now] = max((a for a in arrivals if a is not None),
                                           default=None)
        self.inputs_seen = len(visible(collected.plans))
        return collected

    def deliver(self, outputs: MixOutputs) -> None:
        super().deliver(outputs)
        self.settled = dict(self.counters)
        newest = self._pending.pop(outputs.tick_at, None)
        for older in [t for t in self._pending if t < outputs.tick_at]:
            del self._pending[older]
        if self.recording and newest is not None and outputs.sends:
            self.latencies_s.append(time.monotonic() - newest)


def _stats_ms(values_s: Sequence[float]) -> dict[str, float | None]:
    if not values_s:
        return {"mean": None, "p50": None, "p95": None, "max": None}
    ordered = sorted(v * 1000 for v in values_s)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"mean": round(statistics.fmean(ordered), 2),
            "p50": round(statistics.median(ordered), 2),
            "p95": round(p95, 2), "max": round(ordered[-1], 2)}


def _jitter_ms(legs: Iterable[ReplayLeg], fps: float) -> dict[str, float | None]:
    """How far the intervals between one participant's deliveries stray from 1/fps,
    pooled over all participants. ``std_dev`` is taken about the nominal interval,
    not the mean one, so a steady but slow stream (every 66 ms) counts as jitter."""
    nominal = 1.0 / fps
    intervals = [later - earlier for leg in legs
                 for earlier, later in itertools.pairwise(leg.delivered)]
    if not intervals:
        return {"std_dev": None, "max_deviation": None, "mean_interval": None}
    deviations = [(interval - nominal) * 1000 for interval in intervals]
    return {"std_dev": round(math.sqrt(statistics.fmean(d * d for d in deviations)), 2),
            "max_deviation": round(max(abs(d) for d in deviations), 2),
            "mean_interval": round(statistics.fmean(intervals) * 1000, 2)}


async def _run_conference(
    clips: Sequence[dict[tuple[int, int], Sequence[EncodedVideo]]], participants: int,
    width: int, height: int, seconds: float, warm_up_s: float, seed: int, honour: bool,
    layout: str, relay: bool,
) -> dict[str, object]:
    settings = VideoSettings(width=width, height=height, frame_rate=float(FPS),
                             layout=layout, fit=FIT, preset=PRESET,
                             workers=CONFERENCE_WORKERS)
    rng = random.Random(seed)
    start = time.monotonic()

    def camera(i: int) -> ReplayLeg:
        sizes, fmt = clips[i % len(clips)], send_format(width, height)
        phase = rng.uniform(0, 1 / FPS)
        if honour:
            return SizingReplayLeg(f"p{i:02d}", sizes, fmt, start, phase, FPS)
        return ReplayLeg(f"p{i:02d}", sizes[(width, height)], fmt, start, phase, FPS)

    legs = {f"p{i:02d}": camera(i) for i in range(participants)}
    # As the MCU wires it: the pool decodes/scales/encodes, the clock has its own
    # single tick thread (a mix calling pool.map from inside the pool could starve).
    with DeadlinePool(CONFERENCE_WORKERS, name="video") as pool:
        mixer = TimedMixer(settings, pool, legs, relay)
        for leg in legs.values():
            mixer.add(leg)
            mixer.set_state(leg.id, "connected")
        clock = video_clock(mixer)
        clock.start()
        try:
            await asyncio.sleep(warm_up_s)  # key frames, encoders, caches settle
            counters = mixer.settled
            ticks, misses, delayed = clock.ticks, clock.dropped + clock.late, clock.delayed
            for leg in legs.values():
                leg.recording = True
            mixer.recording = True
            wall0, cpu0 = time.monotonic(), time.process_time()
            await asyncio.sleep(seconds)
            wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
            mixer.recording = False
            for leg in legs.values():
                leg.recording = False
            ticks = clock.ticks - ticks
            misses = clock.dropped + clock.late - misses
            delayed = clock.delayed - delayed
            counters = {k: v - counters[k] for k, v in mixer.settled.items()}
            encoders = mixer.streams
        finally:
            await clock.stop()
    mixed = counters["ticks"]
    fps_each = [len(leg.delivered) / wall for leg in legs.values()]
    output_fps = statistics.fmean(fps_each)
    return {
        "scenario": "conference",
        "participants": participants,
        "visible": min(participants, get_layout(layout).capacity),
        "inputs_decoded": mixer.inputs_seen,  # the nine shown plus whom they see instead
        "encoders_running": encoders,
        "compositions_per_tick": round(counters["composed"] / mixed, 2) if mixed else None,
        "output_fps": round(output_fps, 2),
        "output_fps_min": round(min(fps_each), 2),  # the worst-served participant
        "frames_encoded_per_second": round(counters["encoded"] / wall, 1),
        "frames_decoded_per_second": round(counters["decoded"] / wall, 1),
        "frames_relayed_per_second": round(counters["relayed"] / wall, 1),
        "tick_stage_ms": {stage: round(counters[f"{stage}_s"] * 1000 / mixed, 2) if mixed
                          else None for stage in ("decode", "compose", "encode")},
        "deadline_misses": misses,
        "ticks_delayed_within_grace": delayed,
        "ticks": ticks,
        "seconds": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "cpu_cores_used": round(cpu / wall, 2),
        "added_latency_ms": _stats_ms(mixer.latencies_s),
        "frame_interval_jitter_ms": _jitter_ms(legs.values(), FPS),
        "keyframes_forced": counters["keyframes_forced"],
        "keyframe_requests_to_senders": sum(leg.keyframe_requests for leg in legs.values()),
        "senders": "honour size requests" if honour else f"fixed {width}x{height}",
        "size_requests_to_senders": sorted({f"{w}x{h}" for leg in legs.values()
                                            for w, h in getattr(leg, "size_requests", [])}),
        "realtime": (misses == 0 and min(fps_each) >= REALTIME_FPS
                     and bool(mixer.latencies_s)
                     and max(mixer.latencies_s) <= REALTIME_LATENCY_PERIODS / FPS),
        "settings": {
            "canvas": f"{width}x{height}@{FPS}",
            "send": f"H264 {width}x{height}@{FPS} {BITRATE} bps",
            "layout": layout,
            "self_view": settings.self_view,
            "preset": PRESET,
            "pool_workers": CONFERENCE_WORKERS,
            "warm_up_s": warm_up_s,
        },
    }


def measure_conference(
    seconds: float = 10.0, participants: int = PARTICIPANTS, width: int = WIDTH,
    height: int = HEIGHT, warm_up_s: float = WARM_UP_S, seed: int = 1, honour: bool = False,
    layout: str = CONFERENCE_LAYOUT, relay: bool = False,
) -> dict[str, object]:
    """A live conference of ``participants`` replaying cameras into ``VideoMixer``,
    driven by ``MixClock`` on a uvloop loop, for ``seconds`` after ``warm_up_s``.
    ``honour``: the cameras follow the mixer's size requests (each also has a clip at
    its cell's size); else they send ``width`` x ``height`` whatever is asked.
    ``relay``: a two-party gateway call's mixer (pictures passed through where it can)."""
    cell = get_layout(layout).cells(min(participants, 9), width, height)[0]
    small = rounded(cell.width, cell.height)
    sizes = [(width, height)] + ([(small.width, small.height)] if honour else [])
    with tempfile.TemporaryDirectory(prefix="video_cp_") as folder:
        clips: list[dict[tuple[int, int], Sequence[EncodedVideo]]] = [
            {} for _ in range(min(INPUTS, participants))]
        for w, h in sizes:
            paths = generate_inputs(Path(folder) / f"{w}x{h}", len(clips), w, h, FPS,
                                    CLIP_FRAMES)
            for clip, path in zip(clips, paths, strict=True):
                clip[(w, h)] = read_access_units(path)
    return uvloop.run(_run_conference(clips, participants, width, height, seconds,
                                      warm_up_s, seed, honour, layout, relay))


# -- scenarios -------------------------------------------------------------------------


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def scenario_ffmpeg(seconds: float) -> dict[str, object]:
    frames = max(1, round(seconds * FPS))
    with tempfile.TemporaryDirectory(prefix="video_cp_") as folder:
        paths = generate_inputs(Path(folder), INPUTS, WIDTH, HEIGHT, FPS, frames)
        streams = [read_access_units(path) for path in paths]
        ours_cpu, ours = measure_self(lambda: compose_ours(streams, WIDTH, HEIGHT, frames))
        ffmpeg_cpu = measure_child(ffmpeg_command(paths, WIDTH, HEIGHT, WIDTH, HEIGHT, frames))
        # The same work on half the frames: what each costs beyond its fixed start-up
        # (codec set-up, FFmpeg's process and probing) is the difference.
        half = frames // 2
        ours_half, _ = measure_self(lambda: compose_ours(streams, WIDTH, HEIGHT, half))
        ffmpeg_half = measure_child(ffmpeg_command(paths, WIDTH, HEIGHT, WIDTH, HEIGHT, half))
    assert isinstance(ours, OursResult)
    extra = frames - half
    ours_marginal = (ours_cpu - ours_half) / extra if extra else None
    ffmpeg_marginal = (ffmpeg_cpu - ffmpeg_half) / extra if extra else None
    return {
        "scenario": "ffmpeg",
        "frames": frames,
        "inputs": INPUTS,
        "ours_cpu_s": round(ours_cpu, 3),
        "ffmpeg_cpu_s": round(ffmpeg_cpu, 3),
        "cpu_ratio_vs_ffmpeg": round(ours_cpu / ffmpeg_cpu, 3) if ffmpeg_cpu else None,
        "ours_ms_per_frame": round(ours_cpu / frames * 1000, 2),
        "ffmpeg_ms_per_frame": round(ffmpeg_cpu / frames * 1000, 2),
        "ours_marginal_ms_per_frame": _ms(ours_marginal),
        "ffmpeg_marginal_ms_per_frame": _ms(ffmpeg_marginal),
        "marginal_cpu_ratio_vs_ffmpeg": (round(ours_marginal / ffmpeg_marginal, 3)
                                         if ours_marginal and ffmpeg_marginal else None),
        "ours_kbps": round(ours.bytes_out * 8 / (frames / FPS) / 1000, 1),
        "settings": {
            "canvas": f"{WIDTH}x{HEIGHT}@{FPS}",
            "inputs": f"{INPUTS} x {WIDTH}x{HEIGHT}@{FPS} H.264 ({INPUT_BITRATE})",
            "layout": LAYOUT,
            "fit": FIT,
            "interpolation": INTERPOLATION,
            "encoder": "libx264",
            "preset": PRESET,
            "bitrate_bps": BITRATE,
            "keyframe_interval_s": KEYFRAME_INTERVAL_S,
            "packetization_mode": 1,
            "x264": h264_options(send_format(WIDTH, HEIGHT), PRESET,
                                 round(KEYFRAME_INTERVAL_S * FPS)),
            "threads": "1 per decoder, scaler, encoder (ours and FFmpeg)",
        },
    }


def scenario_conference(seconds: float) -> dict[str, object]:
    """Twenty at 720p30: senders that honour the size request (the figures at the top)
    and, after it, fixed 720p senders (``fixed_720p_senders``)."""
    result = measure_conference(seconds, honour=True)
    result["fixed_720p_senders"] = measure_conference(seconds, honour=False)
    return result


def scenario_small_conference(seconds: float) -> dict[str, object]:
    """Four at 720p30 (four personal streams): a load two cores carry, so the added
    latency and frame-interval jitter are the video path's own, not an overload's."""
    return measure_conference(seconds, participants=4)


GATEWAY_FIELDS = ("output_fps", "frames_encoded_per_second", "frames_decoded_per_second",
                  "frames_relayed_per_second", "encoders_running", "cpu_s", "cpu_cores_used",
                  "deadline_misses")


def scenario_gateway_call(seconds: float) -> dict[str, object]:
    """Issue 13: a two-party gateway call, both parties sending H.264 720p30 the other
    takes, each seeing the other full screen (``equal-auto``): pictures passed through
    (``relay``) against the same call decoded, composed and encoded, in one run. The
    warm-up covers the wait for a sender's key frame (its clip restarts every 2 s)."""
    runs = {name: measure_conference(seconds, participants=2, layout="equal-auto",
                                     relay=relay, warm_up_s=CLIP_FRAMES / FPS + 0.5)
            for name, relay in (("relayed", True), ("transcoded", False))}
    out: dict[str, object] = {"scenario": "gateway_call"}
    for name, run in runs.items():
        out[name] = {field: run[field] for field in GATEWAY_FIELDS}
    relayed, transcoded = runs["relayed"]["cpu_s"], runs["transcoded"]["cpu_s"]
    out["cpu_ratio_relayed_vs_transcoded"] = (round(relayed / transcoded, 3)  # type: ignore[operator]
                                              if transcoded else None)
    return out


SCENARIOS: dict[str, Callable[[float], dict[str, object]]] = {
    "ffmpeg": scenario_ffmpeg,
    "conference": scenario_conference,
    "small_conference": scenario_small_conference,
    "gateway_call": scenario_gateway_call,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="ffmpeg: length of the generated inputs (30 frames per "
                        "second); conference: measured seconds after the warm-up")
    args = parser.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    results = {name: SCENARIOS[name](args.seconds) for name in names}
    print(json.dumps(results[names[0]] if len(names) == 1 else results))


if __name__ == "__main__":
    main()
