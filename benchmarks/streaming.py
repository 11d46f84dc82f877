"""The conference out (issue 15): what watchers and recordings cost.

1. **Viewers.** An MCU (in this process, on its own uvloop thread) runs a streamed
   conference whose participant is GStreamer's moving-bars RTSP camera. Swarms of 1, 10
   and 50 viewers -- HLS (playlist and every new segment, with a bearer token) and RTSP
   (DESCRIBE/SETUP/PLAY over interleaved TCP, reading everything) -- run in a separate
   process, and the MCU process's CPU (``time.process_time``: every thread of it) is
   measured over the same seconds for each. The encoder is the same whatever the
   number: ``cpu_ratio_50_vs_1`` (target <= 1.1) and the marginal CPU per viewer.
2. **Recording against FFmpeg.** The same encoded material -- H.264 access units and
   PCM -- is muxed into fragmented MP4 with the audio encoded to AAC by our
   ``RecordingWriter`` and by ``ffmpeg -c:v copy -c:a aac`` with the same fragment
   options, at two lengths, so the fixed start-up cost is subtracted: marginal CPU
   seconds per media second, and their ratio.

Prints one JSON object. ``--seconds`` sets each swarm's measuring time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.auth import (  # noqa: E402
    Challenge,
    choose_challenge,
    digest_authorization,
    parse_challenges,
)
from gateway.media import INTERNAL_RATE, EncodedVideo, VideoSendFormat  # noqa: E402
from mcu.mixer.watch import RecordingWriter  # noqa: E402

ROOM = "7100"
USER, PASSWORD = "bench-viewer", "bench-viewer-pw"
PROFILE = {"width": 1280, "height": 720, "frame_rate": 30, "video_bitrate_bps": 2_000_000,
           "segment_s": 2, "idle_stop_s": 30}
VIEWER_COUNTS = (1, 10, 50)
WARM_UP_S = 3.0


# --------------------------------------------------------------------------- viewers


async def hls_viewer(base: str, path: str, token: str, until: float) -> int:
    """As a player: the playlist every segment length, each new segment once (a new
    viewer starts at the live edge): bytes read."""
    got, seen = 0, set[str]()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
        first = True
        while time.monotonic() < until:
            playlist = await client.get(path)
            names = [line for line in playlist.text.splitlines() if line.endswith(".ts")]
            for name in names[-1:] if first else names:
                if name not in seen:
                    seen.add(name)
                    segment = await client.get(path.rsplit("/", 1)[0] + "/" + name)
                    got += len(segment.content)
            first = False
            await asyncio.sleep(PROFILE["segment_s"])
    return got


async def rtsp_viewer(port: int, until: float) -> int:
    """DESCRIBE, SETUP both tracks interleaved, PLAY, then read everything: bytes read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    url = f"rtsp://127.0.0.1:{port}/{ROOM}"
    session = ""
    challenge: Challenge | None = None

    async def ask(text: str, method: str, uri: str) -> str:
        """A request with Digest credentials, as ffmpeg and VLC answer our challenge."""
        auth = ("" if challenge is None else "Authorization: " + digest_authorization(
            challenge, USER, PASSWORD, method, uri, cnonce="bench") + "\r\n")
        writer.write((text + auth + "\r\n").encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = next((int(h.split(":")[1]) for h in head.split("\r\n")
                       if h.lower().startswith("content-length:")), 0)
        if length:
            await reader.readexactly(length)
        return head

    head = await ask(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 0\r\n", "DESCRIBE", url)
    challenge = choose_challenge(parse_challenges(
        [h.split(":", 1)[1] for h in head.split("\r\n")
         if h.lower().startswith("www-authenticate:")]))
    await ask(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n", "DESCRIBE", url)
    for cseq, (track, channels) in enumerate(((0, "0-1"), (1, "2-3")), start=2):
        head = await ask(f"SETUP {url}/trackID={track} RTSP/1.0\r\nCSeq: {cseq}\r\n"
                         + (f"Session: {session}\r\n" if session else "")
                         + f"Transport: RTP/AVP/TCP;unicast;interleaved={channels}\r\n",
                         "SETUP", f"{url}/trackID={track}")
        session = head.split("Session: ", 1)[1].split(";", 1)[0].split("\r\n", 1)[0]
    assert challenge is not None
    writer.write((f"PLAY {url}/ RTSP/1.0\r\nCSeq: 4\r\nSession: {session}\r\n"
                 "Authorization: " + digest_authorization(challenge, USER, PASSWORD, "PLAY",
                                                          f"{url}/", cnonce="bench")
                 + "\r\n\r\n").encode())
    got = 0
    while (left := until - time.monotonic()) > 0:
        try:
            got += len(await asyncio.wait_for(reader.read(65536), left))
        except TimeoutError:
            break
    writer.close()
    return got


async def swarm(kind: str, count: int, seconds: float, target: dict[str, Any]) -> int:
    until = time.monotonic() + seconds
    if kind == "hls":
        jobs = [hls_viewer(target["base"], target["path"], target["token"], until)
                for _ in range(count)]
    else:
        jobs = [rtsp_viewer(target["port"], until) for _ in range(count)]
    return sum(await asyncio.gather(*jobs))


def run_swarm(kind: str, count: int, seconds: float, target: dict[str, Any]) -> subprocess.Popen:
    """The viewers in a process of their own: their CPU is not the MCU's."""
    return subprocess.Popen([sys.executable, __file__, "--swarm", kind, str(count),
                             str(seconds), json.dumps(target)], stdout=subprocess.PIPE)


def viewers(seconds: float, counts: tuple[int, ...] = VIEWER_COUNTS) -> dict[str, Any]:
    from tests.e2e.conftest import RunningMcu, mcu_settings
    from tests.rtsp.camera import rtsp_camera

    folder = Path(tempfile.mkdtemp(prefix="mcu-bench-streams-"))
    mcu = RunningMcu(mcu_settings(
        video={"enabled": True, "width": PROFILE["width"], "height": PROFILE["height"],
               "frame_rate": PROFILE["frame_rate"]},
        streaming=PROFILE | {"folder": str(folder / "hls"),
                             "recording_folder": str(folder / "rec")},
        rtsp_client={"transport": "tcp"}, log={"level": "WARNING"})).start()
    results: dict[str, Any] = {}
    try:
        store = mcu.mcu.store
        record = mcu.run(store.create_conference("Bench", ROOM, streaming=True))
        mcu.run(store.create_user(USER, PASSWORD, "conference_list_streaming"))
        with rtsp_camera() as url:
            camera = mcu.run(store.create_camera(record.id, "bars", url.replace("/cam", "/360p")))
            mcu.run(mcu.mcu.refresh_conferences())
            mcu.inspect(lambda m: m.start_camera(ROOM, camera))
            mcu.wait_until(lambda m: bool(m.participants(ROOM)), timeout=20)
            base = f"http://127.0.0.1:{mcu.mcu.web.port}"
            token = httpx.post(f"{base}/api/v1/auth/token", json={
                "username": USER, "password": PASSWORD}).json()["access_token"]
            target = {"base": base, "token": token, "port": mcu.inspect(
                lambda m: m.publisher("rtsp").port),
                "path": f"/conferences/{record.id}/stream/index.m3u8"}
            for kind in ("hls", "rtsp"):
                results[kind] = {str(n): measure(mcu, kind, n, seconds, target) for n in counts}
            results["encoders_started"] = mcu.inspect(lambda m: m.streams.started)
    finally:
        mcu.stop()
    for kind in ("hls", "rtsp"):
        low, high = results[kind][str(counts[0])], results[kind][str(counts[-1])]
        suffix = f"{counts[-1]}_vs_{counts[0]}"
        # The encoder's (media threads') CPU: the same whatever the number of viewers.
        results[kind][f"cpu_ratio_{suffix}"] = round(high["media_cores"] / low["media_cores"], 3)
        # Serving them (HTTP or RTP fan-out, on the event loop): per viewer.
        results[kind][f"process_cpu_ratio_{suffix}"] = round(
            high["mcu_cores"] / low["mcu_cores"], 3)
        results[kind]["marginal_ms_cpu_per_viewer_second"] = round(
            1000 * (high["mcu_cores"] - low["mcu_cores"]) / (counts[-1] - counts[0]), 3)
    return results


MEDIA_THREADS = ("video", "media", "hls-", "feed-", "recording-")


def media_cpu() -> float:
    """CPU seconds of the threads that decode, compose, encode and mux (the mixers' pools
    and clocks, the stream's writers): what must not grow with viewers."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for thread in threading.enumerate():
        if thread.name.startswith(MEDIA_THREADS) and thread.native_id is not None:
            try:
                stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
            except FileNotFoundError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def measure(mcu: Any, kind: str, count: int, seconds: float,
            target: dict[str, Any]) -> dict[str, float]:
    """The MCU's cores (all of it, and its media threads) while ``count`` watch."""
    proc = run_swarm(kind, count, WARM_UP_S + seconds, target)
    time.sleep(WARM_UP_S)
    cpu, media, wall = time.process_time(), media_cpu(), time.monotonic()
    time.sleep(seconds)
    span = time.monotonic() - wall
    cores, media_cores = (time.process_time() - cpu) / span, (media_cpu() - media) / span
    out, _ = proc.communicate(timeout=90)
    streams = mcu.inspect(lambda m: m.streams.running)
    return {"mcu_cores": round(cores, 4), "media_cores": round(media_cores, 4),
            "viewer_mbytes": round(int(out) / 1e6, 2), "streams_running": streams}


# --------------------------------------------------------------------------- recording


def material(folder: Path, seconds: float) -> tuple[Path, Path]:
    """Moving bars as 720p30 H.264 (Annex B) and a 440 Hz tone as 48 kHz mono s16le."""
    video, audio = folder / f"v{seconds:g}.h264", folder / f"a{seconds:g}.pcm"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=s=1280x720:r=30:d={seconds}", "-c:v", "libx264", "-preset",
                    "ultrafast", "-tune", "zerolatency", "-g", "60", "-bsf:v",
                    "h264_mp4toannexb", "-f", "h264", str(video)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=f=440:r={INTERNAL_RATE}:d={seconds}", "-ac", "1", "-f", "s16le",
                    str(audio)], check=True)
    return video, audio


def ours(video: Path, audio: Path, out: Path) -> float:
    """CPU seconds of this process to record the material with ``RecordingWriter``."""
    fmt = VideoSendFormat("H264", 96, 1280, 720, 30, 2_000_000)
    units = [(bytes(p), p.is_keyframe) for p in av.open(str(video)).demux() if p.size]
    pcm = np.fromfile(audio, dtype="<i2").astype(">i2").tobytes()
    chunk = INTERNAL_RATE // 50 * 2  # 20 ms of L16
    writer = RecordingWriter(out, fmt, audio_bitrate_bps=96_000)
    writer._queue = queue.Queue()  # a benchmark feeds faster than real time: never drop
    cpu = time.process_time()
    writer.start()
    frame_time = Fraction(1, 30)
    for index, (data, key) in enumerate(units):
        at = float(index * frame_time)
        writer.put_video(EncodedVideo(data, round(at * 90_000), keyframe=key), at)
        first = round(at * 50)
        for n in range(first, round((index + 1) * frame_time * 50)):
            writer.put_audio(pcm[n * chunk:(n + 1) * chunk], n / 50)
    writer.close()
    return time.process_time() - cpu


def theirs(video: Path, audio: Path, out: Path) -> float:
    """CPU seconds of ``ffmpeg`` doing the same: copy the video, AAC the audio, fMP4."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "h264", "-r", "30", "-i", str(video),
                    "-f", "s16le", "-ar", str(INTERNAL_RATE), "-ac", "1", "-i", str(audio),
                    "-c:v", "copy", "-c:a", "aac", "-b:a", "96k", "-movflags",
                    "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000",
                    str(out)], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def record_both(folder: Path, seconds: float) -> dict[str, float]:
    """One length, in a process of its own (``--record``): nothing else runs in it."""
    video, audio = material(folder, seconds)
    return {"ours": ours(video, audio, folder / f"ours{seconds:g}.mp4"),
            "ffmpeg": theirs(video, audio, folder / f"ff{seconds:g}.mp4")}


def recording(short: float = 5.0, long: float = 20.0) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="mcu-bench-rec-"))
    figures: dict[str, dict[str, float]] = {"ours": {}, "ffmpeg": {}}
    for seconds in (short, long):
        out = subprocess.run([sys.executable, __file__, "--record", str(folder), str(seconds)],
                             capture_output=True, text=True, check=True, timeout=300)
        for who, cpu in json.loads(out.stdout).items():
            figures[who][str(seconds)] = cpu
    span = long - short
    per_s = {who: (f[str(long)] - f[str(short)]) / span for who, f in figures.items()}
    return {
        "cpu_s": {who: {k: round(v, 4) for k, v in f.items()} for who, f in figures.items()},
        "marginal_ms_cpu_per_media_second": {k: round(v * 1000, 3) for k, v in per_s.items()},
        "ratio_to_ffmpeg": round(per_s["ours"] / per_s["ffmpeg"], 3) if per_s["ffmpeg"] else None,
        "ours_plays": _duration(folder / f"ours{long:g}.mp4"),
    }


def _duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    return round(float(out.stdout.strip()), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--swarm", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--record", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.record:
        print(json.dumps(record_both(Path(args.record[0]), float(args.record[1]))))
        return
    if args.swarm:
        kind, count, seconds, target = args.swarm
        print(asyncio.run(swarm(kind, int(count), float(seconds), json.loads(target))))
        return
    os.environ.setdefault("MCU_LOG__LEVEL", "WARNING")
    print(json.dumps({"viewers": viewers(args.seconds), "recording": recording()}, indent=2))


if __name__ == "__main__":
    main()
