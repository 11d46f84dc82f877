"""Entry: which conference a dialled number reaches, and whether there is room.

Pure decisions, no I/O: the SIP side asks ``route(user)`` when an INVITE arrives and
turns a ``Refuse`` into its own answer (SIP: the matching final response). Conferences come from the
settings file (static: they stay open once opened), from the store or the auto
attendant (``configured``, asked synchronously: the MCU keeps the store's conferences
in memory), and unknown IDs create ad hoc conferences when ``conferences.ad_hoc`` is
on. Rooms that are not static close when their last participant leaves.

Seats are reserved at routing time (a call being set up counts), so the limits hold
even while many INVITEs arrive at once; ``release`` gives a seat back when the call
never joins or when it leaves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.leg import Refuse, RefuseCause
from mcu.settings import ConferenceSettings

NUMERIC_ID = re.compile(r"^[0-9]{1,32}$")
RETRY_AFTER_SECONDS = 30

C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Admit(Generic[C]):
    conference: C
    numeric_id: str


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """A conference the MCU knows of without settings: its name and seat limit."""

    name: str
    max_participants: int | None = None


@dataclass(slots=True)
class _Room(Generic[C]):
    conference: C
    limit: int
    ad_hoc: bool
    seats: int = 0


class ConferenceDirectory(Generic[C]):
    """Numeric ID → conference, with per-conference and global seat limits."""

    def __init__(
        self,
        settings: ConferenceSettings,
        create: Callable[[str, str], C],
        configured: Callable[[str], RoomSpec | None] = lambda numeric_id: None,
    ):
        self._settings = settings
        self._create = create
        self._configured = configured
        self._rooms: dict[str, _Room[C]] = {}
        self._static = {s.numeric_id: s for s in settings.static}
        self.total_seats = 0

    def route(self, user: str) -> Admit[C] | Refuse:
        if not NUMERIC_ID.match(user):
            return Refuse(RefuseCause.NOT_FOUND, "no conference with that number")
        if self.total_seats >= self._settings.max_total_participants:
            return Refuse(RefuseCause.FULL, "MCU full", retry_after=RETRY_AFTER_SECONDS)
        room = self._rooms.get(user) or self._open(user)
        if room is None:
            return Refuse(RefuseCause.NOT_FOUND, "no conference with that number")
        if room.seats >= room.limit:
            return Refuse(RefuseCause.BUSY, "conference full")
        room.seats += 1
        self.total_seats += 1
        return Admit(room.conference, user)

    def release(self, numeric_id: str) -> C | None:
        """Give a seat back; returns the conference when an ad hoc one is now empty and closed."""
        room = self._rooms.get(numeric_id)
        if room is None or room.seats == 0:
            return None
        room.seats -= 1
        self.total_seats -= 1
        if room.seats == 0 and room.ad_hoc:
            del self._rooms[numeric_id]
            return room.conference
        return None

    def get(self, numeric_id: str) -> C | None:
        room = self._rooms.get(numeric_id)
        return room.conference if room else None

    def conferences(self) -> list[C]:
        return [room.conference for room in self._rooms.values()]

    def is_ad_hoc(self, numeric_id: str) -> bool:
        """Whether a running conference was opened by a call to a number nobody
        configured (neither the settings nor the store nor the attendant)."""
        room = self._rooms.get(numeric_id)
        return room is not None and room.ad_hoc and self._configured(numeric_id) is None

    def exists(self, numeric_id: str) -> bool:
        """Whether ``route`` would find or open this conference (seats aside)."""
        if not NUMERIC_ID.match(numeric_id):
            return False
        return (numeric_id in self._rooms or numeric_id in self._static
                or self._configured(numeric_id) is not None or self._settings.ad_hoc)

    def _open(self, numeric_id: str) -> _Room[C] | None:
        static = self._static.get(numeric_id)
        spec = RoomSpec(static.name, static.max_participants) if static else None
        spec = spec or self._configured(numeric_id)
        if spec is None and not self._settings.ad_hoc:
            return None
        name = (spec.name if spec else "") or f"Conference {numeric_id}"
        limit = (spec.max_participants if spec else None) or self._settings.max_participants
        room = _Room(self._create(numeric_id, name), limit, ad_hoc=static is None)
        self._rooms[numeric_id] = room
        return room
