"""Real RTP streams for the receive-only payload tests: ffmpeg's RTP muxer sends to a
loopback UDP socket of ours, and we keep every packet and the SDP it wrote."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from gateway.sdp.video import parse_fmtp


@dataclass(frozen=True)
class Packet:
    payload: bytes
    seq: int
    timestamp: int
    marker: bool
    payload_type: int

    def push_args(self) -> tuple[bytes, int, int, bool]:
        return self.payload, self.seq, self.timestamp, self.marker


@dataclass(frozen=True)
class Capture:
    packets: tuple[Packet, ...]
    sdp: str

    def fmtp(self) -> dict[str, str]:
        for line in self.sdp.splitlines():
            if line.startswith("a=fmtp:"):
                return parse_fmtp(line.split(" ", 1)[1] if " " in line else "")
        return {}

    def rtpmap(self) -> str | None:
        for line in self.sdp.splitlines():
            if line.startswith("a=rtpmap:"):
                return line.split(" ", 1)[1]
        return None


def parse(datagram: bytes) -> Packet:
    first, second, seq, timestamp = struct.unpack_from("!BBHI", datagram)
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        (length,) = struct.unpack_from("!H", datagram, offset + 2)
        offset += 4 + 4 * length
    end = len(datagram) - (datagram[-1] if first & 0x20 else 0)
    return Packet(datagram[offset:end], seq, timestamp, bool(second & 0x80), second & 0x7F)


@cache
def capture(*args: str) -> Capture:
    """Run ``ffmpeg ARGS -f rtp rtp://127.0.0.1:PORT`` and collect what it sends."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.3)
    port = sock.getsockname()[1]
    datagrams: list[bytes] = []
    done = threading.Event()

    def receive() -> None:
        while True:
            try:
                datagrams.append(sock.recv(65536))
            except TimeoutError:
                if done.is_set():
                    return

    reader = threading.Thread(target=receive, daemon=True)
    reader.start()
    with tempfile.TemporaryDirectory() as tmp:
        sdp_path = Path(tmp) / "stream.sdp"
        command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *args,
                   "-f", "rtp", "-sdp_file", str(sdp_path),
                   f"rtp://127.0.0.1:{port}?rtcpport={port}"]
        subprocess.run(command, check=True, timeout=30, capture_output=True)
        done.set()
        reader.join()
        sock.close()
        sdp = sdp_path.read_text()
    # RTCP comes to the same port (SR, payload type 200 read as 72 | marker): drop it.
    packets = [parse(d) for d in datagrams if len(d) >= 12 and not 200 <= d[1] <= 204]
    return Capture(tuple(packets), sdp)
