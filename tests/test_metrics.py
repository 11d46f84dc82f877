"""mcu.metrics with fakes: what a scrape reads from gateways and conferences, labels,
zeros for the idle, mixer counters that never go down, one registry per MCU."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from mcu.conference import Conference
from mcu.metrics import CONTENT_TYPE, Metrics, MixerCounts
from mcu.settings import MixerSettings
from tests.test_conference_video import GREEN, RED, VIDEO, CallerLeg, eventually, looks


@dataclass
class FakeGateway:
    name: str
    calls: int = 0
    ports: int = 0

    def statistics(self) -> dict[str, int]:
        return {"calls": self.calls, "rtp_ports_in_use": self.ports}


@dataclass
class FakeLeg:
    protocol: str


@dataclass
class FakeParticipant:
    leg: FakeLeg
    state: str = "connected"


@dataclass
class FakeConference:
    participants: dict[str, FakeParticipant] = field(default_factory=dict)
    counts: dict[str, MixerCounts] = field(default_factory=dict)

    def mixer_counts(self) -> dict[str, MixerCounts]:
        return self.counts


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a rendered scrape, parsed back as Prometheus would."""
    text = metrics.render().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_scrape_reads_calls_ports_participants_and_mixers_by_label() -> None:
    sip, h323 = FakeGateway("sip", calls=2, ports=4), FakeGateway("h323", calls=1, ports=2)
    room = FakeConference(
        {"a": FakeParticipant(FakeLeg("sip")), "b": FakeParticipant(FakeLeg("sip"), "lobby"),
         "c": FakeParticipant(FakeLeg("h323"))},
        {"audio": MixerCounts(ticks=50, overruns=2, late=1, errors=0, encoders=3),
         "video": MixerCounts(ticks=25, overruns=5, late=0, errors=1, encoders=2)})
    other = FakeConference({}, {"audio": MixerCounts(ticks=10, overruns=1, encoders=1)})
    metrics = Metrics(lambda: [sip, h323], lambda: [room, other])
    got = samples(metrics)
    assert got[("mcu_calls", (("protocol", "sip"),))] == 2
    assert got[("mcu_calls", (("protocol", "h323"),))] == 1
    assert got[("mcu_rtp_ports_in_use", (("protocol", "sip"),))] == 4
    assert got[("mcu_participants", (("protocol", "sip"), ("state", "connected")))] == 1
    assert got[("mcu_participants", (("protocol", "sip"), ("state", "lobby")))] == 1
    assert got[("mcu_participants", (("protocol", "h323"), ("state", "connected")))] == 1
    assert got[("mcu_participants", (("protocol", "h323"), ("state", "waiting")))] == 0
    assert got[("mcu_conferences", ())] == 2
    assert got[("mcu_mixer_ticks_total", (("kind", "audio"),))] == 60
    assert got[("mcu_mixer_tick_overruns_total", (("kind", "audio"),))] == 3
    assert got[("mcu_mixer_tick_overruns_total", (("kind", "video"),))] == 5
    assert got[("mcu_mixer_late_ticks_total", (("kind", "audio"),))] == 1
    assert got[("mcu_mixer_tick_errors_total", (("kind", "video"),))] == 1
    assert got[("mcu_encoders", (("kind", "audio"),))] == 4
    assert got[("mcu_encoders", (("kind", "video"),))] == 2
    assert metrics.value("mcu_calls", protocol="sip") == 2


def test_every_family_has_help_and_the_mcu_prefix() -> None:
    metrics = Metrics(lambda: [FakeGateway("sip")], lambda: [])
    families = list(text_string_to_metric_families(metrics.render().decode()))
    names = {f.name for f in families}
    assert {"mcu_calls", "mcu_rtp_ports_in_use", "mcu_participants", "mcu_conferences",
            "mcu_mixer_ticks", "mcu_mixer_tick_overruns", "mcu_mixer_late_ticks",
            "mcu_mixer_tick_errors", "mcu_encoders", "mcu_pin_lockouts"} <= names
    for family in families:
        assert family.name.startswith("mcu_") and family.documentation, family.name
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_idle_mcu_exports_zeros_not_missing_series() -> None:
    got = samples(Metrics(lambda: [FakeGateway("sip")], lambda: []))
    assert got[("mcu_calls", (("protocol", "sip"),))] == 0
    assert got[("mcu_rtp_ports_in_use", (("protocol", "sip"),))] == 0
    for state in ("lobby", "waiting", "connected"):
        assert got[("mcu_participants", (("protocol", "sip"), ("state", state)))] == 0
    for kind in ("audio", "video"):
        assert got[("mcu_mixer_tick_overruns_total", (("kind", kind),))] == 0
        assert got[("mcu_encoders", (("kind", kind),))] == 0
    for scope in ("source", "conference"):
        assert got[("mcu_pin_lockouts_total", (("scope", scope),))] == 0


def test_mixer_counters_keep_an_ended_conference_and_never_go_down() -> None:
    running = [FakeConference({}, {"audio": MixerCounts(ticks=100, overruns=4, encoders=2)})]
    metrics = Metrics(lambda: [], lambda: running)
    assert metrics.value("mcu_mixer_tick_overruns_total", kind="audio") == 4
    running[0] = FakeConference({}, {"audio": MixerCounts(ticks=3, overruns=1, encoders=1)})
    assert metrics.value("mcu_mixer_tick_overruns_total", kind="audio") == 5
    assert metrics.value("mcu_mixer_ticks_total", kind="audio") == 103
    running.clear()
    assert metrics.value("mcu_mixer_tick_overruns_total", kind="audio") == 5
    assert metrics.value("mcu_encoders", kind="audio") == 0  # a gauge: nothing runs now
    assert metrics.value("mcu_conferences") == 0


def test_pin_lockouts_count_by_scope_in_each_mcus_own_registry() -> None:
    one, two = Metrics(), Metrics()  # two MCUs in one process: no clash, no sharing
    one.pin_lockout("source")
    one.pin_lockout("source")
    two.pin_lockout("conference")
    assert one.value("mcu_pin_lockouts_total", scope="source") == 2
    assert one.value("mcu_pin_lockouts_total", scope="conference") == 0
    assert two.value("mcu_pin_lockouts_total", scope="source") == 0
    assert two.value("mcu_pin_lockouts_total", scope="conference") == 1
    assert b'mcu_pin_lockouts_total{scope="source"} 2.0' in one.render()


async def test_a_real_conference_reports_its_clocks_and_encoders() -> None:
    with ThreadPoolExecutor(2) as pool:
        room = Conference("9", "room", MixerSettings(), pool, video=VIDEO, video_pool=pool)
        red, green = CallerLeg("r", RED), CallerLeg("g", GREEN)
        room.join(red)
        room.join(green)
        assert await eventually(lambda: looks(red, GREEN) and looks(green, RED))
        await asyncio.sleep(0.1)
        metrics = Metrics(lambda: [], lambda: [room])
        assert metrics.value("mcu_mixer_ticks_total", kind="audio") > 0
        assert metrics.value("mcu_mixer_ticks_total", kind="video") > 0
        assert metrics.value("mcu_encoders", kind="video") == 2  # each sees the other
        assert metrics.value("mcu_encoders", kind="audio") >= 1
        counts = room.mixer_counts()
        assert set(counts) == {"audio", "video"} and counts["video"].errors == 0
        await room.close()
