"""The schedule form: browser fields in, the store's conference fields out.

`parse_schedule` turns the posted form into the keyword arguments of
`Store.create_conference` / `Store.update_conference` and a message per bad field,
so the page can show every mistake at once; the store still validates what it
receives (repetition, owner, unique numeric ID) and its `Invalid`/`Conflict` name
the field the same way. `form_values` is the other direction, for the edit page.

Times: ``start_time`` is a ``datetime-local`` value read in the browser's IANA time
zone (``tz``, filled in by static/schedule.js; UTC without script) and stored in UTC;
``repeat_until`` is a date, the repetition running to the end of that day.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcu.store import ConferenceRecord, EncryptionPolicy, Repetition

DIGITS = re.compile(r"^[0-9]{1,32}$")
MAX_NAME = 200
MAX_INT = 2**31 - 1
REPETITIONS = ("none", *(r.value for r in Repetition))
ENCRYPTIONS = tuple(e.value for e in EncryptionPolicy)
CHECKBOXES = ("streaming", "end_when_chair_leaves", "guests_send_audio", "guests_send_video")
# A store field -> the form field its errors belong to, where the names differ.
FORM_FIELD = {"duration_seconds": "duration"}


@dataclass
class Parsed:
    fields: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _positive(raw: str) -> int | None:
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_INT:
        raise ValueError
    return int(raw)


def parse_schedule(
    form: Mapping[str, Any], *, editing: bool, owner_shown: bool
) -> Parsed:
    """The store fields the form asks for; on edit, a blank PIN keeps the stored one."""
    out = Parsed()
    put, err = out.fields.__setitem__, out.errors.__setitem__

    name = _text(form, "name")
    if not name:
        err("name", "a name is needed")
    elif len(name) > MAX_NAME:
        err("name", f"at most {MAX_NAME} characters")
    else:
        put("name", name)

    numeric_id = _text(form, "numeric_id")
    if not DIGITS.match(numeric_id):
        err("numeric_id", "digits only, 1 to 32 of them")
    else:
        put("numeric_id", numeric_id)

    for pin_field in ("pin", "guest_pin"):
        raw = _text(form, pin_field)
        if raw and not DIGITS.match(raw):
            err(pin_field, "digits only, 1 to 32 of them")
        elif raw:
            put(pin_field, raw)
        elif not editing or form.get(f"clear_{pin_field}"):
            put(pin_field, None)

    zone = _zone(_text(form, "tz"))
    start = _text(form, "start_time")
    if zone is None:
        err("start_time", "unknown time zone")
    elif start:
        try:
            put("start_time", datetime.fromisoformat(start).replace(tzinfo=zone).astimezone(UTC))
        except ValueError:
            err("start_time", "not a date and time")
    else:
        put("start_time", None)

    for form_field, store_field, scale in (
        ("duration", "duration_seconds", 60),
        ("max_participants", "max_participants", 1),
        ("repeat_count", "repeat_count", 1),
    ):
        raw = _text(form, form_field)
        try:
            put(store_field, None if not raw else _positive(raw) * scale)  # type: ignore[operator]
        except ValueError:
            err(form_field, "a whole number above 0")
    if out.fields.get("start_time") is None and out.fields.get("duration_seconds"):
        err("duration", "a duration needs a start time")

    repetition = _text(form, "repetition") or "none"
    if repetition not in REPETITIONS:
        err("repetition", f"one of {', '.join(REPETITIONS)}")
    else:
        put("repetition", None if repetition == "none" else repetition)

    until = _text(form, "repeat_until")
    if until and zone is not None:
        try:
            last_day = date.fromisoformat(until)
            end = datetime.combine(last_day, time(23, 59, 59), zone).astimezone(UTC)
            put("repeat_until", end)
        except ValueError:
            err("repeat_until", "not a date")
    elif not until:
        put("repeat_until", None)
    if repetition != "none" and "start_time" in out.fields and out.fields["start_time"] is None:
        err("repetition", "a repetition needs a start time")

    encryption = _text(form, "encryption") or EncryptionPolicy.OPTIONAL.value
    if encryption not in ENCRYPTIONS:
        err("encryption", f"one of {', '.join(ENCRYPTIONS)}")
    else:
        put("encryption", encryption)

    for box in CHECKBOXES:
        put(box, bool(form.get(box)))

    if owner_shown:
        owner = _text(form, "owner")
        put("owner", owner or None)

    # Rules between fields (PIN pairs, schedule and repetition) are the API's:
    # configuration.check_configuration, run by the page on the configuration as it would be saved.
    return out


def _local(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def form_values(record: ConferenceRecord | None) -> dict[str, Any]:
    """What the form shows: the record's fields as strings, PINs never in clear."""
    if record is None:
        return {
            "name": "",
            "numeric_id": "",
            "start_time": "",
            "start_time_utc": "",
            "tz": "UTC",
            "duration": "",
            "repetition": "none",
            "repeat_count": "",
            "repeat_until": "",
            "max_participants": "",
            "encryption": EncryptionPolicy.OPTIONAL.value,
            "streaming": False,
            "end_when_chair_leaves": False,
            "guests_send_audio": True,
            "guests_send_video": True,
            "owner": None,
        }
    duration = record.duration_seconds
    until = record.repeat_until
    return {
        "name": record.name,
        "numeric_id": record.numeric_id,
        "start_time": _local(record.start_time),
        "start_time_utc": "" if record.start_time is None else record.start_time.isoformat(),
        "tz": "UTC",
        "duration": "" if duration is None else str(max(1, duration // 60)),
        "repetition": record.repetition.value if record.repetition else "none",
        "repeat_count": "" if record.repeat_count is None else str(record.repeat_count),
        "repeat_until": "" if until is None else until.astimezone(UTC).date().isoformat(),
        "max_participants": "" if record.max_participants is None else str(record.max_participants),
        "encryption": record.encryption.value,
        "streaming": record.streaming,
        "end_when_chair_leaves": record.end_when_chair_leaves,
        "guests_send_audio": record.guests_send_audio,
        "guests_send_video": record.guests_send_video,
        "owner": record.owner,
    }


def posted_values(form: Mapping[str, Any], owner: str | None) -> dict[str, Any]:
    """The form as posted, to show it again with its error messages."""
    values = {k: _text(form, k) for k in form_values(None) if k not in CHECKBOXES}
    values.update({box: bool(form.get(box)) for box in CHECKBOXES})
    values["owner"] = _text(form, "owner") if "owner" in form else owner
    values["start_time_utc"] = ""
    values["tz"] = _text(form, "tz") or "UTC"
    return values


def changed(record: ConferenceRecord, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Only what differs from the record (so the right `authorize` questions are asked)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        current = getattr(record, key)
        if hasattr(current, "value"):
            current = current.value
        if isinstance(current, datetime) and isinstance(value, datetime):
            if abs(current - value) < timedelta(minutes=1):  # the form shows minutes
                continue
        if current != value:
            out[key] = value
    return out
