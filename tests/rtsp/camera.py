"""The GStreamer RTSP test camera (tests/peers/rtsp_camera.py) as a subprocess fixture.

It runs under Debian's /usr/bin/python3, where ``gi`` imports; a missing GStreamer
FAILS the test naming scripts/install-system-deps.sh, never skips it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.system_deps import missing, require_program

SCRIPT = Path(__file__).resolve().parents[1] / "peers" / "rtsp_camera.py"
SYSTEM_PYTHON = "/usr/bin/python3"
CAMERA_TONES = {"/cam": 1000.0, "/aac": 1500.0}  # Hz: what each mount's audio plays


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def rtsp_camera(auth: tuple[str, str] | None = None, port: int | None = None
                ) -> Iterator[str]:
    """Run the camera (on ``port``, else a free one); yield its URL
    ``rtsp://127.0.0.1:PORT/cam``."""
    require_program("gst-launch-1.0")
    if not Path(SYSTEM_PYTHON).exists():
        missing(SYSTEM_PYTHON)
    port = port or free_tcp_port()
    args = [SYSTEM_PYTHON, str(SCRIPT), str(port), *(auth or ())]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 8.0
        seen = b""
        while b"READY" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                text = seen.decode(errors="replace")
                if "No module named 'gi'" in text or "not available" in text:
                    missing(f"GStreamer RTSP server for {SYSTEM_PYTHON} ({text.strip()[-200:]})")
                raise AssertionError(f"RTSP test camera did not start: {text[-500:]}")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    proc.wait(1)
                seen += chunk
        yield f"rtsp://127.0.0.1:{port}/cam"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(3)
        if proc.stdout is not None:
            proc.stdout.close()
