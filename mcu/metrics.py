"""What the MCU says about itself to Prometheus (``GET /metrics`` on the web control).

Each ``Mcu`` has its own ``CollectorRegistry`` (never prometheus_client's global one:
tests run several MCUs in one process). Events counted as they happen (PIN lockouts)
are ordinary ``Counter``s; everything else is read from live state at scrape time by
``McuCollector``: calls, RTP ports and participants by protocol, running conferences,
the mixers' tick overruns and the encoders running. Nothing is computed between
scrapes, so an MCU nobody scrapes pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    exposition,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# What ``generate_latest`` writes for our (plain ASCII) names is the classic 0.0.4 text
# format; prometheus-client >= 0.22 calls its CONTENT_TYPE_LATEST 1.0.0, so name 0.0.4.
CONTENT_TYPE: str = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", CONTENT_TYPE_LATEST)
MIXER_KINDS = ("audio", "video")
PARTICIPANT_STATES = ("lobby", "waiting", "connected")
LOCKOUT_SCOPES = ("source", "conference")
GAUGES = frozenset({"calls", "rtp_ports_in_use"})  # the rest of statistics() counts events
REGISTRATION_KEY = "registrations_"  # statistics() gauges of registrations, by state


@dataclass(frozen=True, slots=True)
class MixerCounts:
    """One mixer of one conference (its clock's counters and its encoders now)."""

    ticks: int = 0  # ticks mixed and delivered
    overruns: int = 0  # deadlines skipped because the previous tick still ran
    late: int = 0  # deadlines skipped because the event loop woke a whole period late
    errors: int = 0  # ticks that raised
    encoders: int = 0  # encoders running now (a gauge)
    relayed: int = 0  # frames a gateway call passed through untranscoded


_COUNTERS = (  # MixerCounts field, metric name, help
    ("ticks", "mcu_mixer_ticks", "Mixer ticks mixed and delivered, by mixer kind."),
    ("overruns", "mcu_mixer_tick_overruns",
     "Mixer deadlines missed because the previous tick was still running (the tick is "
     "dropped), by mixer kind."),
    ("late", "mcu_mixer_late_ticks",
     "Mixer deadlines skipped because the event loop woke a whole period late, by mixer kind."),
    ("errors", "mcu_mixer_tick_errors", "Mixer ticks that failed with an error, by mixer kind."),
    ("relayed", "mcu_mixer_relayed_frames",
     "Frames (audio) and pictures (video) a two-party gateway call passed from one party "
     "to the other as they came, neither decoded nor encoded (their codecs match), by "
     "mixer kind."),
)


class GatewayStats(Protocol):
    name: str

    def statistics(self) -> Mapping[str, int]: ...


class _LegStats(Protocol):
    @property
    def protocol(self) -> str: ...


class _ParticipantStats(Protocol):
    @property
    def leg(self) -> _LegStats: ...

    @property
    def state(self) -> str: ...


class ConferenceStats(Protocol):
    @property
    def participants(self) -> Mapping[str, _ParticipantStats]: ...

    def mixer_counts(self) -> Mapping[str, MixerCounts]:
        """By mixer kind ("audio", "video"); a kind the conference lacks is absent."""
        ...


class McuCollector(Collector):
    """Reads the running MCU at scrape time (on the event loop, like everything else
    that touches conferences).

    Mixer counters are summed over conferences; a conference that has ended keeps
    counting through what it had done at the last scrape that saw it, so the sums
    never go down while the MCU runs (ticks between that scrape and its end are lost).
    """

    def __init__(self, gateways: Callable[[], Iterable[GatewayStats]],
                 conferences: Callable[[], Iterable[ConferenceStats]],
                 outward: Callable[[], OutwardStats] | None = None) -> None:
        self._gateways = gateways
        self._conferences = conferences
        self._outward = outward
        # id -> (the conference, held so its id is not reused, its last counts)
        self._seen: dict[int, tuple[ConferenceStats, Mapping[str, MixerCounts]]] = {}
        self._retired: dict[tuple[str, str], int] = {}  # (kind, field) -> total

    def collect(self) -> Iterator[Metric]:
        calls = GaugeMetricFamily("mcu_calls", "Calls up or being set up, by protocol.",
                                  labels=["protocol"])
        ports = GaugeMetricFamily("mcu_rtp_ports_in_use",
                                  "RTP and RTCP ports held for media, by protocol.",
                                  labels=["protocol"])
        events = CounterMetricFamily(
            "mcu_gateway_events", "Events a gateway counts (blocked or dropped requests, "
            "refused or closed connections), by protocol and event.",
            labels=["protocol", "event"])
        registrations = GaugeMetricFamily(
            "mcu_registrations", "Registrations kept with registrars (SIP REGISTER), by "
            "protocol and state (registered, registering, failed).",
            labels=["protocol", "state"])
        protocols: list[str] = []
        for gateway in self._gateways():
            stats = gateway.statistics()
            protocols.append(gateway.name)
            calls.add_metric([gateway.name], stats.get("calls", 0))
            ports.add_metric([gateway.name], stats.get("rtp_ports_in_use", 0))
            for event, count in sorted(stats.items()):
                if event.startswith(REGISTRATION_KEY):
                    registrations.add_metric(
                        [gateway.name, event.removeprefix(REGISTRATION_KEY)], count)
                elif event not in GAUGES:
                    events.add_metric([gateway.name, event], count)
        yield calls
        yield ports
        yield events
        yield registrations

        conferences = list(self._conferences())
        people: dict[tuple[str, str], int] = {
            (protocol, state): 0 for protocol in protocols for state in PARTICIPANT_STATES}
        for conference in conferences:
            for participant in list(conference.participants.values()):
                key = (participant.leg.protocol, participant.state)
                people[key] = people.get(key, 0) + 1
        participants = GaugeMetricFamily(
            "mcu_participants",
            "Participants in conferences now, by protocol and state (lobby: keying a PIN; "
            "waiting: a guest waiting for the chairperson).",
            labels=["protocol", "state"])
        for (protocol, state), count in sorted(people.items()):
            participants.add_metric([protocol, state], count)
        yield participants
        yield GaugeMetricFamily("mcu_conferences", "Conferences running now.",
                                value=len(conferences))
        yield from self._mixers(conferences)
        if self._outward is not None:
            yield from _out_families(self._outward())

    def _mixers(self, conferences: list[ConferenceStats]) -> Iterator[Metric]:
        now = {id(conference): (conference, conference.mixer_counts())
               for conference in conferences}
        for key, (_, counts) in self._seen.items():
            if key not in now:  # ended since the last scrape: keep what it did
                for kind, mixer in counts.items():
                    for field, _, _ in _COUNTERS:
                        self._retired[(kind, field)] = (self._retired.get((kind, field), 0)
                                                        + getattr(mixer, field))
        self._seen = now
        for field, name, help_text in _COUNTERS:
            family = CounterMetricFamily(name, help_text, labels=["kind"])
            for kind in MIXER_KINDS:
                total = self._retired.get((kind, field), 0) + sum(
                    getattr(counts[kind], field) for _, counts in now.values() if kind in counts)
                family.add_metric([kind], total)
            yield family
        encoders = GaugeMetricFamily(
            "mcu_encoders",
            "Encoders running now, by mixer kind (audio: shared per codec and each "
            "listener's own; video: one per distinct picture sent).",
            labels=["kind"])
        for kind in MIXER_KINDS:
            encoders.add_metric([kind], sum(counts[kind].encoders
                                            for _, counts in now.values() if kind in counts))
        yield encoders


@dataclass(frozen=True, slots=True)
class OutwardStats:
    """The conference out (issue 15) as a scrape sees it."""

    streams: int  # conferences encoded for watchers now (one encoder each)
    recordings: int  # recordings running now
    viewers: Mapping[str, int]  # publisher name -> viewers playing


def _out_families(stats: OutwardStats) -> Iterator[Metric]:
    yield GaugeMetricFamily("mcu_streams", "Conferences encoded for watchers now (HLS, "
                            "publishers, recordings share one encoder each).",
                            value=stats.streams)
    yield GaugeMetricFamily("mcu_recordings", "Recordings being written now.",
                            value=stats.recordings)
    viewers = GaugeMetricFamily("mcu_stream_viewers", "Viewers playing a conference, by "
                                "publisher protocol.", labels=["protocol"])
    for protocol, count in sorted(stats.viewers.items()):
        viewers.add_metric([protocol], count)
    yield viewers


class Metrics:
    """One MCU's registry: its event counters and, given what to read, its live state."""

    def __init__(self, gateways: Callable[[], Iterable[GatewayStats]] | None = None,
                 conferences: Callable[[], Iterable[ConferenceStats]] | None = None,
                 outward: Callable[[], OutwardStats] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.pin_lockouts = Counter(
            "mcu_pin_lockouts", "Lockouts imposed after wrong PINs, by scope (source: one "
            "caller address; conference: one numeric ID).",
            labelnames=["scope"], registry=self.registry)
        for scope in LOCKOUT_SCOPES:
            self.pin_lockouts.labels(scope=scope)  # exported as 0 before the first
        self.blocks = Counter(
            "mcu_blocks", "Episodes of a source address blocked by an admission limit "
            "(one per episode, not per request), by protocol and limit.",
            labelnames=["protocol", "what"], registry=self.registry)
        self.http_refused = Counter(
            "mcu_http_refused", "HTTP requests refused before they were read, by reason "
            "(body_too_large: 413).", labelnames=["reason"], registry=self.registry)
        self.http_refused.labels(reason="body_too_large")
        if gateways is not None or conferences is not None:
            self.registry.register(McuCollector(gateways or tuple, conferences or tuple,
                                                outward))

    def pin_lockout(self, scope: str) -> None:
        self.pin_lockouts.labels(scope=scope).inc()

    def block(self, protocol: str, what: str) -> None:
        self.blocks.labels(protocol=protocol, what=what).inc()

    def value(self, name: str, **labels: str) -> float:
        """One sample as a scrape would see it (0 when absent), e.g.
        ``value("mcu_pin_lockouts_total", scope="source")``."""
        sample = self.registry.get_sample_value(name, labels)
        return 0.0 if sample is None else sample

    def render(self) -> bytes:
        """The Prometheus text exposition format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)
