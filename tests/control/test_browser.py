"""A real headless Chromium against WebServer: the participant list updates without a
reload, and the buttons shown follow `authorize`. Uses the system Chromium (installed
by scripts/install-system-deps.sh), never `playwright install`."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from mcu.control import WebServer, create_app
from mcu.store import ConferenceRecord, Store
from tests.control.conftest import ADMIN_PASSWORD, PASSWORD, ROOM
from tests.control.fakes import FakeLive
from tests.system_deps import optional_module, require_browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

async_api: Any = optional_module("playwright.async_api")


@pytest.fixture(autouse=True)
def browser_installed() -> None:
    require_browser(CHROMIUM)


class RichLive(FakeLive):
    """FakeLive plus what the conference-wide controls ask of a running conference."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[str, str | None, str]] = []
        self.dialled: list[str] = []

    def set_important(self, numeric_id: str, participant_id: str, important: bool) -> bool:
        room = self.rooms.get(numeric_id, [])
        if not any(p.id == participant_id for p in room):
            return False
        self.rooms[numeric_id] = [
            replace(p, important=important and p.id == participant_id) for p in room
        ]
        return True

    def send_message(self, numeric_id: str, participant_id: str | None, text: str) -> bool:
        self.messages.append((numeric_id, participant_id, text))
        return numeric_id in self.rooms

    def dial_out(self, numeric_id: str, uri: str, display_name: str | None = None) -> str:
        self.dialled.append(uri)
        pid = f"d{len(self.dialled)}"
        self.add(numeric_id, pid, display_name or uri)
        return pid

    def end_conference(self, numeric_id: str) -> bool:
        return self.rooms.pop(numeric_id, None) is not None


@pytest.fixture
def live() -> RichLive:
    fake = RichLive()
    fake.add(ROOM, "p1", "Alice", "connected", "chair")
    fake.add(ROOM, "p2", "Bob", "lobby")
    return fake


def has_route(app: FastAPI, path: str) -> bool:
    """Whether the JSON API has `path` (from its OpenAPI: included routers are lazy)."""
    return path in app.openapi()["paths"]


@pytest.fixture
async def app(store: Store, live: FakeLive) -> FastAPI:
    return create_app(store, live)


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    server = WebServer(graceful_shutdown_s=1.0)
    await server.start(app, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    async with async_api.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: object, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)


async def log_in(browser: object, base_url: str, username: str, password: str) -> object:
    page = await browser.new_page()  # type: ignore[attr-defined]
    await page.goto(f"{base_url}/")
    assert page.url.startswith(f"{base_url}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[data-action=login]")
    await page.wait_for_url(f"{base_url}/")
    return page


async def test_admin_admits_lobby_caller_without_reload(
    browser: object,
    base_url: str,
    conference: ConferenceRecord,
    live: FakeLive,
    tmp_path: Path,
) -> None:
    expect = async_api.expect
    page = await log_in(browser, base_url, "admin", ADMIN_PASSWORD)
    await page.click(f"a[href='/conferences/{conference.id}']")
    lobby = page.locator("tr[data-participant-id=p2]")
    await expect(lobby).to_have_attribute("data-state", "lobby")
    await expect(lobby.locator("td.name")).to_have_text("Bob")
    await expect(page.locator("tr[data-participant-id=p1] td.role")).to_have_text("chair")
    await shot(page, tmp_path, "admin-lobby")
    # Someone new reaches the lobby: it appears without a reload.
    await page.evaluate("window.__notReloaded = true")
    live.add(conference.numeric_id, "p3", "Carol", "lobby")
    await expect(page.locator("tr[data-participant-id=p3]")).to_have_attribute(
        "data-state", "lobby"
    )
    await lobby.locator("button[data-action=admit]").click()
    await expect(lobby).to_have_attribute("data-state", "connected")
    await expect(lobby.locator("td.role")).to_have_text("participant")
    await expect(lobby.locator("button[data-action=admit]")).to_have_count(0)
    # Mute from the page, then drop Carol.
    await lobby.locator("button[data-action=mute]").click()
    await expect(lobby).to_have_attribute("data-muted", "1")
    await expect(lobby.locator("button[data-action=mute]")).to_have_text("Unmute")
    carol = page.locator("tr[data-participant-id=p3]")
    await carol.locator("button[data-action=drop]").click()
    await expect(carol).to_have_count(0)
    assert await page.evaluate("window.__notReloaded") is True  # same document throughout
    assert ("admit", conference.numeric_id, "p2") in live.calls
    await shot(page, tmp_path, "admin-admitted")


async def test_non_owner_creator_sees_no_controls(
    browser: object, base_url: str, conference: ConferenceRecord, tmp_path: Path
) -> None:
    expect = async_api.expect
    page = await log_in(browser, base_url, "other_creator", PASSWORD)
    # The list names the conference but does not link it (seed 003, no control).
    row = page.locator("tr[data-listing=name_only]")
    await expect(row).to_contain_text("Board")
    await expect(page.locator(f"a[href='/conferences/{conference.id}']")).to_have_count(0)
    response = await page.goto(f"{base_url}/conferences/{conference.id}")
    assert response is not None and response.status == 403
    await expect(page.locator("[data-rule]")).to_have_text(
        "no-control: not owner of the conference"
    )
    await expect(page.locator("button[data-action=admit]")).to_have_count(0)
    await expect(page.locator("button[data-action=drop]")).to_have_count(0)
    await shot(page, tmp_path, "non-owner-forbidden")


async def test_limited_control_sees_mute_but_no_admit_or_drop(
    browser: object, base_url: str, conference: ConferenceRecord, tmp_path: Path
) -> None:
    expect = async_api.expect
    page = await log_in(browser, base_url, "conference_creation_limited_control", PASSWORD)
    await page.click(f"a[href='/conferences/{conference.id}']")
    await expect(page.locator("tr[data-participant-id=p2]")).to_have_attribute(
        "data-state", "lobby"
    )
    await expect(page.locator("button[data-action=mute]")).to_have_count(1)
    await expect(page.locator("button[data-action=admit]")).to_have_count(0)
    await expect(page.locator("button[data-action=drop]")).to_have_count(0)
    await shot(page, tmp_path, "limited-control")


async def test_speaking_and_thumbnails_show_live(
    browser: object, base_url: str, conference: ConferenceRecord, live: RichLive, tmp_path: Path
) -> None:
    expect = async_api.expect
    page = await log_in(browser, base_url, "admin", ADMIN_PASSWORD)
    await page.goto(f"{base_url}/conferences/{conference.id}")
    await page.evaluate("window.__notReloaded = true")
    alice = page.locator("tr[data-participant-id=p1]")
    await expect(alice).to_have_attribute("data-speaking", "0")
    room = live.rooms[conference.numeric_id]
    room[0] = replace(room[0], speaking=True)
    await expect(alice).to_have_attribute("data-speaking", "1")
    await expect(alice.locator("td.audio")).to_have_text("speaking")
    img = alice.locator("img[data-thumbnail]")
    await expect(img).to_have_count(1)
    width = await img.evaluate("i => i.complete ? i.naturalWidth : -1")
    assert width == 160
    # Refreshed every few seconds with a cache-busting query.
    await expect(img).to_have_attribute("src", re.compile(r"thumbnail\.jpg\?t=\d+"),
                                        timeout=6000)
    assert await page.evaluate("window.__notReloaded") is True
    await shot(page, tmp_path, "speaking-thumbnails")


async def test_limited_control_toggles_important(
    browser: object,
    app: FastAPI,
    base_url: str,
    conference: ConferenceRecord,
    live: RichLive,
    tmp_path: Path,
) -> None:
    route = "/api/v1/conferences/{conference_id}/participants/{participant_id}/important"
    if not has_route(app, route):
        pytest.skip("the important-participant API route is not there yet")
    expect = async_api.expect
    page = await log_in(browser, base_url, "conference_creation_limited_control", PASSWORD)
    await page.goto(f"{base_url}/conferences/{conference.id}")
    alice = page.locator("tr[data-participant-id=p1]")
    await expect(page.locator("[data-form], button[data-action=end]")).to_have_count(0)
    await alice.locator("button[data-action=important]").click()
    await expect(alice).to_have_attribute("data-important", "1")
    await expect(alice.locator("button[data-action=important]")).to_have_text("Not important")
    assert live.rooms[conference.numeric_id][0].important
    await shot(page, tmp_path, "limited-important")
    await alice.locator("button[data-action=important]").click()
    await expect(alice).to_have_attribute("data-important", "0")


async def test_full_control_messages_dials_out_and_ends(
    browser: object,
    app: FastAPI,
    base_url: str,
    conference: ConferenceRecord,
    live: RichLive,
    tmp_path: Path,
) -> None:
    expect = async_api.expect
    page = await log_in(browser, base_url, "admin", ADMIN_PASSWORD)
    await page.goto(f"{base_url}/conferences/{conference.id}")
    await page.evaluate("window.__notReloaded = true")
    rows = page.locator("tr[data-participant-id]")
    await expect(rows).to_have_count(2)
    if has_route(app, "/api/v1/conferences/{conference_id}/messages"):
        form = page.locator("form[data-form=message-all]")
        await form.locator("input[name=text]").fill("Five minutes left")
        await form.locator("button[data-action=message-all]").click()
        await expect(form).to_have_attribute("data-sent", "1")
        assert live.messages == [(conference.numeric_id, None, "Five minutes left")]
    if has_route(app, "/api/v1/conferences/{conference_id}/participants"):
        dial = page.locator("form[data-form=dial-out]")
        await dial.locator("input[name=address]").fill("sip:dave@192.0.2.9")
        await dial.locator("button[data-action=dial-out]").click()
        await expect(page.locator("tr[data-participant-id=d1]")).to_have_count(1)
        assert live.dialled == ["sip:dave@192.0.2.9"]
        await shot(page, tmp_path, "admin-dialled-out")
    if has_route(app, "/api/v1/conferences/{conference_id}/end"):
        page.on("dialog", lambda dialog: dialog.accept())
        await page.click("button[data-action=end]")
        await expect(rows).to_have_count(0)
    assert await page.evaluate("window.__notReloaded") is True


async def test_schedule_form_in_the_browser_time_zone(
    browser: object, base_url: str, store: Store, tmp_path: Path
) -> None:
    expect = async_api.expect
    context = await browser.new_context(timezone_id="Asia/Tokyo")  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(f"{base_url}/login")
    await page.fill("input[name=username]", "conference_creation")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[data-action=login]")
    await page.click("a[data-action=new-conference]")
    await expect(page.locator("input[name=tz]")).to_have_value("Asia/Tokyo")
    await expect(page.locator("select[name=owner]")).to_have_count(0)
    await page.fill("input[name=name]", "Tokyo morning")
    await page.fill("input[name=numeric_id]", "81")
    await page.fill("input[name=start_time]", "2031-03-04T09:00")
    await page.fill("input[name=duration]", "45")
    await page.select_option("select[name=repetition]", "daily")
    await page.fill("input[name=repeat_count]", "5")
    await page.click("button[data-action=save]")
    await page.wait_for_url(f"{base_url}/conferences/*")
    record = await store.get_conference_by_numeric_id("81")
    assert record is not None and record.owner == "conference_creation"
    assert record.start_time is not None
    assert record.start_time.isoformat() == "2031-03-04T00:00:00+00:00"  # Tokyo is UTC+9
    assert (record.repetition, record.repeat_count) == ("daily", 5)
    # The edit form shows the stored UTC time in the browser's zone again.
    await page.click("a[data-action=edit]")
    await expect(page.locator("input[name=start_time]")).to_have_value("2031-03-04T09:00")
    # A bad field comes back with its message beside it, the rest kept.
    await page.fill("input[name=numeric_id]", "")
    await page.evaluate(
        "document.querySelector('input[name=numeric_id]').removeAttribute('required')"
    )
    await page.click("button[data-action=save]")
    await expect(page.locator("[data-error=numeric_id]")).to_contain_text("digits only")
    await expect(page.locator("input[name=name]")).to_have_value("Tokyo morning")
    await expect(page.locator("input[name=start_time]")).to_have_value("2031-03-04T09:00")
    await shot(page, tmp_path, "schedule-form-error")
    await context.close()


async def test_camera_state_shows_live_without_reload(
    browser: object, base_url: str, store: Store, conference: ConferenceRecord,
    live: FakeLive, tmp_path: Path,
) -> None:
    """The Cameras table follows the camera's state over the event stream: live with
    its thumbnail while its participant runs, offline and not running once it is gone."""
    expect = async_api.expect
    camera = await store.create_camera(conference.id, "Door", "rtsp://10.0.0.9/cam")
    page = await log_in(browser, base_url, "admin", ADMIN_PASSWORD)
    await page.goto(f"{base_url}/conferences/{conference.id}")
    row = page.locator(f"#cameras tr[data-camera-id='{camera.id}']")
    await expect(row).to_have_attribute("data-state", "offline")
    await page.evaluate("window.__notReloaded = true")
    pid = live.start_camera(conference.numeric_id, camera)
    await expect(row).to_have_attribute("data-state", "live")
    await expect(row.locator("td.thumb img")).to_have_attribute("data-participant-id", str(pid))
    await shot(page, tmp_path, "camera-live")
    live.drop(conference.numeric_id, str(pid))
    await expect(row).to_have_attribute("data-state", "offline")
    await expect(row.locator("td.reason")).to_have_text("not running")
    await expect(row.locator("td.thumb img")).to_have_count(0)
    assert await page.evaluate("window.__notReloaded") is True


async def test_encrypted_participants_show_a_lock(
    browser: object, base_url: str, conference: ConferenceRecord, live: FakeLive,
) -> None:
    """Issue 16: a participant on SIP over TLS with SRTP is shown with a lock, on the
    first render and as the list changes."""
    expect = async_api.expect
    room = live.rooms[conference.numeric_id]
    room[0] = replace(room[0], encrypted=True)
    page = await log_in(browser, base_url, "admin", ADMIN_PASSWORD)
    await page.goto(f"{base_url}/conferences/{conference.id}")
    alice = page.locator("tr[data-participant-id=p1]")
    await expect(alice).to_have_attribute("data-encrypted", "1")
    await expect(alice.locator("td.name .lock")).to_have_count(1)
    await expect(page.locator("tr[data-participant-id=p2] td.name .lock")).to_have_count(0)
    view = live.add(conference.numeric_id, "p3", "Carol")
    live.rooms[conference.numeric_id][-1] = replace(view, encrypted=True)
    await expect(page.locator("tr[data-participant-id=p3] td.name .lock")).to_have_count(1)
