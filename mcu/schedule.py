"""When a scheduled conference is active: its start, duration and repetition. Pure.

Seed 003: a scheduled conference has a start time and, optionally, a duration and a
repetition. No start time: always active (ad hoc and permanent rooms). No duration:
open-ended from the (latest) start. Repetition daily/weekly/monthly, bounded by a
count of occurrences or an ``until`` date; a monthly occurrence on a day the month
lacks (the 31st) falls on its last day.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Protocol

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}


class Schedule(Protocol):
    start_time: datetime | None
    duration_seconds: int | None
    repetition: object  # Repetition | str | None
    repeat_count: int | None
    repeat_until: datetime | None


def active_at(schedule: Schedule, now: datetime) -> bool:
    start = schedule.start_time
    if start is None:
        return True
    occurrence = latest_start(schedule, now)
    if occurrence is None:
        return False
    if schedule.duration_seconds is None:
        return True
    return now < occurrence + timedelta(seconds=schedule.duration_seconds)


def latest_start(schedule: Schedule, now: datetime) -> datetime | None:
    """The start of the latest occurrence at or before ``now`` (None: none yet/left)."""
    start = schedule.start_time
    if start is None or now < start:
        return None
    repetition = str(schedule.repetition) if schedule.repetition else None
    if repetition is None:
        return start
    if repetition in PERIODS:
        index = int((now - start) // PERIODS[repetition])
        occurrence = start + index * PERIODS[repetition]
    elif repetition == "monthly":
        index = (now.year - start.year) * 12 + now.month - start.month
        occurrence = _add_months(start, index)
        if occurrence > now:
            index -= 1
            occurrence = _add_months(start, index)
    else:
        raise ValueError(f"unknown repetition {repetition!r}")
    if schedule.repeat_count is not None and index >= schedule.repeat_count:
        return None
    if schedule.repeat_until is not None and occurrence > schedule.repeat_until:
        return None
    return occurrence


def _add_months(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
