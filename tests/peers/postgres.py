"""A throwaway PostgreSQL server for the tests: the Debian ``postgresql`` package's server
binaries, run as the ``postgres`` user when the tests run as root (initdb refuses root),
with trust authentication, fsync off and nothing outside its own folder.

``PostgresServer().start()`` listens on a Unix socket only (nothing to collide with);
``PostgresServer(host="127.0.0.10", port=...)`` also on that loopback address over TCP,
for programs that speak only TCP (Kamailio's db_postgres, the cluster's nodes).
A missing server binary or user fails the test naming the install step, never skips.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.system_deps import missing


def postgres_bin() -> Path | None:
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


def as_postgres_user() -> list[str] | None:
    """Command prefix to run the server: initdb refuses to run as root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return None if runuser is None else [runuser, "-u", "postgres", "--"]


class PostgresServer:
    def __init__(self, host: str | None = None, port: int = 5432) -> None:
        self.host, self.port = host, port
        bindir, prefix = postgres_bin(), as_postgres_user()
        if bindir is None:
            missing("PostgreSQL's server (initdb, pg_ctl under /usr/lib/postgresql/*/bin)")
        if prefix is None:
            missing("the `postgres` user or runuser (initdb refuses to run as root)")
        self.bindir, self.prefix = bindir, prefix
        self.base = Path(tempfile.mkdtemp(prefix="mcu-test-pg-"))
        self.data = self.base / "data"

    @property
    def socket_dir(self) -> str:
        return str(self.base)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.base, user="postgres")
        init = [*self.prefix, str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                "-U", "postgres", "--no-sync"]
        listen = f"'{self.host}' -p {self.port}" if self.host else "''"
        options = f"-k {self.base} -c listen_addresses={listen} -c fsync=off"
        start = [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data),
                 "-l", str(self.base / "log"), "-o", options, "-w", "start"]
        try:
            subprocess.run(init, check=True, capture_output=True)
            subprocess.run(start, check=True, capture_output=True)
        except subprocess.CalledProcessError as exc:
            self.stop()
            pytest.fail(f"could not start PostgreSQL ({' '.join(exc.cmd)}): "
                        f"{exc.stderr.decode(errors='replace')[-500:]}\n{self.log_tail()}",
                        pytrace=False)
        return self

    def log_tail(self, count: int = 20) -> str:
        log = self.base / "log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return "\n".join(lines[-count:])

    def stop(self) -> None:
        if self.data.exists():
            stop = [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                    "immediate", "stop"]
            subprocess.run(stop, check=False, capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its name."""
        name = name or f"mcu_test_{uuid.uuid4().hex[:12]}"
        psql = [*self.prefix, shutil.which("psql") or "psql", "-h", self.socket_dir,
                "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-q",
                "-c", f'CREATE DATABASE "{name}"']
        subprocess.run(psql, check=True, capture_output=True)
        return name

    def tcp_url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        assert self.host, "started without TCP"
        return f"{driver}://postgres@{self.host}:{self.port}/{database}"
