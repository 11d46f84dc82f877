"""The MCU behind a PBX (issue 20), with Kamailio as registrar and proxy
(tests/peers/kamailio.py: realm example.test, digest users in a text database):

- The MCU registers conference 7000's address of record with digest auth (401, then
  200); a baresip registered there dials ``sip:7000@example.test`` through Kamailio and
  lands in the conference, where it hears a direct caller and is heard (FFT).
- The MCU dials a baresip by its address of record through Kamailio as its outbound
  proxy (a preloaded Route, loose routing; the BYE goes the same way), answering the
  proxy's 407 challenge to its INVITE with the credentials of its settings.
- A registrar that refuses (403) or never answers leaves the registration ``failed``
  with the reason, retried with backoff, never in a hot loop; nothing blocks calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import TONES, RunningMcu
from tests.e2e.test_audio_conference import assert_hears_others_not_self, hang_up_all
from tests.peers.baresip import BaresipPeer, baresip_available, free_udp_port
from tests.peers.kamailio import Kamailio, kamailio

pytestmark = pytest.mark.peer
USERS = {"7000": "conf-pw", "alice": "alice-pw", "mcu": "mcu-pw"}
TALK_SECONDS = 3.0


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Kamailio]:
    if not baresip_available():
        pytest.fail("baresip is missing: `make test` installs it (scripts/install-system-deps.sh)")
    with kamailio(tmp_path, users=USERS) as running:
        yield running


def registration(proxy: Kamailio, **extra: object) -> dict[str, object]:
    return {"registrar": proxy.uri, "aor": proxy.aor("7000"), "username": "7000",
            "password": USERS["7000"], "expires": 60, **extra}


def wait_state(mcu: RunningMcu, state: str, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        [binding] = mcu.inspect(lambda m: m.gateway("sip").registrations())
        if binding["state"] == state:
            return binding
        assert time.monotonic() < deadline, f"registration never {state}: {binding}"
        time.sleep(0.1)


def test_registered_mcu_is_reached_by_its_aor_through_the_proxy(
        start_mcu, proxy: Kamailio, tmp_path: Path) -> None:
    mcu = start_mcu(sip={"registrations": [registration(proxy)]})
    wait_state(mcu, "registered")
    [contact] = proxy.wait_registered("7000")
    assert f":{mcu.settings.sip.port}" in contact
    alice = BaresipPeer(tmp_path, "alice", 0, TONES[0], ["pcmu"], registrar=proxy)
    direct = BaresipPeer(tmp_path, "direct", 0, TONES[1], ["pcmu"])
    for peer in (alice, direct):
        peer.start()
    try:
        alice.wait_registered()
        alice.dial(proxy.aor("7000"))
        alice.wait_established(timeout=15)
        direct.dial(f"sip:7000@{mcu.uri_host}")
        direct.wait_established(timeout=15)
        mcu.wait_until(lambda m: len(m.participants("7000")) == 2, timeout=15)
        time.sleep(TALK_SECONDS)
        hang_up_all([alice, direct])
        assert_hears_others_not_self([alice, direct], TONES[:2])
    finally:
        for peer in (alice, direct):
            peer.close()
    stats = mcu.inspect(lambda m: m.gateway("sip").statistics())
    assert stats["registrations_registered"] == 1
    page, metrics = status_and_metrics(mcu)
    assert 'data-aor="sip:7000@example.test" data-state="registered"' in page
    assert USERS["7000"] not in page
    assert 'mcu_registrations{protocol="sip",state="registered"} 1.0' in metrics
    mcu.wait_idle()


def status_and_metrics(mcu: RunningMcu) -> tuple[str, str]:
    """The status page (as admin, through the login form) and /metrics."""
    import httpx

    password = mcu.mcu.store.generated_admin_password
    with httpx.Client(base_url=f"http://127.0.0.1:{mcu.mcu.web.port}", timeout=10) as web:
        form = web.get("/login")
        csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        web.post("/login", data={"csrf_token": csrf, "username": "admin",
                                 "password": password})
        page = web.get("/status")
        assert page.status_code == 200, page.text
        return page.text, web.get("/metrics").text


def test_the_mcu_dials_an_aor_through_its_outbound_proxy(start_mcu, tmp_path: Path) -> None:
    """Kamailio challenges every INVITE from the MCU's address (407, as a PBX does a
    trunk): the MCU answers with its credentials and the call goes through."""
    with kamailio(tmp_path, users=USERS, challenged=["127.0.0.1"]) as proxy:
        _dial_an_aor_through(proxy, start_mcu, tmp_path)
        log = proxy.log_text()
    assert "407: INVITE" in log, log[-3000:]


def _dial_an_aor_through(proxy: Kamailio, start_mcu, tmp_path: Path) -> None:
    mcu = start_mcu(sip={"outbound_proxy": proxy.uri,
                         "credentials": {"username": "mcu", "password": USERS["mcu"]}})
    alice = BaresipPeer(tmp_path, "alice", 0, TONES[0], ["pcmu"], registrar=proxy)
    caller = BaresipPeer(tmp_path, "caller", 0, TONES[1], ["pcmu"])
    for peer in (alice, caller):
        peer.start()
    try:
        alice.wait_registered()
        caller.dial(f"sip:7100@{mcu.uri_host}")
        caller.wait_established(timeout=15)
        mcu.inspect(lambda m: m.dial_out("7100", proxy.aor("alice")))
        alice.wait_established(timeout=15)  # baresip answers automatically
        mcu.wait_until(lambda m: len(m.participants("7100")) == 2, timeout=15)
        time.sleep(TALK_SECONDS)
        hang_up_all([alice, caller])
        assert_hears_others_not_self([alice, caller], TONES[:2])
    finally:
        for peer in (alice, caller):
            peer.close()
    # The challenged INVITE's client transaction keeps absorbing retransmitted 407s
    # for Timer D (32 s over UDP, RFC 3261 17.1.1.2) after the call is over.
    mcu.wait_idle(timeout=40)


def test_a_refusing_or_silent_registrar_is_failed_and_retried_slowly(
        start_mcu, proxy: Kamailio, tmp_path: Path) -> None:
    wrong = registration(proxy, password="not-it")
    silent = {"registrar": f"sip:127.0.0.1:{free_udp_port()}", "aor": "sip:7001@example.test",
              "expires": 60}
    mcu = start_mcu(sip={"registrations": [wrong, silent]})
    deadline = time.monotonic() + 20
    while True:
        states = {b["aor"]: b for b in mcu.inspect(lambda m: m.gateway("sip").registrations())}
        if all(b["state"] == "failed" for b in states.values()) and len(states) == 2:
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.2)
    assert "credentials refused" in str(states["sip:7000@example.test"]["reason"])
    assert "no answer" in str(states["sip:7001@example.test"]["reason"])
    # Backoff: over 4 more seconds, a handful of REGISTERs at most, not a flood.
    before = proxy.log_text().count("REGISTER")
    time.sleep(4)
    assert proxy.log_text().count("REGISTER") - before <= 8
    assert "not-it" not in str(states)
    mcu.wait_idle()
