"""Wires the MCU into one uvloop event loop: gateways → entry → conferences → mixers.

The store's conferences (PINs, limits, entry policy) are kept in memory here and
re-read when the web control changes them, so routing an INVITE never waits on SQL.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import uvloop

from gateway.gateway import Gateway, GatewayContext, Notice, UnsupportedUri
from gateway.leg import CallInfo, Leg, Refuse, RefuseCause
from gateway.log import log_event
from gateway.publish import PublishContext, Publisher
from gateway.rtp.ports import PortAllocator
from gateway.tls import TlsIdentity, TlsSettingsError, load_identity
from mcu import cascade, dialplan
from mcu.cdr import CallRecorder
from mcu.chat_bridge import ChatBridge
from mcu.cluster import ClusterNode
from mcu.clustered import ClusteredMcu
from mcu.conference import Conference, EntryServices, RoomPolicy
from mcu.control import WebServer, create_app
from mcu.entry import Admit, ConferenceDirectory, RoomSpec
from mcu.gateways import GATEWAYS, PUBLISHERS, GatewayFactory, PublisherFactory
from mcu.live import (
    DialOutRefused,
    LiveConference,
    ParticipantRole,
    ParticipantView,
    VideoShape,
)
from mcu.lobby import Access, Enter, Locked
from mcu.log import configure_logging
from mcu.metrics import Metrics, OutwardStats
from mcu.mixer.pool import DeadlinePool
from mcu.mixer.video.mixer import thumbnail_jpeg
from mcu.pinguard import GuardSettings, PinGuard
from mcu.publishing import McuStreamSource
from mcu.schedule import active_at
from mcu.settings import Settings
from mcu.store import EncryptionPolicy, Store, open_store
from mcu.store.records import CameraRecord, ConferenceRecord
from mcu.streaming import Streams

log = logging.getLogger("mcu.app")
MEDIA_WORKERS = 2  # the bounded pool for decode/mix/encode: one per core here
SCHEDULE_POLL_S = 1.0  # how often scheduled conferences are checked for their start


@dataclass(slots=True)
class _ConferenceSeat:
    """A seat reserved by ``ConferenceDirectory.route`` for one call being set up."""

    mcu: Mcu
    admitted: Admit[Conference]
    keyed: str = ""  # PIN digits dialled with the number (direct entry)
    role: ParticipantRole | None = None  # straight in as this (a cascade leg), no lobby

    def join(self, leg: Leg) -> None:
        if self.admitted.conference.ended:
            # Came up after its conference ended (a gateway call whose caller left).
            self.mcu.release_seat(self.admitted.numeric_id)
            asyncio.get_running_loop().create_task(leg.hang_up("conference-ended"))
            return
        if self.mcu.requires_encryption(self.admitted.numeric_id) and not leg.encrypted:
            # A dial-out or camera that came up unencrypted: it may not stay.
            log_event(log, "conference.unencrypted_refused", leg=leg.id, remote=leg.remote,
                      conference=self.admitted.numeric_id)
            self.mcu.release_seat(self.admitted.numeric_id)
            asyncio.get_running_loop().create_task(leg.hang_up("encryption required"))
            return
        self.mcu.joined(self.admitted.conference, leg)
        self.admitted.conference.join(leg, keyed=self.keyed, role=self.role)

    def abandon(self) -> None:
        self.mcu.release_seat(self.admitted.numeric_id)


class Mcu(ClusteredMcu):
    def __init__(self, settings: Settings,
                 gateways: tuple[GatewayFactory, ...] = GATEWAYS,
                 publishers: tuple[PublisherFactory, ...] = PUBLISHERS):
        self.settings = settings
        self.executor = ThreadPoolExecutor(MEDIA_WORKERS, thread_name_prefix="media")
        # Decode/scale/encode of every conference's video share this bounded pool.
        self.video_pool = DeadlinePool(settings.video.workers, name="video")
        # Built-in layouts plus video.custom_layouts: what conferences may use.
        self.layout_registry = settings.video.layout_registry()
        self.directory: ConferenceDirectory[Conference] = ConferenceDirectory(
            settings.conferences, self._create_conference, self._room_spec
        )
        # One RTP port range for every protocol: each call's media takes its pairs here.
        self.ports = PortAllocator(settings.rtp.port_min, settings.rtp.port_max)
        context = GatewayContext(self._admit, self.ports, self._notice)
        self.gateways: list[Gateway] = [make(settings, context) for make in gateways]
        self._by_scheme: dict[str, Gateway] = {
            scheme: gateway for gateway in self.gateways for scheme in gateway.schemes}
        self.metrics = Metrics(lambda: self.gateways, self.directory.conferences,
                               lambda: self._outward_stats())
        entry = settings.entry
        self.entry = EntryServices(
            settings=entry,
            guard=PinGuard(GuardSettings(max_failures=entry.lockout_failures,
                                         window_s=entry.lockout_window_s,
                                         lock_s=entry.lockout_s)),
            lookup=self._access_by_id, on_locked=self._locked, on_transfer=self._transfer,
        )
        self.store: Store | None = None
        self.cdr: CallRecorder | None = None
        self.cluster: ClusterNode | None = None  # with cluster.enabled, once started
        self._cascade_secret = b""  # shared by the cluster's nodes (cascade legs)
        self._cascades: dict[str, str] = {}  # conference -> our cascade leg to its holder
        self._cascade_dialled: dict[str, float] = {}
        self._scheduler: asyncio.Task[None] | None = None
        self._active: set[str] = set()  # scheduled conferences inside their window
        self.web: WebServer | None = None
        self._catalogue: dict[str, ConferenceRecord] = {}
        self._gateway_calls: dict[str, str] = {}  # private conference -> its name
        self._closing: set[asyncio.Task[Any]] = set()
        # Stored IP cameras running now: camera id -> (conference numeric id, participant).
        self._cameras: dict[int, tuple[str, str]] = {}
        # The conference out (issue 15): HLS, recordings and publishers, on demand.
        self.streams = Streams(settings.streaming, self.directory.get, self.executor,
                               self._recording_ended)
        source = McuStreamSource(lambda: self.store, self.streams, self._in_progress,
                                 video=settings.video.enabled)
        self.publishers: list[Publisher] = [
            p for make in publishers if (p := make(settings, PublishContext(source, self.ports)))]
        # Conference chats <-> SIP MESSAGE (issue 17).
        self.chat = ChatBridge(settings.chat, self.directory.get, self._catalogue_get,
                               self._background)

    async def start(self) -> None:
        web_identity = self._web_identity()  # a bad certificate stops us before anything runs
        self.store = await open_store(self.settings.database.url)
        self.cdr = CallRecorder(self.store)
        if self.store.generated_admin_password:  # first start: shown once, never logged
            print(f"mcu: created user 'admin' with password {self.store.generated_admin_password}",
                  flush=True)
        await self._close_interrupted_recordings()
        await self.refresh_conferences()
        for gateway in self.gateways:
            await gateway.start()
        for publisher in self.publishers:
            await publisher.start()
        self.web = WebServer()
        cluster = self.settings.cluster
        app = create_app(self.store, self, max_body_bytes=self.settings.http.max_body_bytes,
                         chat=self.settings.chat,
                         csrf_secret=await self.store.shared_secret("csrf"),
                         forward=(cluster.name(), self._holder_url) if cluster.enabled
                         else None)
        self.chat.attach(app.state.control)
        await self.web.start(app, self.settings.http.host, self.settings.http.port,
                             web_identity)
        if cluster.enabled:  # published once the web control's port is known
            await self._join_cluster(web_identity is not None)
        for record in list(self._catalogue.values()):  # scheduled ones: _run_schedules
            if record.start_time is None:
                await self._start_cameras(record)
        self._scheduler = asyncio.get_running_loop().create_task(self._run_schedules())
        log_event(log, "mcu.started", gateways=",".join(g.name for g in self.gateways),
                  schemes=",".join(self.dial_schemes()),
                  rtp_ports=f"{self.settings.rtp.port_min}-{self.settings.rtp.port_max}",
                  ad_hoc=self.settings.conferences.ad_hoc)

    def _web_identity(self) -> TlsIdentity | None:
        """The certificate the web control serves HTTPS with (``http.tls``), else None;
        raises TlsSettingsError naming the setting at fault."""
        return load_identity(self.settings.tls) if self.settings.http.tls else None

    async def stop(self) -> None:
        """Leave the cluster (Kamailio places no more calls here), end every call (each
        gateway's hang-up), then every conference, then the media pool."""
        if self.cluster is not None:
            await self.cluster.stop()
        if self.web is not None:
            await self.web.stop()
        if self._scheduler is not None:
            self._scheduler.cancel()
            await asyncio.gather(self._scheduler, return_exceptions=True)
        await asyncio.gather(*(gateway.stop() for gateway in self.gateways))
        await asyncio.gather(*(publisher.stop() for publisher in self.publishers))
        await self.streams.stop()
        for conference in self.directory.conferences():
            await conference.close("shutdown")
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        self.executor.shutdown(wait=True)
        self.video_pool.shutdown(wait=True)
        if self.cdr is not None:
            await self.cdr.drain()
        if self.store is not None:
            await self.store.close()
        log_event(log, "mcu.stopped")

    def dial_out(self, numeric_id: str, uri: str, display_name: str | None = None,
                 options: Mapping[str, str] | None = None, *,
                 role: ParticipantRole | None = None) -> str:
        """Bring ``uri`` into conference ``numeric_id`` by calling it through the
        gateway that serves its scheme (for the web control and schedules).

        Raises ``DialOutRefused`` when the conference cannot take another participant,
        UnsupportedUri (a ValueError) when no gateway serves the scheme or the URI is
        undiallable, PortsExhausted when no media ports are left.
        """
        scheme, colon, _ = uri.partition(":")
        gateway = self._by_scheme.get(scheme.lower()) if colon else None
        if gateway is None:
            raise UnsupportedUri(f"no gateway dials {scheme.lower() + ':' if colon else uri!r}"
                                 f" URIs (schemes served: {', '.join(self.dial_schemes())})")
        routed = self.directory.route(numeric_id)
        if isinstance(routed, Refuse):
            raise DialOutRefused(routed)
        seat = _ConferenceSeat(self, routed, role=role)
        try:
            return gateway.dial(uri, seat, conference=numeric_id,
                                display_name=display_name or routed.conference.name,
                                options=options)
        except Exception:
            seat.abandon()
            raise

    def gateway(self, name: str) -> Gateway | None:
        """The running gateway of that protocol name (for tests and tools)."""
        return next((g for g in self.gateways if g.name == name), None)

    def dial_schemes(self) -> list[str]:
        return sorted(self._by_scheme)

    def conferences(self) -> list[LiveConference]:
        """Those running here, and in a cluster those other nodes run (as of the last
        heartbeat)."""
        here = [LiveConference(c.numeric_id, c.name, len(c.participants),
                               ad_hoc=self.directory.is_ad_hoc(c.numeric_id))
                for c in self.directory.conferences()]
        elsewhere = self._conferences_elsewhere({c.numeric_id for c in here})
        return sorted(here + elsewhere, key=lambda c: c.numeric_id)

    def release_seat(self, numeric_id: str) -> None:
        if self._gateway_calls.pop(numeric_id, None) is not None:
            # A two-party gateway call ends with either side: hang up the other.
            log_event(log, "gateway_call.ended", conference=numeric_id)
            self.end_conference(numeric_id, "gateway-call-ended")
        emptied = self.directory.release(numeric_id)
        if emptied is not None:  # an ad hoc conference nobody is in any more
            task = asyncio.get_running_loop().create_task(emptied.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # ---- the store's conferences

    async def refresh_conferences(self) -> None:
        assert self.store is not None
        records = await self.store.list_conferences()
        self._catalogue = {record.numeric_id: record for record in records}
        for conference in self.directory.conferences():  # new PINs apply to new entries
            record = self._catalogue.get(conference.numeric_id)
            if record is not None:
                conference.name = record.name
                conference.access, conference.policy = _access(record), _policy(record)

    async def _run_schedules(self) -> None:
        """Dial a scheduled conference's preconfigured participants when it starts."""
        while True:
            now = datetime.now(UTC)
            for record in list(self._catalogue.values()):
                if record.start_time is None:
                    continue
                active = active_at(record, now)
                if active and record.numeric_id not in self._active:
                    self._active.add(record.numeric_id)
                    await self._dial_preconfigured(record)
                elif not active and record.numeric_id in self._active:
                    self._active.discard(record.numeric_id)
                    self._window_closed(record.numeric_id)
            await asyncio.sleep(SCHEDULE_POLL_S)

    def _window_closed(self, numeric_id: str) -> None:
        """A scheduled conference's end time: everyone in it is hung up (its cameras
        too: they start again when the next window opens)."""
        for camera_id, (running_in, _) in list(self._cameras.items()):
            if running_in == numeric_id:
                self.stop_camera(camera_id)
        if self.directory.get(numeric_id) is not None:
            log_event(log, "schedule.ended", conference=numeric_id)
            self.end_conference(numeric_id, "schedule-ended")

    async def _dial_preconfigured(self, record: ConferenceRecord) -> None:
        assert self.store is not None
        if self.cluster is not None and not await self.cluster.claim(record.numeric_id):
            return  # another node runs it and dials them
        for participant in await self.store.list_participants(record.id):
            try:
                self.dial_out(record.numeric_id, participant.address, participant.display_name)
            except Exception as error:  # one bad address must not stop the others
                log_event(log, "schedule.dial_failed", level=logging.WARNING,
                          conference=record.numeric_id, address=participant.address,
                          error=str(error))
        await self._start_cameras(record)
        log_event(log, "schedule.started", conference=record.numeric_id)

    async def _start_cameras(self, record: ConferenceRecord) -> None:
        """Start the conference's stored cameras (it is active now); in a cluster, on
        the node that holds (or now takes) the conference."""
        assert self.store is not None
        if self.cluster is not None and not await self.cluster.claim(record.numeric_id):
            return
        for camera in await self.store.list_cameras(record.id):
            try:
                self.start_camera(record.numeric_id, camera)
            except Exception as error:  # one camera must not stop the others
                log_event(log, "camera.start_failed", level=logging.WARNING,
                          conference=record.numeric_id, camera=camera.id, url=camera.url,
                          error=type(error).__name__)

    # ---- IP cameras (issue 12)

    def start_camera(self, numeric_id: str, camera: CameraRecord) -> str | None:
        """Dial the stored camera into the conference with its credentials (only the
        RTSP gateway sees them: it redacts every URL it shows); None when the
        conference is not active now. Raises as ``dial_out``."""
        running = self._cameras.get(camera.id)
        if running is not None and self.statistics(*running) is not None:
            return running[1]
        if self._closed_to_calls(numeric_id) is not None:
            return None
        pid = self.dial_out(numeric_id, _with_credentials(camera), None,
                            options={"name": camera.name, "transport": camera.transport,
                                     "audio": "true" if camera.audio else "false"})
        self._cameras[camera.id] = (numeric_id, pid)
        log_event(log, "camera.started", conference=numeric_id, camera=camera.id,
                  url=camera.url, participant=pid)
        return pid

    def stop_camera(self, camera_id: int) -> bool:
        """Drop the camera's participant: the gateway sends TEARDOWN."""
        running = self._cameras.pop(camera_id, None)
        if running is None:
            return False
        log_event(log, "camera.stopped", conference=running[0], camera=camera_id)
        return self.drop(*running)

    def registrations(self) -> list[dict[str, object]]:
        return [{"protocol": gateway.name, **registration}
                for gateway in self.gateways for registration in gateway.registrations()]

    def camera_states(self, numeric_id: str | None = None
                      ) -> dict[int, tuple[str, str, str | None]]:
        states: dict[int, tuple[str, str, str | None]] = {}
        for camera_id, (running_in, pid) in self._cameras.items():
            if numeric_id is not None and running_in != numeric_id:
                continue
            stats = self.statistics(running_in, pid)
            camera = stats.get("camera") if stats is not None else None
            if not isinstance(camera, dict):
                states[camera_id] = ("offline", "not running", None)
            else:
                states[camera_id] = (str(camera.get("state", "connecting")),
                                     str(camera.get("reason") or ""), pid)
        return states

    def _room_spec(self, numeric_id: str) -> RoomSpec | None:
        if numeric_id == self.settings.entry.attendant_number:
            return RoomSpec("Auto attendant")
        gateway_call = self._gateway_calls.get(numeric_id)
        if gateway_call is not None:
            return RoomSpec(gateway_call, max_participants=2)
        record = self._catalogue.get(numeric_id)
        return RoomSpec(record.name, record.max_participants) if record else None

    def requires_encryption(self, numeric_id: str) -> bool:
        record = self._catalogue.get(numeric_id)
        return record is not None and record.encryption == EncryptionPolicy.REQUIRED

    def _closed_to_calls(self, numeric_id: str, encrypted: bool = False) -> Refuse | None:
        """A configured conference outside its schedule refuses calls, and one that
        requires encryption refuses every call that is not (SIP over TLS with SRTP)."""
        record = self._catalogue.get(numeric_id)
        if record is None:
            return None
        if record.encryption == EncryptionPolicy.REQUIRED and not encrypted:
            return Refuse(RefuseCause.NEEDS_ENCRYPTION,
                          "conference requires encryption: SIP over TLS with SRTP")
        if not active_at(record, datetime.now(UTC)):
            return Refuse(RefuseCause.CLOSED_NOW, "conference not active now")
        return None

    def _access_by_id(self, numeric_id: str) -> Access | Refuse:
        """The auto attendant's lookup of a keyed conference ID."""
        if numeric_id == self.settings.entry.attendant_number:
            return Refuse(RefuseCause.NOT_FOUND, "that is the attendant")
        # Encryption is checked on transfer, where the caller's leg is known.
        refused = self._closed_to_calls(numeric_id, encrypted=True)
        if refused is not None:
            return refused
        record = self._catalogue.get(numeric_id)
        if record is not None:
            return _access(record)
        if self.directory.exists(numeric_id):
            return Access(numeric_id)
        return Refuse(RefuseCause.NOT_FOUND, "no conference with that number")

    # ---- calls arriving

    def _admit(self, call: CallInfo) -> Refuse | _ConferenceSeat:
        proof = cascade.header_of(call.headers)
        if proof is not None:
            return self._cascade_in(call, proof)
        gateway_route = (dialplan.route(self.settings.dial_plan.rules, call.user)
                         if call.user not in self._catalogue else None)
        if gateway_route is not None:
            return self._gateway_call(call, gateway_route)
        numeric_id, keyed = self._dialled(call.user)
        refused = self._closed_to_calls(numeric_id, call.encrypted)
        if refused is not None:
            return refused
        routed = self.directory.route(numeric_id)
        if isinstance(routed, Refuse):
            return routed
        return _ConferenceSeat(self, routed, keyed)

    def _seat(self, routed: Admit[Conference], *, keyed: str = "",
              role: ParticipantRole | None = None) -> _ConferenceSeat:
        return _ConferenceSeat(self, routed, keyed, role)

    def _gateway_call(self, call: CallInfo, route: dialplan.Route) -> Refuse | _ConferenceSeat:
        """The caller and the dial plan's target as a two-party call (issue 13): a
        private conference of two seats; the target is dialled at once, and the call
        ends when either side leaves (``release_seat``)."""
        numeric_id = dialplan.private_id()
        self._gateway_calls[numeric_id] = route.rule.name or f"Gateway call {call.user}"
        try:  # the target first: it opens the private conference (``_room_spec``)
            leg_id = self.dial_out(numeric_id, route.uri, call.display_name or call.user)
        except Exception as error:  # noqa: BLE001 - a bad rule or no ports: refuse the call
            # dial_out gave back any seat it took (release_seat, which ends the call)
            self._gateway_calls.pop(numeric_id, None)
            log_event(log, "gateway_call.failed", level=logging.WARNING, dialled=call.user,
                      remote=call.remote, uri=route.uri, error=str(error))
            return Refuse(RefuseCause.NOT_FOUND, f"the dial plan's target cannot be called: "
                                                 f"{error}")
        routed = self.directory.route(numeric_id)
        if isinstance(routed, Refuse):  # the MCU filled up meanwhile: the target goes too
            self._gateway_calls.pop(numeric_id, None)
            self.end_conference(numeric_id, "gateway-call-refused")
            return routed
        log_event(log, "gateway_call.started", conference=numeric_id, dialled=call.user,
                  caller=call.remote, protocol=call.protocol, target=route.uri, leg=leg_id)
        return _ConferenceSeat(self, routed)

    def _dialled(self, user: str) -> tuple[str, str]:
        """Request-URI user → (conference ID, PIN keyed with it). The bare host and the
        attendant number reach the attendant; ``ID*PIN`` / ``ID**PIN`` is direct entry."""
        entry = self.settings.entry
        if not user:
            return entry.attendant_number, ""
        if entry.direct_entry and "*" in user:
            numeric_id, _, pin = user.partition("*")
            return numeric_id, pin.lstrip("*")
        return user, ""

    def _transfer(self, attendant: Conference, leg: Leg, enter: Enter) -> None:
        """The attendant's caller chose a conference (and keyed its PIN): move the leg."""
        if self.requires_encryption(enter.access.numeric_id) and not leg.encrypted:
            log_event(log, "attendant.refused", leg=leg.id, remote=leg.remote,
                      conference=enter.access.numeric_id, cause=RefuseCause.NEEDS_ENCRYPTION)
            attendant.say_goodbye(leg.id, "refused")
            return
        routed = self.directory.route(enter.access.numeric_id)
        if isinstance(routed, Refuse):
            log_event(log, "attendant.refused", leg=leg.id, remote=leg.remote,
                      conference=enter.access.numeric_id, cause=routed.cause)
            attendant.say_goodbye(leg.id, "conference-full" if routed.cause == RefuseCause.BUSY
                                  else "refused")
            return
        attendant.leave(leg.id, "transferred")
        log_event(log, "attendant.transfer", leg=leg.id, conference=routed.numeric_id,
                  role=enter.role)
        self.joined(routed.conference, leg)
        routed.conference.join(leg, role=enter.role)

    def joined(self, conference: Conference, leg: Leg) -> None:
        if self.cdr is not None:
            self.cdr.started(conference.numeric_id, leg)
        if self.cluster is not None:
            self.cluster.wake()  # take (or renew) its lease now with the new count
            if (not self.cluster.holds(conference.numeric_id)
                    and leg.id != self._cascades.get(conference.numeric_id)):
                self._background(self._cascade_out(conference.numeric_id))

    def _catalogue_get(self, numeric_id: str) -> ConferenceRecord | None:
        return self._catalogue.get(numeric_id)

    def _left(self, conference: Conference, leg: Leg, reason: str) -> None:
        if self.cdr is not None:
            self.cdr.ended(leg.id, reason)
        self.release_seat(conference.numeric_id)
        if self.cluster is not None:
            self._cascade_left(conference, leg)
            self.cluster.wake()  # the new count, or the lease goes now

    def _locked(self, locked: Locked, remote: str) -> None:
        lock = locked.lock
        self.metrics.pin_lockout(lock.scope)
        if self.store is not None:
            self._background(self.store.audit(
                None, "pin_lockout", f"{lock.scope} {lock.key}",
                f"locked for {self.settings.entry.lockout_s:.0f} s after wrong PINs "
                f"(last from {remote})"))

    def _background(self, work: Coroutine[object, object, object]) -> None:
        """Run ``work`` (an audit write) off the caller's path; stop() waits for it. A
        failure (the database busy under load) is logged, never left unretrieved."""
        task = asyncio.get_running_loop().create_task(work)
        self._closing.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[object]) -> None:
        self._closing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log_event(log, "mcu.background_failed", level=logging.WARNING,
                      error=str(task.exception()).splitlines()[0])

    def _notice(self, notice: Notice) -> None:
        """A gateway's notice for operators (an address blocked, or served again): one
        log line, one audit row and, when an episode starts, one count."""
        log_event(log, "gateway.notice", level=logging.INFO if notice.ended else logging.WARNING,
                  protocol=notice.protocol, what=notice.what, address=notice.address,
                  detail=notice.detail, ended=notice.ended)
        if not notice.ended:
            self.metrics.block(notice.protocol, notice.what)
        if self.store is not None:
            operation = "unblocked" if notice.ended else "blocked"
            self._background(self.store.audit(
                None, operation, f"{notice.protocol} {notice.address}",
                f"{notice.what}: {notice.detail}"))

    def _create_conference(self, numeric_id: str, name: str) -> Conference:
        log_event(log, "conference.created", conference=numeric_id, name=name)
        record = self._catalogue.get(numeric_id)
        return Conference(
            numeric_id, name, self.settings.mixer, self.executor,
            on_leave=self._left,
            access=_access(record) if record else None,
            policy=_policy(record) if record else None,
            entry=self.entry,
            attendant=numeric_id == self.settings.entry.attendant_number,
            video=self.settings.video,
            video_pool=self.video_pool,
            layouts=self.layout_registry,
            on_text=self.chat.from_endpoint,
            on_keypad=self._keypad,
            relay=numeric_id in self._gateway_calls,
        )

    def _keypad(self, conference: Conference, leg: Leg, action: str) -> None:
        if action == "toggle_recording":
            self._background(self._toggle_recording(conference.numeric_id, leg))

    async def _toggle_recording(self, numeric_id: str, leg: Leg) -> None:
        """A chairperson's keypad starts a recording, or stops the running ones; audited
        as the API's are, with the participant in place of a user."""
        record = self._catalogue.get(numeric_id)
        if record is None or self.store is None:
            return  # a conference without configuration keeps no recordings
        who = f"from the keypad of {leg.display_name} ({leg.remote})"
        target = f"conference:{record.id}"
        running = self.streams.recordings_of(numeric_id)
        for recording_id in running:
            await self.streams.stop_recording(recording_id)
            await self.store.audit(None, "control_recording", target,
                                   f"stopped recording:{recording_id} {who}")
        if running:
            return
        recording = await self.store.create_recording(record.id, None)
        if not self.start_recording(numeric_id, recording.id, recording.file_name):
            await self.store.delete_recording(recording.id)
            return
        await self.store.audit(None, "control_recording", target,
                               f"started recording:{recording.id} {who}")

    # ---- what the web control asks (mcu.live.LiveControl)

    def statistics(self, numeric_id: str, participant_id: str) -> dict[str, object] | None:
        conference = self.directory.get(numeric_id)
        if conference is None or participant_id not in conference.participants:
            return None
        return conference.participants[participant_id].leg.statistics()

    def set_panes(self, numeric_id: str, participant_id: str,
                  panes: list[str | None] | None) -> bool:
        conference = self.directory.get(numeric_id)
        return conference is not None and conference.set_panes(participant_id, panes)

    def set_video_format(self, numeric_id: str, participant_id: str, shape: VideoShape) -> bool:
        conference = self.directory.get(numeric_id)
        return conference is not None and conference.set_video_format(participant_id, shape)

    def layouts(self) -> list[str]:
        return self.layout_registry.available_layouts()

    def participants(self, numeric_id: str) -> list[ParticipantView]:
        """Everyone here, and in a cluster those other nodes run in it (``NODE~ID``)."""
        conference = self.directory.get(numeric_id)
        views = conference.views() if conference else []
        return views + self._remote_participants(numeric_id)

    async def thumbnail(self, numeric_id: str, participant_id: str, view: bool = False
                        ) -> bytes | None:
        conference = self.directory.get(numeric_id)
        video = conference.video if conference else None
        if video is None:
            return None
        frame = (video.latest_view if view else video.latest_picture)(participant_id)
        if frame is None:
            return None
        loop = asyncio.get_running_loop()  # JPEG encoding is pixel work: off the loop
        return await loop.run_in_executor(self.video_pool, thumbnail_jpeg, frame)

    def _outward_stats(self) -> OutwardStats:
        return OutwardStats(self.streams.running, self.streams.recordings_running,
                            {p.name: p.statistics().get("viewers", 0) for p in self.publishers})

    def _in_progress(self, numeric_id: str) -> bool:
        conference = self.directory.get(numeric_id)
        return conference is not None and not conference.ended

    def publisher(self, name: str) -> Publisher | None:
        return next((p for p in self.publishers if p.name == name), None)

    async def stream_playlist(self, numeric_id: str) -> Path | None:
        return await self.streams.playlist(numeric_id)

    async def stream_segment(self, numeric_id: str, name: str) -> bytes | None:
        return await self.streams.segment(numeric_id, name)

    def start_recording(self, numeric_id: str, recording_id: int, file_name: str) -> bool:
        return self.streams.start_recording(numeric_id, recording_id, file_name) is not None

    async def stop_recording(self, recording_id: int) -> bool:
        return await self.streams.stop_recording(recording_id)

    def recording_size(self, recording_id: int) -> int | None:
        writer = self.streams.recording(recording_id)
        return None if writer is None else writer.size

    def recording_path(self, file_name: str) -> Path:
        return self.streams.recording_path(file_name)

    async def _recording_ended(self, recording_id: int, reason: str, size: int) -> None:
        """Every end of a recording lands in the store; one nobody asked for (the
        conference ended, the disk filled, the MCU stopped) is audited here."""
        assert self.store is not None
        await self.store.finish_recording(recording_id, reason, size)
        if reason != "stopped":
            await self.store.audit(None, "control_recording", f"recording:{recording_id}",
                                   f"stopped by itself: {reason}")

    async def _close_interrupted_recordings(self) -> None:
        """Recordings a killed MCU left running: their files hold what was written."""
        assert self.store is not None
        for recording in await self.store.interrupted_recordings():
            path = self.recording_path(recording.file_name)
            size = path.stat().st_size if path.is_file() else 0
            await self.store.finish_recording(recording.id, "the MCU stopped while recording",
                                              size, state="interrupted")

    def admit(self, numeric_id: str, participant_id: str) -> bool:
        remote = self._on_node(numeric_id, participant_id, "admit")
        if remote is not None:
            return remote
        conference = self.directory.get(numeric_id)
        return conference is not None and conference.admit_from_lobby(participant_id)

    def drop(self, numeric_id: str, participant_id: str) -> bool:
        remote = self._on_node(numeric_id, participant_id, "drop")
        if remote is not None:
            return remote
        conference = self.directory.get(numeric_id)
        return conference is not None and conference.drop(participant_id)

    def set_muted(self, numeric_id: str, participant_id: str, muted: bool) -> bool:
        remote = self._on_node(numeric_id, participant_id, "set_muted", muted)
        if remote is not None:
            return remote
        conference = self.directory.get(numeric_id)
        return conference is not None and conference.set_muted(participant_id, muted)

    def set_important(self, numeric_id: str, participant_id: str, important: bool) -> bool:
        remote = self._on_node(numeric_id, participant_id, "set_important", important)
        if remote is not None:
            return remote
        conference = self.directory.get(numeric_id)
        return conference is not None and conference.set_important(participant_id, important)

    def set_layout(self, numeric_id: str, participant_id: str, layout: str | None) -> bool:
        remote = self._on_node(numeric_id, participant_id, "set_layout", layout)
        if remote is not None:
            return remote
        conference = self.directory.get(numeric_id)
        return conference is not None and conference.set_layout(participant_id, layout)

    def send_message(self, numeric_id: str, participant_id: str | None, text: str) -> bool:
        remote = (None if participant_id is None
                  else self._on_node(numeric_id, participant_id, "send_message", text))
        if remote is not None:
            return remote
        conference = self.directory.get(numeric_id)
        return conference is not None and conference.send_message(participant_id, text)

    def end_conference(self, numeric_id: str, reason: str = "ended-by-operator") -> bool:
        conference = self.directory.get(numeric_id)
        if conference is None:
            return False
        task = asyncio.get_running_loop().create_task(conference.close(reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return True

    def metrics_text(self) -> bytes:
        return self.metrics.render()

    def count_http_refused(self, reason: str) -> None:
        self.metrics.http_refused.labels(reason=reason).inc()


def _with_credentials(camera: CameraRecord) -> str:
    """The stored URL (never with credentials) with the camera's username and password
    put back, for the RTSP gateway's dial only."""
    if camera.username is None:
        return camera.url
    parts = urlsplit(camera.url)
    userinfo = quote(camera.username, safe="")
    if camera.password is not None:
        userinfo += ":" + quote(camera.password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, ""))


def _access(record: ConferenceRecord) -> Access:
    return Access(record.numeric_id, record.pin or None, record.guest_pin or None)


def _policy(record: ConferenceRecord) -> RoomPolicy:
    return RoomPolicy(
        end_when_chair_leaves=record.end_when_chair_leaves,
        guests_send_audio=record.guests_send_audio,
        guests_send_video=record.guests_send_video,
        participant_layout_control=record.participant_layout_control,
        layout=record.layout,
    )


async def run_until_signalled(settings: Settings) -> None:
    mcu = Mcu(settings)
    await mcu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await mcu.stop()


def serve(settings: Settings) -> int:
    configure_logging(settings.log.level)
    try:
        uvloop.run(run_until_signalled(settings))
    except OSError as error:  # e.g. the SIP port is taken: say so, no traceback
        log_event(log, "mcu.failed", level=logging.ERROR, error=str(error))
        return 1
    except TlsSettingsError as error:  # a certificate or key the settings name
        print(f"mcu: invalid settings: {error}", file=sys.stderr)
        return 2
    return 0
