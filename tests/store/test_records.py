"""API tokens, call records and the audit log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mcu.store import NotFound, Store
from mcu.store.models import ApiToken


async def test_token_round_trip_and_expiry(store: Store) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    issued = await store.create_token("admin", timedelta(hours=1), now=now)
    assert issued.record.username == "admin"
    assert issued.record.expires_at == now + timedelta(hours=1)

    found = await store.lookup_token(issued.token, now=now + timedelta(minutes=59))
    assert found == issued.record
    assert await store.lookup_token(issued.token, now=now + timedelta(hours=1)) is None
    assert await store.lookup_token("not-a-token", now=now) is None

    async with store.sessions() as session:
        stored = list(await session.scalars(select(ApiToken.token_hash)))
    assert stored and issued.token not in stored  # only the hash is kept

    assert await store.purge_expired_tokens(now=now + timedelta(hours=2)) == 1
    with pytest.raises(NotFound):
        await store.create_token("ghost", timedelta(hours=1))


async def test_token_revoke(store: Store) -> None:
    issued = await store.create_token("admin", timedelta(hours=1))
    assert await store.lookup_token(issued.token) is not None
    assert await store.revoke_token(issued.token)
    assert await store.lookup_token(issued.token) is None
    assert not await store.revoke_token(issued.token)


async def test_call_records(store: Store) -> None:
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    first = await store.record_call("1234", "sip:a@example.com", t0, display_name="A")
    second = await store.record_call(
        "1234",
        "sip:b@example.com",
        t0 + timedelta(minutes=5),
        t0 + timedelta(minutes=6),
        "B",
        "bye",
    )
    await store.record_call("999", "sip:c@example.com", t0 + timedelta(minutes=7))
    finished = await store.finish_call(first.id, t0 + timedelta(minutes=30), "timeout")
    assert finished.ended_at == t0 + timedelta(minutes=30) and finished.reason == "timeout"

    calls = await store.list_calls("1234")
    assert calls == [second, finished]  # newest first
    assert len(await store.list_calls()) == 3
    assert len(await store.list_calls(limit=1)) == 1
    with pytest.raises(NotFound):
        await store.finish_call(12345, t0, None)


async def test_audit_log(store: Store) -> None:
    at = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    first = await store.audit("admin", "create_user", "user:bob", "ok", at=at)
    second = await store.audit("bob", "delete_user", "user:admin", "forbidden: root admin")
    anonymous = await store.audit(None, "login", "user:ghost", "failed")
    assert first.at == at and second.at.tzinfo is UTC
    assert await store.list_audit() == [anonymous, second, first]
    assert await store.list_audit(actor="bob") == [second]


async def test_call_records_written_all_at_once_are_all_kept(store: Store) -> None:
    """Calls start and end hundreds a second under load: concurrent writes wait for
    each other (SQLite in WAL with a busy timeout) instead of failing "database is
    locked" and losing records."""
    t0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)

    async def one_call(index: int) -> None:
        entry = await store.record_call("4242", f"sip:{index}@example.com", t0)
        await store.finish_call(entry.id, t0 + timedelta(seconds=index), "bye")

    await asyncio.gather(*(one_call(index) for index in range(200)))
    calls = await store.list_calls("4242", limit=500)
    assert len(calls) == 200 and all(call.reason == "bye" for call in calls)
