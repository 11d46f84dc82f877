"""The cluster in the store (issue 18): nodes and their heartbeats, conference leases,
and the secrets every node shares.

`ClusterRepository` is mixed into `Store`, so these are `Store` methods, each one
transaction. Times are passed in (``now``): the caller's clock decides, as in every
core. Kamailio reads the same two tables and takes leases with the same rule
(``config/kamailio/kamailio.cfg``): a lease may be taken when it is free, expired, or
already the taker's.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from mcu.store.models import CascadeView, ClusterNode, ConferenceLease, SharedSecret
from mcu.store.records import LeaseRecord, NodeRecord


def _insert(session: AsyncSession, table: type) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT in the session's dialect (PostgreSQL in a cluster; SQLite
    for a single node and the tests)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class Listener:
    """A PostgreSQL LISTEN held open on a connection of its own until ``close()``."""

    def __init__(self, connection: AsyncConnection, driver: Any) -> None:
        self._connection, self._driver = connection, driver

    @property
    def lost(self) -> bool:
        """The server closed the connection (a restart): listen again."""
        return bool(self._driver.is_closed())

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # a lost connection has nothing to close
            await self._connection.close()


class ClusterRepository:
    """The cluster half of `Store` (needs its `_transaction` and `engine`)."""

    engine: AsyncEngine

    def _transaction(
        self, unique: Sequence[str] = ()
    ) -> AbstractAsyncContextManager[AsyncSession]:
        raise NotImplementedError

    async def publish_node(self, node: NodeRecord) -> None:
        """Insert or refresh this node's row: address, load and heartbeat."""
        async with self._transaction() as session:
            stmt = _insert(session, ClusterNode).values(
                node_id=node.node_id, sip_uri=node.sip_uri, http_url=node.http_url,
                participants=node.participants, video_streams=node.video_streams,
                cpu_percent=node.cpu_percent, started_at=node.started_at,
                heartbeat_at=node.heartbeat_at)
            fresh = {column: stmt.excluded[column] for column in (
                "sip_uri", "http_url", "participants", "video_streams", "cpu_percent",
                "heartbeat_at")}
            await session.execute(stmt.on_conflict_do_update(
                index_elements=["node_id"], set_=fresh))

    async def leave_cluster(self, node_id: str) -> None:
        """A node stopping: its leases and its row go, so the next call of each of its
        conferences is placed at once instead of after the lease time."""
        async with self._transaction() as session:
            await session.execute(delete(ConferenceLease).where(
                ConferenceLease.node_id == node_id))
            await session.execute(delete(CascadeView).where(CascadeView.node_id == node_id))
            await session.execute(delete(ClusterNode).where(ClusterNode.node_id == node_id))

    async def list_nodes(self) -> list[NodeRecord]:
        async with self._transaction() as session:
            rows = await session.scalars(select(ClusterNode).order_by(ClusterNode.node_id))
            return [NodeRecord.from_row(row) for row in rows]

    async def take_lease(self, numeric_id: str, node_id: str, participants: int,
                         now: datetime, until: datetime) -> str:
        """Take or renew the conference's lease for ``node_id`` when it is free, expired
        or already ours; answer the node that holds it afterwards (someone else's
        unexpired lease is left alone)."""
        async with self._transaction() as session:
            stmt = _insert(session, ConferenceLease).values(
                numeric_id=numeric_id, node_id=node_id, participants=participants,
                taken_at=now, expires_at=until)
            ours = ConferenceLease.node_id == stmt.excluded.node_id
            await session.execute(stmt.on_conflict_do_update(
                index_elements=["numeric_id"],
                set_={"node_id": stmt.excluded.node_id,
                      "participants": stmt.excluded.participants,
                      "expires_at": stmt.excluded.expires_at,
                      "taken_at": case((ours, ConferenceLease.taken_at),
                                       else_=stmt.excluded.taken_at)},
                where=ours | (ConferenceLease.expires_at < now)))
            holder = await session.scalar(select(ConferenceLease.node_id).where(
                ConferenceLease.numeric_id == numeric_id))
            return holder or node_id

    async def release_leases(self, node_id: str, numeric_ids: Iterable[str]) -> None:
        """Conferences that ended here: their leases go (only where still ours)."""
        wanted = list(numeric_ids)
        if not wanted:
            return
        async with self._transaction() as session:
            await session.execute(delete(ConferenceLease).where(
                ConferenceLease.node_id == node_id, ConferenceLease.numeric_id.in_(wanted)))

    async def list_leases(self) -> list[LeaseRecord]:
        async with self._transaction() as session:
            rows = await session.scalars(select(ConferenceLease).order_by(
                ConferenceLease.numeric_id))
            return [LeaseRecord.from_row(row) for row in rows]

    async def lease_of(self, numeric_id: str) -> LeaseRecord | None:
        async with self._transaction() as session:
            row = await session.get(ConferenceLease, numeric_id)
            return None if row is None else LeaseRecord.from_row(row)

    async def publish_cascade_views(self, node_id: str, views: Mapping[str, list[object]],
                                    now: datetime) -> None:
        """This node's participants in each conference another node holds (JSON-ready
        views); rows for conferences no longer cascaded from here go."""
        async with self._transaction() as session:
            await session.execute(delete(CascadeView).where(
                CascadeView.node_id == node_id, CascadeView.numeric_id.not_in(list(views))))
            for numeric_id, shown in views.items():
                stmt = _insert(session, CascadeView).values(
                    numeric_id=numeric_id, node_id=node_id, views=json.dumps(shown),
                    updated_at=now)
                await session.execute(stmt.on_conflict_do_update(
                    index_elements=["numeric_id", "node_id"],
                    set_={"views": stmt.excluded.views,
                          "updated_at": stmt.excluded.updated_at}))

    async def cascade_views(self, numeric_ids: Iterable[str], since: datetime
                            ) -> dict[str, dict[str, list[dict[str, object]]]]:
        """numeric ID -> node -> its participants there, published since ``since``."""
        wanted = list(numeric_ids)
        if not wanted:
            return {}
        async with self._transaction() as session:
            rows = await session.scalars(select(CascadeView).where(
                CascadeView.numeric_id.in_(wanted), CascadeView.updated_at >= since))
            found: dict[str, dict[str, list[dict[str, object]]]] = {}
            for row in rows:
                found.setdefault(row.numeric_id, {})[row.node_id] = json.loads(row.views)
            return found

    async def notify(self, channel: str, payload: str) -> None:
        """PostgreSQL NOTIFY: whoever listens on ``channel`` gets ``payload``."""
        async with self._transaction() as session:
            await session.execute(text("SELECT pg_notify(:channel, :payload)"),
                                  {"channel": channel, "payload": payload})

    async def listen(self, channel: str, on_payload: Callable[[str], None]) -> Listener:
        """PostgreSQL LISTEN on a connection kept for it; ``on_payload`` is called on
        the event loop with each notification's payload."""
        connection = await self.engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None

            def deliver(_conn: object, _pid: int, _channel: str, payload: str) -> None:
                on_payload(payload)

            await driver.add_listener(channel, deliver)
        except BaseException:
            await connection.close()
            raise
        return Listener(connection, driver)

    async def shared_secret(self, name: str) -> bytes:
        """The named secret every node shares, made by the first node that asks."""
        async with self._transaction() as session:
            stmt = _insert(session, SharedSecret).values(name=name,
                                                         value=secrets.token_hex(32))
            await session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            value = await session.scalar(select(SharedSecret.value).where(
                SharedSecret.name == name))
            return bytes.fromhex(value or "")
