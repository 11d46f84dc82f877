"""Issue 15 in headless Chromium: the conference page's recording buttons start, stop,
download and delete a recording through the API; the owner sees them all, a moderator
starts and stops but gets no download link (seed 000)."""

from __future__ import annotations

from pathlib import Path

from mcu.store import ConferenceRecord, Store
from tests.control import test_browser as chromium
from tests.control.conftest import CREATOR, PASSWORD
from tests.control.test_browser import async_api, log_in, shot

# The served app, its WebServer and the browser, as test_browser starts them.
app, base_url, browser, live = chromium.app, chromium.base_url, chromium.browser, chromium.live


async def test_owner_records_from_the_page(
    browser: object, base_url: str, conference: ConferenceRecord, store: Store, tmp_path: Path,
    live: chromium.RichLive,
) -> None:
    expect = async_api.expect
    live.store = store
    page = await log_in(browser, base_url, CREATOR, PASSWORD)
    await page.goto(f"{base_url}/conferences/{conference.id}")
    await page.click("button[data-action=start-recording]")
    row = page.locator("#recordings tr[data-recording-id]")
    await expect(row).to_have_count(1)
    await expect(row).to_have_attribute("data-state", "recording")
    [recording] = await store.list_recordings()
    assert recording.started_by == CREATOR
    async with page.expect_download() as download_info:
        await row.locator("a[data-action=download-recording]").click()
    download = await download_info.value
    saved = tmp_path / "download.mp4"
    await download.save_as(str(saved))
    assert saved.stat().st_size == 1000  # what the fake live MCU wrote
    await row.locator("button[data-action=stop-recording]").click()
    await expect(row.locator("button[data-action=stop-recording]")).to_have_count(0)
    await shot(page, tmp_path, "recordings")
    page.on("dialog", lambda dialog: dialog.accept())
    await row.locator("button[data-action=delete-recording]").click()
    await expect(page.locator("#recordings tr[data-recording-id]")).to_have_count(0)
    assert await store.list_recordings() == []


async def test_a_moderator_starts_but_does_not_download(
    browser: object, base_url: str, conference: ConferenceRecord, store: Store,
) -> None:
    expect = async_api.expect
    await store.add_role(conference.id, "conference_detail", "moderator")
    page = await log_in(browser, base_url, "conference_detail", PASSWORD)
    await page.goto(f"{base_url}/conferences/{conference.id}")
    await page.click("button[data-action=start-recording]")
    row = page.locator("#recordings tr[data-recording-id]")
    await expect(row).to_have_count(1)
    await expect(row.locator("button[data-action=stop-recording]")).to_have_count(1)
    await expect(row.locator("a[data-action=download-recording]")).to_have_count(0)
    await expect(row.locator("button[data-action=delete-recording]")).to_have_count(0)
