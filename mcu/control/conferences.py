"""The conference operations, shared by the API (`api_conferences`) and the pages.

Each asks `authorize` (through `access.require`) before it reads a body or writes, and
writes its audit rows itself, so a change made from a page and the same change made
through ``PATCH /api/v1/conferences/{id}`` leave the same rows. The list holds every
conference the store knows and every conference running without a record (ad hoc:
`rooms`), each shown as `authorize` decides (link, name only, hidden).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from mcu.control.access import Control, ControlError, allowed, audit, conference_target, require
from mcu.control.configuration import (
    CONFIG_FIELDS,
    NEW_CONFERENCE,
    check_configuration,
    check_not_null,
    field_groups,
    operations_for,
)
from mcu.control.rooms import Room, configured_room, live_only, live_room
from mcu.permissions import (
    Actor,
    ConferenceTarget,
    Listing,
    NewConferenceTarget,
    Operation,
    OwnerChangeTarget,
    listing,
)
from mcu.schedule import active_at
from mcu.store import ConferenceRecord, ParticipantRecord

Op = Operation


def now() -> datetime:
    return datetime.now(UTC)


def conference_json(record: ConferenceRecord) -> dict[str, Any]:
    """A conference as the API shows it: PINs only as whether they are set."""
    return {
        "id": record.id,
        "name": record.name,
        "numeric_id": record.numeric_id,
        "owner": record.owner,
        "has_pin": bool(record.pin),
        "has_guest_pin": bool(record.guest_pin),
        "ad_hoc": False,
    }


def room_json(room: Room) -> dict[str, Any]:
    """Any conference as the API lists it; a live-only one has no owner and no PINs."""
    if room.record is not None:
        return conference_json(room.record)
    return {
        "id": room.id,
        "name": room.name,
        "numeric_id": room.numeric_id,
        "owner": None,
        "has_pin": False,
        "has_guest_pin": False,
        "ad_hoc": room.ad_hoc,
    }


def conference_ref(record: ConferenceRecord) -> str:
    return f"conference:{record.id}"


def conference_detail_json(
    record: ConferenceRecord,
    participants: Iterable[ParticipantRecord],
    *,
    now: datetime,
    configuration: bool,
    pins: bool,
) -> dict[str, Any]:
    """A conference with whether it is in its schedule window now (`active`); with
    `configuration` its whole configuration, with `pins` its PINs in clear."""
    out = {**conference_json(record), "active": active_at(record, now)}
    if configuration:
        out.update({name: getattr(record, name) for name in CONFIG_FIELDS})
        out["participants"] = [
            {"address": p.address, "display_name": p.display_name} for p in participants
        ]
    if pins:
        out.update(pin=record.pin, guest_pin=record.guest_pin)
    return out


# Listing and reading -----------------------------------------------------------------


async def list_conferences(ctl: Control, actor: Actor) -> list[tuple[Listing, Room]]:
    """Every conference the actor may see, configured first, then those running without
    configuration; each with how it is shown (never HIDDEN here)."""
    await require(ctl, actor, Op.LIST_CONFERENCES, None)
    roles = await ctl.store.list_roles()
    rooms = [
        configured_room(r, conference_target(r, roles)) for r in await ctl.store.list_conferences()
    ]
    rooms += [live_room(c) for c in await live_only(ctl)]
    out = []
    for room in rooms:
        shown = listing(actor, room.target)
        if shown is not Listing.HIDDEN:
            out.append((shown, room))
    return out


async def get_conference(ctl: Control, actor: Actor, room: Room) -> dict[str, Any]:
    """The conference and whether it is `active` now; its configuration to who has full
    control, PINs in clear only with `view_pin`. A live-only conference is active."""
    await require(ctl, actor, Op.VIEW_CONFERENCE, room.target)
    record = room.record
    if record is None:
        return {**room_json(room), "active": True}
    configuration = allowed(actor, Op.VIEW_CONFIGURATION, room.target)
    participants = await ctl.store.list_participants(record.id) if configuration else []
    return conference_detail_json(
        record,
        participants,
        now=now(),
        configuration=configuration,
        pins=allowed(actor, Op.VIEW_PIN, room.target),
    )


def configured(room: Room) -> ConferenceRecord:
    """The room's store record; 409 for a conference running without configuration."""
    if room.record is None:
        raise ControlError(409, "conference is not configured (ad hoc): nothing to change")
    return room.record


# Creating ----------------------------------------------------------------------------


async def authorize_create(ctl: Control, actor: Actor, keys: Mapping[str, Any]) -> None:
    """May the actor create at all (as owner)? Then: name this owner, set these fields?"""
    ref = "conference:new"
    await require(ctl, actor, Op.CREATE_CONFERENCE, NewConferenceTarget(actor.username,
                  actor.privilege), audit_target=ref, audited=True)
    named = keys.get("owner", actor.username)
    if named != actor.username and (named is None or isinstance(named, str)):
        user = None if named is None else await ctl.store.get_user(named)
        target = NewConferenceTarget(named, None if user is None else user.privilege)
        await require(ctl, actor, Op.CREATE_CONFERENCE, target, audit_target=ref, audited=True)
    would_own = named if named is None or isinstance(named, str) else actor.username
    for operation in operations_for(keys):
        await require(ctl, actor, operation, ConferenceTarget(would_own), audit_target=ref,
                      audited=True)


async def create_conference(
    ctl: Control, actor: Actor, values: Mapping[str, Any],
    participants: list[ParticipantRecord] | None = None,
) -> tuple[ConferenceRecord, list[ParticipantRecord]]:
    """Create from validated fields (`owner` absent: the creator); authorized first."""
    await authorize_create(ctl, actor, {**values, **({"participants": participants}
                                                     if participants is not None else {})})
    check_not_null(values)
    values = dict(values)
    values.setdefault("owner", actor.username)
    check_configuration({**NEW_CONFERENCE, **values}, values, ctl.live.layouts())
    record, saved = await ctl.store.save_conference(None, values, participants)
    await audit(ctl, actor.username, Op.CREATE_CONFERENCE, conference_ref(record), "created")
    await ctl.live.refresh_conferences()
    return record, saved


# Changing: the one update operation ----------------------------------------------------


async def authorize_update(
    ctl: Control, actor: Actor, room: Room, keys: Mapping[str, Any]
) -> ConferenceRecord:
    """Ask `authorize` for each field group `keys` touches (the owner: CHANGE_OWNER);
    every refusal is audited. Then 409 if there is no configuration to change."""
    ref = room.ref
    operations = operations_for(keys)
    if not operations and "owner" not in keys:
        operations = [Op.CONFIGURE_CONFERENCE]
    for operation in operations:
        await require(ctl, actor, operation, room.target, audit_target=ref, audited=True)
    record = configured(room)
    if "owner" in keys:
        await _require_owner_change(ctl, actor, record, room.target, keys["owner"])
    return record


async def _require_owner_change(
    ctl: Control, actor: Actor, record: ConferenceRecord, target: ConferenceTarget, raw: object
) -> None:
    """Seed 003: only administrator / conference_creation_full_control change an owner,
    to a user with conference creation rights or to none. Naming the present owner
    again changes nothing and needs nothing; a malformed value asks only for the right
    to change (and then gets its 422)."""
    if raw == record.owner:
        return
    new_owner = raw if isinstance(raw, str) and raw else None
    user = None if new_owner is None else await ctl.store.get_user(new_owner)
    change = OwnerChangeTarget(target, new_owner, None if user is None else user.privilege)
    await require(
        ctl, actor, Op.CHANGE_OWNER, change, audit_target=conference_ref(record), audited=True
    )


async def update_conference(
    ctl: Control,
    actor: Actor,
    room: Room,
    changes: Mapping[str, Any],
    participants: list[ParticipantRecord] | None = None,
) -> tuple[ConferenceRecord, list[ParticipantRecord]]:
    """THE conference update, for ``PATCH /api/v1/conferences/{id}`` and every page form.

    `changes`: validated store fields; `participants` (when given) replaces the
    preconfigured participants. Order: authorize each field group and the owner
    (403, audited), the rules between fields (422 naming the field), one store
    transaction (or nothing), then one audit row per field group (`field_groups`,
    names only, never values), one `change_owner` row for a new owner, or one
    `unchanged` row; the live MCU re-reads the conferences.
    """
    keys = {**changes, **({"participants": participants} if participants is not None else {})}
    record = await authorize_update(ctl, actor, room, keys)
    check_not_null(keys)
    current = {f.name: getattr(record, f.name) for f in dataclass_fields(record)}
    check_configuration({**current, **changes}, changes, ctl.live.layouts())
    updated, saved = await ctl.store.save_conference(record.id, dict(changes), participants)
    ref = conference_ref(record)
    groups = field_groups(keys)
    for operation, names in groups:
        await audit(ctl, actor.username, operation, ref, "updated: " + ",".join(names))
    if "owner" in changes and changes["owner"] != record.owner:
        moved = f"owner: {record.owner or 'none'} -> {changes['owner'] or 'none'}"
        await audit(ctl, actor.username, Op.CHANGE_OWNER, ref, moved)
    elif not groups:
        await audit(ctl, actor.username, Op.CONFIGURE_CONFERENCE, ref, "unchanged")
    await ctl.live.refresh_conferences()
    return updated, saved


def target_after(room: Room, updated: ConferenceRecord) -> ConferenceTarget:
    """The conference as `authorize` sees it after an update (the owner may have moved)."""
    return replace(room.target, owner=updated.owner)


async def delete_conference(ctl: Control, actor: Actor, room: Room) -> None:
    await require(ctl, actor, Op.DELETE_CONFERENCE, room.target, audit_target=room.ref,
                  audited=True)
    record = configured(room)
    cameras = await ctl.store.list_cameras(record.id)
    chat_files = await ctl.store.conference_chat_file_keys(record.id)
    await ctl.store.delete_conference(record.id)  # its cameras and chat with it
    for camera in cameras:  # and no longer pulled into the room
        ctl.live.stop_camera(camera.id)
    for key in chat_files:  # the chat's files off the disk
        ctl.chat_files.remove(key)
    await audit(ctl, actor.username, Op.DELETE_CONFERENCE, room.ref, "deleted")
    await ctl.live.refresh_conferences()


__all__ = [
    "conference_detail_json",
    "conference_json",
    "create_conference",
    "delete_conference",
    "get_conference",
    "list_conferences",
    "room_json",
    "update_conference",
]
