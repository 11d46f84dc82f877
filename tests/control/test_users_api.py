"""/api/v1/users against a real SQLite store: who may list, create, read, change and
delete accounts (seed 002: the administrator manages users, `admin` is undeletable;
seed 000: the security administrator changes nothing; seed 003: deleting a user resets
their conferences' owner to none), every answer code, and the audit every change leaves."""

from __future__ import annotations

import logging

import httpx
import pytest

from mcu.permissions import Privilege
from mcu.store import ConferenceRecord, Store
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, PASSWORD, USERS, token_for
from tests.control.fakes import FakeLive

API = "/api/v1"
NOT_ADMIN = [p.value for p in Privilege if p is not Privilege.ADMINISTRATOR]
MANAGE_DENIED = "user-management: administrator only"
ACCOUNTS_DENIED = "user-accounts: administrator only"
READ_ONLY = "security-admin: read-only"


def denied_rule(privilege: str, *, manage: bool = True) -> str:
    if not manage:
        return ACCOUNTS_DENIED
    return READ_ONLY if privilege == "security_administrator" else MANAGE_DENIED


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(f"{API}/auth/token", json={"username": username, "password": password})


# Listing and reading -------------------------------------------------------------


async def test_admin_lists_every_user_without_secrets(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/users", headers=await token_for(client, "admin"))
    assert r.status_code == 200
    rows = r.json()
    names = [u["username"] for u in rows]
    assert names == sorted(["admin", "other_creator", *USERS])
    admin = next(u for u in rows if u["username"] == "admin")
    assert (admin["privilege"], admin["is_operator"]) == ("administrator", False)
    assert set(admin) == {"username", "privilege", "is_operator", "created_at"}
    assert "argon2" not in r.text and "password" not in r.text


@pytest.mark.parametrize("privilege", NOT_ADMIN)
async def test_only_the_administrator_lists_users(
    client: httpx.AsyncClient, privilege: str
) -> None:
    r = await client.get(f"{API}/users", headers=await token_for(client, privilege))
    assert r.status_code == 403
    assert r.json()["rule"] == ACCOUNTS_DENIED


@pytest.mark.parametrize("privilege", NOT_ADMIN)
async def test_everyone_reads_their_own_account_and_nobody_elses(
    client: httpx.AsyncClient, privilege: str
) -> None:
    headers = await token_for(client, privilege)
    r = await client.get(f"{API}/users/{privilege}", headers=headers)
    assert r.status_code == 200
    assert r.json()["privilege"] == privilege
    r = await client.get(f"{API}/users/admin", headers=headers)
    assert (r.status_code, r.json()["rule"]) == (403, ACCOUNTS_DENIED)
    # A missing user is as forbidden as an existing one: no probing for usernames.
    r = await client.get(f"{API}/users/nobody", headers=headers)
    assert (r.status_code, r.json()["rule"]) == (403, ACCOUNTS_DENIED)


async def test_admin_reads_any_user_and_404s_a_missing_one(client: httpx.AsyncClient) -> None:
    headers = await token_for(client, "admin")
    r = await client.get(f"{API}/users/{CREATOR}", headers=headers)
    assert r.status_code == 200 and r.json()["username"] == CREATOR
    r = await client.get(f"{API}/users/nobody", headers=headers)
    assert (r.status_code, r.json()) == (404, {"detail": "user not found"})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/users/admin"),
        ("PATCH", "/users/admin"),
        ("DELETE", "/users/admin"),
        ("DELETE", "/users/nobody"),
    ],
)
async def test_unauthenticated_401(client: httpx.AsyncClient, method: str, path: str) -> None:
    r = await client.request(method, API + path, json={})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


# Creating ----------------------------------------------------------------------------


@pytest.mark.parametrize("privilege", [p.value for p in Privilege])
async def test_admin_creates_a_user_of_every_privilege(
    client: httpx.AsyncClient, store: Store, privilege: str
) -> None:
    headers = await token_for(client, "admin")
    body = {"username": "newbie", "password": "s3cret-pw", "privilege": privilege}
    r = await client.post(f"{API}/users", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["username"] == "newbie"
    assert r.json()["privilege"] == privilege
    assert r.json()["is_operator"] is False
    assert "s3cret-pw" not in r.text
    assert (await login(client, "newbie", "s3cret-pw")).status_code == 200
    entry = (await store.list_audit(actor="admin", limit=1))[0]
    assert (entry.operation, entry.target, entry.outcome) == (
        "create_user",
        "user:newbie",
        f"created: {privilege}",
    )


async def test_create_operator(client: httpx.AsyncClient, store: Store) -> None:
    body = {"username": "ops", "password": "pw", "privilege": "conference_detail"}
    r = await client.post(
        f"{API}/users",
        json={**body, "is_operator": True},
        headers=await token_for(client, "admin"),
    )
    assert r.status_code == 201 and r.json()["is_operator"] is True
    user = await store.get_user("ops")
    assert user is not None and user.is_operator


@pytest.mark.parametrize("privilege", NOT_ADMIN)
async def test_only_the_administrator_creates_users(
    client: httpx.AsyncClient, store: Store, privilege: str
) -> None:
    headers = await token_for(client, privilege)
    body = {"username": "sneaky", "password": "pw", "privilege": "administrator"}
    r = await client.post(f"{API}/users", json=body, headers=headers)
    assert (r.status_code, r.json()["rule"]) == (403, denied_rule(privilege))
    # 403 before 422: a forbidden caller does not learn what a valid body looks like.
    r = await client.post(f"{API}/users", json={"bogus": 1}, headers=headers)
    assert r.status_code == 403
    r = await client.post(f"{API}/users", content=b"{nope", headers=headers)
    assert r.status_code == 403
    assert await store.get_user("sneaky") is None
    entry = (await store.list_audit(actor=privilege, limit=1))[0]
    assert (entry.operation, entry.outcome) == ("create_user", f"denied: {denied_rule(privilege)}")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "pw", "privilege": "administrator"}, "username"),
        ({"username": "", "password": "pw", "privilege": "administrator"}, "username"),
        ({"username": "a/b", "password": "pw", "privilege": "administrator"}, "username"),
        ({"username": "x" * 65, "password": "pw", "privilege": "administrator"}, "username"),
        ({"username": "ok", "privilege": "administrator"}, "password"),
        ({"username": "ok", "password": "", "privilege": "administrator"}, "password"),
        ({"username": "ok", "password": "p" * 1025, "privilege": "administrator"}, "password"),
        ({"username": "ok", "password": "pw"}, "privilege"),
        ({"username": "ok", "password": "pw", "privilege": "root"}, "privilege"),
        ({"username": "ok", "password": "pw", "privilege": "Administrator"}, "privilege"),
        (
            {"username": "ok", "password": "pw", "privilege": "administrator", "is_operator": 1},
            "is_operator",
        ),
        (
            {"username": "ok", "password": "pw", "privilege": "administrator", "role": "x"},
            "role",
        ),
    ],
)
async def test_create_422_names_the_field(
    client: httpx.AsyncClient, store: Store, body: dict[str, object], field: str
) -> None:
    r = await client.post(f"{API}/users", json=body, headers=await token_for(client, "admin"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert await store.get_user("ok") is None
    # The rejected password is not echoed back.
    password = body.get("password")
    if isinstance(password, str) and password:
        assert password not in r.text


@pytest.mark.parametrize("raw", [b"{nope", b"[]", b'"x"'])
async def test_create_non_object_body_422_body(client: httpx.AsyncClient, raw: bytes) -> None:
    r = await client.post(f"{API}/users", content=raw, headers=await token_for(client, "admin"))
    assert (r.status_code, r.json()["field"]) == (422, "body")


async def test_create_existing_username_409(client: httpx.AsyncClient) -> None:
    headers = await token_for(client, "admin")
    for username in ("admin", CREATOR):
        body = {"username": username, "password": "pw", "privilege": "conference_detail"}
        r = await client.post(f"{API}/users", json=body, headers=headers)
        assert (r.status_code, r.json()["field"]) == (409, "username")


# Changing ---------------------------------------------------------------------------


async def test_admin_changes_privilege_and_operator(
    client: httpx.AsyncClient, store: Store
) -> None:
    headers = await token_for(client, "admin")
    r = await client.patch(
        f"{API}/users/{CREATOR}",
        json={"privilege": "conference_detail", "is_operator": True},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["privilege"], r.json()["is_operator"]) == ("conference_detail", True)
    entry = (await store.list_audit(actor="admin", limit=1))[0]
    assert entry.operation == "update_user" and entry.target == f"user:{CREATOR}"
    assert entry.outcome == (
        "updated: is_operator,privilege (privilege conference_creation -> conference_detail)"
    )
    # The change takes effect on the next request: no longer a creator.
    creator = await token_for(client, CREATOR)
    r = await client.post(
        f"{API}/conferences", json={"name": "X", "numeric_id": "999"}, headers=creator
    )
    assert r.status_code == 403


async def test_admin_changes_anyones_password(client: httpx.AsyncClient, store: Store) -> None:
    r = await client.patch(
        f"{API}/users/{CREATOR}",
        json={"password": "brand-new"},
        headers=await token_for(client, "admin"),
    )
    assert r.status_code == 200
    assert (await login(client, CREATOR, PASSWORD)).status_code == 401
    assert (await login(client, CREATOR, "brand-new")).status_code == 200
    entries = await store.list_audit(actor="admin")
    assert ("change_password", f"user:{CREATOR}", "updated: password") in [
        (e.operation, e.target, e.outcome) for e in entries
    ]
    assert not any("brand-new" in (e.outcome + (e.target or "")) for e in entries)


@pytest.mark.parametrize("privilege", NOT_ADMIN)
async def test_everyone_changes_their_own_password_only(
    client: httpx.AsyncClient, store: Store, privilege: str
) -> None:
    headers = await token_for(client, privilege)
    r = await client.patch(f"{API}/users/{privilege}", json={"password": "mine"}, headers=headers)
    assert r.status_code == 200, r.text
    assert (await login(client, privilege, "mine")).status_code == 200
    # Not anyone else's, and not their own privilege or operator membership.
    r = await client.patch(f"{API}/users/admin", json={"password": "x"}, headers=headers)
    assert (r.status_code, r.json()["rule"]) == (403, denied_rule(privilege))
    for change in ({"privilege": "administrator"}, {"is_operator": True}, {}):
        r = await client.patch(f"{API}/users/{privilege}", json=change, headers=headers)
        assert (r.status_code, r.json()["rule"]) == (403, denied_rule(privilege)), change
    r = await client.patch(
        f"{API}/users/{privilege}",
        json={"password": "again", "privilege": "administrator"},
        headers=headers,
    )
    assert r.status_code == 403
    assert (await login(client, privilege, "again")).status_code == 401  # nothing half-saved
    user = await store.get_user(privilege)
    assert user is not None and user.privilege == privilege and not user.is_operator


async def test_root_admin_stays_administrator_but_its_password_changes(
    client: httpx.AsyncClient,
) -> None:
    headers = await token_for(client, "admin")
    r = await client.patch(
        f"{API}/users/admin", json={"privilege": "conference_detail"}, headers=headers
    )
    assert (r.status_code, r.json()["rule"]) == (403, "root-admin-always-administrator")
    r = await client.patch(f"{API}/users/admin", json={"password": "new-root"}, headers=headers)
    assert r.status_code == 200
    assert (await login(client, "admin", ADMIN_PASSWORD)).status_code == 401
    assert (await login(client, "admin", "new-root")).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"privilege": "boss"}, "privilege"),
        ({"privilege": None}, "privilege"),
        ({"password": ""}, "password"),
        ({"password": None}, "password"),
        ({"password": 5}, "password"),
        ({"is_operator": "yes"}, "is_operator"),
        ({"is_operator": None}, "is_operator"),
        ({"username": "renamed"}, "username"),
    ],
)
async def test_update_422_names_the_field(
    client: httpx.AsyncClient, store: Store, body: dict[str, object], field: str
) -> None:
    r = await client.patch(
        f"{API}/users/{CREATOR}", json=body, headers=await token_for(client, "admin")
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    user = await store.get_user(CREATOR)
    assert user is not None and user.privilege == CREATOR


async def test_update_missing_user_404_for_admin_403_for_others(
    client: httpx.AsyncClient,
) -> None:
    r = await client.patch(
        f"{API}/users/nobody",
        json={"privilege": "conference_detail"},
        headers=await token_for(client, "admin"),
    )
    assert r.status_code == 404
    r = await client.patch(
        f"{API}/users/nobody", json={"password": "x"}, headers=await token_for(client, CREATOR)
    )
    assert (r.status_code, r.json()["rule"]) == (403, MANAGE_DENIED)


async def test_update_bad_body_after_authorize(client: httpx.AsyncClient) -> None:
    r = await client.patch(
        f"{API}/users/{CREATOR}", content=b"[1]", headers=await token_for(client, "admin")
    )
    assert (r.status_code, r.json()["field"]) == (422, "body")
    r = await client.patch(
        f"{API}/users/{CREATOR}", content=b"[1]", headers=await token_for(client, CREATOR)
    )
    assert r.status_code == 403


# Deleting ---------------------------------------------------------------------------


async def test_admin_is_undeletable(client: httpx.AsyncClient, store: Store) -> None:
    r = await client.delete(f"{API}/users/admin", headers=await token_for(client, "admin"))
    assert r.status_code == 403
    assert r.json()["rule"] == "root-admin-undeletable"
    assert await store.get_user("admin") is not None
    entry = (await store.list_audit(actor="admin", limit=1))[0]
    assert (entry.operation, entry.target, entry.outcome) == (
        "delete_user",
        "user:admin",
        "denied: root-admin-undeletable",
    )


@pytest.mark.parametrize("privilege", NOT_ADMIN)
async def test_nobody_else_deletes_admin(client: httpx.AsyncClient, privilege: str) -> None:
    r = await client.delete(f"{API}/users/admin", headers=await token_for(client, privilege))
    assert (r.status_code, r.json()["rule"]) == (403, "root-admin-undeletable")


@pytest.mark.parametrize("privilege", NOT_ADMIN)
async def test_only_the_administrator_deletes_users(
    client: httpx.AsyncClient, store: Store, privilege: str
) -> None:
    headers = await token_for(client, privilege)
    for victim in ("other_creator", privilege, "nobody"):
        r = await client.delete(f"{API}/users/{victim}", headers=headers)
        assert (r.status_code, r.json()["rule"]) == (403, denied_rule(privilege)), victim
    assert await store.get_user("other_creator") is not None


async def test_delete_resets_owned_conferences_to_none(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord, live: FakeLive
) -> None:
    theirs = await store.create_conference("Other", "5555", owner="other_creator")
    headers = await token_for(client, "admin")
    creator = await token_for(client, CREATOR)
    r = await client.delete(f"{API}/users/{CREATOR}", headers=headers)
    assert r.status_code == 204
    r = await client.get(f"{API}/conferences/{conference.id}", headers=headers)
    assert r.json()["owner"] is None
    r = await client.get(f"{API}/conferences/{theirs.id}", headers=headers)
    assert r.json()["owner"] == "other_creator"
    # Their token died with them.
    assert (await client.get(f"{API}/users/{CREATOR}", headers=creator)).status_code == 401
    assert (await client.get(f"{API}/users/{CREATOR}", headers=headers)).status_code == 404
    entry = (await store.list_audit(actor="admin", limit=1))[0]
    assert entry.outcome == f"deleted; owner reset to none: conference:{conference.id}"
    assert live.refreshes == 1


async def test_delete_missing_user_404(client: httpx.AsyncClient) -> None:
    r = await client.delete(f"{API}/users/nobody", headers=await token_for(client, "admin"))
    assert (r.status_code, r.json()) == (404, {"detail": "user not found"})


async def test_another_administrator_may_be_deleted(client: httpx.AsyncClient) -> None:
    headers = await token_for(client, "admin")
    body = {"username": "admin2", "password": "pw", "privilege": "administrator"}
    assert (await client.post(f"{API}/users", json=body, headers=headers)).status_code == 201
    other = await token_for_pw(client, "admin2", "pw")
    assert (await client.delete(f"{API}/users/admin2", headers=other)).status_code == 204


async def token_for_pw(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await login(client, username, password)
    assert r.status_code == 200
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# Cookie sessions need CSRF, like every other write ------------------------------------


async def test_cookie_write_without_csrf_403(client: httpx.AsyncClient) -> None:
    r = await login(client, "admin", ADMIN_PASSWORD)
    client.cookies.set("mcu_session", r.json()["access_token"])
    r = await client.delete(f"{API}/users/{CREATOR}")
    assert (r.status_code, r.json()["detail"]) == (403, "CSRF token missing or wrong")


# Passwords never reach the logs -----------------------------------------------------------


async def test_passwords_are_not_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = await token_for(client, "admin")
    await client.post(
        f"{API}/users",
        json={"username": "logme", "password": "never-logged-1", "privilege": "conference_detail"},
        headers=headers,
    )
    await client.patch(f"{API}/users/logme", json={"password": "never-logged-2"}, headers=headers)
    await client.post(
        f"{API}/users",
        json={"username": "bad/name", "password": "never-logged-3", "privilege": "x"},
        headers=headers,
    )
    await login(client, "logme", "never-logged-4")
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for n in range(1, 5):
        assert f"never-logged-{n}" not in text


async def test_a_new_password_ends_the_users_other_sessions(
    client: httpx.AsyncClient, store: Store
) -> None:
    first = await token_for(client, CREATOR)
    second = await token_for(client, CREATOR)
    r = await client.patch(f"/api/v1/users/{CREATOR}", json={"password": "a-new-pw-12345"},
                           headers=first)
    assert r.status_code == 200, r.text
    assert (await client.get(f"/api/v1/users/{CREATOR}", headers=first)).status_code == 200
    assert (await client.get(f"/api/v1/users/{CREATOR}", headers=second)).status_code == 401
