"""Validation: every refused value names its field, and the package stays framework-free."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from app.scheduling import (
    LocalWindow,
    Pause,
    QuietHours,
    ReminderPolicy,
    Schedule,
    ScheduleError,
    Snooze,
    Timetable,
    Visit,
)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Timetable("Europe/Paris", windows={"sat": [LocalWindow(time(12), time(9))]}),
            "timetable.windows.sat: end 09:00 is before start 12:00",
        ),
        (
            lambda: Timetable(
                "Europe/Paris", windows={"fri": [LocalWindow(time(18), time(21), overnight=True)]}
            ),
            "timetable.windows.fri: is marked overnight but ends at 21:00",
        ),
        (
            lambda: Timetable("Europe/Paris", windows={"mon": [LocalWindow(time(9), time(9))]}),
            "timetable.windows.mon: starts and ends at 09:00",
        ),
        (
            lambda: Timetable("Europe/Paris", windows={"monday": []}),
            "timetable.windows.monday: unknown day",
        ),
        (lambda: Timetable("Europe/Pariss"), "timetable.tz: unknown time zone 'Europe/Pariss'"),
        (lambda: Timetable("../../etc/passwd"), "timetable.tz: unknown time zone"),
        (lambda: Timetable(""), "timetable.tz: time zone must be an IANA name"),
        (
            lambda: Timetable("UTC", quiet_hours=(QuietHours(time(7), time(7)),)),
            "timetable.quiet_hours[0]: starts and ends at 07:00",
        ),
        (
            lambda: Timetable("UTC", pauses=(Pause(date(2025, 5, 2), date(2025, 5, 1)),)),
            "timetable.pauses[0]: end 2025-05-01 is before start 2025-05-02",
        ),
        (
            lambda: Timetable(
                "UTC", snoozes=(Snooze(datetime(2025, 5, 1), datetime(2025, 5, 2, tzinfo=UTC)),)
            ),
            "timetable.snoozes[0].start: must be timezone-aware",
        ),
        (lambda: Schedule.daily(time(18)), "schedule.window: give exactly one of window"),
        (
            lambda: Schedule.daily(time(18), window=timedelta(hours=25)),
            "schedule.window: at most 1 day, 0:00:00 for a daily schedule",
        ),
        (
            lambda: Schedule.daily(time(18), close_time=time(18)),
            "schedule.close_time: equals open_time 18:00",
        ),
        (
            lambda: Schedule.on_weekdays([], time(18), window=timedelta(hours=1)),
            "schedule.weekdays: choose at least one weekday",
        ),
        (
            lambda: Schedule.on_weekdays([0, 8], time(18), window=timedelta(hours=1)),
            "schedule.weekdays: ISO weekdays are 1 (Monday) to 7 (Sunday)",
        ),
        (
            lambda: Schedule.daily(time(8), window=timedelta(hours=1), max_occurrences=0),
            "schedule.max_occurrences: must be at least 1",
        ),
        (
            lambda: Schedule.daily(time(8), window=timedelta(hours=1), start_day=3, end_day=2),
            "schedule.end_day: 2 is before start_day 3",
        ),
        (
            lambda: Schedule.visit_plan([Visit(7, -1, 2)]),
            "schedule.visits[0]: before_days and after_days must be ≥ 0",
        ),
        (
            lambda: Schedule.visit_plan([Visit(7), Visit(7, 1, 1)]),
            "schedule.visits[1]: a second visit on day 7",
        ),
        (
            lambda: Schedule.visit_plan([]),
            "schedule.visits: a visits schedule needs at least one visit",
        ),
        (
            lambda: Schedule("monthly"),
            "schedule.kind: must be one of daily, weekdays, weekly, visits",
        ),
        (
            lambda: ReminderPolicy((), 3),
            "policy.follow_up_gaps: max_count is 3, so at least one follow-up gap is needed",
        ),
        (
            lambda: ReminderPolicy((timedelta(0),), 2),
            "policy.follow_up_gaps[0]: must be a positive duration",
        ),
        (lambda: ReminderPolicy((), 21), "policy.max_count: must be an integer from 0 to 20"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(build: Any, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        build()
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)


def test_valid_windows_crossing_midnight_must_say_so_and_midnight_end_needs_no_flag() -> None:
    table = Timetable(
        "Europe/Paris",
        windows={
            "fri": (LocalWindow(time(22), time(1), overnight=True),),
            "sat": LocalWindow(time(18), time(0)),
        },  # type: ignore[dict-item]
        quiet_hours=(QuietHours(time(22), time(7)),),
    )
    assert table.windows_on(5) == (LocalWindow(time(22), time(1), overnight=True),)
    assert table.windows_on(6) == (LocalWindow(time(18), time(0)),)
    assert table.windows_on(1) == ()
