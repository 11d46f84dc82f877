"""The web control and real callers: a baresip waiting in a PIN lobby shows up on the
conference page in headless Chromium, and an administrator admits one and drops
another from there; what the admitted caller then hears proves it is in."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import TONES
from tests.e2e.test_entry import PIN, call, hang_up, wait_states
from tests.peers.audio_analysis import hears
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


def shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)


def test_admin_admits_and_drops_lobby_callers_from_the_page(start_mcu, peers, tmp_path):
    mcu = start_mcu()
    store = mcu.mcu.store
    record = mcu.run(store.create_conference("Board", "4321", pin=PIN))
    mcu.run(mcu.mcu.refresh_conferences())
    base = f"http://127.0.0.1:{mcu.mcu.web.port}"
    chair, waiting, unwanted = (peers(f"w{i}", tone, ["pcmu"]) for i, tone in enumerate(TONES))
    call(chair, mcu, "4321*" + PIN)
    call(waiting, mcu, "4321")
    call(unwanted, mcu, "4321")
    wait_states(mcu, "4321", [("connected", "participant"), ("lobby", None), ("lobby", None)])
    leg_of = {peer.name: mcu.inspect(lambda m, p=peer: next(
        c.leg.id for c in m.gateway("sip").calls.values()
        if c.info.remote.endswith(f":{p.sip_port}")))
        for peer in (waiting, unwanted)}

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", store.generated_admin_password)
            page.click("button[data-action=login]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/conferences/{record.id}")
            expect = sync_api.expect
            row = page.locator(f"tr[data-participant-id='{leg_of['w1']}']")
            expect(row).to_have_attribute("data-state", "lobby")
            shot(page, tmp_path, "real-lobby")
            row.locator("button[data-action=admit]").click()
            expect(row).to_have_attribute("data-state", "connected")
            gone = page.locator(f"tr[data-participant-id='{leg_of['w2']}']")
            mark = unwanted.mark()
            gone.locator("button[data-action=drop]").click()
            unwanted.wait_terminated(timeout=10, after=mark)
            expect(gone).to_have_count(0)
            shot(page, tmp_path, "real-admitted")
        finally:
            browser.close()
    wait_states(mcu, "4321", [("connected", "participant")] * 2)
    time.sleep(3.0)
    hang_up(chair, waiting)
    assert hears(waiting.received_wav_path(), TONES[0], skip_seconds=4.0)
    assert hears(chair.received_wav_path(), TONES[1], skip_seconds=4.0)
    mcu.wait_idle()
