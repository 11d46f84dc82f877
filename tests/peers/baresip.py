"""Drive a real baresip 1.0.0 SIP user agent as a subprocess, on loopback only.

Each peer gets its own config dir (`config` + `accounts`), SIP port, console
port and RTP port range.  It sends a sine tone (`ausine`), auto-answers, and
records audio with `sndfile`: `dump-<time>-dec.wav` is what it RECEIVED
(decoded from RTP), `dump-<time>-enc.wav` what it SENT.  Commands go over the
`cons` module's UDP console (one datagram per command, e.g. b"/dial URI\\n");
events are read from baresip's stdout, which is redirected to `baresip.log`.

Things that matter in baresip 1.0.0 (Debian 12):
- `sip_listen IP:P` binds UDP+TCP on P and TLS on P+1: leave a gap of 2.
- `net_interface 127.0.0.1` keeps SDP/RTP on loopback (otherwise eth0's address).
- `ausine` only runs at 48 kHz stereo and integer Hz; baresip resamples to the codec.
- No sound card: the player is `aubridge` with a device of its own (nothing
  reads it); the received-audio WAV comes from `sndfile` on the decode path.
- Hold (`/hold`) sends a=sendonly and baresip then stops RTP both ways;
  after `/resume` RTP flows again but `sndfile` no longer writes the dec WAV.

Registering (off unless `registrar` is given, e.g. tests.peers.kamailio.Kamailio): the
account becomes sip:NAME@REALM with `auth_pass` (digest on REGISTER and on the proxy's
407), `regint` and the registrar as outbound proxy, so it also dials through it.

Video (off unless `video_codec` is given):
- Codecs: `avcodec` gives H.264 (packetization-mode 0 only), `vp8` gives VP8; the
  account's `video_codecs=` keeps the offer to the one asked for.
- Source: `avformat` reading a video-only file (one with an audio track crashes
  it): a solid-colour H.264 MP4 made by ffmpeg's lavfi `color=` source.  Its
  "rewind" at the end of the file leaves the video stopped, so the clip lasts
  120 s, longer than any test call.
- Sink: `fakevideo` as the display (nothing shown) and the `snapshot` video filter:
  `/snapshot_recv PATH` writes the next decoded frame as a PNG and logs
  "png: wrote PATH".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from tests.peers.process import LinePredicate, PeerProcess

LOOPBACK = "127.0.0.1"
BARESIP = "baresip"
MODULE_PATH = "/usr/lib/baresip/modules"
SIP_PORTS = (15000, 19998)  # auto-picked SIP ports; RTP uses 20000-59999
START_ATTEMPTS = 5

# Codec name (any case) -> (module that provides it, name for ;audio_codecs=).
CODECS: dict[str, tuple[str, str]] = {
    "pcmu": ("g711.so", "pcmu"),
    "pcma": ("g711.so", "pcma"),
    "g722": ("g722.so", "g722"),
    "opus": ("opus.so", "opus"),
}

# Video codec name (any case) -> (module that provides it, name for ;video_codecs=).
VIDEO_CODECS: dict[str, tuple[str, str]] = {
    "h264": ("avcodec.so", "H264"),
    "vp8": ("vp8.so", "VP8"),
    "h263": ("avcodec.so", "H263"),  # H.263 1996 in RFC 2190 (static payload 34)
}
FFMPEG = "/usr/bin/ffmpeg"
# avformat's "rewind" at the end of the file does not get frames flowing again (RTP
# stops after one pass), so the clip must outlast the call.
VIDEO_CLIP_SECONDS = 120
CLIP_CACHE = Path(tempfile.gettempdir()) / "mcu-test-clips"  # one clip per colour/size/fps
DEFAULT_VIDEO_COLOUR = (128, 128, 128)
PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk and its CRC: the PNG is complete

ESTABLISHED = re.compile(r"Call established")
# A call is over on this side.  baresip 1.0 prints one or more of these per call:
# "Call with X terminated (duration: N)" normally, "call: terminate call" at once
# on a local /hangup, and "session closed: ..." when the peer's TCP connection
# drops (an immediate hangup over TCP may print only that one).  Use mark() and
# after= rather than occurrence= when several calls share a log.
TERMINATED = re.compile(r"terminated \(duration|session closed|call: terminate call")
LOCAL_HANGUP = re.compile(r"call: terminate call")
READY = "baresip is ready."
# baresip 1.0 on a successful REGISTER: "sip:alice@example.test: {0/UDP/v4} 200 OK () [1 binding]"
REGISTERED = re.compile(r"\} 200 OK .*binding")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")



class Registrar(Protocol):
    """What BaresipPeer needs of a registrar (tests.peers.kamailio.Kamailio is one)."""

    realm: str
    users: Mapping[str, str]

    def outbound(self, transport: str = "udp") -> str: ...


class BaresipError(RuntimeError):
    """baresip failed to start, or an expected log line never came."""


def baresip_available() -> bool:
    return shutil.which(BARESIP) is not None and Path(MODULE_PATH, "cons.so").exists()


def _port_free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_sip_port(start: int = SIP_PORTS[0], stop: int = SIP_PORTS[1]) -> int:
    """A port P with UDP+TCP P and TCP P+1 (baresip's TLS) free on loopback.

    Starts at a random even port so concurrent test runs rarely pick the same
    one; BaresipPeer.start() still retries with new ports if the bind races.
    """
    count = (stop - start) // 2
    offset = random.randrange(count)
    for i in range(count):
        port = start + 2 * ((offset + i) % count)
        checks = [(port, socket.SOCK_DGRAM), (port, socket.SOCK_STREAM)]
        checks.append((port + 1, socket.SOCK_STREAM))
        if all(_port_free(p, k) for p, k in checks):
            return port
    raise BaresipError(f"no free SIP port in {start}-{stop}")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class BaresipPeer(PeerProcess):
    """One baresip instance: writes its config, runs it, talks to its console.

    Use as a context manager (or call start()/close()); close() always leaves
    no process behind.  All methods are blocking; the *_async variants run
    them in a thread for asyncio tests.
    """

    error = BaresipError
    established = ESTABLISHED
    terminated = TERMINATED

    def __init__(
        self,
        workdir: str | Path,
        name: str,
        local_sip_port: int,  # 0: pick a free one
        tone_hz: float,
        audio_codecs: list[str],
        transport: str = "udp",
        ctrl_port: int | None = None,
        rtp_ports: tuple[int, int] | None = None,
        answermode: str = "auto",
        extra_config: dict[str, str] | None = None,
        host: str = LOOPBACK,
        account_params: str = "",
        audio_file: Path | None = None,
        *,
        video_codec: str | None = None,  # "H264" (avcodec, mode 0), "VP8", "H263" (RFC 2190)
        video_colour: tuple[int, int, int] | None = None,  # solid RGB sent (grey if None)
        video_size: tuple[int, int] = (320, 240),
        video_fps: int = 15,
        video_bitrate: int = 300_000,
        contacts: list[str] | None = None,  # SIP URIs; the first is what /message texts
        registrar: Registrar | None = None,
        regint: int = 60,
    ) -> None:
        if transport not in ("udp", "tcp", "tls"):
            raise ValueError(f"transport must be udp, tcp or tls, not {transport!r}")
        if video_codec is not None and video_codec.lower() not in VIDEO_CODECS:
            raise ValueError(f"video_codec must be from {sorted(VIDEO_CODECS)}, got {video_codec}")
        unknown = [c for c in audio_codecs if c.lower() not in CODECS]
        if unknown or not audio_codecs:
            raise ValueError(f"audio_codecs must be from {sorted(CODECS)}, got {audio_codecs}")
        self.name = name
        self._auto_sip = not local_sip_port
        self._auto_ctrl = not ctrl_port
        self._auto_rtp = rtp_ports is None
        self.sip_port = local_sip_port or free_sip_port()
        self.tone_hz = int(round(tone_hz))
        self.audio_codecs = [c.lower() for c in audio_codecs]
        self.transport = transport
        self.ctrl_port = ctrl_port or free_udp_port()
        self.rtp_ports = rtp_ports or _default_rtp_ports(self.sip_port)
        self.answermode = answermode
        self.extra_config = dict(extra_config or {})
        self.host = host  # another loopback address (127.0.0.2) is another source
        self.account_params = account_params  # e.g. "dtmfmode=info"
        # A mono WAV at the codec's rate sent instead of the sine (aufile plays it once).
        self.audio_file = audio_file
        self.video_codec = video_codec.lower() if video_codec else None
        self.video_colour = video_colour or DEFAULT_VIDEO_COLOUR
        # baresip's own H.263 (1996) encoder takes only the standard sizes: CIF here.
        self.video_size = (352, 288) if self.video_codec == "h263" else video_size
        self.video_fps = video_fps
        self.video_bitrate = video_bitrate
        self.contacts = list(contacts or [])
        # With a registrar the account is sip:NAME@REALM, registers every `regint` s with
        # the password registrar.users[NAME], and sends everything through the registrar
        # as its outbound proxy; without one (the default) it never registers (regint=0).
        if registrar is not None and name not in registrar.users:
            raise ValueError(f"{name} is not a user of the registrar ({sorted(registrar.users)})")
        self.registrar = registrar
        self.regint = regint
        self.dir = Path(workdir) / name
        self.video_file: Path | None = None  # the clip it sends, made by write_config()
        self.record_dir = self.dir / "audio"
        self.log_path = self.dir / "baresip.log"
        self.proc: subprocess.Popen[bytes] | None = None

    # ---- addresses -------------------------------------------------------
    @property
    def aor(self) -> str:
        """This peer's own SIP URI (what another peer dials to reach it).

        With a registrar, its address of record there (dialled through the proxy)."""
        if self.registrar is not None:
            return f"sip:{self.name}@{self.registrar.realm}"
        uri = f"sip:{self.name}@{self.host}:{self.sip_port}"
        return uri + (f";transport={self.transport}" if self.transport != "udp" else "")

    # ---- config ----------------------------------------------------------
    def config_text(self) -> str:
        lines = [
            "poll_method epoll",
            f"sip_listen {self.host}:{self.sip_port}",
            f"net_interface {self.host}",
            "call_local_timeout 30",
            "call_max_calls 4",
            *self._source_lines(),
            f"audio_player aubridge,play_{self.name}_{self.sip_port}",
            f"audio_alert aubridge,alert_{self.name}_{self.sip_port}",
            "audio_level no",
            f"rtp_ports {self.rtp_ports[0]}-{self.rtp_ports[1]}",
            "rtcp_mux no",
            "jitter_buffer_delay 5-10",
            "rtp_stats yes",
            f"module_path {MODULE_PATH}",
            *[f"module {m}" for m in self._modules()],
            "module_tmp account.so",
            "module_app menu.so",
            f"cons_listen {LOOPBACK}:{self.ctrl_port}",
            f"snd_path {self.record_dir}",
            "statmode_default off",
            "ringback_disabled yes",
            "opus_bitrate 64000",
        ]
        lines += self._video_lines()
        lines += [f"{k} {v}" for k, v in self.extra_config.items()]
        return "\n".join(lines) + "\n"

    def _video_lines(self) -> list[str]:
        if self.video_codec is None or self.video_file is None:
            return []
        width, height = self.video_size
        return [
            f"video_source avformat,{self.video_file}",
            "video_display fakevideo,nil",
            f"video_size {width}x{height}",
            f"video_bitrate {self.video_bitrate}",
            f"video_fps {self.video_fps}",
            *[f"module {m}" for m in self._video_modules()],
        ]

    def _video_modules(self) -> list[str]:
        assert self.video_codec is not None
        codec = VIDEO_CODECS[self.video_codec][0]
        # avcodec also decodes for avformat; snapshot is a video filter on every frame
        return list(dict.fromkeys(["avcodec.so", codec, "avformat.so", "fakevideo.so",
                                   "snapshot.so"]))

    def _source_lines(self) -> list[str]:
        if self.audio_file is None:
            return [f"audio_source ausine,{self.tone_hz}", "ausrc_srate 48000",
                    "ausrc_channels 2"]
        with wave.open(str(self.audio_file)) as wav:
            rate, channels = wav.getframerate(), wav.getnchannels()
        return [f"audio_source aufile,{self.audio_file}", f"ausrc_srate {rate}",
                f"ausrc_channels {channels}"]

    def _modules(self) -> list[str]:
        codec_modules = dict.fromkeys(CODECS[c][0] for c in self.audio_codecs)
        source = "aufile.so" if self.audio_file is not None else "ausine.so"
        # mediaenc=srtp* in the account (SDES keys, a=crypto) needs the srtp module.
        srtp = ["srtp.so"] if "mediaenc=srtp" in self.account_params else []
        if "mediaenc=dtls_srtp" in self.account_params:  # keys from a DTLS handshake
            srtp = ["dtls_srtp.so"]
        contact = ["contact.so"] if self.contacts else []  # its /message texts a contact
        return ["cons.so", *codec_modules, "sndfile.so", source, "aubridge.so", *srtp,
                *contact]

    def accounts_text(self) -> str:
        codecs = ",".join(CODECS[c][1] for c in self.audio_codecs)
        if self.registrar is not None:
            return self._registered_account(codecs)
        uri = f"sip:{self.name}@{self.host}:{self.sip_port}"
        if self.transport != "udp":
            # tls: dial "sip:ID@MCU:TLSPORT" without ;transport=tls (the account adds it).
            uri += f";transport={self.transport}"
        params = f"regint=0;answermode={self.answermode};audio_codecs={codecs}"
        if self.video_codec is not None:
            params += f";video_codecs={VIDEO_CODECS[self.video_codec][1]}"
        if self.account_params:
            params += f";{self.account_params}"
        return f"<{uri}>;{params}\n"

    def _registered_account(self, codecs: str) -> str:
        """The account line of a peer that registers to (and calls through) a registrar."""
        assert self.registrar is not None
        password = self.registrar.users[self.name]
        outbound = self.registrar.outbound(self.transport)
        params = (f"regint={self.regint};auth_pass={password};outbound=\"{outbound}\";"
                  f"answermode={self.answermode};audio_codecs={codecs}")
        if self.video_codec is not None:
            params += f";video_codecs={VIDEO_CODECS[self.video_codec][1]}"
        if self.account_params:
            params += f";{self.account_params}"
        return f"<sip:{self.name}@{self.registrar.realm}>;{params}\n"

    def wait_registered(self, timeout: float = 10.0, after: int = 0) -> str:
        """Wait for the registrar's 200 OK to this peer's REGISTER; return the log line."""
        if self.registrar is None:
            raise BaresipError(f"{self.name}: no registrar (registrar=None)")
        return self.wait_for(REGISTERED, timeout, after=after)

    def write_config(self) -> None:
        self.record_dir.mkdir(parents=True, exist_ok=True)
        if self.video_codec is not None:  # before the config, which names it
            self.video_file = colour_clip(self.video_colour, self.video_size, self.video_fps)
        (self.dir / "config").write_text(self.config_text())
        (self.dir / "accounts").write_text(self.accounts_text())
        (self.dir / "contacts").write_text("".join(f"<{uri}>\n" for uri in self.contacts))

    # ---- process ---------------------------------------------------------
    def start(self, timeout: float = 10.0) -> BaresipPeer:
        """Write the config and run baresip until it is ready.

        If a port is taken (a concurrent run raced us) and that port was picked
        automatically, picks new ports and tries again.
        """
        if self.proc is not None:
            raise BaresipError(f"{self.name}: already started")
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start_once(timeout)
            except BaresipError:
                self.kill9()
                if attempt + 1 == START_ATTEMPTS or not self._repick_ports():
                    raise
                self.proc = None
        raise AssertionError("unreachable")

    def _repick_ports(self) -> bool:
        """After "Address already in use", re-pick auto ports; False if none are auto."""
        if "Address already in use" not in self.log_tail(100):
            return False
        if self._auto_sip:
            self.sip_port = free_sip_port()
        if self._auto_ctrl:
            self.ctrl_port = free_udp_port()
        if self._auto_rtp:
            self.rtp_ports = _default_rtp_ports(self.sip_port)
        return self._auto_sip or self._auto_ctrl or self._auto_rtp

    def _start_once(self, timeout: float) -> BaresipPeer:
        self.write_config()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [BARESIP, "-f", str(self.dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,
            )
        self.wait_for(READY, timeout)
        if self.count("cons: failed to listen"):
            raise BaresipError(f"{self.name}: console port taken\n{self.log_tail()}")
        return self

    def quit(self, timeout: float = 3.0) -> int | None:
        """Ask baresip to quit (`/quit`); kill it if it does not exit in time."""
        if not self.alive():
            return self.returncode
        with contextlib.suppress(OSError):
            self._send("/quit")
        return self._reap(timeout)

    def _reap(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return self.kill9()

    # ---- console ---------------------------------------------------------
    def command(self, line: str, reply_wait: float = 0.3) -> str:
        """Send one console command (e.g. "/dial sip:..."); return its reply text.

        The reply echoes the typed characters too; use the log to check effects.
        """
        if not self.alive():
            raise BaresipError(f"{self.name}: baresip is not running\n{self.log_tail()}")
        return self._send(line, reply_wait)

    def _send(self, line: str, reply_wait: float = 0.0) -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LOOPBACK, 0))
            sock.sendto((line.rstrip("\n") + "\n").encode(), (LOOPBACK, self.ctrl_port))
            return _collect_replies(sock, reply_wait)

    def dial(self, uri: str) -> str:
        """Call `uri`, e.g. "sip:1000@127.0.0.1:5062" or "...;transport=tcp"."""
        return self.command(f"/dial {uri}")

    def hangup(self, wait: float | None = 5.0) -> str:
        """Hang up the current call; unless wait is None, wait for baresip to act on it."""
        start = self.mark()
        reply = self.command("/hangup")
        if wait is not None:
            self.wait_for(LOCAL_HANGUP, wait, after=start)
        return reply

    def hold(self) -> str:
        """Put the current call on hold (re-INVITE with a=sendonly)."""
        return self.command("/hold")

    def resume(self) -> str:
        """Resume the current call (re-INVITE with a=sendrecv)."""
        return self.command("/resume")

    def send_dtmf(self, digits: str) -> str:
        """Send RFC 4733 telephone-events for digits in 0-9 * # A-D."""
        if not re.fullmatch(r"[0-9*#A-Da-d]+", digits):
            raise ValueError(f"bad DTMF digits {digits!r}")
        return self.command(f"/sndcode {digits}")

    def message(self, text: str) -> str:
        """Send `text` by SIP MESSAGE (RFC 3428, pager mode) to the first contact."""
        if not self.contacts:
            raise BaresipError(f"{self.name}: no contact to message")
        return self.command(f"/message {text}")

    def console_tap(self) -> ConsoleTap:
        """A console client that stays: baresip shows what the UI prints (a received
        SIP MESSAGE, as `peer: "text"`) to the console client that spoke last."""
        return ConsoleTap(self)

    def snapshot(self, path: str | Path, timeout: float = 10.0) -> Path:
        """Save the next picture this peer receives as a PNG at `path`; return it.

        The snapshot filter writes on the next decoded frame, so this fails (after
        `timeout`) when no video arrives.  An existing file at `path` is replaced.
        """
        if self.video_codec is None:
            raise BaresipError(f"{self.name}: video is off (no video_codec)")
        path = Path(path).resolve()
        path.unlink(missing_ok=True)
        start = self.mark()
        self.command(f"/snapshot_recv {path}", reply_wait=0.0)
        self.wait_for(f"png: wrote {path}", timeout, after=start)
        deadline = time.monotonic() + timeout
        while not (path.exists() and path.read_bytes().endswith(PNG_END)):
            if time.monotonic() > deadline:
                raise BaresipError(f"{self.name}: {path} never completed\n{self.log_tail()}")
            time.sleep(0.05)
        return path

    # ---- log -------------------------------------------------------------
    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        text = self.log_path.read_bytes().decode("utf-8", errors="replace")
        return [_ANSI.sub("", line) for line in text.splitlines()]

    def log_tail(self, count: int = 30) -> str:
        return "\n".join(self.log_lines()[-count:])

    async def wait_for_async(
        self,
        predicate: LinePredicate,
        timeout: float = 10.0,
        occurrence: int = 1,
        after: int = 0,
    ) -> str:
        return await asyncio.to_thread(self.wait_for, predicate, timeout, occurrence, after)

    def rtp_packets(self) -> tuple[int, int] | None:
        """(sent, received) audio RTP packets of the last ended call (`rtp_stats yes`)."""
        found = None
        for line in self.log_lines():
            m = re.match(r"packets:\s+(\d+)\s+(\d+)", line.strip())
            if m:
                found = (int(m.group(1)), int(m.group(2)))
        return found

    # ---- recordings ------------------------------------------------------
    def received_wav_path(self) -> Path | None:
        """Newest WAV of audio this peer received (sndfile's `*-dec.wav`)."""
        return _newest(self.record_dir, "*-dec.wav")

    def sent_wav_path(self) -> Path | None:
        """Newest WAV of audio this peer sent (sndfile's `*-enc.wav`)."""
        return _newest(self.record_dir, "*-enc.wav")


class ConsoleTap:
    """Says one harmless command from its own socket, then reads what baresip's UI
    prints to it (see `BaresipPeer.console_tap`). Use as a context manager."""

    def __init__(self, peer: BaresipPeer) -> None:
        self.peer = peer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.seen = ""
        self.sock.sendto(b"/callstat\n", (LOOPBACK, peer.ctrl_port))

    def __enter__(self) -> ConsoleTap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        """Everything printed until `text` showed up; BaresipError if it did not."""
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BaresipError(f"{self.peer.name}: console never showed {text!r}; "
                                   f"it showed {self.seen[-500:]!r}")
            self.seen += _collect_replies(self.sock, min(left, 0.5))
        return self.seen


def colour_clip(
    colour: tuple[int, int, int], size: tuple[int, int], fps: int,
    seconds: int = VIDEO_CLIP_SECONDS,
) -> Path:
    """A video-only H.264 MP4 of one solid colour, made once and kept in CLIP_CACHE."""
    red, green, blue = colour
    width, height = size
    hex_colour = f"{red:02x}{green:02x}{blue:02x}"
    path = CLIP_CACHE / f"{hex_colour}-{width}x{height}-{fps}fps-{seconds}s.mp4"
    if path.exists():
        return path
    CLIP_CACHE.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so a concurrent run never reads half a file.
    partial = path.with_name(f".{os.getpid()}-{random.randrange(1 << 30)}-{path.name}")
    source = f"color=c=0x{hex_colour}:s={width}x{height}:r={fps}"
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
         "-t", str(seconds), "-an", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-g", str(fps), "-f", "mp4", str(partial)],
        check=True, timeout=120, capture_output=True,
    )
    os.replace(partial, path)
    return path


def _default_rtp_ports(sip_port: int) -> tuple[int, int]:
    """A 16-port RTP range derived from the SIP port (distinct per SIP port)."""
    base = 20000 + ((sip_port - SIP_PORTS[0]) // 2 % 2500) * 16
    return base, base + 15


def _collect_replies(sock: socket.socket, wait: float) -> str:
    chunks: list[str] = []
    sock.settimeout(wait)
    while wait > 0:
        try:
            data, _ = sock.recvfrom(65536)
        except (TimeoutError, ConnectionRefusedError):
            break
        chunks.append(data.decode("utf-8", errors="replace"))
    return _ANSI.sub("", "".join(chunks))


def _newest(folder: Path, pattern: str) -> Path | None:
    files = sorted(folder.glob(pattern), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return files[-1] if files else None
