"""A conference's configuration rules: which right each field needs, and what may be saved.

Seed 003's "configuration access", one operation per part it names (schedule,
repetition, streaming, preconfigured participants); PINs (the PIN issue), the conference
custom layout ("changing live conference parameters") and participant layout control
have their own. Every other field is CONFIGURE_CONFERENCE; `owner` is CHANGE_OWNER,
asked apart. `check_configuration` holds the rules between fields, on the configuration
as it would be saved; the API and the schedule form both run it (via `conferences`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields as dataclass_fields
from datetime import timedelta
from typing import Any

from layouts.registry import available_layouts
from mcu.control.access import ControlError
from mcu.permissions import Operation
from mcu.store import ConferenceRecord, ParticipantRecord, Repetition
from mcu.store.store import CONFERENCE_FIELDS

Op = Operation
# The shortest gap between two occurrences: one occurrence must end before the next.
PERIOD = {
    Repetition.DAILY: timedelta(days=1),
    Repetition.WEEKLY: timedelta(weeks=1),
    Repetition.MONTHLY: timedelta(days=28),
}

FIELD_OPERATIONS: Mapping[str, Operation] = {
    "pin": Op.CONFIGURE_PIN,
    "guest_pin": Op.CONFIGURE_PIN,
    "start_time": Op.CONFIGURE_SCHEDULE,
    "duration_seconds": Op.CONFIGURE_SCHEDULE,
    "repetition": Op.CONFIGURE_REPETITION,
    "repeat_count": Op.CONFIGURE_REPETITION,
    "repeat_until": Op.CONFIGURE_REPETITION,
    "streaming": Op.CONFIGURE_STREAMING,
    "participants": Op.CONFIGURE_PRECONFIGURED_PARTICIPANTS,
    "layout": Op.CONFERENCE_CUSTOM_LAYOUT,
    # Seed 003, limited control: "enable or disable the participants' ability to affect
    # their own layouts via Far-End Camera Control or DTMF tones".
    "participant_layout_control": Op.PARTICIPANT_LAYOUT_CONTROL,
}
OPERATION_ORDER = (
    Op.CONFIGURE_CONFERENCE,
    Op.CONFIGURE_PIN,
    Op.CONFIGURE_SCHEDULE,
    Op.CONFIGURE_REPETITION,
    Op.CONFIGURE_STREAMING,
    Op.CONFIGURE_PRECONFIGURED_PARTICIPANTS,
    Op.CONFERENCE_CUSTOM_LAYOUT,
    Op.PARTICIPANT_LAYOUT_CONTROL,
)
# Fields a request may leave out but not set to null.
NOT_NULL = frozenset(
    {
        "name",
        "numeric_id",
        "encryption",
        "streaming",
        "end_when_chair_leaves",
        "guests_send_audio",
        "guests_send_video",
        "participant_layout_control",
        "participants",
    }
)
# The configuration fields of a conference, as GET shows them to full control: what the
# store lets a caller set, less what every viewer sees (and the PINs, shown by VIEW_PIN).
CONFIG_FIELDS = tuple(
    f.name for f in dataclass_fields(ConferenceRecord)
    if f.name in CONFERENCE_FIELDS - {"name", "numeric_id", "pin", "guest_pin", "owner"}
)
NEW_CONFERENCE: Mapping[str, Any] = {f.name: None for f in dataclass_fields(ConferenceRecord)}


def operations_for(keys: Iterable[str]) -> list[Operation]:
    """The operations a body with these top-level keys needs, in a fixed order (the
    first refused is the 403's rule); `owner` is left to CHANGE_OWNER."""
    wanted = {FIELD_OPERATIONS.get(k, Op.CONFIGURE_CONFERENCE) for k in keys if k != "owner"}
    return [op for op in OPERATION_ORDER if op in wanted]


def field_groups(keys: Iterable[str]) -> list[tuple[Operation, list[str]]]:
    """The changed fields under the operation that allowed them, for the audit."""
    keys = [k for k in keys if k != "owner"]
    return [
        (op, sorted(k for k in keys if FIELD_OPERATIONS.get(k, Op.CONFIGURE_CONFERENCE) is op))
        for op in operations_for(keys)
    ]


def check_pins(pin: str | None, guest_pin: str | None) -> None:
    # A guest PIN alone, or equal to the chair's, would make the two roles indistinguishable.
    if guest_pin is not None and pin is None:
        raise ControlError(422, "a guest PIN needs a chairperson PIN", field="guest_pin")
    if guest_pin is not None and guest_pin == pin:
        raise ControlError(422, "must differ from the chairperson PIN", field="guest_pin")


def check_not_null(changes: Mapping[str, Any]) -> None:
    for name in sorted(set(changes) & NOT_NULL):
        if changes[name] is None:
            raise ControlError(422, "must not be null", field=name)


def check_configuration(
    merged: Mapping[str, Any], changed: Iterable[str], layouts: Iterable[str] | None = None
) -> None:
    """Rules between fields, on the configuration as it would be saved; ``layouts``:
    the layout names the MCU knows (built-ins when None)."""
    check_pins(merged["pin"], merged["guest_pin"])
    start, until = merged["start_time"], merged["repeat_until"]
    repetition, duration = merged["repetition"], merged["duration_seconds"]
    if start is None:
        for name in ("duration_seconds", "repetition"):
            if merged[name] is not None:
                raise ControlError(422, "needs a start_time", field=name)
    if merged["repeat_count"] is not None and until is not None:
        raise ControlError(422, "give repeat_count or repeat_until, not both", field="repeat_until")
    if repetition is None and (merged["repeat_count"] is not None or until is not None):
        raise ControlError(422, "needed with repeat_count or repeat_until", field="repetition")
    if until is not None and start is not None and until < start:
        raise ControlError(422, "is before the start_time", field="repeat_until")
    if repetition is not None and duration is not None:
        if timedelta(seconds=duration) > PERIOD[Repetition(repetition)]:
            raise ControlError(
                422, "longer than the time between two occurrences", field="duration_seconds"
            )
    layout = merged["layout"]
    known = list(layouts) if layouts is not None else available_layouts()
    if "layout" in changed and layout is not None and layout not in known:
        raise ControlError(422, f"unknown layout; one of {known}", field="layout")


def preconfigured(addresses: Iterable[tuple[str, str | None]]) -> list[ParticipantRecord]:
    """Preconfigured participants from (address, display name) pairs; 422 for a repeat."""
    seen: set[str] = set()
    out = []
    for i, (address, display_name) in enumerate(addresses):
        if address.lower() in seen:
            raise ControlError(422, "listed twice", field=f"participants.{i}.address")
        seen.add(address.lower())
        out.append(ParticipantRecord(address, display_name))
    return out


__all__ = [
    "CONFIG_FIELDS",
    "FIELD_OPERATIONS",
    "NEW_CONFERENCE",
    "NOT_NULL",
    "check_configuration",
    "check_not_null",
    "check_pins",
    "field_groups",
    "operations_for",
    "preconfigured",
]
