"""What the web control sees of running conferences, and what it may ask of them.

The control layer (``mcu/control``) depends on this small surface only, so it can be
tested against a real ``Mcu`` or anything else shaped like it. Every method runs on
the event loop; none blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ParticipantState = Literal["lobby", "waiting", "connected"]
"""``lobby``: keying a PIN; ``waiting``: a guest waiting for the chairperson."""

ParticipantRole = Literal["chair", "guest", "participant"]
"""``participant`` when the conference has a single PIN (or none)."""


@dataclass(frozen=True, slots=True)
class ParticipantView:
    id: str
    display_name: str
    remote: str
    state: ParticipantState
    role: ParticipantRole | None  # None while in the lobby
    muted: bool

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "remote": self.remote,
            "state": self.state,
            "role": self.role,
            "muted": self.muted,
        }


class LiveControl(Protocol):
    def participants(self, numeric_id: str) -> list[ParticipantView]:
        """Everyone in the conference now, lobby callers included ([] when not running)."""

    def admit(self, numeric_id: str, participant_id: str) -> bool:
        """Let a lobby caller in (as ``participant``, or ``guest`` when the conference
        has a guest PIN); False when there is no such caller in the lobby."""

    def drop(self, numeric_id: str, participant_id: str) -> bool:
        """Hang up a participant or lobby caller; False when there is none."""

    def set_muted(self, numeric_id: str, participant_id: str, muted: bool) -> bool:
        """Mute a participant's audio into the conference; False when there is none."""

    async def refresh_conferences(self) -> None:
        """Re-read the configured conferences (PINs, limits) after the store changed."""
