"""The conferences routes address: configured ones (a store record) and live-only ones.

A conference the MCU runs without a store record — ad hoc (a call to a number nobody
configured) or from the settings file — has no owner, no roles, no PINs and no
configuration. It is addressed as ``live-<numeric_id>`` (``LIVE_PREFIX``): store ids are
plain integers, so the two never collide. Its `ConferenceTarget` has no owner, so the one
`authorize` gives everyone the control their privilege grants over a conference owned
by someone else (seed 003), and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcu.control.access import Control, conference_target, load_conference, not_found
from mcu.live import LiveConference
from mcu.permissions import ConferenceTarget
from mcu.store import ConferenceRecord

LIVE_PREFIX = "live-"
LIVE_TARGET = ConferenceTarget(owner=None)


@dataclass(frozen=True)
class Room:
    """A conference as a route sees it; `record` is None for a live-only conference."""

    id: int | str
    numeric_id: str
    name: str
    target: ConferenceTarget
    record: ConferenceRecord | None = None
    ad_hoc: bool = False

    @property
    def ref(self) -> str:
        """How audit rows name it."""
        return f"conference:{self.id}"

    def participant_ref(self, participant_id: str) -> str:
        return f"{self.ref} participant:{participant_id}"


def live_id(numeric_id: str) -> str:
    return f"{LIVE_PREFIX}{numeric_id}"


def configured_room(record: ConferenceRecord, target: ConferenceTarget) -> Room:
    return Room(record.id, record.numeric_id, record.name, target, record)


def live_room(conference: LiveConference) -> Room:
    return Room(live_id(conference.numeric_id), conference.numeric_id, conference.name,
                LIVE_TARGET, None, conference.ad_hoc)


async def live_only(ctl: Control) -> list[LiveConference]:
    """The running conferences the store does not know (sorted by numeric ID)."""
    known = {record.numeric_id for record in await ctl.store.list_conferences()}
    return [c for c in ctl.live.conferences() if c.numeric_id not in known]


async def load_room(ctl: Control, raw_id: str) -> Room:
    """The conference `raw_id` names (a store id, or ``live-<numeric_id>``), else 404."""
    if not raw_id.startswith(LIVE_PREFIX):
        record, target = await load_conference(ctl, raw_id)
        return configured_room(record, target)
    numeric_id = raw_id.removeprefix(LIVE_PREFIX)
    running = next((c for c in ctl.live.conferences() if c.numeric_id == numeric_id), None)
    # A configured conference is addressed by its store id only: one name per conference.
    if running is None or await ctl.store.get_conference_by_numeric_id(numeric_id) is not None:
        raise not_found("conference")
    return live_room(running)


async def room_of(ctl: Control, record: ConferenceRecord) -> Room:
    roles = await ctl.store.list_roles(conference_id=record.id)
    return configured_room(record, conference_target(record, roles))


__all__ = ["LIVE_PREFIX", "LIVE_TARGET", "Room", "live_id", "live_only", "load_room"]
