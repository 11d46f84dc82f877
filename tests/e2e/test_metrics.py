"""GET /metrics over HTTP while a real baresip caller is in a conference, and after it
hangs up: what Prometheus would scrape, parsed by prometheus_client's own parser."""

from __future__ import annotations

import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import TONES, RunningMcu
from tests.e2e.test_entry import call, hang_up

pytestmark = pytest.mark.peer
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(mcu: RunningMcu) -> tuple[str, Samples]:
    url = f"http://127.0.0.1:{mcu.mcu.web.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:  # no session: as Prometheus does
        assert answer.status == 200
        content_type = answer.headers["Content-Type"]
        text = answer.read().decode()
    return content_type, {(s.name, tuple(sorted(s.labels.items()))): s.value
                          for family in text_string_to_metric_families(text)
                          for s in family.samples}


def wait_scrape(mcu: RunningMcu, expected: Samples, timeout: float = 10.0) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        _, got = scrape(mcu)
        if all(got.get(key) == value for key, value in expected.items()):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{ {k: got.get(k) for k in expected} } != {expected}")
        time.sleep(0.1)


SIP = (("protocol", "sip"),)
CONNECTED = (("protocol", "sip"), ("state", "connected"))
AUDIO = (("kind", "audio"),)


def test_metrics_show_a_real_call_then_return_to_zero(start_mcu, peers):
    mcu = start_mcu()
    content_type, idle = scrape(mcu)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert idle[("mcu_calls", SIP)] == 0 and idle[("mcu_participants", CONNECTED)] == 0

    caller = peers("caller", TONES[0], ["pcmu"])
    call(caller, mcu, "1000")
    during = wait_scrape(mcu, {("mcu_calls", SIP): 1, ("mcu_participants", CONNECTED): 1,
                               ("mcu_rtp_ports_in_use", SIP): 2, ("mcu_conferences", ()): 1})
    time.sleep(0.5)
    _, later = scrape(mcu)
    assert later[("mcu_mixer_ticks_total", AUDIO)] > during[("mcu_mixer_ticks_total", AUDIO)]
    assert later[("mcu_encoders", AUDIO)] >= 1  # the caller hears the conference's pcmu
    assert ("mcu_mixer_tick_overruns_total", AUDIO) in later
    assert later[("mcu_pin_lockouts_total", (("scope", "source"),))] == 0

    hang_up(caller)
    mcu.wait_idle()
    after = wait_scrape(mcu, {("mcu_calls", SIP): 0, ("mcu_participants", CONNECTED): 0,
                              ("mcu_rtp_ports_in_use", SIP): 0, ("mcu_conferences", ()): 0,
                              ("mcu_encoders", AUDIO): 0})
    # The ended conference's ticks still count: a counter never goes down.
    assert after[("mcu_mixer_ticks_total", AUDIO)] >= later[("mcu_mixer_ticks_total", AUDIO)]
