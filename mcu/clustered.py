"""The MCU's side of the cluster (issue 18), mixed into ``Mcu``: joining the cluster,
what it publishes, where a conference's web control lives, and cascades.

A conference running here that another node holds joins the holder's by one SIP call
(``_cascade_out``; the holder seats it without PIN or lobby, ``_cascade_in``). Our own
participants in it are published each heartbeat (``_cascaded_views``), so the holder's
web control lists them as ``NODE~ID`` and acts on them: ``_on_node`` sends the operation
by PostgreSQL NOTIFY, ``_remote_command`` carries it out here. ``mcu/cascade.py`` holds
the pure parts (the header's HMAC, ids, commands); ``mcu/cluster.py`` the heartbeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.leg import CallInfo, Leg, Refuse, RefuseCause, Seat
from gateway.log import log_event
from mcu import cascade
from mcu.cluster import ClusterNode
from mcu.live import ClusterMember, LiveConference, ParticipantView

if TYPE_CHECKING:
    from collections.abc import Coroutine, Mapping

    from mcu.conference import Conference
    from mcu.control import WebServer
    from mcu.entry import Admit, ConferenceDirectory
    from mcu.live import ParticipantRole
    from mcu.settings import Settings
    from mcu.store import Store
    from mcu.store.records import ConferenceRecord

log = logging.getLogger("mcu.app")
CASCADE_SETUP_S = 30.0  # a cascade leg not in its conference by then never came up


class ClusteredMcu:
    """Cluster behaviour of ``Mcu`` (which provides everything declared below)."""

    cluster: ClusterNode | None
    _cascade_secret: bytes
    _cascades: dict[str, str]  # conference -> our cascade leg to its holder ("": dialling)
    _cascade_dialled: dict[str, float]  # conference -> when its cascade leg was dialled

    if TYPE_CHECKING:
        settings: Settings
        store: Store | None
        web: WebServer | None
        directory: ConferenceDirectory[Conference]
        _catalogue: dict[str, ConferenceRecord]
        _gateway_calls: dict[str, str]

        async def refresh_conferences(self) -> None: ...
        def _background(self, work: Coroutine[object, object, object]) -> None: ...
        def _closed_to_calls(self, numeric_id: str, encrypted: bool = False
                             ) -> Refuse | None: ...
        def _dialled(self, user: str) -> tuple[str, str]: ...
        def _seat(self, routed: Admit[Conference], *, role: ParticipantRole | None = None
                  ) -> Seat: ...
        def dial_out(self, numeric_id: str, uri: str, display_name: str | None = None,
                     options: Mapping[str, str] | None = None, *,
                     role: ParticipantRole | None = None) -> str: ...
        def end_conference(self, numeric_id: str, reason: str = ...) -> bool: ...
        def admit(self, numeric_id: str, participant_id: str) -> bool: ...
        def drop(self, numeric_id: str, participant_id: str) -> bool: ...
        def set_muted(self, numeric_id: str, participant_id: str, muted: bool) -> bool: ...
        def set_important(self, numeric_id: str, participant_id: str,
                          important: bool) -> bool: ...
        def set_layout(self, numeric_id: str, participant_id: str,
                       layout: str | None) -> bool: ...
        def send_message(self, numeric_id: str, participant_id: str | None,
                         text: str) -> bool: ...

    async def _join_cluster(self, https: bool) -> None:
        assert self.store is not None and self.web is not None
        self._cascade_secret = await self.store.shared_secret("cascade")
        settings = self.settings
        address = settings.cluster.address(settings.sip.host)
        self.cluster = ClusterNode(
            settings.cluster, self.store,
            sip_uri=f"sip:{address}:{settings.sip.port}",
            http_url=f"{'https' if https else 'http'}://{address}:{self.web.port}",
            running=self._leased_conferences, video_streams=self._video_streams,
            cascaded=self._cascaded_views, on_command=self._remote_command,
            on_beat=self._after_beat)
        await self.cluster.start()

    async def _after_beat(self) -> None:
        """Each heartbeat: the shared configuration again (another node's web control
        may have changed it), and the cascades kept up."""
        await self.refresh_conferences()
        self._keep_cascades(time.monotonic())

    def _keep_cascades(self, now: float) -> None:
        """A cascade dial that never came up, or a conference gone, is forgotten; a
        conference running here that another node holds and that has no cascade leg
        (its dial failed, the holder dropped it) is joined to the holder again."""
        for numeric_id, leg in list(self._cascades.items()):
            conference = self.directory.get(numeric_id)
            stale = (leg and conference is not None and leg not in conference.participants
                     and now - self._cascade_dialled.get(numeric_id, now) > CASCADE_SETUP_S)
            if conference is None or stale:
                self._cascades.pop(numeric_id, None)
                self._cascade_dialled.pop(numeric_id, None)
                if stale:
                    log_event(log, "cluster.cascade_lost", level=logging.WARNING,
                              conference=numeric_id, leg=leg)
        assert self.cluster is not None
        held_elsewhere = {lease.numeric_id for lease in self.cluster.elsewhere}
        for numeric_id in self._leased_conferences():
            if numeric_id in held_elsewhere and numeric_id not in self._cascades:
                self._background(self._cascade_out(numeric_id))

    def _leased_conferences(self) -> dict[str, int]:
        """Conferences with people in them here, by number: what this node holds
        leases for (the attendant and private gateway calls are never placed)."""
        return {c.numeric_id: len(c.participants) for c in self.directory.conferences()
                if c.participants and c.numeric_id not in self._gateway_calls
                and c.numeric_id != self.settings.entry.attendant_number}

    def _video_streams(self) -> int:
        return sum(c.video.streams for c in self.directory.conferences()
                   if c.video is not None)

    async def _holder_url(self, conference: str) -> str | None:
        """The web control of the other node running this conference (a store id, or
        ``live-N`` for one without configuration)."""
        if self.cluster is None:
            return None
        numeric_id = conference.removeprefix("live-") if conference.startswith("live-") else (
            next((r.numeric_id for r in self._catalogue.values() if str(r.id) == conference),
                 None))
        return None if numeric_id is None else await self.cluster.holder_url(numeric_id)

    def cluster_member(self) -> ClusterMember | None:
        cluster = self.settings.cluster
        return ClusterMember(cluster.name(), cluster.lease_s) if cluster.enabled else None

    def _conferences_elsewhere(self, here: set[str]) -> list[LiveConference]:
        """Conferences other nodes run (as of the last heartbeat), not running here."""
        if self.cluster is None:
            return []
        return [LiveConference(lease.numeric_id, self._name_of(lease.numeric_id),
                               lease.participants,
                               ad_hoc=lease.numeric_id not in self._catalogue,
                               node=lease.node_id)
                for lease in self.cluster.elsewhere if lease.numeric_id not in here]

    def _remote_participants(self, numeric_id: str) -> list[ParticipantView]:
        """Those other nodes run in a conference we hold (``NODE~ID``)."""
        remote = self.cluster.remote_views.get(numeric_id, {}) if self.cluster else {}
        return [ParticipantView.on_node(node, shown, cascade.remote_id(node, str(shown.get("id"))))
                for node, listed in remote.items() for shown in listed]

    def _name_of(self, numeric_id: str) -> str:
        record = self._catalogue.get(numeric_id)
        return record.name if record is not None else f"Conference {numeric_id}"

    def _cascade_in(self, call: CallInfo, proof: str) -> Refuse | Seat:
        """Another node joining one of our conferences: straight in, no PIN or lobby,
        when its header proves it is one of the cluster's."""
        numeric_id, _ = self._dialled(call.user)
        node = (cascade.verified_node(self._cascade_secret, numeric_id, proof)
                if self._cascade_secret else None)
        if node is None:
            log_event(log, "cluster.cascade_refused", level=logging.WARNING,
                      conference=numeric_id, remote=call.remote)
            return Refuse(RefuseCause.BAD_REQUEST, "cascade from no node of this cluster")
        refused = self._closed_to_calls(numeric_id, call.encrypted)
        routed = refused or self.directory.route(numeric_id)
        if isinstance(routed, Refuse):
            return routed
        log_event(log, "cluster.cascade_in", conference=numeric_id, node=node,
                  remote=call.remote)
        return self._seat(routed, role="participant")

    async def _cascade_out(self, numeric_id: str) -> None:
        """A conference running here that another live node holds: join it there by
        one cascade leg (once)."""
        if self.cluster is None or self.store is None or numeric_id in self._cascades:
            return
        self._cascades[numeric_id] = ""  # dialling: no second one meanwhile
        holder = await self.cluster.holder(numeric_id)
        if holder is None or self.directory.get(numeric_id) is None:
            self._cascades.pop(numeric_id, None)
            return
        me = self.cluster.node_id
        uri = f"sip:{numeric_id}@{holder.sip_uri.removeprefix('sip:')}"
        try:
            leg = self.dial_out(numeric_id, uri, f"Cascade from {me}", options={
                f"header:{cascade.HEADER}": cascade.header_value(
                    self._cascade_secret, numeric_id, me)}, role="participant")
        except Exception as error:  # noqa: BLE001 - full, no ports: callers stay local
            self._cascades.pop(numeric_id, None)
            log_event(log, "cluster.cascade_failed", level=logging.WARNING,
                      conference=numeric_id, holder=holder.node_id, error=str(error))
            return
        self._cascades[numeric_id] = leg
        self._cascade_dialled[numeric_id] = time.monotonic()
        log_event(log, "cluster.cascade_out", conference=numeric_id, holder=holder.node_id,
                  leg=leg)

    def _cascade_left(self, conference: Conference, leg: Leg) -> None:
        """Our cascade leg gone: forget it. Our last own participant gone: the cascade
        leg goes too (the conference lives on at its holder)."""
        cascade_leg = self._cascades.get(conference.numeric_id)
        if cascade_leg is None:
            return
        if leg.id == cascade_leg:
            self._cascades.pop(conference.numeric_id, None)
            self._cascade_dialled.pop(conference.numeric_id, None)
        elif cascade_leg and set(conference.participants) <= {cascade_leg}:
            self.end_conference(conference.numeric_id, "cascade-ended")

    def _cascaded_views(self) -> dict[str, list[object]]:
        """Our own participants in each conference we cascade to another node, for its
        web control (the cascade leg itself left out)."""
        shown: dict[str, list[object]] = {}
        for numeric_id, leg in self._cascades.items():
            conference = self.directory.get(numeric_id)
            if leg and conference is not None:
                shown[numeric_id] = [view.as_json() for view in conference.views()
                                     if view.id != leg]
        return shown

    def _on_node(self, numeric_id: str, participant_id: str, action: str,
                 value: object = None) -> bool | None:
        """An operation on a participant another node runs (``NODE~ID``): sent to that
        node (True), or False when no such participant is known; None: one of ours."""
        remote = cascade.split_remote(participant_id)
        if remote is None:
            return None
        node, local = remote
        known = self.cluster.remote_views.get(numeric_id, {}).get(node, []) if self.cluster \
            else []
        if self.cluster is None or not any(view.get("id") == local for view in known):
            return False
        self._background(self.cluster.send(node, cascade.Command(numeric_id, local, action,
                                                                 value)))
        log_event(log, "cluster.remote_operation", conference=numeric_id, node=node,
                  participant=local, action=action)
        return True

    def _remote_command(self, payload: str) -> None:
        """The holder's web control acting on one of our cascaded participants."""
        command = cascade.decode(payload)
        if (command is None or command.conference not in self._cascades
                or cascade.split_remote(command.participant) is not None):
            log_event(log, "cluster.command_refused", level=logging.WARNING,
                      payload=payload[:200])
            return
        c, p, value = command.conference, command.participant, command.value
        run: dict[str, Callable[[], bool]] = {
            "admit": lambda: self.admit(c, p),
            "drop": lambda: self.drop(c, p),
            "set_muted": lambda: self.set_muted(c, p, bool(value)),
            "set_important": lambda: self.set_important(c, p, bool(value)),
            "set_layout": lambda: self.set_layout(c, p, value if isinstance(value, str)
                                                  else None),
            "send_message": lambda: self.send_message(c, p, str(value or "")),
        }
        done = run[command.action]()
        log_event(log, "cluster.remote_command", conference=c, participant=p,
                  action=command.action, done=done)
