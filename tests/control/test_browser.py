"""A real headless Chromium against WebServer: the participant list updates without a
reload, and the buttons shown follow `authorize`. Uses the system Chromium (installed
by scripts/install-system-deps.sh), never `playwright install`."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mcu.control import WebServer, create_app
from mcu.store import ConferenceRecord, Store
from tests.control.conftest import ADMIN_PASSWORD, PASSWORD
from tests.control.fakes import FakeLive

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

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
async_api = pytest.importorskip("playwright.async_api")


@pytest.fixture
async def base_url(store: Store, live: FakeLive) -> AsyncIterator[str]:
    server = WebServer()
    await server.start(create_app(store, live), "127.0.0.1", 0)
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
