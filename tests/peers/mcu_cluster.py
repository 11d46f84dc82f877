"""A cluster of real parts for the tests (issue 18): PostgreSQL on TCP, ``mcu serve``
nodes each on a loopback address of its own, and the project's Kamailio configuration
in front (``ClusterFront``). ``running_cluster(folder, ...)`` starts them all (the
nodes together: their migrations meet at PostgreSQL's advisory lock) and stops them
all, whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.peers.baresip import BaresipPeer
from tests.peers.kamailio import free_port
from tests.peers.kamailio_cluster import ClusterFront
from tests.peers.postgres import PostgresServer

MCU = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "mcu"
FRONT_IP = "127.0.0.10"  # Kamailio and PostgreSQL
NODE_IPS = {"a": "127.0.0.11", "b": "127.0.0.12"}
RTP_RANGES = {"a": (63000, 63199), "b": (63200, 63399)}
HEARTBEAT_S, LEASE_S = 0.5, 10.0
ADMIN_PASSWORD = "cluster-admin-pw"
CONFERENCE = "7001"  # configured by the tests through the API
AD_HOC = "7100"  # configured nowhere: opened by its first call
CASCADE_AFTER = 2  # participants on a conference's node before the next goes elsewhere
TONES = {"alice": 440.0, "bob": 800.0, "carol": 1300.0, "dave": 600.0}
COLOURS = {"alice": (255, 0, 0), "bob": (0, 255, 0), "carol": (0, 0, 255),
           "dave": (255, 255, 0)}
# Small pictures and rates: two cores run two nodes, their encoders and three peers.
VIDEO_ENV = {"MCU_VIDEO__ENABLED": "true", "MCU_VIDEO__WIDTH": "640",
             "MCU_VIDEO__HEIGHT": "360", "MCU_VIDEO__FRAME_RATE": "15"}


class Node:
    """One ``mcu serve`` node: its own address, ports and log; the shared store."""

    def __init__(self, name: str, folder: Path, db_url: str,
                 extra_env: dict[str, str] | None = None) -> None:
        self.name, self.ip, self.folder = name, NODE_IPS[name], folder / f"node-{name}"
        self.extra_env = dict(extra_env or {})
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sip_port, self.http_port = free_port(self.ip), free_port(self.ip)
        self.db_url = db_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""

    @property
    def sip_uri(self) -> str:
        return f"sip:{self.ip}:{self.sip_port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.ip}:{self.http_port}"

    def env(self) -> dict[str, str]:
        low, high = RTP_RANGES[self.name]
        return {
            "PATH": os.environ["PATH"],
            "MCU_ADMIN__PASSWORD": ADMIN_PASSWORD,
            "MCU_DATABASE__URL": self.db_url,
            "MCU_SIP__HOST": self.ip, "MCU_SIP__PORT": str(self.sip_port),
            "MCU_SIP__TLS_PORT": "0",
            "MCU_HTTP__HOST": self.ip, "MCU_HTTP__PORT": str(self.http_port),
            "MCU_RTSP__PORT": "0", "MCU_H323__HOST": self.ip, "MCU_H323__PORT": "0",
            "MCU_RTP__PORT_MIN": str(low), "MCU_RTP__PORT_MAX": str(high),
            "MCU_TLS__DIRECTORY": str(self.folder / "tls"),
            "MCU_CLUSTER__ENABLED": "true", "MCU_CLUSTER__NODE_ID": self.name,
            # Callers arrive from Kamailio's address: no per-address limits for it.
            "MCU_SIP__LIMITS__TRUSTED_NETWORKS": f'["{FRONT_IP}"]',
            "MCU_CLUSTER__HEARTBEAT_S": str(HEARTBEAT_S),
            "MCU_CLUSTER__LEASE_S": str(LEASE_S),
            "MCU_VIDEO__ENABLED": "false",  # unless asked: audio is cheaper to hear
            # a worktree's checkout runs its own code with the one .venv
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
            **self.extra_env,
        }

    def launch(self) -> None:
        log = (self.folder / "mcu.log").open("wb")
        self.proc = subprocess.Popen([str(MCU), "serve"], cwd=self.folder, env=self.env(),
                                     stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> Node:
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"node {self.name} exited:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.post(f"{self.base_url}/api/v1/auth/token", timeout=2,
                                    json={"username": "admin", "password": ADMIN_PASSWORD})
                if answer.status_code == 200:
                    self.token = answer.json()["access_token"]
                    return self
            time.sleep(0.2)
        pytest.fail(f"node {self.name} never served its web control:\n{self.log_tail()}")

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.base_url}/api/v1{path}", timeout=10,
                             headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def cluster(self) -> dict[str, Any]:
        answer = self.api("GET", "/cluster")
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def holder(self, numeric_id: str) -> str | None:
        leases = {c["numeric_id"]: c for c in self.cluster()["conferences"]}
        lease = leases.get(numeric_id)
        return lease["node_id"] if lease and lease["live"] else None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, count: int = 40) -> str:
        path = self.folder / "mcu.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-count:])


@dataclass
class Cluster:
    nodes: dict[str, Node]
    front: ClusterFront
    folder: Path
    conference_id: int = 0

    def wait(self, what: str, check: Any, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.2)
        logs = "\n".join(f"--- node {n.name}\n{n.log_tail()}" for n in self.nodes.values())
        pytest.fail(f"never: {what}\n{logs}\n--- kamailio\n{self.front.log_tail()}")

    def peer(self, name: str, video_codec: str | None = None) -> BaresipPeer:
        return BaresipPeer(self.folder, name, 0, TONES[name], ["pcmu"],
                           video_codec=video_codec,
                           video_colour=COLOURS[name] if video_codec else None).start()


@contextlib.contextmanager
def running_cluster(folder: Path, *, cascade_after: int = CASCADE_AFTER,
                    node_env: dict[str, str] | None = None) -> Iterator[Cluster]:
    postgres = PostgresServer(host=FRONT_IP, port=free_port(FRONT_IP)).start()
    nodes: dict[str, Node] = {}
    front: ClusterFront | None = None
    try:
        database = postgres.create_database("mcu")
        for name in NODE_IPS:
            nodes[name] = Node(name, folder, postgres.tcp_url(database), node_env)
        for node in nodes.values():
            node.launch()
        for node in nodes.values():
            node.wait_ready()
        front = ClusterFront(folder, host=FRONT_IP,
                             db_url=postgres.tcp_url(database, "postgres"),
                             nodes=[n.sip_uri for n in nodes.values()], lease_s=LEASE_S,
                             cascade_after=cascade_after)
        front.start()
        yield Cluster(nodes, front, folder)
    finally:
        if front is not None:
            front.stop()
        for node in nodes.values():
            node.stop()
        postgres.stop()
