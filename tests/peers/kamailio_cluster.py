"""The cluster's SIP front for the tests (issue 18): the project's own
``config/kamailio/kamailio.cfg`` (Kamailio's dispatcher in front of MCU nodes), run as
shipped with its settings in the environment, on a loopback address of its own.

Process handling, readiness (an OPTIONS answered) and logs are ``Kamailio``'s; only the
configuration differs: no db_text, a dispatcher list of the nodes' SIP URIs, and the
PostgreSQL store the nodes share.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.peers.kamailio import Kamailio

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "kamailio" / "kamailio.cfg"


class ClusterFront(Kamailio):
    def __init__(self, workdir: str | Path, *, host: str, db_url: str,
                 nodes: Sequence[str], lease_s: float, cascade_after: int = 0,
                 port: int = 0) -> None:
        """``db_url``: postgres://user@host:port/db; ``nodes``: the nodes' sip_uri;
        ``cascade_after``: participants on a conference's node before the next caller
        goes to another node (0: never)."""
        super().__init__(workdir, {}, host=host, port=port, name="cluster-front")
        self.db_url, self.nodes, self.lease_s = db_url, list(nodes), lease_s
        self.cascade_after = cascade_after
        self.shm_mb = 256  # a benchmark's hundreds of calls a second
        self.cfg_path = SHIPPED_CONFIG
        self.list_path = self.dir / "dispatcher.list"

    def write_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.list_path.write_text("".join(f"1 {uri}\n" for uri in self.nodes))

    def process_env(self) -> dict[str, str]:
        return {"PATH": "/usr/sbin:/usr/bin:/bin",
                "MCU_KAMAILIO_LISTEN": f"udp:{self.host}:{self.port}",
                "MCU_KAMAILIO_DB": f"mcu=>{self.db_url}",
                "MCU_KAMAILIO_NODES": str(self.list_path),
                "MCU_KAMAILIO_LEASE_S": str(int(round(self.lease_s))),
                "MCU_KAMAILIO_CASCADE_AFTER": str(self.cascade_after)}

    def dial_uri(self, user: str) -> str:
        """What a caller dials to reach conference ``user`` through the front."""
        return f"sip:{user}@{self.host}:{self.port}"
