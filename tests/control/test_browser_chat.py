"""Chat in a real headless Chromium (issue 17): two users on the conference page see each
other's messages without a reload (over the page's Server-Sent Events), and a script
payload is shown as text, never run. System Chromium, never `playwright install`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from mcu.control import WebServer, create_app
from mcu.settings import ChatSettings
from mcu.store import ConferenceRecord, Store
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, PASSWORD
from tests.control.fakes import FakeLive
from tests.control.test_browser import ARGS, CHROMIUM, log_in, shot
from tests.system_deps import optional_module, require_browser

async_api: Any = optional_module("playwright.async_api")
PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold</b>'


@pytest.fixture(autouse=True)
def browser_installed() -> None:
    require_browser(CHROMIUM)


@pytest.fixture
async def base_url(store: Store, live: FakeLive, tmp_path: Path) -> AsyncIterator[str]:
    app: FastAPI = create_app(store, live, chat=ChatSettings(files_dir=str(tmp_path / "f")))
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


async def _send(page: Any, text: str) -> None:
    await page.fill("section.chat input[name=text]", text)
    await page.click("section.chat button[data-action=chat-send]")


async def test_two_users_chat_live_and_script_stays_text(
    browser: object, base_url: str, conference: ConferenceRecord, tmp_path: Path
) -> None:
    expect = async_api.expect
    owner: Any = await log_in(browser, base_url, CREATOR, PASSWORD)
    admin: Any = await log_in(browser, base_url, "admin", ADMIN_PASSWORD)
    for page in (owner, admin):
        await page.goto(f"{base_url}/conferences/{conference.id}")
        await page.evaluate("window.__notReloaded = true")
    await expect(owner.locator("section.chat")).to_have_attribute("data-role", "conf_owner")
    await expect(admin.locator("section.chat")).to_have_attribute("data-role", "user")

    await _send(admin, PAYLOAD)
    seen = owner.locator("ol.chat-messages li").last
    await expect(seen.locator(".text")).to_have_text(PAYLOAD)
    await expect(seen.locator(".author")).to_have_text("admin")
    # Shown as text: no element was made from it, and nothing ran.
    made = owner.locator("ol.chat-messages b, ol.chat-messages img, ol.chat-messages script")
    await expect(made).to_have_count(0)

    await _send(owner, "Hello from the owner")
    reply = admin.locator("ol.chat-messages li").last
    await expect(reply.locator(".text")).to_have_text("Hello from the owner")
    await expect(reply.locator(".author")).to_have_text(CREATOR)
    for page in (owner, admin):
        assert await page.evaluate("window.__pwned") is None
        assert await page.evaluate("window.__notReloaded") is True
    await shot(owner, tmp_path, "chat-owner")
    await shot(admin, tmp_path, "chat-admin")


async def test_chats_page_creates_a_channel_and_posts(
    browser: object, base_url: str, tmp_path: Path
) -> None:
    expect = async_api.expect
    page: Any = await log_in(browser, base_url, CREATOR, PASSWORD)
    await page.click("a[data-nav=chats]")
    await expect(page.locator("tr[data-type=favorites]")).to_have_count(1)
    await page.fill("form[data-chat-form=create] input[name=title]", "News <i>")
    await page.select_option("form[data-chat-form=create] select[name=type]", "channel")
    await page.click("button[data-action=chat-create]")
    await page.wait_for_url(f"{base_url}/chats/*")
    await expect(page.locator("section.chat")).to_have_attribute("data-role", "owner")
    await _send(page, "First post")
    await expect(page.locator("ol.chat-messages li .text")).to_have_text(["First post"])
    await expect(page.locator("h2 small")).to_contain_text("News <i>")  # escaped title
    await shot(page, tmp_path, "chats-channel")
