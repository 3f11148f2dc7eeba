"""Occurrence windows in local time across DST changes, visits, ends and time-zone moves."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from app.scheduling import (
    OccurrenceWindow,
    Schedule,
    ScheduleError,
    Visit,
    occurrences_after_move,
    occurrences_between,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


EVENING = Schedule.daily(time(18), window=timedelta(hours=3))


def opens_by_key(
    schedule: Schedule, tz: str, start: datetime, end: datetime
) -> dict[str, datetime]:
    found = occurrences_between(schedule, date(2000, 1, 1), tz, start, end)
    return {o.key: o.opens_at_utc for o in found}


@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        # Spring forward: the same 18:00 is one hour earlier in UTC the day after.
        (
            "Europe/Paris",
            ("2025-03-29", utc(2025, 3, 29, 17)),
            ("2025-03-30", utc(2025, 3, 30, 16)),
        ),
        (
            "Europe/Paris",
            ("2025-10-25", utc(2025, 10, 25, 16)),
            ("2025-10-26", utc(2025, 10, 26, 17)),
        ),
        (
            "America/New_York",
            ("2025-03-08", utc(2025, 3, 8, 23)),
            ("2025-03-09", utc(2025, 3, 9, 22)),
        ),
        (
            "America/New_York",
            ("2025-11-01", utc(2025, 11, 1, 22)),
            ("2025-11-02", utc(2025, 11, 2, 23)),
        ),
        # Lord Howe moves by thirty minutes.
        (
            "Australia/Lord_Howe",
            ("2025-04-05", utc(2025, 4, 5, 7)),
            ("2025-04-06", utc(2025, 4, 6, 7, 30)),
        ),
        (
            "Australia/Lord_Howe",
            ("2025-10-04", utc(2025, 10, 4, 7, 30)),
            ("2025-10-05", utc(2025, 10, 5, 7)),
        ),
        (
            "Asia/Kolkata",
            ("2025-03-29", utc(2025, 3, 29, 12, 30)),
            ("2025-03-30", utc(2025, 3, 30, 12, 30)),
        ),
    ],
)
def test_evening_occurrence_opens_at_18_local_on_both_sides_of_a_transition(
    tz: str, before: tuple[str, datetime], after: tuple[str, datetime]
) -> None:
    day = date.fromisoformat(before[0])
    start = datetime.combine(day, time(0), UTC) - timedelta(days=1)
    found = opens_by_key(EVENING, tz, start, start + timedelta(days=3))
    assert found[before[0]] == before[1]
    assert found[after[0]] == after[1]


def test_apia_skipped_day_opens_at_the_first_instant_after_the_gap() -> None:
    # Samoa crossed the date line: 2011-12-30 never happened in Pacific/Apia.
    found = opens_by_key(EVENING, "Pacific/Apia", utc(2011, 12, 29, 12), utc(2012, 1, 1))
    assert found == {
        "2011-12-29": utc(2011, 12, 30, 4),  # 18:00 at UTC-10
        "2011-12-30": utc(2011, 12, 30, 10),  # the jump: 2011-12-31 00:00 at UTC+14
        "2011-12-31": utc(2011, 12, 31, 4),  # 18:00 at UTC+14
    }


@pytest.mark.parametrize(
    ("tz", "day", "at", "expected"),
    [
        ("Europe/Paris", date(2025, 3, 30), time(2, 30), utc(2025, 3, 30, 1)),  # 03:00 CEST
        ("America/New_York", date(2025, 3, 9), time(2, 30), utc(2025, 3, 9, 7)),  # 03:00 EDT
        ("Australia/Lord_Howe", date(2025, 10, 5), time(2, 15), utc(2025, 10, 4, 15, 30)),  # 02:30
        # Ambiguous readings take the first one (summer time still in force).
        ("Europe/Paris", date(2025, 10, 26), time(2, 30), utc(2025, 10, 26, 0, 30)),
        ("America/New_York", date(2025, 11, 2), time(1, 30), utc(2025, 11, 2, 5, 30)),
        ("Australia/Lord_Howe", date(2025, 4, 6), time(1, 45), utc(2025, 4, 5, 14, 45)),
    ],
)
def test_nonexistent_open_time_moves_to_the_transition_and_ambiguous_takes_the_first(
    tz: str, day: date, at: time, expected: datetime
) -> None:
    schedule = Schedule.daily(at, window=timedelta(hours=2))
    found = opens_by_key(
        schedule,
        tz,
        utc(day.year, day.month, day.day) - timedelta(days=1),
        utc(day.year, day.month, day.day) + timedelta(days=2),
    )
    assert found[day.isoformat()] == expected


def test_close_time_after_midnight_closes_the_next_day_in_wall_clock_time() -> None:
    late = Schedule.daily(time(22), close_time=time(2))
    [occ] = occurrences_between(
        late, date(2025, 1, 1), "Europe/Paris", utc(2025, 10, 25, 12), utc(2025, 10, 26, 12)
    )
    # Opens 22:00 CEST, closes 02:00 on the fall-back night: first reading, still CEST.
    assert occ == OccurrenceWindow("2025-10-25", utc(2025, 10, 25, 20), utc(2025, 10, 26, 0))


def test_window_length_is_elapsed_time_even_across_a_transition() -> None:
    whole_day = Schedule.daily(time(18), window=timedelta(hours=24))
    found = occurrences_between(
        whole_day, date(2025, 1, 1), "Europe/Paris", utc(2025, 3, 29), utc(2025, 3, 30)
    )
    assert [(o.key, o.closes_at_utc - o.opens_at_utc) for o in found] == [
        ("2025-03-29", timedelta(hours=24))
    ]


def test_visits_open_and_close_on_local_days_of_their_windows() -> None:
    plan = Schedule.visit_plan([Visit(0), Visit(7, 2, 2), Visit(28, 3, 3)])
    found = occurrences_between(
        plan, date(2025, 3, 3), "Europe/Paris", utc(2025, 1, 1), utc(2026, 1, 1)
    )
    assert found == [
        OccurrenceWindow("visit:day+0", utc(2025, 3, 2, 23), utc(2025, 3, 3, 23)),
        OccurrenceWindow("visit:day+7", utc(2025, 3, 7, 23), utc(2025, 3, 12, 23)),
        # Day 28 is 2025-03-31: opens 03-28 00:00 CET, closes after 04-03 (CEST by then).
        OccurrenceWindow("visit:day+28", utc(2025, 3, 27, 23), utc(2025, 4, 3, 22)),
    ]


def test_visit_close_time_and_negative_offsets() -> None:
    plan = Schedule.visit_plan([Visit(-7, 0, 1)], open_time=time(9), close_time=time(17))
    [occ] = occurrences_between(
        plan, date(2025, 6, 10), "Asia/Kolkata", utc(2025, 1, 1), utc(2026, 1, 1)
    )
    assert occ == OccurrenceWindow("visit:day-7", utc(2025, 6, 3, 3, 30), utc(2025, 6, 4, 11, 30))


def test_schedule_ends_after_n_occurrences_even_when_the_query_starts_later() -> None:
    three_days = Schedule.on_weekdays(
        {1, 3, 5}, time(18), window=timedelta(hours=3), max_occurrences=4
    )
    anchor = date(2025, 3, 3)  # a Monday
    everything = occurrences_between(
        three_days, anchor, "Europe/Paris", utc(2025, 1, 1), utc(2026, 1, 1)
    )
    assert [o.key for o in everything] == ["2025-03-03", "2025-03-05", "2025-03-07", "2025-03-10"]
    later = occurrences_between(
        three_days, anchor, "Europe/Paris", utc(2025, 3, 8), utc(2026, 1, 1)
    )
    assert [o.key for o in later] == ["2025-03-10"]


def test_end_day_end_date_and_start_day_are_inclusive_local_dates() -> None:
    anchor = date(2025, 3, 3)
    daily = Schedule.daily(time(8), window=timedelta(hours=1), start_day=1, end_day=3)
    keys = [
        o.key for o in occurrences_between(daily, anchor, "UTC", utc(2025, 1, 1), utc(2026, 1, 1))
    ]
    assert keys == ["2025-03-04", "2025-03-05", "2025-03-06"]
    dated = Schedule.daily(
        time(8), window=timedelta(hours=1), end_date=date(2025, 3, 4), max_occurrences=10
    )
    assert len(occurrences_between(dated, anchor, "UTC", utc(2025, 1, 1), utc(2026, 1, 1))) == 2


def test_weekly_without_weekday_recurs_on_the_start_days_weekday() -> None:
    weekly = Schedule.weekly(None, time(10), window=timedelta(days=2), max_occurrences=3)
    found = occurrences_between(
        weekly, date(2025, 3, 5), "America/New_York", utc(2025, 1, 1), utc(2026, 1, 1)
    )
    assert [o.key for o in found] == ["2025-03-05", "2025-03-12", "2025-03-19"]


def test_split_ranges_materialise_the_same_rows_as_one_range() -> None:
    whole = occurrences_between(
        EVENING, date(2025, 1, 1), "Europe/Paris", utc(2025, 3, 25), utc(2025, 4, 5)
    )
    split = occurrences_between(
        EVENING, date(2025, 1, 1), "Europe/Paris", utc(2025, 3, 25), utc(2025, 3, 30, 16)
    )
    split += occurrences_between(
        EVENING, date(2025, 1, 1), "Europe/Paris", utc(2025, 3, 30, 16), utc(2025, 4, 5)
    )
    assert split == whole
    assert len({o.key for o in whole}) == len(whole) == 11


def test_move_keeps_what_already_opened_and_recomputes_the_rest_in_the_new_zone() -> None:
    anchor = date(2025, 6, 1)
    # Paris 18:00 = 16:00Z opened on 06-10; the family lands in New York at 17:00Z.
    plan = occurrences_after_move(
        EVENING, anchor, "Europe/Paris", "America/New_York", utc(2025, 6, 10, 17), utc(2025, 6, 13)
    )
    assert [(o.key, o.opens_at_utc) for o in plan] == [
        ("2025-06-11", utc(2025, 6, 11, 22)),
        ("2025-06-12", utc(2025, 6, 12, 22)),
    ]


def test_move_east_never_turns_a_not_yet_open_occurrence_into_a_missed_one() -> None:
    anchor = date(2025, 6, 1)
    # New York 18:00 on 06-10 (22:00Z) is not open yet at 20:00Z, when the family lands in
    # Tokyo; Tokyo's 06-10 window (09:00-12:00Z) is already over, so the old window stays.
    plan = occurrences_after_move(
        EVENING, anchor, "America/New_York", "Asia/Tokyo", utc(2025, 6, 10, 20), utc(2025, 6, 12)
    )
    assert [(o.key, o.opens_at_utc) for o in plan] == [
        ("2025-06-10", utc(2025, 6, 10, 22)),
        ("2025-06-11", utc(2025, 6, 11, 9)),
    ]


def test_queries_refuse_naive_instants_unknown_zones_and_datetime_anchors() -> None:
    with pytest.raises(ScheduleError, match=r"^start_utc: must be timezone-aware"):
        occurrences_between(EVENING, date(2025, 1, 1), "UTC", datetime(2025, 1, 1), utc(2025, 1, 2))
    with pytest.raises(ScheduleError, match=r"^tz: unknown time zone 'Mars/Olympus'"):
        occurrences_between(
            EVENING, date(2025, 1, 1), "Mars/Olympus", utc(2025, 1, 1), utc(2025, 1, 2)
        )
    with pytest.raises(ScheduleError, match=r"^anchor: must be a local date"):
        occurrences_between(EVENING, utc(2025, 1, 1), "UTC", utc(2025, 1, 1), utc(2025, 1, 2))
    assert (
        occurrences_between(EVENING, date(2025, 1, 1), "UTC", utc(2025, 1, 2), utc(2025, 1, 1))
        == []
    )
