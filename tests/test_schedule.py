"""`mcu.schedule.active_at`: the schedule window, written from seed 003's "start time
and, optionally, a duration and repetition" and the issue's daily/weekly/monthly with a
count or an until date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mcu.schedule import active_at, latest_start
from mcu.store import Repetition

START = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)  # a 31st, to test monthly clamping
HOUR = 3600


@dataclass(frozen=True)
class Sched:
    start_time: datetime | None = START
    duration_seconds: int | None = HOUR
    repetition: Repetition | str | None = None
    repeat_count: int | None = None
    repeat_until: datetime | None = None


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    return START + timedelta(days=days, hours=hours, minutes=minutes)


def test_no_start_time_is_always_active() -> None:
    for record in (Sched(start_time=None), Sched(start_time=None, duration_seconds=None)):
        for now in (datetime(1970, 1, 1, tzinfo=UTC), START, datetime(9999, 1, 1, tzinfo=UTC)):
            assert active_at(record, now)


@pytest.mark.parametrize(
    ("now", "active"),
    [
        (at(minutes=-1), False),
        (at(), True),  # the window opens at the start time itself
        (at(minutes=59), True),
        (at(hours=1), False),  # [start, start + duration)
        (at(days=1), False),  # no repetition: once
        (at(days=400), False),
    ],
)
def test_single_occurrence(now: datetime, active: bool) -> None:
    assert active_at(Sched(), now) is active


def test_open_ended_without_duration() -> None:
    record = Sched(duration_seconds=None)
    assert not active_at(record, at(minutes=-1))
    assert active_at(record, at())
    assert active_at(record, at(days=3650))


def test_zone_of_start_and_now_do_not_matter() -> None:
    paris = timezone(timedelta(hours=1))
    record = Sched(start_time=START.astimezone(paris))
    assert active_at(record, at(minutes=30))
    assert active_at(record, at(minutes=30).astimezone(timezone(timedelta(hours=-7))))
    assert not active_at(record, at(hours=1).astimezone(paris))


@pytest.mark.parametrize("repetition", [Repetition.DAILY, "daily"])
def test_daily_for_ever(repetition: Repetition | str) -> None:
    record = Sched(repetition=repetition)
    assert not active_at(record, at(minutes=-1))
    for day in (0, 1, 2, 365, 3650):
        assert active_at(record, at(days=day))
        assert active_at(record, at(days=day, minutes=59))
        assert not active_at(record, at(days=day, hours=1))
        assert not active_at(record, at(days=day, hours=-1))
    assert latest_start(record, at(days=7, hours=5)) == at(days=7)


def test_weekly() -> None:
    record = Sched(repetition=Repetition.WEEKLY)
    assert active_at(record, at(days=7, minutes=10))
    assert active_at(record, at(days=70, minutes=10))
    for day in (1, 2, 6, 8, 13):
        assert not active_at(record, at(days=day, minutes=10))


def test_monthly_keeps_the_day_clamped_to_the_month() -> None:
    record = Sched(repetition=Repetition.MONTHLY)
    feb = datetime(2027, 2, 28, 9, 30, tzinfo=UTC)  # no Feb 31st: its last day
    assert active_at(record, feb)
    assert not active_at(record, datetime(2027, 2, 27, 9, 30, tzinfo=UTC))
    # Clamping does not drift: March is on the 31st again, April on its 30th.
    assert active_at(record, datetime(2027, 3, 31, 9, 30, tzinfo=UTC))
    assert not active_at(record, datetime(2027, 3, 28, 9, 30, tzinfo=UTC))
    assert active_at(record, datetime(2027, 4, 30, 9, 30, tzinfo=UTC))
    assert active_at(record, datetime(2028, 2, 29, 9, 30, tzinfo=UTC))  # leap year
    assert active_at(record, datetime(2028, 1, 31, 9, 0, tzinfo=UTC))  # across the year
    assert not active_at(record, datetime(2027, 3, 31, 8, 59, tzinfo=UTC))
    assert not active_at(record, datetime(2027, 3, 31, 10, 0, tzinfo=UTC))


def test_monthly_on_an_ordinary_day() -> None:
    record = Sched(start_time=datetime(2027, 1, 15, 18, 0, tzinfo=UTC), repetition="monthly")
    assert active_at(record, datetime(2027, 6, 15, 18, 30, tzinfo=UTC))
    assert not active_at(record, datetime(2027, 6, 14, 18, 30, tzinfo=UTC))
    assert not active_at(record, datetime(2027, 6, 16, 18, 30, tzinfo=UTC))
    assert latest_start(record, datetime(2027, 6, 15, 17, 0, tzinfo=UTC)) == datetime(
        2027, 5, 15, 18, 0, tzinfo=UTC
    )


def test_repeat_count_counts_the_first_occurrence() -> None:
    record = Sched(repetition=Repetition.DAILY, repeat_count=3)
    assert [active_at(record, at(days=d, minutes=5)) for d in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    once = Sched(repetition=Repetition.WEEKLY, repeat_count=1)
    assert active_at(once, at(minutes=5)) and not active_at(once, at(days=7, minutes=5))


def test_repeat_until_keeps_occurrences_starting_by_then() -> None:
    # Until the 4th day at 09:00 exactly: that occurrence counts and runs its full hour.
    record = Sched(repetition=Repetition.DAILY, repeat_until=at(days=3))
    assert [active_at(record, at(days=d, minutes=30)) for d in range(5)] == [
        True,
        True,
        True,
        True,
        False,
    ]
    earlier = Sched(repetition=Repetition.DAILY, repeat_until=at(days=3, minutes=-1))
    assert not active_at(earlier, at(days=3, minutes=30))
    monthly = Sched(repetition="monthly", repeat_until=datetime(2027, 4, 1, tzinfo=UTC))
    assert active_at(monthly, datetime(2027, 3, 31, 9, 30, tzinfo=UTC))
    assert not active_at(monthly, datetime(2027, 4, 30, 9, 30, tzinfo=UTC))


def test_open_ended_repetition_ends_with_its_occurrences() -> None:
    # No duration: each occurrence runs until the next; after the last one, nothing.
    record = Sched(duration_seconds=None, repetition="daily", repeat_count=2)
    assert active_at(record, at(days=1, hours=23))
    assert not active_at(record, at(days=2))


def test_unknown_repetition_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="fortnightly"):
        active_at(Sched(repetition="fortnightly"), at(days=1))


def test_a_conference_record_fits() -> None:
    from mcu.store import ConferenceRecord, EncryptionPolicy

    record = ConferenceRecord(
        id=1,
        name="Weekly",
        numeric_id="1",
        pin=None,
        guest_pin=None,
        owner=None,
        start_time=START,
        duration_seconds=HOUR,
        repetition=Repetition.WEEKLY,
        repeat_count=None,
        repeat_until=None,
        max_participants=None,
        encryption=EncryptionPolicy.OPTIONAL,
        streaming=False,
        layout=None,
        created_at=START,
    )
    assert active_at(record, at(days=14, minutes=1))
    assert not active_at(record, at(days=15, minutes=1))
