"""The web control end to end: in headless Chromium an administrator schedules a
conference through the form, a real baresip dials its numeric ID and appears on the
conference page live (Server-Sent Events, no reload), the page mutes it and the MCU's
participant is muted; a `conference_creation` user then sees that conference as a name
only, with no link and no controls. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import TONES
from tests.e2e.test_entry import call, hang_up
from tests.system_deps import optional_module, require_browser

pytestmark = pytest.mark.peer
sync_api: Any = optional_module("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def browser_installed() -> None:
    require_browser(CHROMIUM)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ROOM = "5150"
BROWSER_ZONE = "America/Sao_Paulo"  # UTC-3 all year
# A datetime-local value one minute ago, in the browser's own time zone.
A_MINUTE_AGO = """() => {
  const d = new Date(Date.now() - 60000);
  const pad = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
    pad(d.getHours()) + ":" + pad(d.getMinutes());
}"""


def shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)


def log_in(browser, base: str, username: str, password: str, **context):
    page = browser.new_context(**context).new_page()
    page.goto(f"{base}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[data-action=login]")
    page.wait_for_url(f"{base}/")
    return page


def test_schedule_watch_live_and_mute_from_the_browser(start_mcu, peers, tmp_path):
    mcu = start_mcu()
    store = mcu.mcu.store
    base = f"http://127.0.0.1:{mcu.mcu.web.port}"
    expect = sync_api.expect
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # A browser away from UTC: the form's local time must land right in UTC.
            page = log_in(browser, base, "admin", store.generated_admin_password,
                          timezone_id=BROWSER_ZONE)
            # Schedule it through the form: started a minute ago, an hour long, no PIN.
            page.click("a[data-action=new-conference]")
            page.wait_for_url(f"{base}/conferences/new")
            page.fill("input[name=name]", "Made on the web")
            page.fill("input[name=numeric_id]", ROOM)
            start = page.evaluate(A_MINUTE_AGO)
            page.fill("input[name=start_time]", start)
            page.fill("input[name=duration]", "60")
            assert page.input_value("input[name=tz]") == BROWSER_ZONE  # set by schedule.js
            shot(page, tmp_path, "web-schedule-form")
            page.click("button[data-action=save]")
            page.wait_for_url(f"{base}/conferences/*")
            record = mcu.run(store.get_conference_by_numeric_id(ROOM))
            assert record is not None and record.owner == "admin" and record.pin is None
            assert record.start_time is not None and record.duration_seconds == 3600
            ago = datetime.now(UTC) - record.start_time
            assert timedelta(seconds=0) < ago < timedelta(minutes=2), ago
            assert page.url == f"{base}/conferences/{record.id}"
            page.evaluate("window.__notReloaded = true")
            rows = page.locator("tr[data-participant-id]")
            expect(rows).to_have_count(0)

            # A real caller dials the numeric ID: the row appears without a reload.
            caller = peers("web0", TONES[0], ["pcmu"])
            call(caller, mcu, ROOM)
            expect(rows).to_have_count(1, timeout=10_000)
            row = rows.first
            expect(row).to_have_attribute("data-state", "connected")
            expect(row).to_have_attribute("data-muted", "0")
            expect(row).to_have_attribute("data-speaking", "1", timeout=10_000)  # its tone
            leg = mcu.inspect(lambda m: m.participants(ROOM)[0].id)
            expect(row).to_have_attribute("data-participant-id", leg)
            expect(row.locator("img[data-thumbnail]")).to_have_count(1)
            shot(page, tmp_path, "web-live-participant")

            # Mute it from the page: the MCU's participant is muted, the row says so.
            row.locator("button[data-action=mute]").click()
            mcu.wait_until(lambda m: m.participants(ROOM)[0].muted)
            expect(row).to_have_attribute("data-muted", "1")
            expect(row.locator("button[data-action=mute]")).to_have_text("Unmute")
            assert page.evaluate("window.__notReloaded") is True  # the same document
            shot(page, tmp_path, "web-muted")

            # Leaving shows too.
            hang_up(caller)
            expect(rows).to_have_count(0, timeout=10_000)
            assert page.evaluate("window.__notReloaded") is True

            # Another creator sees the admin's conference as a name only, no controls.
            mcu.run(store.create_user("carol", "pw-carol-123", "conference_creation"))
            carol = log_in(browser, base, "carol", "pw-carol-123")
            listed = carol.locator("tr[data-listing=name_only]")
            expect(listed).to_contain_text("Made on the web")
            expect(carol.locator(f"a[href='/conferences/{record.id}']")).to_have_count(0)
            expect(carol.locator("main a, main button")).to_have_count(1)  # New conference
            expect(carol.locator("a[data-action=new-conference]")).to_have_count(1)
            assert ROOM not in listed.inner_text()
            shot(carol, tmp_path, "web-carol-list")
            response = carol.goto(f"{base}/conferences/{record.id}")
            assert response is not None and response.status == 403
            expect(carol.locator("[data-rule]")).to_have_text(
                "no-control: not owner of the conference")
            expect(carol.locator("button[data-action]:not([data-action=logout])")).to_have_count(0)
        finally:
            browser.close()
    mcu.wait_idle()
