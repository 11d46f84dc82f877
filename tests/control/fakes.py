"""A small in-memory LiveControl: conferences of participants, lobby included.

A conference "runs" while it has a room here (`add` makes one); a room whose numeric ID
is in `ad_hoc` is reported by `conferences()` as opened by a call to a number nobody
configured. `dial_error`, when set, is what the next `dial_out` raises, as the real MCU
would; `schemes` are the URI schemes its "gateways" dial.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from layouts.registry import available_layouts
from mcu.live import ClusterMember, LiveConference, ParticipantView
from mcu.store import CameraRecord, Store


class FakeLive:
    def __init__(self) -> None:
        self.rooms: dict[str, list[ParticipantView]] = {}
        self.refreshes = 0
        self.calls: list[tuple[str, ...]] = []
        self.messages: dict[str, str | None] = {}  # a room's message to everyone
        self.dial_error: Exception | None = None
        self._dialled = 0
        self.ad_hoc: set[str] = set()
        self.schemes: list[str] = ["sip"]
        self.cameras: dict[int, tuple[str, str]] = {}  # camera id -> (numeric id, pid)
        self.camera_dials: list[CameraRecord] = []  # what start_camera was given
        self.recordings: dict[int, str] = {}  # running recording id -> file name
        self.recording_folder = Path(tempfile.mkdtemp(prefix="fake-recordings-"))
        self.store: Store | None = None  # given, ended recordings are marked there

    def conferences(self) -> list[LiveConference]:
        return [
            LiveConference(n, f"Conference {n}", len(room), n in self.ad_hoc)
            for n, room in sorted(self.rooms.items())
        ]

    def dial_schemes(self) -> list[str]:
        return sorted(self.schemes)

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

    def set_important(self, numeric_id: str, participant_id: str, important: bool) -> bool:
        self.calls.append(("important", numeric_id, participant_id, str(important)))
        i = self._find(numeric_id, participant_id)
        if i is None:
            return False
        room = self.rooms[numeric_id]
        for j, p in enumerate(room):  # one important participant per conference
            if important and j != i and p.important:
                room[j] = replace(p, important=False)
        room[i] = replace(room[i], important=important)
        return True

    def statistics(self, numeric_id: str, participant_id: str) -> dict[str, object] | None:
        if self._find(numeric_id, participant_id) is None:
            return None
        return {"audio": {"codec": "PCMU", "received": 10}}

    def set_panes(self, numeric_id: str, participant_id: str,
                  panes: list[str | None] | None) -> bool:
        self.calls.append(("panes", numeric_id, participant_id, str(panes)))
        return self._find(numeric_id, participant_id) is not None

    def set_video_format(self, numeric_id: str, participant_id: str, shape: str) -> bool:
        self.calls.append(("video_format", numeric_id, participant_id, shape))
        i = self._find(numeric_id, participant_id)
        if i is None:
            return False
        room = self.rooms[numeric_id]
        room[i] = replace(room[i], video_format=shape)  # type: ignore[arg-type]
        return True

    def layouts(self) -> list[str]:
        return available_layouts()

    def set_layout(self, numeric_id: str, participant_id: str, layout: str | None) -> bool:
        self.calls.append(("layout", numeric_id, participant_id, str(layout)))
        if layout is not None and layout not in available_layouts():
            raise ValueError(f"unknown layout {layout!r}")
        i = self._find(numeric_id, participant_id)
        if i is None:
            return False
        room = self.rooms[numeric_id]
        room[i] = replace(room[i], layout=layout)
        return True

    def send_message(self, numeric_id: str, participant_id: str | None, text: str) -> bool:
        self.calls.append(("message", numeric_id, str(participant_id), text))
        if participant_id is None:
            if numeric_id not in self.rooms:
                return False
            self.messages[numeric_id] = text or None
            return True
        i = self._find(numeric_id, participant_id)
        if i is None:
            return False
        room = self.rooms[numeric_id]
        room[i] = replace(room[i], message=text or None)
        return True

    def dial_out(self, numeric_id: str, uri: str, display_name: str | None = None) -> str:
        self.calls.append(("dial", numeric_id, uri, str(display_name)))
        if self.dial_error is not None:
            raise self.dial_error
        self._dialled += 1
        pid = f"d{self._dialled}"
        view = ParticipantView(pid, display_name or uri, uri, "connected", "participant", False)
        self.rooms.setdefault(numeric_id, []).append(view)
        return pid

    def start_camera(self, numeric_id: str, camera: CameraRecord) -> str | None:
        # No credentials in `calls`: tests compare it, pages never see it.
        self.calls.append(("start_camera", numeric_id, str(camera.id)))
        if self.dial_error is not None:
            raise self.dial_error
        if numeric_id not in self.rooms:
            return None  # not active now
        self.camera_dials.append(camera)
        pid = f"cam{camera.id}"
        view = ParticipantView(pid, camera.name, camera.url, "connected", "participant", False,
                               protocol="rtsp")
        self.rooms[numeric_id].append(view)
        self.cameras[camera.id] = (numeric_id, pid)
        return pid

    def stop_camera(self, camera_id: int) -> bool:
        running = self.cameras.pop(camera_id, None)
        if running is None:
            return False
        self.calls.append(("stop_camera", running[0], str(camera_id)))
        i = self._find(*running)
        if i is not None:
            del self.rooms[running[0]][i]
        return True

    def registrations(self) -> list[dict[str, object]]:
        return list(getattr(self, "registered", []))

    def cluster_member(self) -> ClusterMember | None:
        return getattr(self, "member", None)

    def camera_states(self, numeric_id: str | None = None
                      ) -> dict[int, tuple[str, str, str | None]]:
        return {cid: ("live", "", pid) if self._find(n, pid) is not None
                else ("offline", "not running", None)
                for cid, (n, pid) in self.cameras.items()
                if numeric_id is None or n == numeric_id}

    async def thumbnail(self, numeric_id: str, participant_id: str, view: bool = False
                        ) -> bytes | None:
        return None  # no video here: pages fall back to the slate

    async def stream_playlist(self, numeric_id: str) -> Path | None:
        return None  # nothing runs here: a stream is never in progress

    async def stream_segment(self, numeric_id: str, name: str) -> bytes | None:
        return None

    def start_recording(self, numeric_id: str, recording_id: int, file_name: str) -> bool:
        if numeric_id not in self.rooms:
            return False
        self.recording_folder.mkdir(parents=True, exist_ok=True)
        self.recording_path(file_name).write_bytes(b"\0" * 1000)
        self.recordings[recording_id] = file_name
        return True

    async def stop_recording(self, recording_id: int) -> bool:
        name = self.recordings.pop(recording_id, None)
        if name is not None and self.store is not None:  # as the MCU marks it, when told
            size = self.recording_path(name).stat().st_size
            await self.store.finish_recording(recording_id, "stopped", size)
        return name is not None

    def recording_size(self, recording_id: int) -> int | None:
        name = self.recordings.get(recording_id)
        return None if name is None else self.recording_path(name).stat().st_size

    def recording_path(self, file_name: str) -> Path:
        return self.recording_folder / file_name

    def end_conference(self, numeric_id: str) -> bool:
        self.calls.append(("end", numeric_id))
        return self.rooms.pop(numeric_id, None) is not None

    async def refresh_conferences(self) -> None:
        self.refreshes += 1

    def count_http_refused(self, reason: str) -> None:
        self.calls.append(("http_refused", reason))

    def metrics_text(self) -> bytes:
        self.calls.append(("metrics",))
        return b"# HELP mcu_conferences Conferences running now.\n" \
               b"# TYPE mcu_conferences gauge\n" \
               b"mcu_conferences %d\n" % len(self.rooms)
