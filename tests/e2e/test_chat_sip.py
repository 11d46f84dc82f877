"""The conference chat and a real SIP phone, end to end (issue 17): a baresip in the
conference sends ``/message`` text (SIP MESSAGE, RFC 3428) that appears in the chat panel
of the conference page in headless Chromium under the phone's name, and the reply typed
on the page reaches the phone as a SIP MESSAGE in its call's dialog."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import TONES
from tests.e2e.test_entry import call, hang_up
from tests.e2e.test_web_control import ARGS, CHROMIUM, log_in, shot
from tests.peers.baresip import BaresipPeer, baresip_available
from tests.system_deps import optional_module, require_browser

pytestmark = pytest.mark.peer
sync_api: Any = optional_module("playwright.sync_api")
ROOM = "5353"


@pytest.fixture(autouse=True)
def browser_installed() -> None:
    require_browser(CHROMIUM)


def test_baresip_messages_the_conference_chat_and_gets_the_reply(start_mcu, tmp_path: Path):
    if not baresip_available():
        pytest.fail("baresip is missing: `make test` installs it (scripts/install-system-deps.sh)")
    mcu = start_mcu()
    store = mcu.mcu.store
    record = mcu.run(store.create_conference("Chat room", ROOM, owner="admin"))
    mcu.run(mcu.mcu.refresh_conferences())
    base = f"http://127.0.0.1:{mcu.mcu.web.port}"
    expect = sync_api.expect
    phone = BaresipPeer(tmp_path, "phone", 0, TONES[0], ["pcmu"],
                        contacts=[f"sip:{ROOM}@{mcu.uri_host}"]).start()
    try:
        call(phone, mcu, ROOM)
        mcu.wait_until(lambda m: [p.state for p in m.participants(ROOM)] == ["connected"])
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = log_in(browser, base, "admin", store.generated_admin_password)
                page.goto(f"{base}/conferences/{record.id}")
                expect(page.locator("section.chat")).to_have_attribute("data-role", "conf_owner")
                # The phone texts: the page shows it, live, under the phone's name.
                phone.message("Hello from the phone <b>")
                last = page.locator("ol.chat-messages li").last
                expect(last.locator(".text")).to_have_text("Hello from the phone <b>",
                                                           timeout=10_000)
                expect(last.locator(".author")).to_have_text("phone")
                expect(last).to_have_attribute("data-author", "")  # no account: a SIP party
                # The page answers: the phone receives it in its dialog, with the name
                # (baresip's UI prints a MESSAGE to its console as `peer: "text"`).
                with phone.console_tap() as console:
                    page.fill("section.chat input[name=text]", "Reply from the page")
                    page.click("section.chat button[data-action=chat-send]")
                    shown = console.wait_for('"admin: Reply from the page"')
                assert re.search(r'sip:\S+: "admin: Reply from the page"', shown), shown
                shot(page, tmp_path, "chat-sip")
            finally:
                browser.close()
        stored = mcu.run(store.list_messages(mcu.run(store.conference_chat(record.id)).id, None))
        assert [(m.author, m.author_name, m.text) for m in stored] == [
            (None, "phone", "Hello from the phone <b>"), ("admin", "admin", "Reply from the page")]
        hang_up(phone)
    finally:
        phone.close()
    mcu.wait_idle()
