"""What the web control asks of a running conference: its participants, one at a time
(admit, drop, mute, important, layout, panes, video format, message, statistics) or all
together (dial out, message to all, end). Plain operations over a `rooms.Room`, so a
configured conference and one running without configuration (ad hoc) are controlled
alike, as far as `authorize` lets the actor.

Each write asks `authorize` (403 naming the rule, audited), then validates its input
(422 naming the field), then asks the live MCU; what the MCU did is audited, and False
from it is 404 (no such participant) or 409 (the conference is not running).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcu.control.access import Control, ControlError, audit, require
from mcu.control.rooms import Room
from mcu.live import DialOutRefused, ParticipantView, VideoShape
from mcu.permissions import Actor, Operation

Op = Operation
# Reads and validates the request body (422 naming the field); called once authorized.
Reader = Callable[[], Awaitable[Any]]


async def authorized(
    ctl: Control, actor: Actor, room: Room, operation: Operation,
    participant_id: str | None = None,
) -> str:
    """`authorize` (403, audited); the audit row's target."""
    ref = room.ref if participant_id is None else room.participant_ref(participant_id)
    await require(ctl, actor, operation, room.target, audit_target=ref, audited=True)
    return ref


async def outcome(
    ctl: Control, actor: Actor, operation: Operation, ref: str, done: bool, what: str,
    *, missing: str = "participant",
) -> None:
    """Audit what the live MCU did; False from it is 404 (no such participant) or 409
    (the conference is not running)."""
    failed = "not_found" if missing == "participant" else "not_running"
    await audit(ctl, actor.username, operation, ref, what if done else failed)
    if not done:
        if missing == "participant":
            raise ControlError(404, "participant not found")
        raise ControlError(409, "conference is not running")


def message_outcome(text: str) -> str:
    # The text itself stays out of the audit: it is content, not control.
    return f"sent ({len(text)} characters)" if text else "cleared"


# Reading -------------------------------------------------------------------------------


async def list_participants(ctl: Control, actor: Actor, room: Room) -> list[ParticipantView]:
    await require(ctl, actor, Op.VIEW_PARTICIPANTS, room.target)
    return ctl.live.participants(room.numeric_id)


async def statistics(ctl: Control, actor: Actor, room: Room, pid: str) -> dict[str, object]:
    await require(ctl, actor, Op.VIEW_STATISTICS, room.target)
    stats = ctl.live.statistics(room.numeric_id, pid)
    if stats is None:
        raise ControlError(404, "participant not found")
    return stats


# One participant -------------------------------------------------------------------------


async def admit(ctl: Control, actor: Actor, room: Room, pid: str) -> None:
    ref = await authorized(ctl, actor, room, Op.ADMIT_PARTICIPANT, pid)
    done = ctl.live.admit(room.numeric_id, pid)
    await outcome(ctl, actor, Op.ADMIT_PARTICIPANT, ref, done, "ok")


async def drop(ctl: Control, actor: Actor, room: Room, pid: str) -> None:
    ref = await authorized(ctl, actor, room, Op.DISCONNECT_PARTICIPANT, pid)
    done = ctl.live.drop(room.numeric_id, pid)
    await outcome(ctl, actor, Op.DISCONNECT_PARTICIPANT, ref, done, "ok")


async def set_muted(ctl: Control, actor: Actor, room: Room, pid: str, read: Reader) -> None:
    """`read`: an awaitable giving the validated body, read only once authorized."""
    ref = await authorized(ctl, actor, room, Op.MUTE_PARTICIPANT, pid)
    muted = (await read()).muted
    done = ctl.live.set_muted(room.numeric_id, pid, muted)
    await outcome(ctl, actor, Op.MUTE_PARTICIPANT, ref, done, "muted" if muted else "unmuted")


async def set_important(ctl: Control, actor: Actor, room: Room, pid: str, read: Reader) -> None:
    op = Op.SET_IMPORTANT_PARTICIPANT
    ref = await authorized(ctl, actor, room, op, pid)
    important = (await read()).important
    done = ctl.live.set_important(room.numeric_id, pid, important)
    await outcome(ctl, actor, op, ref, done, "important" if important else "not important")


async def set_layout(ctl: Control, actor: Actor, room: Room, pid: str, read: Reader) -> None:
    op = Op.PARTICIPANT_LAYOUT
    ref = await authorized(ctl, actor, room, op, pid)
    layout = (await read()).layout
    known = ctl.live.layouts()
    unknown = ControlError(422, f"unknown layout; one of {known}", field="layout")
    if layout is not None and layout not in known:
        raise unknown
    try:
        done = ctl.live.set_layout(room.numeric_id, pid, layout)
    except ValueError:
        raise unknown from None
    what = f"layout {layout}" if layout else "conference layout"
    await outcome(ctl, actor, op, ref, done, what)


async def set_panes(ctl: Control, actor: Actor, room: Room, pid: str, read: Reader) -> None:
    op = Op.PARTICIPANT_CUSTOM_LAYOUT
    ref = await authorized(ctl, actor, room, op, pid)
    panes = (await read()).panes
    done = ctl.live.set_panes(room.numeric_id, pid, panes or None)
    what = f"custom layout of {len(panes)} cells" if panes else "usual layout"
    await outcome(ctl, actor, op, ref, done, what)


async def set_video_format(ctl: Control, actor: Actor, room: Room, pid: str, read: Reader) -> None:
    op = Op.PARTICIPANT_VIDEO_FORMAT
    ref = await authorized(ctl, actor, room, op, pid)
    shape: VideoShape = (await read()).format
    done = ctl.live.set_video_format(room.numeric_id, pid, shape)
    await outcome(ctl, actor, op, ref, done, f"{shape} video")


async def message(ctl: Control, actor: Actor, room: Room, pid: str, read: Reader) -> None:
    op = Op.MESSAGE_PARTICIPANT
    ref = await authorized(ctl, actor, room, op, pid)
    text = (await read()).text
    done = ctl.live.send_message(room.numeric_id, pid, text)
    await outcome(ctl, actor, op, ref, done, message_outcome(text))


# The whole conference ---------------------------------------------------------------------


async def message_all(ctl: Control, actor: Actor, room: Room, read: Reader) -> None:
    ref = await authorized(ctl, actor, room, Op.MESSAGE_ALL)
    text = (await read()).text
    done = ctl.live.send_message(room.numeric_id, None, text)
    await outcome(ctl, actor, Op.MESSAGE_ALL, ref, done, message_outcome(text), missing="room")


async def end(ctl: Control, actor: Actor, room: Room) -> None:
    ref = await authorized(ctl, actor, room, Op.END_CONFERENCE)
    done = ctl.live.end_conference(room.numeric_id)
    await outcome(ctl, actor, Op.END_CONFERENCE, ref, done, "ended", missing="room")


def check_scheme(ctl: Control, address: str) -> None:
    """422 naming `address` unless a running gateway dials its scheme."""
    served = ctl.live.dial_schemes()
    scheme = address.partition(":")[0].lower()
    if scheme not in served:
        listed = ", ".join(served) or "none"
        raise ControlError(
            422, f"no running gateway dials {scheme}: URIs; schemes served: {listed}",
            field="address",
        )


async def dial_out(ctl: Control, actor: Actor, room: Room, read: Reader) -> str:
    """Call the body's `address` into the conference (seed 003, full control: "connect
    new participants"); 409 when the conference cannot take them, 503 without ports."""
    from gateway.rtp.ports import PortsExhausted

    ref = await authorized(ctl, actor, room, Op.DIAL_OUT)
    body = await read()
    check_scheme(ctl, body.address)
    try:
        pid = ctl.live.dial_out(room.numeric_id, body.address, body.display_name)
    except PortsExhausted:
        await audit(ctl, actor.username, Op.DIAL_OUT, ref, "failed: no media ports")
        raise ControlError(503, "no media ports left; try again later") from None
    except ValueError as exc:
        await audit(ctl, actor.username, Op.DIAL_OUT, ref, "failed: undiallable address")
        raise ControlError(422, str(exc) or "cannot dial", field="address") from None
    except Exception as exc:
        if not isinstance(exc, DialOutRefused):
            raise
        await audit(ctl, actor.username, Op.DIAL_OUT, ref, f"refused: {exc}")
        raise ControlError(409, str(exc) or "conference refused the call") from None
    await audit(ctl, actor.username, Op.DIAL_OUT, room.participant_ref(pid),
                f"dialled {body.address}")
    return pid
