"""The cluster's tables (issue 18) on SQLite and PostgreSQL: nodes publish and leave,
leases are taken only when free, expired or already the taker's, and the shared secret
is made once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from mcu.store import NodeRecord, Store

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=10)


def node(node_id: str, participants: int = 0, at: datetime = T0) -> NodeRecord:
    return NodeRecord(node_id, f"sip:{node_id}.test:5060", f"http://{node_id}.test:8080",
                      participants, 0, 1.5, T0, at)


async def test_nodes_publish_refresh_and_leave(store: Store) -> None:
    await store.publish_node(node("a"))
    await store.publish_node(node("b", participants=3))
    await store.publish_node(node("a", participants=7, at=T0 + timedelta(seconds=2)))
    nodes = {n.node_id: n for n in await store.list_nodes()}
    assert nodes["a"].participants == 7 and nodes["a"].heartbeat_at == T0 + timedelta(seconds=2)
    assert nodes["a"].started_at == T0 and nodes["b"].participants == 3
    await store.take_lease("700", "a", 2, T0, T0 + LEASE)
    await store.leave_cluster("a")
    assert [n.node_id for n in await store.list_nodes()] == ["b"]
    assert await store.lease_of("700") is None  # its leases went with it


async def test_a_lease_is_taken_only_when_free_expired_or_ours(store: Store) -> None:
    assert await store.take_lease("700", "a", 1, T0, T0 + LEASE) == "a"
    # b may not take a's lease before it expires...
    assert await store.take_lease("700", "b", 1, T0 + timedelta(seconds=5),
                                  T0 + timedelta(seconds=15)) == "a"
    # ...a renews it (taken_at stays, expiry moves, the count is a's)...
    later = T0 + timedelta(seconds=8)
    assert await store.take_lease("700", "a", 4, later, later + LEASE) == "a"
    lease = await store.lease_of("700")
    assert lease is not None
    assert (lease.taken_at, lease.expires_at, lease.participants) == (T0, later + LEASE, 4)
    # ...and once it has expired, b takes it.
    after = later + LEASE + timedelta(seconds=1)
    assert await store.take_lease("700", "b", 1, after, after + LEASE) == "b"
    lease = await store.lease_of("700")
    assert lease is not None and lease.taken_at == after
    # Releasing only drops one's own leases.
    await store.release_leases("a", ["700"])
    assert await store.lease_of("700") is not None
    await store.release_leases("b", ["700"])
    assert [lease.numeric_id for lease in await store.list_leases()] == []


async def test_two_nodes_racing_for_a_free_lease_get_one_holder(store: Store) -> None:
    holders = await asyncio.gather(*(store.take_lease("800", name, 1, T0, T0 + LEASE)
                                     for name in ("a", "b", "c")))
    assert len(set(holders)) == 1


async def test_the_shared_secret_is_made_once(store: Store) -> None:
    first = await store.shared_secret("csrf")
    assert len(first) == 32
    assert await store.shared_secret("csrf") == first
    assert await store.shared_secret("other") != first


async def test_cascade_views_are_published_replaced_and_read_while_fresh(store: Store) -> None:
    alice = [{"id": "sip-c1", "display_name": "alice"}]
    await store.publish_cascade_views("b", {"700": alice, "800": []}, T0)
    await store.publish_cascade_views("c", {"700": [{"id": "sip-c9"}]}, T0)
    views = await store.cascade_views(["700", "800"], since=T0)
    assert views == {"700": {"b": alice, "c": [{"id": "sip-c9"}]}, "800": {"b": []}}
    # b no longer cascades 800; c's views grow stale.
    later = T0 + timedelta(seconds=20)
    await store.publish_cascade_views("b", {"700": alice}, later)
    assert await store.cascade_views(["700", "800"], since=later - LEASE) == {
        "700": {"b": alice}}
    await store.leave_cluster("b")
    assert await store.cascade_views(["700"], since=T0) == {"700": {"c": [{"id": "sip-c9"}]}}


async def test_a_notification_reaches_its_listener(postgres_socket_dir: str) -> None:
    from mcu.store import open_store
    from tests.store.conftest import _fresh_postgres_database

    store = await open_store(await _fresh_postgres_database(postgres_socket_dir), "pw")
    got: asyncio.Queue[str] = asyncio.Queue()
    listener = await store.listen("mcu_node_b", got.put_nowait)
    try:
        await store.notify("mcu_node_b", '{"action": "drop"}')
        await store.notify("mcu_node_c", "not for b")
        assert await asyncio.wait_for(got.get(), 5) == '{"action": "drop"}'
        await asyncio.sleep(0.2)
        assert got.empty()
    finally:
        await listener.close()
        await store.close()
