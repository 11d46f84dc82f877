"""The JSON API against a real SQLite store and a fake live MCU: every answer code,
each privilege level and ownership, and the audit rows every change leaves."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from mcu.store import ConferenceRecord, RoleName, Store
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, PASSWORD, ROOM, token_for
from tests.control.fakes import FakeLive

NOT_OWNER = "no-control: not owner of the conference"
LIMITED_NOT_OWNER = "limited-control: not owner of the conference"
LIST_ONLY = "no-control: conference_list_only cannot own conferences"
BELOW_CREATION = "below-conference-creation: cannot own or configure"


def base(conference: ConferenceRecord) -> str:
    return f"/api/v1/conferences/{conference.id}"


# Authentication ----------------------------------------------------------


async def test_token_then_bearer(client: httpx.AsyncClient, conference: ConferenceRecord) -> None:
    headers = await token_for(client, "admin")
    r = await client.get(base(conference), headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert {k: body[k] for k in ("id", "name", "numeric_id", "owner", "has_pin")} == {
        "id": conference.id,
        "name": "Board",
        "numeric_id": ROOM,
        "owner": CREATOR,
        "has_pin": True,
    }
    assert body["has_guest_pin"] is False and body["active"] is True


async def test_wrong_password_same_answer_for_unknown_user(
    client: httpx.AsyncClient, store: Store
) -> None:
    wrong = await client.post("/api/v1/auth/token", json={"username": "admin", "password": "nope"})
    unknown = await client.post(
        "/api/v1/auth/token", json={"username": "nobody", "password": "nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong username or password"}
    outcomes = [(a.actor, a.operation, a.outcome) for a in await store.list_audit()]
    assert ("admin", "login", "failed") in outcomes
    assert ("nobody", "login", "failed") in outcomes


async def test_token_body_422_names_field(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/token", json={"username": "admin"})
    assert r.status_code == 422
    assert r.json()["field"] == "password"
    r = await client.post("/api/v1/auth/token", content=b"{not json")
    assert (r.status_code, r.json()["field"]) == (422, "body")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic YWRtaW46eA=="}],
    ids=["none", "unknown-token", "basic"],
)
async def test_unauthenticated_401(
    client: httpx.AsyncClient, conference: ConferenceRecord, headers: dict[str, str]
) -> None:
    for method, path in [
        ("GET", "/api/v1/conferences"),
        ("GET", base(conference)),
        ("POST", f"{base(conference)}/participants/p2/admit"),
        ("GET", "/api/v1/conferences/999999"),  # 401 before 404
    ]:
        r = await client.request(method, path, headers=headers)
        assert r.status_code == 401, (method, path)
        assert r.headers["www-authenticate"] == "Bearer"


async def test_expired_and_revoked_tokens_401(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    expired = await store.create_token("admin", timedelta(seconds=-1))
    r = await client.get(base(conference), headers={"Authorization": f"Bearer {expired.token}"})
    assert r.status_code == 401
    headers = await token_for(client, "admin")
    assert (await client.delete("/api/v1/auth/token", headers=headers)).status_code == 204
    assert (await client.get(base(conference), headers=headers)).status_code == 401


# Conferences -------------------------------------------------------------


async def test_list_links_names_and_hidden(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    theirs = await store.create_conference("Other", "5555", owner="other_creator")
    r = await client.get("/api/v1/conferences", headers=await token_for(client, CREATOR))
    assert r.status_code == 200
    assert r.json() == [
        {
            "listing": "link",
            "id": conference.id,
            "name": "Board",
            "numeric_id": ROOM,
            "owner": CREATOR,
            "has_pin": True,
            "has_guest_pin": False,
            "ad_hoc": False,  # configured (issue 11: ad hoc ones are listed too)
        },
        {"listing": "name_only", "name": theirs.name},
    ]
    r = await client.get(
        "/api/v1/conferences", headers=await token_for(client, "security_administrator")
    )
    assert r.status_code == 403
    assert r.json()["rule"] == "conference-list: not shown to security_administrator"


async def test_get_404_and_403(client: httpx.AsyncClient, conference: ConferenceRecord) -> None:
    headers = await token_for(client, "other_creator")
    assert (await client.get("/api/v1/conferences/999999", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/conferences/abc", headers=headers)).status_code == 404
    r = await client.get(base(conference), headers=headers)
    assert r.status_code == 403
    assert r.json() == {"detail": "forbidden", "rule": NOT_OWNER}


async def test_create_conference(client: httpx.AsyncClient, store: Store, live: FakeLive) -> None:
    headers = await token_for(client, CREATOR)
    body = {"name": "Weekly", "numeric_id": "7000", "pin": "2468", "guest_pin": "1357"}
    r = await client.post("/api/v1/conferences", json=body, headers=headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["owner"] == CREATOR  # the creator owns it unless they name another
    assert created["has_pin"] and created["has_guest_pin"]
    assert "2468" not in r.text and "1357" not in r.text
    assert live.refreshes == 1
    record = await store.get_conference(created["id"])
    assert record is not None and record.pin == "2468"
    audit = (await store.list_audit(actor=CREATOR))[0]
    assert (audit.operation, audit.target, audit.outcome) == (
        "create_conference",
        f"conference:{created['id']}",
        "created",
    )
    # 409 on a duplicate numeric id, naming it.
    r = await client.post("/api/v1/conferences", json=body | {"name": "Again"}, headers=headers)
    assert r.status_code == 409
    assert r.json()["field"] == "numeric_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"numeric_id": "7001"}, "name"),
        ({"name": "X", "numeric_id": "70a1"}, "numeric_id"),
        ({"name": "X", "numeric_id": "7001", "pin": "12 4"}, "pin"),
        ({"name": "X", "numeric_id": "7001", "guest_pin": "11"}, "guest_pin"),
        ({"name": "X", "numeric_id": "7001", "pin": "11", "guest_pin": "11"}, "guest_pin"),
        ({"name": "X", "numeric_id": "7001", "colour": "red"}, "colour"),
        ({"name": "  ", "numeric_id": "7001"}, "name"),
    ],
)
async def test_create_422_names_field(
    client: httpx.AsyncClient, live: FakeLive, body: dict[str, str], field: str
) -> None:
    r = await client.post(
        "/api/v1/conferences", json=body, headers=await token_for(client, "admin")
    )
    assert r.status_code == 422
    assert r.json()["field"] == field
    assert live.refreshes == 0


async def test_create_owner_choice(client: httpx.AsyncClient, store: Store) -> None:
    admin = await token_for(client, "admin")
    r = await client.post(
        "/api/v1/conferences",
        json={"name": "For bob", "numeric_id": "7100", "owner": "other_creator"},
        headers=admin,
    )
    assert (r.status_code, r.json()["owner"]) == (201, "other_creator")
    r = await client.post(
        "/api/v1/conferences",
        json={"name": "Nobody's", "numeric_id": "7101", "owner": None},
        headers=admin,
    )
    assert (r.status_code, r.json()["owner"]) == (201, None)
    r = await client.post(
        "/api/v1/conferences",
        json={"name": "Ghost", "numeric_id": "7102", "owner": "ghost"},
        headers=admin,
    )
    assert (r.status_code, r.json()["rule"]) == (
        403,
        "change-owner: new owner cannot create conferences",
    )
    r = await client.post(
        "/api/v1/conferences",
        json={"name": "Mine?", "numeric_id": "7103", "owner": "other_creator"},
        headers=await token_for(client, CREATOR),
    )
    assert r.status_code == 403
    assert r.json()["rule"] == (
        "change-owner: administrator or conference_creation_full_control only"
    )
    assert await store.get_conference_by_numeric_id("7103") is None


async def test_create_forbidden_beats_invalid_body(client: httpx.AsyncClient, store: Store) -> None:
    headers = await token_for(client, "conference_list_only")
    for body in ({"name": "X", "numeric_id": "7200"}, {"numeric_id": "bad"}):
        r = await client.post("/api/v1/conferences", json=body, headers=headers)
        assert (r.status_code, r.json()["rule"]) == (403, BELOW_CREATION)
    r = await client.post("/api/v1/conferences", content=b"][", headers=headers)
    assert r.status_code == 403
    rows = await store.list_audit(actor="conference_list_only")
    denied = [a for a in rows if a.operation == "create_conference"]
    assert len(denied) == 3 and all(a.outcome == f"denied: {BELOW_CREATION}" for a in denied)


async def test_patch_and_delete(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    owner = await token_for(client, CREATOR)
    r = await client.patch(
        base(conference), json={"name": "Board (new)", "guest_pin": "9999"}, headers=owner
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Board (new)" and r.json()["has_guest_pin"] is True
    assert "9999" not in r.text
    assert live.refreshes == 1
    rows = [(a.operation, a.outcome) for a in (await store.list_audit(actor=CREATOR))[:2]]
    assert rows == [
        ("configure_pin", "updated: guest_pin"),
        ("configure_conference", "updated: name"),
    ]
    r = await client.patch(base(conference), json={"pin": "12x"}, headers=owner)
    assert (r.status_code, r.json()["field"]) == (422, "pin")
    r = await client.patch(base(conference), json={"name": None}, headers=owner)
    assert (r.status_code, r.json()["field"]) == (422, "name")
    r = await client.patch(base(conference), json={"pin": None}, headers=owner)
    assert (r.status_code, r.json()["field"]) == (422, "guest_pin")  # guest PIN left alone
    # Someone without control: 403 whatever the body.
    other = await token_for(client, "other_creator")
    for body in ({"name": "Mine now"}, {"pin": "not digits"}):
        r = await client.patch(base(conference), json=body, headers=other)
        assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)
    r = await client.delete(base(conference), headers=other)
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)
    assert (await client.delete(base(conference), headers=owner)).status_code == 204
    assert live.refreshes == 2
    assert (await client.get(base(conference), headers=owner)).status_code == 404
    assert (await store.list_audit(actor=CREATOR))[0].outcome == "deleted"
    assert "9999" not in caplog.text and "1234" not in caplog.text
    assert PASSWORD not in caplog.text and ADMIN_PASSWORD not in caplog.text


# Participants ------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "status", "rule"),
    [
        ("admin", 200, None),
        (CREATOR, 200, None),
        ("conference_creation_limited_control", 200, None),  # limited control: may view
        ("other_creator", 403, NOT_OWNER),
        ("conference_list_only", 403, LIST_ONLY),
    ],
)
async def test_view_participants(
    client: httpx.AsyncClient,
    conference: ConferenceRecord,
    username: str,
    status: int,
    rule: str | None,
) -> None:
    r = await client.get(
        f"{base(conference)}/participants", headers=await token_for(client, username)
    )
    assert r.status_code == status
    if rule:
        assert r.json()["rule"] == rule
    else:
        assert [(p["id"], p["state"], p["role"]) for p in r.json()] == [
            ("p1", "connected", "chair"),
            ("p2", "lobby", None),
        ]


@pytest.mark.parametrize(
    ("username", "status", "rule"),
    [
        ("admin", 204, None),
        ("conference_creation_full_control", 204, None),
        (CREATOR, 204, None),  # owner of the conference
        ("other_creator", 403, NOT_OWNER),
        ("conference_creation_limited_control", 403, LIMITED_NOT_OWNER),
        ("conference_list_only", 403, LIST_ONLY),
        ("security_administrator", 403, "security-admin: read-only"),
    ],
)
async def test_admit_by_privilege_and_ownership(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    username: str,
    status: int,
    rule: str | None,
) -> None:
    headers = await token_for(client, username)
    r = await client.post(f"{base(conference)}/participants/p2/admit", headers=headers)
    assert r.status_code == status, r.text
    audit = (await store.list_audit(actor=username))[0]
    assert (audit.operation, audit.target) == (
        "admit_participant",
        f"conference:{conference.id} participant:p2",
    )
    state = {p.id: p.state for p in live.participants(ROOM)}["p2"]
    if status == 204:
        assert state == "connected" and audit.outcome == "ok"
    else:
        assert r.json() == {"detail": "forbidden", "rule": rule}
        assert state == "lobby" and audit.outcome == f"denied: {rule}"
        assert live.calls == []  # refused before the live MCU was asked anything


async def test_moderator_role_admits(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    await store.add_role(conference.id, "other_creator", RoleName.MODERATOR)
    r = await client.post(
        f"{base(conference)}/participants/p2/admit",
        headers=await token_for(client, "other_creator"),
    )
    assert r.status_code == 204


async def test_admit_404s(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    admin = await token_for(client, "admin")
    r = await client.post(f"{base(conference)}/participants/nobody/admit", headers=admin)
    assert (r.status_code, r.json()) == (404, {"detail": "participant not found"})
    r = await client.post(f"{base(conference)}/participants/p1/admit", headers=admin)
    assert r.status_code == 404  # p1 is connected, not in the lobby
    assert (await store.list_audit(actor="admin"))[0].outcome == "not_found"
    r = await client.post("/api/v1/conferences/999999/participants/p2/admit", headers=admin)
    assert r.status_code == 404
    # Forbidden beats a missing participant once the conference is known to exist...
    other = await token_for(client, "other_creator")
    r = await client.post(f"{base(conference)}/participants/nobody/admit", headers=other)
    assert r.status_code == 403
    # ...but an unknown conference is 404 for everyone.
    r = await client.post("/api/v1/conferences/999999/participants/p2/admit", headers=other)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("username", "status"),
    [("admin", 204), (CREATOR, 204), ("other_creator", 403), ("conference_list_only", 403)],
)
async def test_drop(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    username: str,
    status: int,
) -> None:
    headers = await token_for(client, username)
    r = await client.delete(f"{base(conference)}/participants/p1", headers=headers)
    assert r.status_code == status
    ids = [p.id for p in live.participants(ROOM)]
    audit = (await store.list_audit(actor=username))[0]
    assert audit.operation == "disconnect_participant"
    if status == 204:
        assert ids == ["p2"] and audit.outcome == "ok"
        r = await client.delete(f"{base(conference)}/participants/p1", headers=headers)
        assert r.status_code == 404
    else:
        assert ids == ["p1", "p2"] and audit.outcome.startswith("denied: ")


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("admin", 204),
        (CREATOR, 204),
        ("conference_creation_limited_control", 204),  # mute is limited control
        ("other_creator", 403),
        ("conference_list_only", 403),
    ],
)
async def test_mute(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    username: str,
    status: int,
) -> None:
    headers = await token_for(client, username)
    url = f"{base(conference)}/participants/p1/mute"
    r = await client.post(url, json={"muted": True}, headers=headers)
    assert r.status_code == status
    muted = {p.id: p.muted for p in live.participants(ROOM)}["p1"]
    assert muted is (status == 204)
    assert (await store.list_audit(actor=username))[0].outcome == (
        "muted" if status == 204 else f"denied: {r.json()['rule']}"
    )
    # A bad body: 422 for who may mute, still 403 for who may not.
    r = await client.post(url, json={"muted": "yes"}, headers=headers)
    assert r.status_code == (422 if status == 204 else 403)
    if status == 204:
        assert r.json()["field"] == "muted"
        r = await client.post(url, json={"muted": False}, headers=headers)
        assert r.status_code == 204
        assert not live.participants(ROOM)[0].muted
        r = await client.post(
            f"{base(conference)}/participants/zz/mute", json={"muted": True}, headers=headers
        )
        assert r.status_code == 404


# Cookie sessions from the pages --------------------------------------------


async def test_api_accepts_session_cookie_with_csrf_header(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    from tests.control.test_pages import login

    csrf = await login(client, "admin", ADMIN_PASSWORD)
    assert (await client.get(f"{base(conference)}/participants")).status_code == 200
    url = f"{base(conference)}/participants/p2/admit"
    r = await client.post(url)
    assert (r.status_code, r.json()["detail"]) == (403, "CSRF token missing or wrong")
    r = await client.post(url, headers={"X-CSRF-Token": "0" * 64})
    assert r.status_code == 403
    assert (await client.post(url, headers={"X-CSRF-Token": csrf})).status_code == 204


async def test_openapi_lists_the_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert {
        "/api/v1/auth/token",
        "/api/v1/conferences",
        "/api/v1/conferences/{conference_id}",
        "/api/v1/conferences/{conference_id}/participants",
        "/api/v1/conferences/{conference_id}/participants/{participant_id}",
        "/api/v1/conferences/{conference_id}/participants/{participant_id}/admit",
        "/api/v1/conferences/{conference_id}/participants/{participant_id}/mute",
    } <= set(spec["paths"])
    create = spec["paths"]["/api/v1/conferences"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"name", "numeric_id"}
