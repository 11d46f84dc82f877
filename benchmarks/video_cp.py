"""CPU cost of continuous-presence video: our compose path against FFmpeg's.

Prints one JSON object. Scenario "ffmpeg": nine 720p30 H.264 inputs (distinct
``testsrc2`` pictures, generated first and not measured) composed 3x3 into one
1280x720 picture and encoded once with libx264, by us (``VideoDecoder`` -> ``scale`` into
``layouts`` cells with a crop Fit -> ``Picture.paste`` -> ``VideoEncoder``) and by an
FFmpeg ``crop,scale -> xstack -> libx264`` filtergraph with the same decoder threads,
scaling flags, sizes and x264 settings (``codecs.h264_options``), in one run.

CPU seconds, not wall time: ours is ``time.process_time()`` of this process (every
thread), FFmpeg's the ``RUSAGE_CHILDREN`` delta around its run. Our inputs are
demuxed into memory before the clock starts (the mixer receives access units from
RTP, it never demuxes); FFmpeg's demuxing is inside its figure, a small handicap.
Timing never fails the run.

    .venv/bin/python benchmarks/video_cp.py [--scenario ffmpeg|all] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.media import EncodedVideo, VideoSendFormat  # noqa: E402
from layouts import Cell, fit, get_layout  # noqa: E402
from mcu.mixer.video.codecs import VideoDecoder, VideoEncoder, h264_options  # noqa: E402
from mcu.mixer.video.picture import Picture, scale  # noqa: E402

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


# -- reusable helpers ------------------------------------------------------------------


def generate_inputs(
    folder: Path, count: int, width: int, height: int, fps: int, frames: int
) -> list[Path]:
    """``count`` distinct H.264 streams (MPEG-TS, so packets are Annex B access units
    like those the RTP depacketizer yields), each a testsrc2 with its own hue."""
    paths = []
    for index in range(count):
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
    canvas = Picture.blank(width, height)
    out_bytes = keyframes = 0
    for n in range(frames):
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


# -- scenarios -------------------------------------------------------------------------


def scenario_ffmpeg(seconds: float) -> dict[str, object]:
    frames = max(1, round(seconds * FPS))
    with tempfile.TemporaryDirectory(prefix="video_cp_") as folder:
        paths = generate_inputs(Path(folder), INPUTS, WIDTH, HEIGHT, FPS, frames)
        streams = [read_access_units(path) for path in paths]
        ours_cpu, ours = measure_self(lambda: compose_ours(streams, WIDTH, HEIGHT, frames))
        command = ffmpeg_command(paths, WIDTH, HEIGHT, WIDTH, HEIGHT, frames)
        ffmpeg_cpu = measure_child(command)
    assert isinstance(ours, OursResult)
    return {
        "scenario": "ffmpeg",
        "frames": frames,
        "inputs": INPUTS,
        "ours_cpu_s": round(ours_cpu, 3),
        "ffmpeg_cpu_s": round(ffmpeg_cpu, 3),
        "cpu_ratio_vs_ffmpeg": round(ours_cpu / ffmpeg_cpu, 3) if ffmpeg_cpu else None,
        "ours_ms_per_frame": round(ours_cpu / frames * 1000, 2),
        "ffmpeg_ms_per_frame": round(ffmpeg_cpu / frames * 1000, 2),
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


SCENARIOS: dict[str, Callable[[float], dict[str, object]]] = {
    "ffmpeg": scenario_ffmpeg,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="length of the generated inputs (30 frames per second)")
    args = parser.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    results = {name: SCENARIOS[name](args.seconds) for name in names}
    print(json.dumps(results[names[0]] if len(names) == 1 else results))


if __name__ == "__main__":
    main()
