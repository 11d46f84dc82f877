"""tshark on the loopback for wire checks: capture while a test runs, then read the
capture back as fields or dissected text."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.system_deps import require_program


@contextlib.contextmanager
def capture(capture_filter: str, folder: Path | None = None) -> Iterator[Path]:
    """Every loopback packet ``capture_filter`` (BPF) takes, written to a pcapng file
    while the block runs (a moment is left on both sides: tshark starts slowly, and
    the last packets must reach the file)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="capture-"))
    path = folder / "wire.pcapng"
    proc = subprocess.Popen([require_program("tshark"), "-q", "-i", "lo", "-f", capture_filter,
                             "-w", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    try:
        yield path
    finally:
        time.sleep(0.5)
        proc.terminate()
        proc.wait(10)


def dissect(path: Path, *options: str) -> str:
    """tshark's reading of a capture (``options``: a display filter, fields, ...)."""
    return subprocess.run([require_program("tshark"), "-n", "-r", str(path), *options],
                          capture_output=True, text=True, timeout=60, check=True).stdout


def fields(path: Path, *names: str, display_filter: str = "") -> list[list[str]]:
    """One row of ``names`` per packet ``display_filter`` takes."""
    options = ["-Y", display_filter] if display_filter else []
    for name in names:
        options += ["-e", name]
    out = dissect(path, *options, "-T", "fields")
    return [line.split("\t") for line in out.splitlines() if line.strip()]
