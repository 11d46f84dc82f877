"""Administration pages over httpx: /users, /users/{username}, /records, /audit — the
forms and links each privilege gets (only what `authorize` allows), CSRF on every form,
and the same rules as the API (admin undeletable, owner reset, 422 naming the field)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from mcu.permissions import Privilege
from mcu.store import ConferenceRecord, Store
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NAV = re.compile(r'data-nav="([a-z]+)"')
NOT_ADMIN = [p.value for p in Privilege if p is not Privilege.ADMINISTRATOR]


async def login(client: httpx.AsyncClient, username: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    password = ADMIN_PASSWORD if username == "admin" else PASSWORD
    form = await client.get("/login")
    token = CSRF.search(form.text)
    assert token
    r = await client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": password},
    )
    assert r.status_code == 303, r.text
    page = await client.get(f"/users/{username}")
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found
    return found.group(1)


def forms(html: str) -> set[str]:
    """The `data-action`s of the page's buttons (logout aside)."""
    return set(re.findall(r'data-action="([a-z-]+)"', html)) - {"logout"}


# Navigation -------------------------------------------------------------------------


EXPECTED_NAV = {
    "administrator": ["conferences", "users", "records", "audit", "status", "chats",
                      "account"],
    "security_administrator": ["records", "audit", "status", "chats", "account"],
    **{p: ["conferences", "chats", "account"] for p in NOT_ADMIN
       if p != "security_administrator"},
}


@pytest.mark.parametrize("privilege", [p.value for p in Privilege])
async def test_nav_shows_only_allowed_pages(client: httpx.AsyncClient, privilege: str) -> None:
    username = "admin" if privilege == "administrator" else privilege
    await login(client, username)
    page = await client.get(f"/users/{username}")
    assert NAV.findall(page.text) == EXPECTED_NAV[privilege]
    # And every link shown opens; every admin page not shown is refused.
    shown = set(EXPECTED_NAV[privilege])
    for key, path in [("users", "/users"), ("records", "/records"), ("audit", "/audit"),
                      ("status", "/status")]:
        r = await client.get(path)
        assert r.status_code == (200 if key in shown else 403), (key, r.status_code)


async def test_pages_redirect_to_login_without_session(client: httpx.AsyncClient) -> None:
    for path in ("/users", "/users/admin", "/records", "/audit", "/status"):
        r = await client.get(path)
        assert (r.status_code, r.headers["location"]) == (303, f"/login?next={path}")
    r = await client.post("/users", data={"username": "x"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


# /users -------------------------------------------------------------------------------


async def test_admin_users_page_lists_and_offers_create_and_delete(
    client: httpx.AsyncClient,
) -> None:
    await login(client, "admin")
    r = await client.get("/users")
    assert r.status_code == 200
    assert "content-security-policy" in r.headers
    for name in ("admin", CREATOR, "security_administrator"):
        assert f'data-username="{name}"' in r.text
    assert forms(r.text) == {"create-user", "delete-user"}
    # One delete button per user except the undeletable admin.
    admin_row = re.search(r'<tr data-username="admin">.*?</tr>', r.text, re.S)
    assert admin_row and "delete-user" not in admin_row.group(0)
    assert r.text.count('data-action="delete-user"') == r.text.count("<tr data-username=") - 1
    for p in Privilege:
        assert f'<option value="{p.value}"' in r.text
    assert r.text.count('name="csrf_token"') == r.text.count("<form")


@pytest.mark.parametrize("privilege", NOT_ADMIN)
async def test_users_page_refused_to_others(client: httpx.AsyncClient, privilege: str) -> None:
    await login(client, privilege)
    r = await client.get("/users")
    assert r.status_code == 403
    assert "user-accounts: administrator only" in r.text
    assert "create-user" not in r.text


async def test_create_user_through_the_form(client: httpx.AsyncClient, store: Store) -> None:
    csrf = await login(client, "admin")
    data = {
        "csrf_token": csrf,
        "username": "newbie",
        "password": "form-secret",
        "privilege": "conference_creation",
        "is_operator": "1",
    }
    r = await client.post("/users", data=data)
    assert (r.status_code, r.headers["location"]) == (303, "/users?created=newbie")
    user = await store.get_user("newbie")
    assert user is not None and user.privilege == "conference_creation" and user.is_operator
    assert await store.verify_password("newbie", "form-secret")
    entry = (await store.list_audit(actor="admin", limit=1))[0]
    assert (entry.operation, entry.target) == ("create_user", "user:newbie")


@pytest.mark.parametrize(
    ("changes", "field", "status"),
    [
        ({"username": "bad name"}, "username", 422),
        ({"username": ""}, "username", 422),
        ({"password": ""}, "password", 422),
        ({"privilege": "emperor"}, "privilege", 422),
        ({"username": CREATOR}, "username", 409),
    ],
)
async def test_create_form_errors_name_the_field(
    client: httpx.AsyncClient, changes: dict[str, str], field: str, status: int
) -> None:
    csrf = await login(client, "admin")
    data = {
        "csrf_token": csrf,
        "username": "newbie",
        "password": "form-secret",
        "privilege": "conference_detail",
        **changes,
    }
    r = await client.post("/users", data=data)
    assert r.status_code == status, r.text
    assert f'data-error="{field}"' in r.text
    assert "form-secret" not in r.text  # never sent back
    assert 'id="create-user"' in r.text  # the form again, to correct


async def test_create_form_needs_csrf(client: httpx.AsyncClient, store: Store) -> None:
    await login(client, "admin")
    data = {"username": "x", "password": "pw", "privilege": "conference_detail"}
    for token in ({}, {"csrf_token": "wrong"}):
        r = await client.post("/users", data={**data, **token})
        assert r.status_code == 403 and "CSRF" in r.text
    assert await store.get_user("x") is None


async def test_create_form_refused_to_non_admin(client: httpx.AsyncClient, store: Store) -> None:
    csrf = await login(client, "conference_creation_full_control")
    data = {"csrf_token": csrf, "username": "x", "password": "pw", "privilege": "administrator"}
    r = await client.post("/users", data=data)
    assert r.status_code == 403 and "user-management: administrator only" in r.text
    assert await store.get_user("x") is None


async def test_delete_through_the_form_resets_owner(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    csrf = await login(client, "admin")
    r = await client.post(f"/users/{CREATOR}/delete", data={"csrf_token": csrf})
    assert (r.status_code, r.headers["location"]) == (303, "/users")
    assert await store.get_user(CREATOR) is None
    kept = await store.get_conference(conference.id)
    assert kept is not None and kept.owner is None
    page = await client.get("/")
    assert "none" in page.text


async def test_admin_cannot_be_deleted_through_the_form(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await login(client, "admin")
    r = await client.post("/users/admin/delete", data={"csrf_token": csrf})
    assert r.status_code == 403 and "root-admin-undeletable" in r.text
    assert await store.get_user("admin") is not None


async def test_delete_form_needs_csrf(client: httpx.AsyncClient, store: Store) -> None:
    await login(client, "admin")
    r = await client.post(f"/users/{CREATOR}/delete", data={})
    assert r.status_code == 403
    assert await store.get_user(CREATOR) is not None


# /users/{username} ----------------------------------------------------------------------


async def test_admin_user_page_offers_every_form(client: httpx.AsyncClient) -> None:
    await login(client, "admin")
    r = await client.get(f"/users/{CREATOR}")
    assert r.status_code == 200
    assert forms(r.text) == {"update-user", "change-password", "delete-user"}
    assert f'<option value="{CREATOR}" selected>' in r.text
    # admin's own page: no delete (undeletable); its privilege form remains.
    r = await client.get("/users/admin")
    assert forms(r.text) == {"update-user", "change-password"}


@pytest.mark.parametrize("privilege", NOT_ADMIN)
async def test_own_page_offers_the_password_form_only(
    client: httpx.AsyncClient, privilege: str
) -> None:
    await login(client, privilege)
    r = await client.get(f"/users/{privilege}")
    assert r.status_code == 200
    assert forms(r.text) == {"change-password"}
    r = await client.get("/users/admin")
    assert r.status_code == 403 and "update-user" not in r.text


async def test_admin_changes_privilege_through_the_form(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await login(client, "admin")
    r = await client.post(
        f"/users/{CREATOR}",
        data={"csrf_token": csrf, "privilege": "conference_detail", "is_operator": "1"},
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/users/{CREATOR}?done=updated")
    user = await store.get_user(CREATOR)
    assert user is not None and user.privilege == "conference_detail" and user.is_operator
    # An unticked box clears the operator membership.
    await client.post(
        f"/users/{CREATOR}", data={"csrf_token": csrf, "privilege": "conference_detail"}
    )
    user = await store.get_user(CREATOR)
    assert user is not None and not user.is_operator
    r = await client.get(f"/users/{CREATOR}?done=updated")
    assert "data-notice" in r.text


async def test_privilege_form_errors(client: httpx.AsyncClient, store: Store) -> None:
    csrf = await login(client, "admin")
    r = await client.post(f"/users/{CREATOR}", data={"csrf_token": csrf, "privilege": "god"})
    assert r.status_code == 422 and 'data-error="privilege"' in r.text
    r = await client.post(
        "/users/admin", data={"csrf_token": csrf, "privilege": "conference_detail"}
    )
    assert r.status_code == 403 and "root-admin-always-administrator" in r.text
    admin = await store.get_user("admin")
    assert admin is not None and admin.privilege == "administrator"


async def test_non_admin_cannot_post_the_privilege_form(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await login(client, CREATOR)
    r = await client.post(
        f"/users/{CREATOR}", data={"csrf_token": csrf, "privilege": "administrator"}
    )
    assert r.status_code == 403 and "user-management: administrator only" in r.text
    user = await store.get_user(CREATOR)
    assert user is not None and user.privilege == CREATOR


@pytest.mark.parametrize("privilege", ["security_administrator", CREATOR])
async def test_change_own_password_through_the_form(
    client: httpx.AsyncClient, store: Store, privilege: str
) -> None:
    csrf = await login(client, privilege)
    r = await client.post(
        f"/users/{privilege}/password",
        data={"csrf_token": csrf, "password": "new-one", "confirm": "new-two"},
    )
    assert r.status_code == 422 and 'data-error="confirm"' in r.text
    assert "new-one" not in r.text
    assert not await store.verify_password(privilege, "new-one")
    r = await client.post(
        f"/users/{privilege}/password",
        data={"csrf_token": csrf, "password": "new-one", "confirm": "new-one"},
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/users/{privilege}?done=password")
    assert await store.verify_password(privilege, "new-one")
    # Not someone else's.
    r = await client.post(
        "/users/admin/password", data={"csrf_token": csrf, "password": "x", "confirm": "x"}
    )
    assert r.status_code == 403
    r = await client.post(
        "/users/admin/password", data={"csrf_token": csrf, "password": "x", "confirm": "y"}
    )
    assert r.status_code == 403  # 403 before the mismatch's 422
    assert await store.verify_password("admin", ADMIN_PASSWORD)


async def test_password_form_needs_csrf(client: httpx.AsyncClient, store: Store) -> None:
    await login(client, CREATOR)
    r = await client.post(f"/users/{CREATOR}/password", data={"password": "x", "confirm": "x"})
    assert r.status_code == 403
    assert await store.verify_password(CREATOR, PASSWORD)


async def test_missing_user_page(client: httpx.AsyncClient) -> None:
    await login(client, "admin")
    assert (await client.get("/users/nobody")).status_code == 404
    client.cookies.clear()
    await login(client, CREATOR)
    assert (await client.get("/users/nobody")).status_code == 403  # no probing for names


# /records and /audit --------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["admin", "security_administrator"])
async def test_records_and_audit_pages(
    client: httpx.AsyncClient, store: Store, reader: str
) -> None:
    started = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    await store.record_call("4321", "sip:alice@192.0.2.1", started, None, "Alice <b>", None)
    await store.audit("carol", "delete_user", "user:dave", "deleted")
    await login(client, reader)
    r = await client.get("/records")
    assert r.status_code == 200
    assert "sip:alice@192.0.2.1" in r.text and "in progress" in r.text
    assert "Alice &lt;b&gt;" in r.text  # escaped
    assert forms(r.text) == set()  # nothing to change here
    r = await client.get("/audit")
    assert r.status_code == 200
    assert "user:dave" in r.text
    rows = re.findall(r'data-audit-id="(\d+)"', r.text)
    assert [int(x) for x in rows] == sorted((int(x) for x in rows), reverse=True)
    r = await client.get("/audit?actor=carol")
    assert r.text.count("data-audit-id=") == 1
    r = await client.get("/records?limit=0")
    assert r.status_code == 422 and "limit" in r.text


@pytest.mark.parametrize("privilege", [p for p in NOT_ADMIN if p != "security_administrator"])
async def test_records_and_audit_pages_refused(client: httpx.AsyncClient, privilege: str) -> None:
    await login(client, privilege)
    for path in ("/records", "/audit"):
        r = await client.get(path)
        assert r.status_code == 403
        assert "records: administrator or security administrator only" in r.text


async def test_security_administrator_lands_on_the_records_they_may_read(
    client: httpx.AsyncClient,
) -> None:
    await login(client, "security_administrator")
    response = await client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/records"
