"""What every third-party peer we run as a subprocess shares: its process group's
lifetime (never left running) and waiting for lines in the log it writes.

A peer subclass provides ``start()``, ``quit()``, ``log_lines()``, ``log_tail()`` and
the patterns that say a call was established or ended (``established``,
``terminated``); it gets the rest from here.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Self

LinePredicate = str | re.Pattern[str] | Callable[[str], bool]


def line_matcher(predicate: LinePredicate) -> Callable[[str], bool]:
    if isinstance(predicate, str):
        return lambda line: predicate in line
    if isinstance(predicate, re.Pattern):
        return lambda line: predicate.search(line) is not None
    return predicate


class PeerProcess:
    name: str
    proc: subprocess.Popen[bytes] | None
    error: type[Exception] = RuntimeError
    established: re.Pattern[str]
    terminated: re.Pattern[str]

    # ---- to provide
    def start(self) -> Self:
        raise NotImplementedError

    def quit(self, timeout: float = 3.0) -> int | None:
        raise NotImplementedError

    def log_lines(self) -> list[str]:
        raise NotImplementedError

    def log_tail(self, count: int = 30) -> str:
        return "\n".join(self.log_lines()[-count:])

    # ---- process
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    def kill9(self) -> int | None:
        """SIGKILL the whole process group (also how a crashed peer is simulated)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:  # not reaped yet, so the pid is still ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        return self.proc.returncode

    def close(self) -> None:
        """Quit politely, then SIGKILL the process group: never leaves a process."""
        if self.proc is None:
            return
        self.quit(timeout=2.0)
        self.kill9()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.kill9()

    # ---- log
    def mark(self) -> int:
        """Current log length; pass it as `after=` to only look at later lines."""
        return len(self.log_lines())

    def count(self, predicate: LinePredicate, after: int = 0) -> int:
        match = line_matcher(predicate)
        return sum(1 for line in self.log_lines()[after:] if match(line))

    def wait_for(
        self,
        predicate: LinePredicate,
        timeout: float = 10.0,
        occurrence: int = 1,
        after: int = 0,
    ) -> str:
        """Wait until the log holds `occurrence` matching lines; return that line.

        `predicate` is a substring, a compiled regex or a callable on each line;
        only lines from index `after` on (see mark()) count.
        """
        match = line_matcher(predicate)
        deadline = time.monotonic() + timeout
        while True:
            hits = [line for line in self.log_lines()[after:] if match(line)]
            if len(hits) >= occurrence:
                return hits[occurrence - 1]
            if not self.alive() or time.monotonic() > deadline:
                state = "exited" if not self.alive() else "timed out"
                raise self.error(
                    f"{self.name}: {state} waiting for {predicate!r}\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def wait_established(self, timeout: float = 10.0, after: int = 0) -> str:
        return self.wait_for(self.established, timeout, after=after)

    def wait_terminated(self, timeout: float = 10.0, after: int = 0) -> str:
        """Wait for the first call-ended line from index `after` on."""
        return self.wait_for(self.terminated, timeout, after=after)
