"""Drive ooh323c's test endpoint `simple` (an independent H.323 stack) on loopback.

Built by scripts/install-system-deps.sh from tests/peers/ooh323c (no distribution
packages an H.323 endpoint). Its traps (/work/shared/peers.md): stdin must stay open
(at EOF it prints "Invalid Command" in a loop), so it reads a FIFO we hold; it refuses
--use-ip 127.0.0.1, so it runs on 127.0.0.2; no SO_REUSEADDR, so every run takes a new
port; it logs to simple.log (and media.log) in its working folder, `-t -t -t` dumping
every ASN.1 message. Commands on stdin: ``d DIGITS`` (user input), ``h`` (hang up),
``q`` (quit). Its media plugin reads and writes an OSS /dev/dsp that is missing here:
``libfakedsp.so`` (tests/peers/ooh323c/fakedsp.c, LD_PRELOAD) gives it a microphone (a
FIFO we write a sine tone into in real time) and a speaker (a raw PCM file:
``received()`` reads it back), so what it sends and hears is checked like any peer's.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

import numpy as np

from tests.peers.audio_analysis import Audio
from tests.peers.process import PeerProcess
from tests.system_deps import missing

ROOT = Path(__file__).resolve().parents[2]
SIMPLE = ROOT / "var/peers/ooh323c/ooh323c/build/tests/simple/simple"
FAKE_DSP = SIMPLE.parent / "libfakedsp.so"
PEER_IP = "127.0.0.2"
RATE = 8000  # its /dev/dsp: 16-bit mono PCM at 8 kHz
CHUNK_S = 0.02
_PORTS = itertools.count(30000 + os.getpid() % 500 * 20)  # a new port every run


def require_simple() -> Path:
    for path in (SIMPLE, FAKE_DSP):
        if not path.exists():
            missing(f"ooh323c's simple ({path})")
    return SIMPLE


class OohPeer(PeerProcess):
    error = AssertionError
    established = re.compile(r"Call Established|Connect received", re.I)
    terminated = re.compile(r"Call \S+ Ended|Cleared", re.I)

    def __init__(self, destination: str = "", *, fast_start: bool = True, tunnelling: bool = True,
                 name: str = "ooh323", h323id: str = "ooh323c", tone: float = 0.0) -> None:
        self.name = name
        self.destination = destination
        self.fast_start = fast_start
        self.tunnelling = tunnelling
        self.h323id = h323id
        self.port = next(_PORTS)
        self.workdir = Path(tempfile.mkdtemp(prefix="ooh323-"))
        self.fifo = self.workdir / "stdin"
        self.proc: subprocess.Popen[bytes] | None = None
        self._stdin: int | None = None
        self.tone = tone
        self.mic = self.workdir / "mic"
        self.speaker = self.workdir / "speaker.raw"
        self._mic_fd: int | None = None
        self._stop = threading.Event()

    def start(self) -> Self:
        simple = require_simple()
        os.mkfifo(self.fifo)
        os.mkfifo(self.mic)
        self._mic_fd = os.open(self.mic, os.O_RDWR | os.O_NONBLOCK)  # never blocks us
        reader = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        self._stdin = os.open(self.fifo, os.O_WRONLY)
        os.set_blocking(reader, True)
        command = [str(simple), "--use-ip", PEER_IP, "--use-port", str(self.port),
                   "--h323id", self.h323id, "-t", "-t", "-t"]
        if not self.fast_start:
            command.append("--no-faststart")
        if not self.tunnelling:
            command.append("--no-tunneling")
        # No destination: it listens on PEER_IP:port and answers every call.
        command += [self.destination] if self.destination else ["--listen", "--auto-answer"]
        with open(self.workdir / "stdout.log", "wb") as out:
            self.proc = subprocess.Popen(command, cwd=self.workdir, stdin=reader, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ,
                                              "LD_LIBRARY_PATH": str(simple.parent),
                                              "LD_PRELOAD": str(FAKE_DSP),
                                              "OOH323_MIC": str(self.mic),
                                              "OOH323_SPEAKER": str(self.speaker)})
        os.close(reader)
        threading.Thread(target=self._speak, daemon=True, name=f"{self.name}-mic").start()
        return self

    def _speak(self) -> None:
        """The microphone: ``tone`` Hz (silence for 0) written in real time; what the
        FIFO cannot take (nobody reading yet) is dropped, never queued."""
        chunk = int(RATE * CHUNK_S)
        phase = 0
        started = time.monotonic()
        sent = 0
        while not self._stop.is_set() and self._mic_fd is not None:
            t = (np.arange(chunk) + phase) / RATE
            samples = (0.3 * 32767 * np.sin(2 * np.pi * self.tone * t)).astype("<i2")
            phase += chunk
            with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
                os.write(self._mic_fd, samples.tobytes())
            sent += 1
            self._stop.wait(max(0.0, started + sent * CHUNK_S - time.monotonic()))

    def received(self, skip_seconds: float = 0.0) -> Audio:
        """What it played (the MCU's audio as it decoded it)."""
        raw = self.speaker.read_bytes() if self.speaker.exists() else b""
        samples = np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2") / 32768.0
        return Audio(samples, RATE).slice(skip_seconds)

    def command(self, line: str) -> None:
        if self._stdin is not None:
            os.write(self._stdin, line.encode() + b"\n")

    def send_digits(self, digits: str) -> None:
        self.command(f"d {digits}")

    def hang_up(self) -> None:
        self.command("h")

    def quit(self, timeout: float = 3.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.command("h")
            self.command("q")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self._stop.set()
        for fd in (self._stdin, self._mic_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._stdin = self._mic_fd = None
        return self.proc.poll()

    def log_lines(self) -> list[str]:
        lines: list[str] = []
        for name in ("simple.log", "stdout.log"):
            path = self.workdir / name
            if path.exists():
                lines += path.read_text(errors="replace").splitlines()
        return lines
