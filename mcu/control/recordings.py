"""Recordings of conferences (issue 15): start, stop, list, download, delete.

Plain operations shared by the API (`api_recordings`) and the conference page, as
`cameras`: `authorize` first (403; audited for writes), then the store and the live MCU.
Starting and stopping is `CONTROL_RECORDING` on the conference (owner, moderators,
operators, full control); a recording's file -- downloading (`DOWNLOAD_RECORDINGS`) and
deleting (`DELETE_RECORDING`) -- is the conference owner's and the administrators' (the
security administrator downloads only). A recording whose conference was deleted since
is judged as a conference with no owner: administrators only.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from mcu.control.access import (
    Control,
    ControlError,
    allowed,
    audit,
    conference_target,
    not_found,
    require,
)
from mcu.control.participants import authorized
from mcu.control.rooms import Room
from mcu.permissions import Actor, ConferenceTarget, Operation
from mcu.store import RecordingRecord
from mcu.store.models import utcnow

Op = Operation
ORPHAN = ConferenceTarget(owner=None)  # its conference is gone: administrators only


def recording_ref(recording_id: int) -> str:
    return f"recording:{recording_id}"


def recording_json(recording: RecordingRecord, live_size: int | None,
                   now: datetime) -> dict[str, Any]:
    end = recording.stopped_at or now
    return {
        "id": recording.id,
        "conference_id": recording.conference_id,
        "conference": recording.conference_name,
        "numeric_id": recording.numeric_id,
        "started_by": recording.started_by,
        "start": recording.started_at.isoformat(),
        "stop": recording.stopped_at.isoformat() if recording.stopped_at else None,
        "duration_s": round(max(0.0, (end - recording.started_at).total_seconds()), 1),
        "size_bytes": recording.size_bytes if live_size is None else live_size,
        "state": recording.state,
        "reason": recording.reason,
    }


async def _target(ctl: Control, recording: RecordingRecord) -> ConferenceTarget:
    if recording.conference_id is None:
        return ORPHAN
    record = await ctl.store.get_conference(recording.conference_id)
    if record is None:
        return ORPHAN
    return conference_target(record, await ctl.store.list_roles(conference_id=record.id))


async def _recording(ctl: Control, raw_id: str) -> RecordingRecord:
    recording_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() else -1
    recording = await ctl.store.get_recording(recording_id) if 0 < recording_id < 2**63 else None
    if recording is None:
        raise not_found("recording")
    return recording


def _json(ctl: Control, recording: RecordingRecord) -> dict[str, Any]:
    return recording_json(recording, ctl.live.recording_size(recording.id), utcnow())


async def start_recording(ctl: Control, actor: Actor, room: Room) -> dict[str, Any]:
    """A new recording of the running conference (201); 409 when it is not running or
    has no configuration to keep the recording with."""
    ref = await authorized(ctl, actor, room, Op.CONTROL_RECORDING)
    if room.record is None:
        raise ControlError(409, "conference has no configuration: recordings cannot be kept")
    if not any(c.numeric_id == room.numeric_id for c in ctl.live.conferences()):
        raise ControlError(409, "the conference is not in progress")
    recording = await ctl.store.create_recording(room.record.id, actor.username)
    if not ctl.live.start_recording(room.numeric_id, recording.id, recording.file_name):
        await ctl.store.delete_recording(recording.id)
        raise ControlError(409, "the conference is not in progress")
    await audit(ctl, actor.username, Op.CONTROL_RECORDING, ref,
                f"started {recording_ref(recording.id)}")
    return _json(ctl, recording)


async def stop_recording(ctl: Control, actor: Actor, raw_id: str) -> dict[str, Any]:
    recording = await _recording(ctl, raw_id)
    ref = recording_ref(recording.id)
    await require(ctl, actor, Op.CONTROL_RECORDING, await _target(ctl, recording),
                  audit_target=ref, audited=True)
    if not await ctl.live.stop_recording(recording.id):
        raise ControlError(409, f"the recording is not running ({recording.state})")
    await audit(ctl, actor.username, Op.CONTROL_RECORDING, ref, "stopped")
    return _json(ctl, await _recording(ctl, raw_id))


async def list_recordings(ctl: Control, actor: Actor,
                          conference_id: int | None = None) -> list[dict[str, Any]]:
    """The recordings the actor may download or start and stop (newest first)."""
    shown = []
    for recording in await ctl.store.list_recordings():
        if conference_id is not None and recording.conference_id != conference_id:
            continue
        target = await _target(ctl, recording)
        if (allowed(actor, Op.DOWNLOAD_RECORDINGS, target)
                or allowed(actor, Op.CONTROL_RECORDING, target)):
            shown.append(_json(ctl, recording))
    return shown


async def recording_file(ctl: Control, actor: Actor, raw_id: str) -> tuple[Path, str]:
    """The recording's file and the name to download it as (audited: it is the
    recording's content leaving the MCU)."""
    recording = await _recording(ctl, raw_id)
    ref = recording_ref(recording.id)
    await require(ctl, actor, Op.DOWNLOAD_RECORDINGS, await _target(ctl, recording),
                  audit_target=ref, audited=True)
    path = ctl.live.recording_path(recording.file_name)
    if not path.is_file():
        raise not_found("recording file")
    await audit(ctl, actor.username, Op.DOWNLOAD_RECORDINGS, ref, "downloaded")
    started = recording.started_at.strftime("%Y%m%d-%H%M%S")
    return path, f"{recording.numeric_id}-{started}.mp4"


async def delete_recording(ctl: Control, actor: Actor, raw_id: str) -> None:
    """Stop it if it runs, then the file and the row go."""
    recording = await _recording(ctl, raw_id)
    ref = recording_ref(recording.id)
    await require(ctl, actor, Op.DELETE_RECORDING, await _target(ctl, recording),
                  audit_target=ref, audited=True)
    await ctl.live.stop_recording(recording.id)
    ctl.live.recording_path(recording.file_name).unlink(missing_ok=True)
    await ctl.store.delete_recording(recording.id)
    await audit(ctl, actor.username, Op.DELETE_RECORDING, ref,
                f"deleted ({recording.conference_name}, {recording.started_at.isoformat()})")
