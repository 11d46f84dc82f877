"""Issue 11 defect, end to end: three real SIP callers (baresip) dial 5000, a number
nobody configured (ad hoc, the default). ``GET /api/v1/conferences`` lists it with
``"ad_hoc": true`` and no owner, and an administrator in headless Chromium finds it on
the conference list, opens its page, sees the three callers and drops one: the MCU
really hangs that caller up."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import TONES
from tests.e2e.test_entry import call, hang_up, wait_states
from tests.e2e.test_lobby_page import ARGS, CHROMIUM, shot

pytestmark = pytest.mark.peer
sync_api = pytest.importorskip("playwright.sync_api")
AD_HOC = "5000"
LIVE_ID = f"live-{AD_HOC}"


def test_ad_hoc_conference_is_listed_opened_and_controlled(start_mcu, peers, tmp_path):
    mcu = start_mcu()
    password = mcu.mcu.store.generated_admin_password
    base = f"http://127.0.0.1:{mcu.mcu.web.port}"
    callers = [peers(f"h{i}", tone, ["pcmu"]) for i, tone in enumerate(TONES)]
    for peer in callers:
        call(peer, mcu, AD_HOC)
    wait_states(mcu, AD_HOC, [("connected", "participant")] * 3)
    leg_of = {peer.name: mcu.inspect(lambda m, p=peer: next(
        c.leg.id for c in m.gateway("sip").calls.values()
        if c.info.remote.endswith(f":{p.sip_port}")))
        for peer in callers}

    # (1) the API lists it
    with httpx.Client(base_url=base, timeout=10) as api:
        token = api.post("/api/v1/auth/token",
                         json={"username": "admin", "password": password}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        listed = api.get("/api/v1/conferences", headers=headers).json()
        assert listed == [{"listing": "link", "id": LIVE_ID, "name": listed[0]["name"],
                           "numeric_id": AD_HOC, "owner": None, "has_pin": False,
                           "has_guest_pin": False, "ad_hoc": True}]
        people = api.get(f"/api/v1/conferences/{LIVE_ID}/participants", headers=headers)
        assert sorted(p["id"] for p in people.json()) == sorted(leg_of.values())
        assert {p["protocol"] for p in people.json()} == {"sip"}

    # (2) the pages show it, and the drop button really hangs up
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("button[data-action=login]")
            page.wait_for_url(f"{base}/")
            expect = sync_api.expect
            link = page.locator(f"a[href='/conferences/{LIVE_ID}']")
            expect(link).to_have_count(1)
            link.click()
            page.wait_for_url(f"{base}/conferences/{LIVE_ID}")
            for leg in leg_of.values():
                expect(page.locator(f"tr[data-participant-id='{leg}']")).to_have_attribute(
                    "data-state", "connected")
            shot(page, tmp_path, "ad-hoc-conference")
            dropped = callers[1]
            gone = page.locator(f"tr[data-participant-id='{leg_of[dropped.name]}']")
            mark = dropped.mark()
            gone.locator("button[data-action=drop]").click()
            dropped.wait_terminated(timeout=10, after=mark)
            expect(gone).to_have_count(0)
        finally:
            browser.close()
    wait_states(mcu, AD_HOC, [("connected", "participant")] * 2)
    hang_up(callers[0], callers[2])
    mcu.wait_idle()
