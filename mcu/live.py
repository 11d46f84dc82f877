"""What the web control sees of running conferences, and what it may ask of them.

The control layer (``mcu/control``) depends on this small surface only, so it can be
tested against a real ``Mcu`` or anything else shaped like it. Every method runs on
the event loop; none blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal, Protocol

from gateway.leg import Refuse
from mcu.store.records import CameraRecord

ParticipantState = Literal["lobby", "waiting", "connected"]
"""``lobby``: keying a PIN; ``waiting``: a guest waiting for the chairperson."""

ParticipantRole = Literal["chair", "guest", "participant"]
"""``participant`` when the conference has a single PIN (or none)."""

VideoShape = Literal["widescreen", "standard"]
"""The picture sent to a participant: 16:9, or 4:3 (seed 003's "widescreen or standard
format video"), inside what its SDP says it can receive."""


@dataclass(frozen=True, slots=True)
class ParticipantView:
    id: str
    display_name: str
    remote: str
    state: ParticipantState
    role: ParticipantRole | None  # None while in the lobby
    muted: bool
    speaking: bool = False  # among the mixed speakers right now
    important: bool = False  # takes the large cell in video layouts
    layout: str | None = None  # the participant's own layout, None: the conference's
    message: str | None = None  # text shown over this participant's picture
    video_format: VideoShape = "widescreen"  # the shape of the picture sent to them
    protocol: str = ""  # the gateway that carries the call ("sip", "rtsp", "h323", ...)
    encrypted: bool = False  # signalling and media encrypted (SIP over TLS with SRTP)
    node: str | None = None  # the cluster node it is on, when another (a cascade's far side)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "remote": self.remote,
            "state": self.state,
            "role": self.role,
            "muted": self.muted,
            "speaking": self.speaking,
            "important": self.important,
            "layout": self.layout,
            "message": self.message,
            "video_format": self.video_format,
            "protocol": self.protocol,
            "kind": self.kind,
            "encrypted": self.encrypted,
            "node": self.node,
        }

    @classmethod
    def on_node(cls, node: str, shown: Mapping[str, object], participant_id: str
                ) -> ParticipantView:
        """A participant another node published (``as_json``), under ``participant_id``."""
        names = {f.name for f in fields(cls)} - {"id", "node"}
        return cls(id=participant_id, node=node,
                   **{name: shown[name] for name in names if name in shown})  # type: ignore[arg-type]

    @property
    def kind(self) -> str:
        """``camera`` for an IP camera pulled over RTSP, ``call`` for everyone else."""
        return "camera" if self.protocol == "rtsp" else "call"


@dataclass(frozen=True, slots=True)
class LiveConference:
    """A conference running now, whether the store knows it or not (ad hoc)."""

    numeric_id: str
    name: str
    participants: int  # callers in it now, lobby included
    ad_hoc: bool  # opened by a call to an unknown number, not configured anywhere
    node: str | None = None  # the cluster node running it, when that is another one


class DialOutRefused(Exception):
    """The conference cannot take the participant being dialled (full, not active)."""

    def __init__(self, refuse: Refuse):
        super().__init__(refuse.reason)
        self.refuse = refuse


@dataclass(frozen=True)
class ClusterMember:
    """This MCU as a cluster node: its name, and how long a silent node or lease lasts."""

    node_id: str
    lease_s: float


class LiveControl(Protocol):
    def conferences(self) -> list[LiveConference]:
        """Every conference running now: configured ones with calls in them, settings
        conferences, and ad hoc ones nobody scheduled (sorted by numeric ID)."""

    def dial_schemes(self) -> list[str]:
        """The URI schemes some running gateway can dial ("sip", ...), sorted."""

    def participants(self, numeric_id: str) -> list[ParticipantView]:
        """Everyone in the conference now, lobby callers included ([] when not running)."""

    def admit(self, numeric_id: str, participant_id: str) -> bool:
        """Let a lobby caller in (as ``participant``, or ``guest`` when the conference
        has a guest PIN); False when there is no such caller in the lobby."""

    def drop(self, numeric_id: str, participant_id: str) -> bool:
        """Hang up a participant or lobby caller; False when there is none."""

    def set_muted(self, numeric_id: str, participant_id: str, muted: bool) -> bool:
        """Mute a participant's audio into the conference; False when there is none."""

    def set_important(self, numeric_id: str, participant_id: str, important: bool) -> bool:
        """Make (or unmake) the conference's one important participant."""

    def layouts(self) -> list[str]:
        """The layout names conferences and participants may use (built-ins first, then
        the custom layouts of the settings)."""

    def set_layout(self, numeric_id: str, participant_id: str, layout: str | None) -> bool:
        """The participant's own layout (a name from ``layouts()``, or None for the
        conference's). Raises ValueError for an unknown layout name."""

    def statistics(self, numeric_id: str, participant_id: str) -> dict[str, object] | None:
        """The participant's media streams as the MCU sees them (codecs, packets, loss,
        jitter, key frames: both directions), or None when there is no such participant."""

    def set_panes(self, numeric_id: str, participant_id: str,
                  panes: list[str | None] | None) -> bool:
        """The participant's custom layout: which participant (by id) goes in which
        cell of its layout; None entries (or None) keep the usual order."""

    def set_video_format(self, numeric_id: str, participant_id: str, shape: VideoShape) -> bool:
        """Send the participant widescreen (16:9) or standard (4:3) video."""

    def send_message(self, numeric_id: str, participant_id: str | None, text: str) -> bool:
        """Show ``text`` over one participant's picture, or everyone's (None)."""

    def dial_out(self, numeric_id: str, uri: str, display_name: str | None = None,
                 options: Mapping[str, str] | None = None) -> str:
        """Call ``uri`` into the conference through the gateway serving its scheme;
        returns the new participant's id. Raises ``DialOutRefused`` (conference
        full/inactive), ValueError (no gateway for the scheme, or an undiallable URI:
        ``gateway.gateway.UnsupportedUri``), ``gateway.rtp.ports.PortsExhausted``."""

    def start_camera(self, numeric_id: str, camera: CameraRecord) -> str | None:
        """Pull the stored camera into the conference (dialled with its credentials,
        which go nowhere else); its participant id, or None when the conference is not
        active now (it starts when its window opens). Raises as ``dial_out``."""

    def stop_camera(self, camera_id: int) -> bool:
        """Drop the camera's participant (TEARDOWN); False when it was not running."""

    def registrations(self) -> list[dict[str, object]]:
        """Every gateway's registrations (``Gateway.registrations``), with ``protocol``."""

    def cluster_member(self) -> ClusterMember | None:
        """This node's name and lease time when it is part of a cluster (issue 18)."""

    def camera_states(self, numeric_id: str | None = None
                      ) -> dict[int, tuple[str, str, str | None]]:
        """Camera id -> (state, reason, participant id) of every camera started (in
        conference ``numeric_id`` only, when given); one whose participant is gone is
        ``("offline", "not running", None)``."""

    def end_conference(self, numeric_id: str) -> bool:
        """Hang up everyone in a running conference; False when it is not running."""

    async def thumbnail(self, numeric_id: str, participant_id: str, view: bool = False
                        ) -> bytes | None:
        """A small JPEG of the participant's newest camera picture, or (``view``) of the
        picture the MCU sends them; None when there is none (no video yet)."""

    async def stream_playlist(self, numeric_id: str) -> Path | None:
        """The conference's HLS playlist, its stream started if need be (issue 15);
        None when the conference is not running."""

    async def stream_segment(self, numeric_id: str, name: str) -> bytes | None:
        """A segment of a running stream (None when gone); keeps it running."""

    def start_recording(self, numeric_id: str, recording_id: int, file_name: str) -> bool:
        """Start recording the running conference into ``file_name`` under the recording
        folder (issue 15); False when it is not running. When the recording ends, for
        whatever reason, the MCU marks it stopped in the store."""

    async def stop_recording(self, recording_id: int) -> bool:
        """Stop a running recording (closed, marked stopped); False when none runs."""

    def recording_size(self, recording_id: int) -> int | None:
        """Bytes written so far by a running recording; None when it is not running."""

    def recording_path(self, file_name: str) -> Path:
        """Where a recording's file lives."""

    async def refresh_conferences(self) -> None:
        """Re-read the configured conferences (PINs, limits) after the store changed."""

    def count_http_refused(self, reason: str) -> None:
        """Count an HTTP request refused before it was read (``mcu_http_refused_total``;
        reason ``body_too_large``)."""

    def metrics_text(self) -> bytes:
        """The MCU's metrics in Prometheus' text format (``mcu.metrics.CONTENT_TYPE``),
        read from live state now (calls, participants, ports, mixers, lockouts)."""
