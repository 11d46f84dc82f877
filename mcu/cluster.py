"""This MCU as a node of a cluster (issue 18): a thin asyncio shell over the store's
cluster tables.

Every ``cluster.heartbeat_s`` (and at once when a conference starts here) the node
publishes its address and load, takes or renews the lease of each conference running
here, and drops the leases of those that ended. Kamailio places calls by the same
tables (``config/kamailio/kamailio.cfg``): a conference's calls go to the node holding
its lease, a conference with none goes to the least-loaded live node. Stopping cleanly
gives everything back at once; a node that dies leaves its leases to expire.

A conference that runs here while another node holds its lease (Kamailio sent a
caller here because the holder had its fill, or two first calls raced) joins the
holder's by a cascade leg (``Mcu._cascade_out``, ``mcu/cascade.py``); it is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.log import log_event
from mcu import cascade
from mcu.settings import ClusterSettings
from mcu.store import LeaseRecord, NodeRecord, Store
from mcu.store.cluster import Listener

log = logging.getLogger("mcu.cluster")


def utcnow() -> datetime:
    return datetime.now(UTC)


class ClusterNode:
    def __init__(self, settings: ClusterSettings, store: Store, *, sip_uri: str,
                 http_url: str, running: Callable[[], Mapping[str, int]],
                 video_streams: Callable[[], int],
                 cascaded: Callable[[], Mapping[str, list[object]]] = dict,
                 on_command: Callable[[str], None] | None = None,
                 on_beat: Callable[[], object] | None = None) -> None:
        """``running``: numeric ID -> participants of each conference running here;
        ``cascaded``: our own participants' views in each conference another node
        holds (published for its web control); ``on_command``: a command from a
        holder's web control for one of them (``mcu/cascade.py``); ``on_beat``: awaited
        after each heartbeat (the MCU re-reads the shared configuration there)."""
        self.settings = settings
        self.node_id = settings.name()
        self.store = store
        self.sip_uri, self.http_url = sip_uri, http_url
        self._running, self._video_streams, self._on_beat = running, video_streams, on_beat
        self._cascaded, self._on_command = cascaded, on_command
        self._listener: Listener | None = None
        # Held conferences' participants on other nodes: numeric ID -> node -> views.
        self.remote_views: dict[str, dict[str, list[dict[str, object]]]] = {}
        self._held: set[str] = set()  # leases this node holds
        self.elsewhere: list[LeaseRecord] = []  # live leases of other nodes, last beat
        self._conflicts: set[str] = set()  # conferences held elsewhere, already logged
        self._started_at = utcnow()
        self._cpu = (time.monotonic(), time.process_time())
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._listen()
        await self.beat()
        self._task = asyncio.get_running_loop().create_task(self._run())
        log_event(log, "cluster.joined", node=self.node_id, sip=self.sip_uri,
                  http=self.http_url)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._listener is not None:
            await self._listener.close()
        try:
            await self.store.leave_cluster(self.node_id)
        except Exception as error:  # noqa: BLE001 - the leases will expire instead
            log_event(log, "cluster.leave_failed", level=logging.WARNING, node=self.node_id,
                      error=str(error).splitlines()[0])
        log_event(log, "cluster.left", node=self.node_id)

    def wake(self) -> None:
        """A conference started or ended here: publish it now, not at the next beat."""
        self._wake.set()

    def holds(self, numeric_id: str) -> bool:
        return numeric_id in self._held

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.heartbeat_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.beat()
            except Exception as error:  # noqa: BLE001 - the database away: try next beat
                log_event(log, "cluster.heartbeat_failed", level=logging.WARNING,
                          node=self.node_id, error=str(error).splitlines()[0])

    async def _listen(self) -> None:
        """Listen for commands for our cascaded participants (again, after the
        database restarted)."""
        if self._on_command is None or (self._listener is not None
                                        and not self._listener.lost):
            return
        if self._listener is not None:
            await self._listener.close()
        self._listener = await self.store.listen(cascade.channel(self.node_id),
                                                 self._on_command)

    async def beat(self) -> None:
        await self._listen()
        now = utcnow()
        running = dict(self._running())
        await self.store.publish_node(NodeRecord(
            self.node_id, self.sip_uri, self.http_url, sum(running.values()),
            self._video_streams(), self._cpu_percent(), self._started_at, now))
        until = now + timedelta(seconds=self.settings.lease_s)
        held: set[str] = set()
        for numeric_id, participants in running.items():
            holder = await self.store.take_lease(numeric_id, self.node_id, participants,
                                                 now, until)
            if holder == self.node_id:
                held.add(numeric_id)
                self._conflicts.discard(numeric_id)
            elif numeric_id not in self._conflicts:
                self._conflicts.add(numeric_id)
                log_event(log, "cluster.lease_held_elsewhere", conference=numeric_id,
                          node=self.node_id, holder=holder)
        await self.store.release_leases(self.node_id, self._held - held)
        self._held = held
        self.elsewhere = [lease for lease in await self.store.list_leases()
                          if lease.node_id != self.node_id and lease.expires_at > now]
        await self.store.publish_cascade_views(self.node_id, self._cascaded(), now)
        self.remote_views = await self.store.cascade_views(
            held, now - timedelta(seconds=self.settings.lease_s))
        if self._on_beat is not None:
            await self._on_beat()  # type: ignore[misc]

    async def claim(self, numeric_id: str) -> bool:
        """Take the conference's lease for work only its holder does (starting its
        cameras, dialling its scheduled participants): True when this node holds it."""
        now = utcnow()
        holder = await self.store.take_lease(
            numeric_id, self.node_id, self._running().get(numeric_id, 0), now,
            now + timedelta(seconds=self.settings.lease_s))
        if holder == self.node_id:
            self._held.add(numeric_id)
        return holder == self.node_id

    async def holder(self, numeric_id: str) -> NodeRecord | None:
        """The live node holding the conference, when that is another node; None when
        it is this one, or nobody."""
        lease = await self.store.lease_of(numeric_id)
        if lease is None or lease.node_id == self.node_id or not self._live(lease):
            return None
        nodes = {node.node_id: node for node in await self.store.list_nodes()}
        node = nodes.get(lease.node_id)
        return node if node is not None and self.alive(node) else None

    async def holder_url(self, numeric_id: str) -> str | None:
        """The web control of ``holder``."""
        node = await self.holder(numeric_id)
        return None if node is None else node.http_url

    async def send(self, node_id: str, command: cascade.Command) -> None:
        """A command for a participant on ``node_id`` (PostgreSQL NOTIFY)."""
        await self.store.notify(cascade.channel(node_id), cascade.encode(command))

    def alive(self, node: NodeRecord) -> bool:
        age = utcnow() - node.heartbeat_at
        return age <= timedelta(seconds=self.settings.lease_s)

    @staticmethod
    def _live(lease: LeaseRecord) -> bool:
        return lease.expires_at > utcnow()

    def _cpu_percent(self) -> float:
        """This process's CPU since the last beat, in % of one core (all threads)."""
        wall, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._cpu
        self._cpu = (wall, cpu)
        return round(100.0 * (cpu - last_cpu) / max(wall - last_wall, 1e-6), 1)


async def status(store: Store, lease_s: float, node_id: str | None = None) -> dict[str, Any]:
    """The cluster as the shared store sees it (``GET /api/v1/cluster``, ``mcu
    cluster``): every node with ``alive`` (heartbeat within ``lease_s``) and where each
    running conference lives; ``node_id``: who asks, when a node does."""
    now = utcnow()
    nodes = await store.list_nodes()
    leases = await store.list_leases()
    return {
        "node_id": node_id,
        "nodes": [_node_json(node, now, lease_s) for node in nodes],
        "conferences": [_lease_json(lease, now) for lease in leases],
    }


def _node_json(node: NodeRecord, now: datetime, lease_s: float) -> dict[str, Any]:
    return {
        "node_id": node.node_id,
        "sip_uri": node.sip_uri,
        "http_url": node.http_url,
        "participants": node.participants,
        "video_streams": node.video_streams,
        "cpu_percent": node.cpu_percent,
        "started_at": node.started_at.isoformat(),
        "heartbeat_at": node.heartbeat_at.isoformat(),
        "alive": now - node.heartbeat_at <= timedelta(seconds=lease_s),
    }


def _lease_json(lease: LeaseRecord, now: datetime) -> dict[str, Any]:
    return {
        "numeric_id": lease.numeric_id,
        "node_id": lease.node_id,
        "participants": lease.participants,
        "taken_at": lease.taken_at.isoformat(),
        "expires_at": lease.expires_at.isoformat(),
        "live": lease.expires_at > now,
    }
