"""A real DNS server for the tests: dnsmasq (Debian ``dnsmasq-base``) on loopback.

It serves only the records a test gives it (``--srv-host``, ``--host-record``,
``--naptr-record``), answers NXDOMAIN for any other name under ``local_domain``, and
reads no /etc/hosts, /etc/resolv.conf or configuration file; it listens on one
loopback address and a free UDP port, in the foreground, and is killed by ``close``.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"


def free_udp_and_tcp_port(host: str = LOOPBACK) -> int:
    """A port free for both UDP and TCP (dnsmasq binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for dnsmasq")


class Dnsmasq:
    """``Dnsmasq(program, records).start()``; ``address`` is "ip:port" for the MCU's
    ``sip.dns_servers``. ``records`` are dnsmasq options without the leading dashes,
    e.g. ``"srv-host=_sip._udp.example.test,callee.example.test,5070,0,5"``."""

    def __init__(self, program: str, records: Sequence[str], workdir: Path, *,
                 host: str = LOOPBACK, local_domain: str = "example.test") -> None:
        self.program = program
        self.records = list(records)
        self.host = host
        self.local_domain = local_domain
        self.port = 0
        self.log_path = workdir / "dnsmasq.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [self.program, "--no-daemon", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--log-queries", f"--listen-address={self.host}",
                f"--port={self.port}", "--bind-interfaces",
                f"--local=/{self.local_domain}/", "--local-ttl=60",
                *[f"--{record}" for record in self.records]]

    def start(self, timeout: float = 5.0) -> Dnsmasq:
        self.port = free_udp_and_tcp_port(self.host)
        command = self.command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"dnsmasq did not answer in {timeout} s: {self.log_tail()}")

    def _answers(self) -> bool:
        """A query for the root's SOA gets some answer (the server is up)."""
        query = bytes.fromhex("123401000001000000000000" "0000060001")  # id, RD, ". SOA IN"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.2)
            try:
                sock.sendto(query, (self.host, self.port))
                return sock.recv(512)[:2] == query[:2]
            except OSError:
                return False

    def log_tail(self, count: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-count:])
        except OSError:
            return ""

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        self.proc = None

    def __enter__(self) -> Dnsmasq:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
