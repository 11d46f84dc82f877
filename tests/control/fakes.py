"""A small in-memory LiveControl: conferences of participants, lobby included."""

from __future__ import annotations

from dataclasses import replace

from mcu.live import ParticipantView


class FakeLive:
    def __init__(self) -> None:
        self.rooms: dict[str, list[ParticipantView]] = {}
        self.refreshes = 0
        self.calls: list[tuple[str, ...]] = []

    def add(
        self,
        numeric_id: str,
        pid: str,
        name: str,
        state: str = "connected",
        role: str | None = "participant",
        muted: bool = False,
    ) -> ParticipantView:
        view = ParticipantView(
            pid, name, f"sip:{pid}@192.0.2.1", state, None if state == "lobby" else role, muted
        )  # type: ignore[arg-type]
        self.rooms.setdefault(numeric_id, []).append(view)
        return view

    def _find(self, numeric_id: str, pid: str) -> int | None:
        for i, p in enumerate(self.rooms.get(numeric_id, [])):
            if p.id == pid:
                return i
        return None

    def participants(self, numeric_id: str) -> list[ParticipantView]:
        return list(self.rooms.get(numeric_id, []))

    def admit(self, numeric_id: str, participant_id: str) -> bool:
        self.calls.append(("admit", numeric_id, participant_id))
        i = self._find(numeric_id, participant_id)
        if i is None or self.rooms[numeric_id][i].state != "lobby":
            return False
        room = self.rooms[numeric_id]
        room[i] = replace(room[i], state="connected", role="participant")
        return True

    def drop(self, numeric_id: str, participant_id: str) -> bool:
        self.calls.append(("drop", numeric_id, participant_id))
        i = self._find(numeric_id, participant_id)
        if i is None:
            return False
        del self.rooms[numeric_id][i]
        return True

    def set_muted(self, numeric_id: str, participant_id: str, muted: bool) -> bool:
        self.calls.append(("mute", numeric_id, participant_id, str(muted)))
        i = self._find(numeric_id, participant_id)
        if i is None:
            return False
        room = self.rooms[numeric_id]
        room[i] = replace(room[i], muted=muted)
        return True

    async def refresh_conferences(self) -> None:
        self.refreshes += 1
