"""Reminder times under a family's timetable: windows, quiet hours, pauses, snoozes, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from app.scheduling import (
    LocalWindow,
    OccurrenceWindow,
    Pause,
    QuietHours,
    ReminderPolicy,
    Schedule,
    Snooze,
    Timetable,
    is_allowed,
    next_allowed_instant,
    occurrences_between,
    reminder_times,
)
from app.scheduling.reminder_times import pause_reason


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


WEEKDAY_EVENINGS = {
    day: (LocalWindow(time(18), time(21)),) for day in ("mon", "tue", "wed", "thu", "fri")
}
WEEKEND_MORNINGS = {day: (LocalWindow(time(9), time(12)),) for day in ("sat", "sun")}
FAMILY = Timetable(
    "Europe/Paris",
    windows=WEEKDAY_EVENINGS | WEEKEND_MORNINGS,
    quiet_hours=(QuietHours(time(20, 30), time(7)),),
)
HOURLY_FIVE = ReminderPolicy((timedelta(hours=1),), max_count=5)
# Friday 2025-03-28 17:00 CET to Saturday 17:00: the spring-forward night is the next one.
FRIDAY = OccurrenceWindow("2025-03-28", utc(2025, 3, 28, 16), utc(2025, 3, 29, 16))


def test_reminders_follow_the_weekday_window_quiet_hours_and_the_weekend_window() -> None:
    assert reminder_times(FRIDAY, HOURLY_FIVE, FAMILY) == [
        utc(2025, 3, 28, 17),  # 18:00, first allowed moment after opening at 17:00
        utc(2025, 3, 28, 18),
        utc(2025, 3, 28, 19),  # 20:00; 21:00 would be in quiet hours (and outside the window)
        utc(2025, 3, 29, 8),  # Saturday 09:00
        utc(2025, 3, 29, 9),
    ]


def test_no_reminder_after_completion_or_at_close() -> None:
    assert reminder_times(FRIDAY, HOURLY_FIVE, FAMILY, completed_at=utc(2025, 3, 28, 18, 30)) == [
        utc(2025, 3, 28, 17),
        utc(2025, 3, 28, 18),
    ]
    assert reminder_times(FRIDAY, HOURLY_FIVE, FAMILY, completed_at=utc(2025, 3, 28, 12)) == []
    short = OccurrenceWindow("2025-03-28", utc(2025, 3, 28, 16), utc(2025, 3, 28, 18))
    assert reminder_times(short, HOURLY_FIVE, FAMILY) == [utc(2025, 3, 28, 17)]


def test_pause_blocks_whole_local_days_and_resumes_by_itself() -> None:
    paused = Timetable(
        FAMILY.tz,
        FAMILY.windows,
        FAMILY.quiet_hours,
        pauses=(Pause(date(2025, 3, 28), date(2025, 3, 28), "hospital stay"),),
    )
    assert reminder_times(FRIDAY, HOURLY_FIVE, paused) == [
        utc(2025, 3, 29, 8),
        utc(2025, 3, 29, 9),
        utc(2025, 3, 29, 10),
    ]
    assert pause_reason(paused, date(2025, 3, 28)) == "hospital stay"
    assert pause_reason(paused, date(2025, 3, 29)) is None


def test_snooze_pushes_the_next_reminder_and_recomputing_with_now_keeps_the_count() -> None:
    snoozed = Timetable(
        FAMILY.tz,
        FAMILY.windows,
        FAMILY.quiet_hours,
        snoozes=(Snooze(utc(2025, 3, 28, 17, 1), utc(2025, 3, 28, 19, 15)),),
    )
    assert reminder_times(FRIDAY, HOURLY_FIVE, snoozed, now=utc(2025, 3, 28, 17, 1)) == [
        utc(2025, 3, 28, 19, 15),  # 20:15, the end of the snooze
        utc(2025, 3, 29, 8),
        utc(2025, 3, 29, 9),
        utc(2025, 3, 29, 10),
    ]


def test_window_starting_in_the_spring_forward_gap_opens_at_the_transition() -> None:
    night_owl = Timetable("Europe/Paris", windows={"sun": (LocalWindow(time(2), time(4)),)})
    assert next_allowed_instant(night_owl, utc(2025, 3, 29, 12), utc(2025, 3, 31)) == utc(
        2025, 3, 30, 1
    )


def test_repeated_fall_back_hour_is_quiet_on_both_readings() -> None:
    quiet = Timetable("Europe/Paris", quiet_hours=(QuietHours(time(1), time(2, 30)),))
    assert not is_allowed(quiet, utc(2025, 10, 26, 0, 15))  # 02:15 CEST
    assert is_allowed(quiet, utc(2025, 10, 26, 0, 45))  # 02:45 CEST
    assert not is_allowed(quiet, utc(2025, 10, 26, 1, 15))  # 02:15 CET, the clock read it again
    assert next_allowed_instant(quiet, utc(2025, 10, 26, 1), utc(2025, 10, 27)) == utc(
        2025, 10, 26, 1, 30
    )


def test_overnight_window_belongs_to_the_day_it_starts() -> None:
    shift_worker = Timetable(
        "America/New_York", windows={"fri": (LocalWindow(time(23), time(2), overnight=True),)}
    )
    assert is_allowed(shift_worker, utc(2025, 3, 8, 6, 30))  # Saturday 01:30 EST
    assert not is_allowed(
        shift_worker, utc(2025, 3, 9, 6, 30)
    )  # Sunday 01:30: Saturday has no window
    assert next_allowed_instant(shift_worker, utc(2025, 3, 8, 8), utc(2025, 3, 16)) == utc(
        2025, 3, 15, 3
    )  # Fri 23:00 EDT


def test_lord_howe_half_hour_shift_keeps_reminders_at_local_evening() -> None:
    evenings = (LocalWindow(time(18), time(21)),)
    table = Timetable(
        "Australia/Lord_Howe",
        windows=dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), evenings),
    )
    schedule = Schedule.daily(time(17), window=timedelta(hours=5))
    found = occurrences_between(
        schedule, date(2025, 1, 1), "Australia/Lord_Howe", utc(2025, 10, 3), utc(2025, 10, 6)
    )
    firsts = [reminder_times(occ, ReminderPolicy(), table)[0] for occ in found]
    assert [t.astimezone(table.zone).time() for t in firsts] == [time(18)] * 3
    assert firsts[1] - firsts[0] == timedelta(days=1)  # Saturday: +10:30 both evenings
    assert firsts[2] - firsts[1] == timedelta(hours=23, minutes=30)  # Sunday: +11 after 02:00


def test_kolkata_has_no_dst_and_no_windows_means_any_time_outside_quiet_hours() -> None:
    table = Timetable("Asia/Kolkata", quiet_hours=(QuietHours(time(21), time(8)),))
    occ = OccurrenceWindow("2025-03-30", utc(2025, 3, 30, 14), utc(2025, 3, 31, 14))  # 19:30 IST
    twice = ReminderPolicy((timedelta(hours=2),), max_count=3)
    assert reminder_times(occ, twice, table) == [
        utc(2025, 3, 30, 14),
        utc(2025, 3, 31, 2, 30),
        utc(2025, 3, 31, 4, 30),
    ]


def test_nothing_allowed_gives_no_reminder() -> None:
    never = Timetable("UTC", windows={})
    assert next_allowed_instant(never, utc(2025, 1, 1), utc(2025, 2, 1)) is None
    assert reminder_times(FRIDAY, HOURLY_FIVE, never) == []
    assert reminder_times(FRIDAY, ReminderPolicy(max_count=0), FAMILY) == []
