"""GET /api/v1/cdr and GET /api/v1/audit: newest first, `?limit=`, read by the
administrator and the security administrator only (seed 000: "read-only access to the
reports"), and the security administrator refused every write (seed 000: "cannot change
any settings") — over the whole API, not only these two routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mcu.permissions import Privilege
from mcu.store import ConferenceRecord, Store
from tests.control.conftest import CREATOR, token_for

API = "/api/v1"
READERS = ["admin", "security_administrator"]
NOT_READERS = [
    p.value
    for p in Privilege
    if p not in (Privilege.ADMINISTRATOR, Privilege.SECURITY_ADMINISTRATOR)
]
RECORDS_DENIED = "records: administrator or security administrator only"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def calls(store: Store) -> None:
    for i in range(5):
        start = T0 + timedelta(minutes=i)
        await store.record_call(
            "4321" if i % 2 else "5555",
            f"sip:caller{i}@192.0.2.{i}",
            start,
            start + timedelta(seconds=30),
            display_name=f"Caller {i}",
            reason="bye",
        )


@pytest.mark.parametrize("reader", READERS)
async def test_cdr_newest_first(client: httpx.AsyncClient, calls: None, reader: str) -> None:
    r = await client.get(f"{API}/cdr", headers=await token_for(client, reader))
    assert r.status_code == 200
    rows = r.json()
    assert [row["remote"] for row in rows] == [
        f"sip:caller{i}@192.0.2.{i}" for i in range(4, -1, -1)
    ]
    first = rows[0]
    assert set(first) == {
        "id",
        "conference_numeric_id",
        "remote",
        "display_name",
        "started_at",
        "ended_at",
        "reason",
    }
    assert datetime.fromisoformat(first["started_at"]).replace(tzinfo=UTC) == T0 + timedelta(
        minutes=4
    )
    assert (first["display_name"], first["reason"]) == ("Caller 4", "bye")


async def test_cdr_limit_and_conference_filter(client: httpx.AsyncClient, calls: None) -> None:
    headers = await token_for(client, "security_administrator")
    r = await client.get(f"{API}/cdr?limit=2", headers=headers)
    assert [row["display_name"] for row in r.json()] == ["Caller 4", "Caller 3"]
    r = await client.get(f"{API}/cdr?conference=4321", headers=headers)
    assert [row["display_name"] for row in r.json()] == ["Caller 3", "Caller 1"]


@pytest.mark.parametrize("path", ["/cdr", "/audit"])
@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1001", "1.5", "٣"])
async def test_limit_422_names_limit(client: httpx.AsyncClient, path: str, limit: str) -> None:
    r = await client.get(
        f"{API}{path}", params={"limit": limit}, headers=await token_for(client, "admin")
    )
    assert (r.status_code, r.json()["field"]) == (422, "limit")


@pytest.mark.parametrize("path", ["/cdr", "/audit"])
@pytest.mark.parametrize("privilege", NOT_READERS)
async def test_others_may_not_read_records(
    client: httpx.AsyncClient, path: str, privilege: str
) -> None:
    headers = await token_for(client, privilege)
    r = await client.get(f"{API}{path}", headers=headers)
    assert (r.status_code, r.json()["rule"]) == (403, RECORDS_DENIED)
    r = await client.get(f"{API}{path}?limit=bogus", headers=headers)  # 403 before 422
    assert r.status_code == 403


@pytest.mark.parametrize("path", ["/cdr", "/audit"])
async def test_records_need_authentication(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(f"{API}{path}")).status_code == 401


@pytest.mark.parametrize("reader", READERS)
async def test_audit_newest_first_with_limit_and_actor(
    client: httpx.AsyncClient, store: Store, reader: str
) -> None:
    await store.audit("alice", "create_user", "user:bob", "created: conference_detail")
    await store.audit("carol", "delete_user", "user:bob", "deleted")
    headers = await token_for(client, reader)
    r = await client.get(f"{API}/audit?limit=3", headers=headers)
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 3
    assert rows[0]["operation"] == "login" and rows[0]["actor"] == reader
    assert [(e["actor"], e["operation"]) for e in rows[1:]] == [
        ("carol", "delete_user"),
        ("alice", "create_user"),
    ]
    assert set(rows[0]) == {"id", "at", "actor", "operation", "target", "outcome"}
    assert rows[0]["id"] > rows[1]["id"] > rows[2]["id"]
    r = await client.get(f"{API}/audit?actor=alice", headers=headers)
    assert [e["outcome"] for e in r.json()] == ["created: conference_detail"]


async def test_audit_shows_a_change_made_through_the_api(client: httpx.AsyncClient) -> None:
    admin = await token_for(client, "admin")
    reader = await token_for(client, "security_administrator")
    body = {"username": "eve", "password": "pw-eve", "privilege": "conference_list_only"}
    assert (await client.post(f"{API}/users", json=body, headers=admin)).status_code == 201
    r = await client.get(f"{API}/audit?limit=1", headers=reader)
    [entry] = r.json()
    assert (entry["actor"], entry["operation"], entry["target"], entry["outcome"]) == (
        "admin",
        "create_user",
        "user:eve",
        "created: conference_list_only",
    )
    assert "pw-eve" not in r.text


# The security administrator changes nothing, anywhere ---------------------------------


async def test_security_administrator_every_write_403(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    headers = await token_for(client, "security_administrator")
    conf = f"{API}/conferences/{conference.id}"
    writes = [
        ("POST", f"{API}/users", {"username": "x", "password": "pw", "privilege": "administrator"}),
        ("PATCH", f"{API}/users/{CREATOR}", {"privilege": "administrator"}),
        ("PATCH", f"{API}/users/{CREATOR}", {"password": "taken-over"}),
        ("PATCH", f"{API}/users/security_administrator", {"privilege": "administrator"}),
        ("PATCH", f"{API}/users/security_administrator", {"is_operator": True}),
        ("DELETE", f"{API}/users/{CREATOR}", None),
        ("DELETE", f"{API}/users/security_administrator", None),
        ("POST", f"{API}/conferences", {"name": "X", "numeric_id": "777"}),
        ("PATCH", conf, {"name": "Renamed"}),
        ("DELETE", conf, None),
        ("POST", f"{conf}/participants/p2/admit", None),
        ("DELETE", f"{conf}/participants/p1", None),
        ("POST", f"{conf}/participants/p1/mute", {"muted": True}),
    ]
    for method, path, body in writes:
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["rule"], (method, path)
    # Nothing changed.
    assert await store.get_user("x") is None
    creator = await store.get_user(CREATOR)
    assert creator is not None and creator.privilege == CREATOR
    me = await store.get_user("security_administrator")
    assert me is not None and me.privilege == "security_administrator" and not me.is_operator
    kept = await store.get_conference(conference.id)
    assert kept is not None and kept.name == "Board"
    assert await store.get_conference_by_numeric_id("777") is None


async def test_security_administrator_reads_but_only_records(client: httpx.AsyncClient) -> None:
    headers = await token_for(client, "security_administrator")
    for path in ("/cdr", "/audit", "/users/security_administrator"):
        assert (await client.get(f"{API}{path}", headers=headers)).status_code == 200, path
    for path in ("/users", "/users/admin", "/conferences"):
        assert (await client.get(f"{API}{path}", headers=headers)).status_code == 403, path


async def test_security_administrator_may_change_own_password(client: httpx.AsyncClient) -> None:
    # A credential, not a setting (the `own-password` rule holds for every privilege).
    headers = await token_for(client, "security_administrator")
    r = await client.patch(
        f"{API}/users/security_administrator", json={"password": "rotated"}, headers=headers
    )
    assert r.status_code == 200
