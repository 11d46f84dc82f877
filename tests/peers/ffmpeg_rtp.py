"""An independent RTP video peer made of /usr/bin/ffmpeg processes, for calls that a
test places with its own SIP UAC (tests/peers/sip_uac.py).

- ``FfmpegSender``: one ffmpeg sending a solid colour (or ``testsrc``) as RTP, H.264
  packetization-mode 1 (libx264 constrained baseline; ffmpeg's RTP muxer sends single
  NAL units and FU-A) or H.263-1998 (``h263p``, RFC 4629), and optionally PCMU audio
  as a second RTP output (the MCU's call needs an audio stream).
- ``FfmpegReceiver``: one ffmpeg reading an SDP file that describes what the MCU
  sends, writing two pictures a second as numbered PNGs; ``probe()`` runs ffprobe.
- ``RtpRelay``: the MCU answers RTP symmetrically (RFC 4961: to where the peer sends
  from), so the port in the offer must be the one the sender sends from AND the one
  the receiver reads; two ffmpeg processes cannot share one port, so the offer names
  the relay's port pair.  It forwards the sender's packets to the MCU from that pair,
  copies the MCU's packets to every listener (receiver, ffprobe), keeps them for the
  test to look at (NAL types on the wire), and sends the test's RTCP (PLI/FIR) from
  the port the MCU latched.
- ``video_offer()`` is the SDP the UAC's INVITE carries for those ports and codecs;
  ``answered()`` reads the MCU's answer.

ffmpeg 5.1 facts that matter: its SDP names the h263p payload "H263-2000", but the
payload format is RFC 4629 either way and its demuxer takes "H263-1998" too; RTCP goes
to the destination port + 1 unless ``rtcpport=`` says otherwise; libx264 repeats
SPS/PPS before every IDR when the muxer wants no global header (RTP does not).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import selectors
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from gateway.rtp.feedback import KeyFrameAsk, parse_feedback
from gateway.sdp.model import parse_sdp
from tests.peers.process import PeerProcess

LOOPBACK = "127.0.0.1"
FFMPEG = "/usr/bin/ffmpeg"
FFPROBE = "/usr/bin/ffprobe"
# Below baresip's SIP (15000+) and RTP (20000+) ports and Linux's ephemeral range.
PUBLIC_PORTS = (10000, 14998)
PNG_END = b"IEND\xaeB`\x82"
RTCP_TYPES = range(192, 224)  # RFC 5761: RTCP packet types when RTCP shares the RTP port


class FfmpegError(RuntimeError):
    """ffmpeg or ffprobe failed, or an expected picture never came."""


def ffmpeg_available() -> bool:
    return Path(FFMPEG).exists() and Path(FFPROBE).exists()


# --------------------------------------------------------------------------- codecs & SDP


@dataclass(frozen=True)
class VideoCodec:
    name: str  # the rtpmap encoding name we offer
    payload_type: int
    fmtp: str
    size: tuple[int, int]  # what the sender sends
    encoder: tuple[str, ...]  # ffmpeg output options

    @property
    def rtpmap(self) -> str:
        return f"{self.name}/90000"


H264_MODE1 = VideoCodec(
    "H264", 96, "profile-level-id=42e01f;packetization-mode=1", (320, 240),
    ("-c:v", "libx264", "-profile:v", "baseline", "-level", "3.1", "-preset", "ultrafast",
     "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-threads", "1"),
)
# Mode 0 (one NAL per packet, what baresip's avcodec speaks): slices must fit a packet.
H264_MODE0 = VideoCodec(
    "H264", 96, "profile-level-id=42e01f;packetization-mode=0", (320, 240),
    (*H264_MODE1.encoder, "-x264-params", "slice-max-size=1100", "-rtpflags", "h264_mode0"),
)
# H.263+ custom sizes exist, but CIF is what every H.263 device and our answer's CIF=1 take.
H263_1998 = VideoCodec(
    "H263-1998", 97, "CIF=1;QCIF=1", (352, 288),
    ("-c:v", "h263p", "-pix_fmt", "yuv420p", "-threads", "1"),
)
# What legacy room systems send (issue 13): H.263 1996 in RFC 2190 and H.261 in RFC 4587,
# on their static payload types; both take only standard sizes.
H263_RFC2190 = VideoCodec(
    "H263", 34, "CIF=1;QCIF=1", (352, 288),
    # Without rfc2190 ffmpeg's RTP muxer sends RFC 4629 even on payload type 34; -ps
    # makes its GOBs small enough to start packets.
    ("-c:v", "h263", "-pix_fmt", "yuv420p", "-threads", "1", "-ps", "1000",
     "-rtpflags", "rfc2190"),
)
H261 = VideoCodec(
    "H261", 31, "CIF=1;QCIF=1", (352, 288),
    # ffmpeg calls its RFC 4587 packetizer experimental (GOBs larger than a packet).
    ("-c:v", "h261", "-pix_fmt", "yuv420p", "-threads", "1", "-f_strict", "experimental"),
)
CODECS = {"H264": H264_MODE1, "H264-mode0": H264_MODE0, "H263-1998": H263_1998,
          "H263": H263_RFC2190, "H261": H261}


def video_offer(
    audio_port: int, video_port: int, codec: VideoCodec = H264_MODE1, *,
    rtcp_mux: bool = False, session_id: int | None = None,
) -> bytes:
    """The SDP offer for PCMU on `audio_port` and `codec` on `video_port` (127.0.0.1).

    Offers PLI and FIR feedback (so the MCU may ask us for key frames) and, if asked,
    rtcp-mux on the video stream.
    """
    sid = session_id if session_id is not None else random.randrange(1, 1 << 31)
    pt = codec.payload_type
    lines = [
        "v=0", f"o=test {sid} 1 IN IP4 {LOOPBACK}", "s=ffmpeg peer", f"c=IN IP4 {LOOPBACK}",
        "t=0 0",
        f"m=audio {audio_port} RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=sendrecv",
        f"m=video {video_port} RTP/AVP {pt}", "b=AS:512", f"a=rtpmap:{pt} {codec.rtpmap}",
        f"a=fmtp:{pt} {codec.fmtp}", f"a=rtcp-fb:{pt} nack pli", f"a=rtcp-fb:{pt} ccm fir",
        *(["a=rtcp-mux"] if rtcp_mux else []), "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass(frozen=True)
class Answered:
    """One m= line of the MCU's answer: where to send and what it will send."""

    kind: str
    address: str
    port: int
    payload_type: int
    encoding: str
    clock_rate: int
    fmtp: str | None
    rtcp_mux: bool

    @property
    def rtp(self) -> tuple[str, int]:
        return (self.address, self.port)

    @property
    def rtcp(self) -> tuple[str, int]:
        return (self.address, self.port if self.rtcp_mux else self.port + 1)


def answered(answer: bytes, kind: str) -> Answered:
    """The first accepted `kind` ("audio"/"video") stream of an SDP answer."""
    desc = parse_sdp(answer)
    for media in desc.media:
        if media.media != kind or media.port == 0:
            continue
        connection = desc.connection_for(media)
        pt, rtpmap = next(iter(media.rtpmaps().items()))
        return Answered(kind, connection.address if connection else LOOPBACK, media.port, pt,
                        rtpmap.encoding, rtpmap.clock_rate, media.fmtp(pt), media.rtcp_mux)
    raise FfmpegError(f"the answer accepts no {kind} stream:\n{answer.decode(errors='replace')}")


def receiver_sdp(stream: Answered, port: int) -> str:
    """An SDP for ffmpeg/ffprobe: `stream` as the MCU sends it, arriving on `port`."""
    pt = stream.payload_type
    lines = ["v=0", f"o=- 0 0 IN IP4 {LOOPBACK}", "s=from the MCU", f"c=IN IP4 {LOOPBACK}",
             "t=0 0", f"m={stream.kind} {port} RTP/AVP {pt}",
             f"a=rtpmap:{pt} {stream.encoding}/{stream.clock_rate}"]
    if stream.fmtp:
        lines.append(f"a=fmtp:{pt} {stream.fmtp}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- RTP on the wire


@dataclass(frozen=True)
class RtpPacket:
    at: float  # time.monotonic() on arrival
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes, at: float = 0.0) -> RtpPacket | None:
    """An RTP packet's header fields and payload; None for anything else."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    count, has_ext, padded = data[0] & 0x0F, data[0] & 0x10, data[0] & 0x20
    pos = 12 + 4 * count
    if has_ext:
        if len(data) < pos + 4:
            return None
        pos += 4 + 4 * struct.unpack_from("!H", data, pos + 2)[0]
    end = len(data) - (data[-1] if padded and data[-1] else 0)
    if pos > end:
        return None
    seq, timestamp, ssrc = struct.unpack_from("!HII", data, 2)
    return RtpPacket(at, data[1] & 0x7F, bool(data[1] & 0x80), seq, timestamp, ssrc,
                     data[pos:end])


def h264_nal_types(payload: bytes) -> list[int]:
    """The types of the H.264 NAL units that START in one RTP payload (RFC 6184):
    single NAL units, each unit of a STAP-A, and an FU-A's first fragment."""
    if not payload:
        return []
    kind = payload[0] & 0x1F
    if 1 <= kind <= 23:
        return [kind]
    if kind == 24:  # STAP-A: 16-bit size, then the unit
        types, pos = [], 1
        while pos + 2 < len(payload):
            size = struct.unpack_from("!H", payload, pos)[0]
            types.append(payload[pos + 2] & 0x1F)
            pos += 2 + size
        return types
    if kind == 28 and len(payload) > 1 and payload[1] & 0x80:  # FU-A start
        return [payload[1] & 0x1F]
    return []


NAL_IDR, NAL_SPS, NAL_PPS = 5, 7, 8


# --------------------------------------------------------------------------- ports


def _bind_udp(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    return sock


def bind_pair(start: int = PUBLIC_PORTS[0], stop: int = PUBLIC_PORTS[1]
              ) -> tuple[socket.socket, socket.socket]:
    """Bound sockets on an even port P and P + 1 (RTP and RTCP), from a random start."""
    count = (stop - start) // 2
    offset = random.randrange(count)
    for i in range(count):
        port = start + 2 * ((offset + i) % count)
        try:
            rtp = _bind_udp(port)
        except OSError:
            continue
        try:
            return rtp, _bind_udp(port + 1)
        except OSError:
            rtp.close()
    raise FfmpegError(f"no free UDP port pair in {start}-{stop}")


def free_pair() -> int:
    """An even port P with P and P + 1 free now (for a process to bind itself)."""
    rtp, rtcp = bind_pair()
    port = rtp.getsockname()[1]
    rtp.close()
    rtcp.close()
    return int(port)


# --------------------------------------------------------------------------- relay


@dataclass
class _Tap:
    rtp: list[RtpPacket] = field(default_factory=list)
    rtcp: list[tuple[float, bytes]] = field(default_factory=list)


class RtpRelay:
    """The video port pair the offer names; see the module docstring.

    ``rtp_port`` is what goes in the offer's m=video line; ``inner_port`` is where
    the sender sends (RTP there, RTCP to ``inner_port + 1``).  Call ``set_mcu()`` with
    the answer's stream before anything can reach the MCU.
    """

    MAX_KEPT = 50_000  # packets kept from the MCU (minutes of video at test rates)

    def __init__(self) -> None:
        self._public_rtp, self._public_rtcp = bind_pair()
        self._inner_rtp, self._inner_rtcp = bind_pair()
        self.rtp_port = int(self._public_rtp.getsockname()[1])
        self.inner_port = int(self._inner_rtp.getsockname()[1])
        self.mcu: Answered | None = None
        self.listeners: list[int] = []  # ports that get a copy of the MCU's RTP
        self.from_mcu = _Tap()
        self.forwarded = 0  # sender packets passed on to the MCU
        # False drops the sender's packets: a test makes the MCU miss a key frame
        self.pass_sender = True
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = False
        handlers = {self._public_rtp: self._on_public_rtp, self._public_rtcp: self._on_public_rtcp,
                    self._inner_rtp: self._on_inner_rtp, self._inner_rtcp: self._on_inner_rtcp,
                    self._wake_r: lambda data: None}
        for sock, handler in handlers.items():
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, handler)
        self._thread = threading.Thread(target=self._run, daemon=True, name="rtp-relay")
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._stop:
            return
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(5)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()
        self._wake_w.close()

    def set_mcu(self, stream: Answered) -> None:
        self.mcu = stream

    # ---- looking at what came ---------------------------------------------------
    def packets(self, after: float = 0.0) -> list[RtpPacket]:
        """The MCU's RTP packets that arrived after monotonic time `after`."""
        with self._lock:
            return [p for p in self.from_mcu.rtp if p.at > after]

    def rtcp(self, after: float = 0.0) -> list[bytes]:
        with self._lock:
            return [data for at, data in self.from_mcu.rtcp if at > after]

    def keyframe_asks(self, after: float = 0.0) -> list[KeyFrameAsk]:
        """The PLI and FIR requests the MCU sent us (about our sender's stream)."""
        return [ask for data in self.rtcp(after) for ask in parse_feedback(data)]

    def mcu_ssrc(self, timeout: float = 10.0) -> int:
        """The SSRC of the MCU's video (what a PLI or FIR names), once it has sent."""
        deadline = time.monotonic() + timeout
        while not self.packets():
            if time.monotonic() > deadline:
                raise FfmpegError("the MCU sent no video RTP")
            time.sleep(0.05)
        return self.packets()[-1].ssrc

    def wait_packets(self, count: int = 1, timeout: float = 10.0, after: float = 0.0
                     ) -> list[RtpPacket]:
        deadline = time.monotonic() + timeout
        while len(found := self.packets(after)) < count:
            if time.monotonic() > deadline:
                raise FfmpegError(f"{len(found)} of {count} video RTP packets from the MCU")
            time.sleep(0.05)
        return found

    # ---- sending ----------------------------------------------------------------
    def send_rtcp(self, data: bytes) -> None:
        """RTCP to the MCU, from the port it latched (the RTP one with rtcp-mux)."""
        if self.mcu is None:
            raise FfmpegError("set_mcu() first: no address to send RTCP to")
        sock = self._public_rtp if self.mcu.rtcp_mux else self._public_rtcp
        sock.sendto(data, self.mcu.rtcp)

    def send_rtp(self, data: bytes) -> None:
        """An RTP packet to the MCU from the public port (as the sender's would go)."""
        if self.mcu is None:
            raise FfmpegError("set_mcu() first: no address to send RTP to")
        self._public_rtp.sendto(data, self.mcu.rtp)

    # ---- the thread -------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop:
            for key, _ in self._selector.select(timeout=0.5):
                with contextlib.suppress(BlockingIOError, ConnectionRefusedError, OSError):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    key.data(data)

    def _on_public_rtp(self, data: bytes) -> None:
        now = time.monotonic()
        if len(data) > 1 and data[1] in RTCP_TYPES:  # rtcp-mux
            self._keep_rtcp(now, data)
            return
        packet = parse_rtp(data, now)
        if packet is None:
            return
        with self._lock:
            if len(self.from_mcu.rtp) < self.MAX_KEPT:
                self.from_mcu.rtp.append(packet)
        for port in list(self.listeners):
            self._inner_rtp.sendto(data, (LOOPBACK, port))

    def _on_public_rtcp(self, data: bytes) -> None:
        self._keep_rtcp(time.monotonic(), data)

    def _keep_rtcp(self, now: float, data: bytes) -> None:
        with self._lock:
            if len(self.from_mcu.rtcp) < self.MAX_KEPT:
                self.from_mcu.rtcp.append((now, data))

    def _on_inner_rtp(self, data: bytes) -> None:
        if self.mcu is not None and self.pass_sender:
            self._public_rtp.sendto(data, self.mcu.rtp)
            self.forwarded += 1

    def _on_inner_rtcp(self, data: bytes) -> None:
        if self.mcu is not None:
            self.send_rtcp(data)


# --------------------------------------------------------------------------- processes


class _FfmpegProcess(PeerProcess):
    error = FfmpegError
    established = re.compile(r"$^")  # not a SIP peer: no call states
    terminated = re.compile(r"$^")

    def __init__(self, workdir: str | Path, name: str) -> None:
        self.name = name
        self.dir = Path(workdir) / name
        self.log_path = self.dir / "ffmpeg.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command_line(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Self:
        if self.proc is not None:
            raise FfmpegError(f"{self.name}: already started")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.command_line(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)
        return self

    def prepare(self) -> None:
        """Files the command line needs (an SDP), written before it runs."""

    def quit(self, timeout: float = 3.0) -> int | None:
        """SIGTERM the group (ffmpeg finishes its outputs on it), SIGKILL if it lingers."""
        if not self.alive():
            return self.returncode
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.kill9()

    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        text = self.log_path.read_bytes().decode("utf-8", errors="replace")
        return re.split(r"[\r\n]+", text)  # progress lines end in \r


class FfmpegSender(_FfmpegProcess):
    """Sends `colour` (or ffmpeg's ``testsrc`` when `pattern` is "testsrc") as `codec`
    to `video_to` from local port `video_from` (RTCP from +1), and, when `audio_to` is
    given, a PCMU sine from `audio_from`.  Key frames every `gop` frames: ffmpeg does
    not answer PLI/FIR, so this is how a receiver that joins later gets a picture."""

    def __init__(
        self, workdir: str | Path, name: str, codec: VideoCodec,
        video_to: tuple[str, int], video_from: int, *,
        colour: tuple[int, int, int] = (255, 0, 0), pattern: str = "color",
        fps: int = 15, gop: int = 15, size: tuple[int, int] | None = None,
        audio_to: tuple[str, int] | None = None, audio_from: int | None = None,
        tone_hz: int = 440, ssrc: int | None = None, seconds: float = 120.0,
    ) -> None:
        super().__init__(workdir, name)
        for host, _ in [video_to, *([audio_to] if audio_to else [])]:
            if not host.startswith("127."):
                raise ValueError(f"{host}: this test peer only sends to 127.0.0.0/8")
        self.codec, self.video_to, self.video_from = codec, video_to, video_from
        self.colour, self.pattern, self.fps, self.gop = colour, pattern, fps, gop
        self.size = size or codec.size
        self.audio_to, self.audio_from, self.tone_hz = audio_to, audio_from, tone_hz
        self.ssrc = ssrc if ssrc is not None else random.randrange(1, 1 << 31)
        self.seconds = seconds

    def _video_source(self) -> str:
        width, height = self.size
        if self.pattern == "testsrc":
            return f"testsrc=s={width}x{height}:r={self.fps}"
        red, green, blue = self.colour
        return f"color=c=0x{red:02x}{green:02x}{blue:02x}:s={width}x{height}:r={self.fps}"

    def command_line(self) -> list[str]:
        host, port = self.video_to
        video_url = (f"rtp://{host}:{port}?localport={self.video_from}"
                     f"&rtcpport={port + 1}&pkt_size=1200")
        args = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "info", "-re",
                "-f", "lavfi", "-i", self._video_source()]
        if self.audio_to is not None:
            args += ["-f", "lavfi", "-i", f"sine=frequency={self.tone_hz}:sample_rate=8000"]
        args += ["-t", str(self.seconds), "-map", "0:v", *self.codec.encoder,
                 "-g", str(self.gop), "-b:v", "300k", "-payload_type",
                 str(self.codec.payload_type), "-ssrc", str(self.ssrc), "-f", "rtp", video_url]
        if self.audio_to is not None:
            ahost, aport = self.audio_to
            local = f"?localport={self.audio_from}" if self.audio_from else ""
            args += ["-map", "1:a", "-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1",
                     "-payload_type", "0", "-ssrc", str(self.ssrc ^ 1), "-f", "rtp",
                     f"rtp://{ahost}:{aport}{local}"]
        return args


class FfmpegReceiver(_FfmpegProcess):
    """Reads `stream` (the MCU's answer) on `port` and writes `fps` PNGs a second as
    ``frame-NNNNN.png``; ``Stream #0:0: Video: ...`` in its log says what it decodes."""

    def __init__(self, workdir: str | Path, name: str, stream: Answered, port: int, *,
                 fps: float = 2.0) -> None:
        super().__init__(workdir, name)
        self.stream, self.port, self.fps = stream, port, fps
        self.sdp_path = self.dir / "recv.sdp"

    def prepare(self) -> None:
        self.sdp_path.write_text(receiver_sdp(self.stream, self.port))

    def command_line(self) -> list[str]:
        return [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "info",
                "-protocol_whitelist", "file,udp,rtp", "-i", str(self.sdp_path),
                "-vf", f"fps={self.fps}", "-threads", "1", "-y",
                str(self.dir / "frame-%05d.png")]

    def pictures(self) -> list[Path]:
        """Every complete PNG written so far, oldest first."""
        return [p for p in sorted(self.dir.glob("frame-*.png"))
                if p.read_bytes().endswith(PNG_END)]

    def wait_picture(self, timeout: float = 15.0, newer_than: int = 0) -> Path:
        """The newest complete picture once more than `newer_than` exist."""
        deadline = time.monotonic() + timeout
        while len(found := self.pictures()) <= newer_than:
            if not self.alive() or time.monotonic() > deadline:
                raise FfmpegError(f"{self.name}: no picture (have {len(found)})\n"
                                  f"{self.log_tail()}")
            time.sleep(0.1)
        return found[-1]

    def wait_until(self, check: Callable[[Path], bool], timeout: float = 20.0,
                   keyframe: Callable[[], None] | None = None) -> Path:
        """The first new picture for which `check(path)` holds.

        A decoder that joins between key frames shows grey or black until the next
        one, so early pictures may not look right yet; `keyframe` (e.g. a PLI
        sender) is called about once a second while waiting.
        """
        deadline = time.monotonic() + timeout
        seen, asked = 0, 0.0
        while time.monotonic() < deadline:
            if keyframe is not None and time.monotonic() - asked > 1.0:
                keyframe()
                asked = time.monotonic()
            found = self.pictures()
            for path in found[seen:]:
                if check(path):
                    return path
            seen = len(found)
            if not self.alive():
                break
            time.sleep(0.1)
        last = self.pictures()[-1:] or ["none"]
        raise FfmpegError(f"{self.name}: no picture passed the check in {timeout}s "
                          f"(last: {last[0]})\n{self.log_tail()}")

    def stream_line(self) -> str | None:
        """ffmpeg's description of the input stream, once it has found one."""
        for line in self.log_lines():
            if re.search(r"Stream #0:0.*Video:", line):
                return line.strip()
        return None


def probe(stream: Answered, relay: RtpRelay, workdir: str | Path, timeout: float = 20.0,
          keyframe: Callable[[], None] | None = None) -> dict[str, object]:
    """ffprobe's view of the MCU's `stream` (codec_name, width, height, ...).

    It listens on a port of its own that the relay copies the MCU's packets to;
    `keyframe` (e.g. a PLI sender) is called every second while it waits, since it
    can tell the size only from an IDR with its SPS.
    """
    port = free_pair()
    sdp = Path(workdir) / f"probe-{port}.sdp"
    sdp.write_text(receiver_sdp(stream, port))
    args = [FFPROBE, "-v", "error", "-protocol_whitelist", "file,udp,rtp",
            "-analyzeduration", "3000000", "-show_streams", "-of", "json", str(sdp)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    relay.listeners.append(port)
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            if keyframe is not None:
                keyframe()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate(timeout=5)
    finally:
        relay.listeners.remove(port)
    if proc.returncode != 0:
        raise FfmpegError(f"ffprobe failed ({proc.returncode}): {err.decode(errors='replace')}")
    streams = json.loads(out or b"{}").get("streams", [])
    if not streams:
        raise FfmpegError(f"ffprobe found no stream: {err.decode(errors='replace')}")
    return dict(streams[0])
