"""Server-rendered pages over httpx: login with CSRF, list, conference page buttons."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from mcu.store import ConferenceRecord, Store
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def login(client: httpx.AsyncClient, username: str, password: str) -> str:
    """Log in through the form; returns the session's CSRF token from the next page."""
    form = await client.get("/login")
    token = CSRF.search(form.text)
    assert token
    r = await client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": password},
    )
    assert r.status_code == 303, r.text
    page = await client.get("/")
    found = CSRF.search(page.text)
    assert found
    return found.group(1)


async def test_pages_need_a_session(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    r = await client.get("/")
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/")
    r = await client.get(f"/conferences/{conference.id}")
    assert r.headers["location"] == f"/login?next=/conferences/{conference.id}"


async def test_login_needs_csrf_and_right_password(client: httpx.AsyncClient, store: Store) -> None:
    r = await client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 403
    form = await client.get("/login")
    assert "content-security-policy" in form.headers
    token = CSRF.search(form.text)
    assert token
    r = await client.post(
        "/login", data={"csrf_token": token.group(1), "username": "admin", "password": "x"}
    )
    assert r.status_code == 401 and "Wrong username or password" in r.text
    assert "mcu_session" not in client.cookies
    assert (await store.list_audit(actor="admin"))[0].outcome == "failed"
    r = await client.post(
        "/login",
        data={
            "csrf_token": token.group(1),
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert (r.status_code, r.headers["location"]) == (303, "/")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=3600" in cookie


async def test_logout_ends_the_session(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    csrf = await login(client, "admin", ADMIN_PASSWORD)
    assert (await client.post("/logout", data={})).status_code == 403  # no CSRF
    r = await client.post("/logout", data={"csrf_token": csrf})
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    assert (await client.get("/")).status_code == 303


async def test_expired_session_goes_to_login(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    old = await store.create_token("admin", timedelta(seconds=-1))
    client.cookies.set("mcu_session", old.token)
    assert (await client.get("/")).status_code == 303


async def test_list_page_links_only_what_is_controlled(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    await store.create_conference("Elsewhere", "5555", owner="other_creator")
    await login(client, CREATOR, PASSWORD)
    page = (await client.get("/")).text
    assert f'href="/conferences/{conference.id}"' in page
    assert "Elsewhere" in page and len(re.findall(r'<a href="/conferences/\d+"', page)) == 1
    assert "1234" not in page  # the PIN


async def test_conference_page_buttons_follow_authorize(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    page = (await client.get(f"/conferences/{conference.id}")).text
    assert 'data-participant-id="p2" data-state="lobby"' in page
    assert page.count('data-action="admit"') == 1  # only the lobby caller
    assert page.count('data-action="drop"') == 2
    assert page.count('data-action="mute"') == 1  # not for the lobby caller
    assert "1234" not in page


async def test_limited_control_sees_mute_only(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    await login(client, "conference_creation_limited_control", PASSWORD)
    page = (await client.get(f"/conferences/{conference.id}")).text
    assert 'data-participant-id="p1"' in page
    assert 'data-action="admit"' not in page and 'data-action="drop"' not in page
    assert 'data-action="mute"' in page
    assert 'data-can-admit="0"' in page


async def test_no_control_page_is_403_with_rule(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    await login(client, "other_creator", PASSWORD)
    r = await client.get(f"/conferences/{conference.id}")
    assert r.status_code == 403
    assert "no-control: not owner of the conference" in r.text
    assert "data-action" not in r.text.replace('data-action="logout"', "")
    assert (await client.get("/conferences/999999")).status_code == 404
