"""Server-rendered pages over httpx: login with CSRF, list, conference page buttons."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import httpx
from PIL import Image

from mcu.control import thumbnails
from mcu.store import ConferenceRecord, Store
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, PASSWORD, ROOM
from tests.control.fakes import FakeLive

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


# ---- the conference page's controls and thumbnails


async def test_full_control_page_has_every_control(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    page = (await client.get(f"/conferences/{conference.id}")).text
    for hook in ('data-form="message-all"', 'data-form="dial-out"', 'data-action="end"',
                 'data-action="edit"', 'data-can-thumbnails="1"', 'data-speaking="0"'):
        assert hook in page, hook
    assert page.count('data-action="important"') == 1  # not for the lobby caller
    assert page.count("<img data-thumbnail") == 2


async def test_limited_control_page_has_important_but_no_conference_controls(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    await login(client, "conference_creation_limited_control", PASSWORD)
    page = (await client.get(f"/conferences/{conference.id}")).text
    assert 'data-action="important"' in page and 'data-action="mute"' in page
    for hook in ('data-form="message-all"', 'data-form="dial-out"', 'data-action="end"',
                 'data-action="edit"'):
        assert hook not in page, hook


async def test_thumbnail_is_a_jpeg_slate_for_who_may_see_participants(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    url = f"/conferences/{conference.id}/participants/p1/thumbnail.jpg"
    assert (await client.get(url)).status_code == 303  # no session: to the login page
    await login(client, "conference_creation_limited_control", PASSWORD)
    r = await client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content[:3] == b"\xff\xd8\xff"
    image = Image.open(io.BytesIO(r.content))
    assert image.size == thumbnails.SIZE
    again = await client.get(url)
    assert again.content == r.content  # cached per (name, state)
    lobby = await client.get(f"/conferences/{conference.id}/participants/p2/thumbnail.jpg")
    assert lobby.content != r.content
    missing = f"/conferences/{conference.id}/participants/nobody/thumbnail.jpg"
    assert (await client.get(missing)).status_code == 404


async def test_no_control_gets_no_thumbnail(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    await login(client, "other_creator", PASSWORD)
    r = await client.get(f"/conferences/{conference.id}/participants/p1/thumbnail.jpg")
    assert r.status_code == 403


async def test_no_thumbnails_when_encryption_is_required(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    await store.update_conference(conference.id, encryption="required")
    await login(client, "admin", ADMIN_PASSWORD)
    page = (await client.get(f"/conferences/{conference.id}")).text
    assert "<img" not in page and "thumbnail" not in page.replace("data-can-thumbnails", "")
    assert 'data-can-thumbnails="0"' in page
    r = await client.get(f"/conferences/{conference.id}/participants/p1/thumbnail.jpg")
    assert r.status_code == 404 and "image" not in r.headers["content-type"]


# ---- the schedule form


async def form_page(client: httpx.AsyncClient, url: str) -> tuple[str, str]:
    r = await client.get(url)
    assert r.status_code == 200, r.text
    token = CSRF.search(r.text)
    assert token
    return r.text, token.group(1)


def fields(**overrides: str) -> dict[str, str]:
    base = {"name": "Weekly", "numeric_id": "7777", "tz": "UTC", "encryption": "optional",
            "repetition": "none", "guests_send_audio": "1", "guests_send_video": "1"}
    return base | overrides


async def test_create_through_the_form(
    client: httpx.AsyncClient, store: Store, live: FakeLive
) -> None:
    await login(client, CREATOR, PASSWORD)
    assert 'href="/conferences/new"' in (await client.get("/")).text
    page, csrf = await form_page(client, "/conferences/new")
    assert 'name="owner"' not in page  # conference_creation may not choose an owner
    r = await client.post("/conferences/new", data=fields(
        csrf_token=csrf, pin="2468", guest_pin="1357", start_time="2030-01-02T10:00",
        tz="Europe/Berlin", duration="90", repetition="weekly", repeat_count="4",
        max_participants="12", streaming="1", end_when_chair_leaves="1",
        owner="other_creator",  # not shown to this user: ignored
    ))
    assert r.status_code == 303, r.text
    created = await store.get_conference_by_numeric_id("7777")
    assert created is not None and r.headers["location"] == f"/conferences/{created.id}"
    assert created.owner == CREATOR
    assert (created.pin, created.guest_pin) == ("2468", "1357")
    assert created.start_time == datetime(2030, 1, 2, 9, 0, tzinfo=UTC)  # Berlin is UTC+1
    assert created.duration_seconds == 90 * 60
    assert (created.repetition, created.repeat_count) == ("weekly", 4)
    assert created.max_participants == 12 and created.streaming
    assert created.end_when_chair_leaves and created.guests_send_audio
    assert created.guests_send_video
    assert live.refreshes == 1
    audit = await store.list_audit(actor=CREATOR)
    assert audit[0].operation == "create_conference" and audit[0].outcome == "created"
    page = (await client.get(r.headers["location"])).text
    assert "2468" not in page and "repeats weekly" in page


async def test_form_refuses_without_csrf(client: httpx.AsyncClient, store: Store) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    r = await client.post("/conferences/new", data=fields())
    assert r.status_code == 403 and "CSRF" in r.text
    r = await client.post("/conferences/new", data=fields(csrf_token="forged"))
    assert r.status_code == 403
    assert await store.get_conference_by_numeric_id("7777") is None


async def test_form_errors_name_the_field_and_keep_the_input(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord, live: FakeLive
) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    _, csrf = await form_page(client, "/conferences/new")
    r = await client.post("/conferences/new", data=fields(
        csrf_token=csrf, name="Kept name", numeric_id="12ab", max_participants="0",
        repeat_count="2", repeat_until="2030-02-01", repetition="daily",
        start_time="2030-01-01T09:00",
    ))
    assert r.status_code == 422
    assert 'data-error="numeric_id"' in r.text and "digits only" in r.text
    assert 'data-error="max_participants"' in r.text
    assert 'value="Kept name"' in r.text
    assert CSRF.search(r.text)  # the form can be sent again
    # The store's own check (count and until together) names its field too.
    r = await client.post("/conferences/new", data=fields(
        csrf_token=csrf, repeat_count="2", repeat_until="2030-02-01", repetition="daily",
        start_time="2030-01-01T09:00",
    ))
    assert r.status_code == 422 and 'data-error="repeat_until"' in r.text
    # The API's rules between fields hold in the form too (api.check_configuration).
    r = await client.post("/conferences/new", data=fields(
        csrf_token=csrf, repetition="daily", duration="1500", start_time="2030-01-01T09:00",
    ))
    assert r.status_code == 422 and 'data-error="duration"' in r.text
    r = await client.post("/conferences/new", data=fields(csrf_token=csrf, numeric_id=ROOM))
    assert r.status_code == 409 and 'data-error="numeric_id"' in r.text
    r = await client.post("/conferences/new", data=fields(csrf_token=csrf, start_time="x"))
    assert r.status_code == 422 and 'data-error="start_time"' in r.text
    r = await client.post("/conferences/new", data=fields(csrf_token=csrf, tz="Mars/Olympus"))
    assert r.status_code == 422 and "unknown time zone" in r.text
    assert [c.numeric_id for c in await store.list_conferences()] == [ROOM]  # nothing saved
    assert live.refreshes == 0


async def test_owner_field_only_for_who_may_change_owners(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    await login(client, "conference_creation_full_control", PASSWORD)
    page, csrf = await form_page(client, "/conferences/new")
    assert 'name="owner"' in page
    assert '<option value="other_creator"' in page
    assert '<option value="conference_detail"' not in page  # cannot own
    r = await client.post("/conferences/new", data=fields(csrf_token=csrf, owner="other_creator"))
    assert r.status_code == 303
    assert (await store.get_conference_by_numeric_id("7777")).owner == "other_creator"  # type: ignore[union-attr]
    r = await client.post("/conferences/new", data=fields(
        csrf_token=csrf, numeric_id="7778", owner="conference_detail"))
    assert r.status_code == 422 and 'data-error="owner"' in r.text
    r = await client.post("/conferences/new", data=fields(csrf_token=csrf, numeric_id="7779",
                                                          owner=""))
    assert r.status_code == 303
    assert (await store.get_conference_by_numeric_id("7779")).owner is None  # type: ignore[union-attr]
    page, _ = await form_page(client, f"/conferences/{conference.id}/edit")
    assert 'name="owner"' in page


async def test_below_creation_gets_no_form(client: httpx.AsyncClient) -> None:
    await login(client, "conference_detail", PASSWORD)
    assert 'href="/conferences/new"' not in (await client.get("/")).text
    r = await client.get("/conferences/new")
    assert r.status_code == 403 and "below-conference-creation" in r.text


async def test_edit_through_the_form(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord, live: FakeLive
) -> None:
    await login(client, CREATOR, PASSWORD)
    page, csrf = await form_page(client, f"/conferences/{conference.id}/edit")
    assert 'value="Board"' in page and "1234" not in page  # the PIN never in clear
    assert "unchanged (set)" in page and 'name="owner"' not in page
    r = await client.post(f"/conferences/{conference.id}/edit", data=fields(
        csrf_token=csrf, name="Board room", numeric_id=ROOM, start_time="2030-06-01T08:30",
        duration="30",
    ))
    assert r.status_code == 303, r.text
    updated = await store.get_conference(conference.id)
    assert updated is not None and updated.name == "Board room"
    assert updated.pin == "1234"  # a blank PIN field keeps it
    assert updated.start_time == datetime(2030, 6, 1, 8, 30, tzinfo=UTC)
    assert updated.duration_seconds == 1800 and live.refreshes == 1
    audit = (await store.list_audit(actor=CREATOR))[0]
    assert audit.outcome.startswith("updated: ") and "1234" not in audit.outcome
    assert "start_time" in audit.outcome and "pin" not in audit.outcome.split(": ")[1].split(",")
    # Showing the saved form again and saving it changes nothing.
    page, csrf = await form_page(client, f"/conferences/{conference.id}/edit")
    assert 'data-utc="2030-06-01T08:30:00+00:00"' in page
    r = await client.post(f"/conferences/{conference.id}/edit", data=fields(
        csrf_token=csrf, name="Board room", numeric_id=ROOM, start_time="2030-06-01T08:30",
        duration="30",
    ))
    assert (await store.list_audit(actor=CREATOR))[0].outcome == "unchanged"
    r = await client.post(f"/conferences/{conference.id}/edit", data=fields(
        csrf_token=csrf, name="Board room", numeric_id=ROOM, clear_pin="1"))
    assert (await store.get_conference(conference.id)).pin is None  # type: ignore[union-attr]


async def test_edit_needs_full_control_and_csrf(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    await login(client, "conference_creation_limited_control", PASSWORD)
    assert (await client.get(f"/conferences/{conference.id}/edit")).status_code == 403
    csrf = CSRF.search((await client.get("/")).text).group(1)  # type: ignore[union-attr]
    r = await client.post(f"/conferences/{conference.id}/edit",
                          data=fields(csrf_token=csrf, numeric_id=ROOM))
    assert r.status_code == 403 and "limited-control" in r.text
    await login(client, CREATOR, PASSWORD)
    r = await client.post(f"/conferences/{conference.id}/edit", data=fields(numeric_id=ROOM))
    assert r.status_code == 403 and "CSRF" in r.text
    assert (await store.get_conference(conference.id)).name == "Board"  # type: ignore[union-attr]
