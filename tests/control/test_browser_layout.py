"""Issue 11 in headless Chromium: the conference page's layout chooser changes the
conference layout through the API's update operation (the API reports it, the audit
has its row), the composed-picture preview loads and refreshes, and the dial-out form
takes any scheme a running gateway serves."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from mcu.store import ConferenceRecord, Store
from tests.control import test_browser as chromium
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, PASSWORD, ROOM
from tests.control.test_browser import CHROMIUM, RichLive, log_in, shot

# The served app, its WebServer and the browser, as test_browser starts them.
app, base_url, browser = chromium.app, chromium.base_url, chromium.browser

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
async_api = pytest.importorskip("playwright.async_api")


def picture(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, "JPEG")
    return out.getvalue()


class VideoLive(RichLive):
    """A running conference whose participants have video: the view is a real JPEG."""

    def __init__(self) -> None:
        super().__init__()
        self.views: list[str] = []

    async def thumbnail(self, numeric_id: str, participant_id: str, view: bool = False
                        ) -> bytes | None:
        if view:
            self.views.append(participant_id)
        return picture(320, 180) if view else picture(160, 90)


@pytest.fixture
def live() -> VideoLive:
    fake = VideoLive()
    fake.add(ROOM, "p1", "Alice", "connected", "chair")
    fake.add(ROOM, "p2", "Bob", "lobby")
    return fake


async def test_layout_chooser_and_preview(
    browser: object, base_url: str, conference: ConferenceRecord, store: Store,
    live: VideoLive, tmp_path: Path,
) -> None:
    expect = async_api.expect
    page = await log_in(browser, base_url, CREATOR, PASSWORD)  # the owner: full control
    await page.goto(f"{base_url}/conferences/{conference.id}")
    preview = page.locator("img[data-preview]")
    await expect(preview).to_have_count(1)
    await page.wait_for_function(
        "document.getElementById('preview').complete"
        " && document.getElementById('preview').naturalWidth > 0")
    assert await preview.evaluate("img => img.naturalWidth") == 320
    assert "p1" in live.views  # the first connected participant's view, not the lobby's
    seen = len(live.views)
    await page.wait_for_timeout(2500)
    assert len(live.views) > seen  # refreshed every 2 s
    await page.select_option("form[data-form=layout] select[name=layout]", "equal-2x2")
    await page.click("button[data-action=layout]")
    await page.wait_for_url(f"{base_url}/conferences/{conference.id}")
    await expect(page.locator("form[data-form=layout] select[name=layout]")).to_have_value(
        "equal-2x2")
    await shot(page, tmp_path, "layout-chooser")
    api = await page.request.get(f"{base_url}/api/v1/conferences/{conference.id}")
    assert api.status == 200 and (await api.json())["layout"] == "equal-2x2"
    audit = (await store.list_audit(actor=CREATOR))[0]
    assert (audit.operation, audit.target, audit.outcome) == (
        "conference_custom_layout", f"conference:{conference.id}", "updated: layout")


async def test_dial_out_form_takes_the_schemes_served(
    browser: object, base_url: str, conference: ConferenceRecord, live: VideoLive,
) -> None:
    expect = async_api.expect
    live.schemes = ["h323", "sip"]
    page = await log_in(browser, base_url, "admin", ADMIN_PASSWORD)
    await page.goto(f"{base_url}/conferences/{conference.id}")
    form = page.locator("form[data-form=dial-out]")
    await form.locator("input[name=address]").fill("rtsp:cam@192.0.2.9")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#status")).to_contain_text("(address)")
    await expect(page.locator("#status")).to_contain_text("h323, sip")
    await form.locator("input[name=address]").fill("h323:room@192.0.2.9")
    await form.locator("button[type=submit]").click()
    await expect(form).to_have_attribute("data-sent", "1")
    assert live.dialled == ["h323:room@192.0.2.9"]
