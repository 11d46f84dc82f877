"""A conference's IP cameras (issue 12): stored, started by the live MCU while the
conference is active, listed with their live state.

Plain operations over a `rooms.Room`, as `participants`: `authorize` first (403, audited
for writes), then the body (422 naming the field), then the store and the live MCU. A
camera is a participant: adding or removing one is full control (seed 003, "connect new
participants", "disconnect participants"), listing follows the participant list.

Credentials never leave the store and the live MCU's dial: answers, audit rows and log
lines carry the URL without them (`url` is stored that way) and never the username or
password.
"""

from __future__ import annotations

from typing import Any

from mcu.control.access import Control, ControlError, audit, require
from mcu.control.participants import Reader, authorized
from mcu.control.rooms import Room
from mcu.live import DialOutRefused
from mcu.permissions import Actor, Operation
from mcu.store import CameraRecord, EncryptionPolicy

Op = Operation
NOT_RUNNING = ("offline", "not running", None)


def camera_ref(room: Room, camera_id: int) -> str:
    return f"{room.ref} camera:{camera_id}"


def camera_json(camera: CameraRecord, state: tuple[str, str, str | None]) -> dict[str, Any]:
    """What the API and the page show of a camera: never its username or password."""
    return {
        "id": camera.id,
        "name": camera.name,
        "url": camera.url,
        "state": state[0],
        "reason": state[1],
        "transport": camera.transport,
        "audio": camera.audio,
        "participant_id": state[2],
    }


def configured(room: Room) -> int:
    """Cameras are stored with a configured conference; a live-only one has none (409)."""
    if room.record is None:
        raise ControlError(409, "conference has no configuration: cameras cannot be stored")
    return room.record.id


async def list_cameras(ctl: Control, actor: Actor, room: Room) -> list[dict[str, Any]]:
    await require(ctl, actor, Op.VIEW_CAMERAS, room.target)
    if room.record is None:
        return []
    states = ctl.live.camera_states()
    return [camera_json(c, states.get(c.id, NOT_RUNNING))
            for c in await ctl.store.list_cameras(room.record.id)]


async def add_camera(ctl: Control, actor: Actor, room: Room, read: Reader) -> dict[str, Any]:
    """Store the camera and start it when the conference is active now; 409 when the
    conference requires encryption or cannot take another participant, 503 without
    media ports (the camera is then not kept)."""
    from gateway.rtp.ports import PortsExhausted

    ref = await authorized(ctl, actor, room, Op.ADD_CAMERA)
    body = await read()
    conference_id = configured(room)
    if room.record is not None and room.record.encryption == EncryptionPolicy.REQUIRED:
        # RTSP carries the picture in clear: no camera joins an encrypted conference.
        await audit(ctl, actor.username, Op.ADD_CAMERA, ref, "refused: encryption required")
        raise ControlError(409, "conference requires encryption; RTSP cameras are not "
                           "encrypted")
    camera = await ctl.store.create_camera(
        conference_id, body.name, body.url, username=body.username, password=body.password,
        transport=body.transport, audio=body.audio,
    )
    ref = camera_ref(room, camera.id)
    try:
        pid = ctl.live.start_camera(room.numeric_id, camera)
    except Exception as exc:
        await ctl.store.delete_camera(camera.id)
        if isinstance(exc, PortsExhausted):
            await audit(ctl, actor.username, Op.ADD_CAMERA, ref, "failed: no media ports")
            raise ControlError(503, "no media ports left; try again later") from None
        if isinstance(exc, DialOutRefused):
            await audit(ctl, actor.username, Op.ADD_CAMERA, ref, f"refused: {exc}")
            raise ControlError(409, str(exc) or "conference refused the camera") from None
        if isinstance(exc, ValueError):
            await audit(ctl, actor.username, Op.ADD_CAMERA, ref, "failed: undiallable url")
            raise ControlError(422, "cannot dial this camera", field="url") from None
        raise
    started = "started" if pid is not None else "starts when the conference is active"
    await audit(ctl, actor.username, Op.ADD_CAMERA, ref,
                f"added {camera.name} {camera.url} ({camera.transport}); {started}")
    state = ctl.live.camera_states().get(camera.id, NOT_RUNNING)
    return camera_json(camera, state)


async def remove_camera(ctl: Control, actor: Actor, room: Room, raw_id: str) -> None:
    camera_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() else -1
    ref = camera_ref(room, camera_id) if camera_id >= 0 else f"{room.ref} camera:?"
    await require(ctl, actor, Op.REMOVE_CAMERA, room.target, audit_target=ref, audited=True)
    camera = await ctl.store.get_camera(camera_id) if 0 < camera_id < 2**63 else None
    if camera is None or room.record is None or camera.conference_id != room.record.id:
        raise ControlError(404, "camera not found")
    stopped = ctl.live.stop_camera(camera.id)
    await ctl.store.delete_camera(camera.id)
    await audit(ctl, actor.username, Op.REMOVE_CAMERA, ref,
                f"removed {camera.name}" + ("; stopped" if stopped else ""))
