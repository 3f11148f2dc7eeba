"""Property-based tests of the scheduling maths across real time zones and DST transitions.

Inputs are centred on an actual offset change of a randomly sampled IANA zone (when it has one
that year) so gaps, folds and skipped days come up often. The reminder checks use an oracle
written here from the documented rules, plus a 5-minute grid scan proving no earlier allowed
instant was skipped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from app.scheduling import (
    LocalWindow,
    OccurrenceWindow,
    Pause,
    QuietHours,
    ReminderPolicy,
    Schedule,
    Snooze,
    Timetable,
    Visit,
    occurrences_between,
    reminder_times,
)
from app.scheduling.localtime import transitions_between

ZONES = sorted(available_timezones())
# Most zones have had no DST for years; these keep gaps and folds frequent: 30-minute and
# 2-hour shifts, negative DST (Dublin), midnight transitions (Havana, Santiago, Gaza), a
# skipped day (Apia 2011), southern hemisphere and quarter-hour offsets (Chatham).
DST_ZONES = [
    "Africa/Casablanca", "America/Havana", "America/New_York", "America/Santiago",
    "America/Sao_Paulo", "America/St_Johns", "Antarctica/Troll", "Asia/Gaza", "Asia/Tehran",
    "Australia/Adelaide", "Australia/Lord_Howe", "Europe/Dublin", "Europe/Paris",
    "Pacific/Apia", "Pacific/Chatham",
]  # fmt: skip
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GRID = timedelta(minutes=5)
SLOW = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def zone_and_moment(draw: st.DrawFn) -> tuple[str, datetime, datetime]:
    """A zone, a UTC instant usually within two days of one of that zone's transitions, and
    that transition (or a plain day when the zone has none that year)."""
    name = draw(st.sampled_from(ZONES) | st.sampled_from(DST_ZONES))
    year = draw(st.integers(1995, 2035))
    start = datetime(year, 1, 1, tzinfo=UTC)
    changes = transitions_between(ZoneInfo(name), start, start.replace(year=year + 1))
    if changes:
        centre = draw(st.sampled_from(changes))
    else:
        centre = start + timedelta(days=draw(st.integers(0, 364)))
    return name, centre + timedelta(minutes=15 * draw(st.integers(-192, 192))), centre


quarter_hours = st.builds(lambda q: time(q // 4, 15 * (q % 4)), st.integers(0, 95))


@st.composite
def local_windows(draw: st.DrawFn) -> LocalWindow:
    start, end = draw(quarter_hours), draw(quarter_hours)
    if start == end:
        end = time(0) if start != time(0) else time(12)
    if end == time(0) or end > start:
        return LocalWindow(start, end)
    return LocalWindow(start, end, overnight=True)


@st.composite
def timetables(draw: st.DrawFn, name: str, around: datetime) -> Timetable:
    zone = ZoneInfo(name)
    windows = None
    if draw(st.booleans()):
        days = draw(st.sets(st.sampled_from(DAYS), min_size=4))
        windows = {day: draw(st.lists(local_windows(), min_size=1, max_size=2)) for day in days}
    quiet = []
    for _ in range(draw(st.integers(0, 1))):
        start, end = draw(quarter_hours), draw(quarter_hours)
        if start != end:
            quiet.append(QuietHours(start, end))
    local_day = around.astimezone(zone).date()
    pauses = []
    for _ in range(draw(st.integers(0, 1))):
        first = local_day + timedelta(days=draw(st.integers(-1, 3)))
        pauses.append(Pause(first, first + timedelta(days=draw(st.integers(0, 1)))))
    snoozes = []
    for _ in range(draw(st.integers(0, 2))):
        start = around + timedelta(minutes=15 * draw(st.integers(-8, 200)))
        snoozes.append(Snooze(start, start + timedelta(minutes=15 * draw(st.integers(1, 16)))))
    return Timetable(name, windows, tuple(quiet), tuple(pauses), tuple(snoozes))


policies = st.builds(
    ReminderPolicy,
    st.lists(
        st.integers(1, 48).map(lambda q: timedelta(minutes=15 * q)), min_size=1, max_size=3
    ).map(tuple),
    st.integers(1, 5),
)


def oracle_allows(table: Timetable, instant: datetime) -> bool:
    """The documented rule, judged on the wall clock independently of the package's search."""
    if any(s.start <= instant < s.until for s in table.snoozes):
        return False
    local = instant.astimezone(ZoneInfo(table.tz))
    day, moment = local.date(), local.time().replace(fold=0)
    if any(p.start <= day <= p.end for p in table.pauses):
        return False
    for q in table.quiet_hours:
        inside = (
            q.start <= moment < q.end if q.start < q.end else (moment >= q.start or moment < q.end)
        )
        if inside:
            return False
    if table.windows is None:
        return True
    today = table.windows.get(DAYS[day.weekday()], ())
    yesterday = table.windows.get(DAYS[(day.weekday() - 1) % 7], ())
    for w in today:
        end_of_day = w.overnight or w.end == time(0)
        if (moment >= w.start) if end_of_day else (w.start <= moment < w.end):
            return True
    return any(w.overnight and w.end != time(0) and moment < w.end for w in yesterday)


def grid_has_allowed(table: Timetable, start: datetime, end: datetime) -> datetime | None:
    point = start
    while point < end:
        if oracle_allows(table, point):
            return point
        point += GRID
    return None


@SLOW
@given(data=st.data(), zm=zone_and_moment(), policy=policies)
def test_reminders_respect_the_timetable_and_miss_no_earlier_allowed_moment(
    data: st.DataObject, zm: tuple[str, datetime, datetime], policy: ReminderPolicy
) -> None:
    name, around, _ = zm
    table = data.draw(timetables(name, around))
    opens = around
    closes = opens + timedelta(minutes=15 * data.draw(st.integers(1, 4 * 36)))
    window = OccurrenceWindow("k", opens, closes)
    completed = data.draw(
        st.none() | st.integers(0, 4 * 40).map(lambda q: opens + timedelta(minutes=15 * q))
    )
    times = reminder_times(window, policy, table, completed_at=completed)

    limit = min(closes, completed) if completed else closes
    event(f"reminders: {'none' if not times else 'one' if len(times) == 1 else 'several'}")
    assert len(times) <= policy.max_count
    assert all(a < b for a, b in pairwise(times))
    for number, at in enumerate(times):
        assert at.tzinfo is not None and at.utcoffset() == timedelta(0)
        assert opens <= at < limit
        assert oracle_allows(table, at), (
            f"reminder at {at.astimezone(ZoneInfo(name))} is not allowed"
        )
        due = opens if number == 0 else times[number - 1] + policy.gap_before(number)
        assert at >= due
        assert grid_has_allowed(table, due, at) is None
    if len(times) < policy.max_count:
        due = opens if not times else times[-1] + policy.gap_before(len(times))
        assert grid_has_allowed(table, due, limit) is None


def schedules(quarter_hours: st.SearchStrategy[time]) -> st.SearchStrategy[Schedule]:
    return st.one_of(
        st.builds(
            lambda at, hours, count: Schedule.daily(
                at, window=timedelta(minutes=15 * hours), max_occurrences=count
            ),
            quarter_hours,
            st.integers(1, 96),
            st.none() | st.integers(1, 30),
        ),
        st.builds(
            lambda days, at, close, end: Schedule.on_weekdays(
                days,
                at,
                close_time=close if close != at else None,
                window=None if close != at else timedelta(hours=1),
                end_day=end,
            ),
            st.sets(st.integers(1, 7), min_size=1),
            quarter_hours,
            quarter_hours,
            st.none() | st.integers(0, 40),
        ),
        st.builds(
            lambda day, at, count: Schedule.weekly(
                day, at, window=timedelta(days=2), max_occurrences=count
            ),
            st.none() | st.integers(1, 7),
            quarter_hours,
            st.none() | st.integers(1, 6),
        ),
        st.builds(
            lambda offsets, at: Schedule.visit_plan(
                [Visit(o, o % 3, o % 4) for o in sorted(offsets)], open_time=at
            ),
            st.sets(st.integers(-10, 40), min_size=1, max_size=5),
            quarter_hours,
        ),
    )


@SLOW
@given(
    data=st.data(),
    zm=zone_and_moment(),
    anchor_shift=st.integers(-20, 5),
    cuts=st.tuples(st.integers(0, 24 * 20), st.integers(0, 24 * 20), st.integers(0, 1000)),
)
def test_occurrences_partition_by_opening_and_open_at_the_local_time(
    data: st.DataObject,
    zm: tuple[str, datetime, datetime],
    anchor_shift: int,
    cuts: tuple[int, int, int],
) -> None:
    name, around, centre = zm
    zone = ZoneInfo(name)
    near_change = times_near(centre, zone)
    schedule = data.draw(schedules(st.one_of(near_change, near_change, quarter_hours)))
    anchor = around.astimezone(zone).date() + timedelta(days=anchor_shift)
    # The range always covers the transition's neighbourhood; b cuts it anywhere.
    a = around - timedelta(days=3, hours=cuts[0])
    c = around + timedelta(days=3, hours=cuts[1])
    b = a + (c - a) * cuts[2] / 1000
    whole = occurrences_between(schedule, anchor, name, a, c)
    parts = occurrences_between(schedule, anchor, name, a, b) + occurrences_between(
        schedule, anchor, name, b, c
    )
    assert parts == whole
    assert len({o.key for o in whole}) == len(whole)
    again = {
        o.key: o
        for o in occurrences_between(
            schedule, anchor, name, a - timedelta(days=3), c + timedelta(days=3)
        )
    }
    for occ in whole:
        assert again[occ.key] == occ  # same key, same window, whatever the query range
        assert a <= occ.opens_at_utc < c
        assert occ.opens_at_utc < occ.closes_at_utc
        _check_opening_rule(schedule, anchor, occ, zone)


def times_near(change: datetime, zone: ZoneInfo) -> st.SearchStrategy[time]:
    """Quarter-hour wall times just after the reading before ``change`` (inside a spring-forward
    gap) or just after the reading after it (inside a fall-back fold)."""
    readings = [
        (change - timedelta(seconds=1)).astimezone(zone) + timedelta(seconds=1),
        change.astimezone(zone),
    ]
    return st.builds(
        lambda base, q: (
            (datetime.combine(date.min, base.time()) + timedelta(minutes=15 * q))
            .time()
            .replace(second=0, microsecond=0)
        ),
        st.sampled_from(readings),
        st.integers(0, 3),
    )


def _check_opening_rule(
    schedule: Schedule, anchor: date, occ: OccurrenceWindow, zone: ZoneInfo
) -> None:
    scheduled = _scheduled_wall_time(schedule, anchor, occ.key)
    exact = scheduled.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if exact.astimezone(zone).replace(tzinfo=None) == scheduled:
        assert occ.opens_at_utc == exact  # existing (possibly ambiguous) time: first reading
        if scheduled.replace(tzinfo=zone, fold=1).astimezone(UTC) != exact:
            event("ambiguous opening time")
    else:
        # Nonexistent time: the first instant after the gap, where the offset changes.
        event("nonexistent opening time")
        before = (occ.opens_at_utc - timedelta(seconds=1)).astimezone(zone)
        assert before.utcoffset() != occ.opens_at_utc.astimezone(zone).utcoffset()
        assert (
            before.replace(tzinfo=None)
            < scheduled
            <= occ.opens_at_utc.astimezone(zone).replace(tzinfo=None)
        )


@settings(max_examples=100, deadline=None)
@given(data=st.data(), name=st.sampled_from(DST_ZONES), year=st.integers(1995, 2035))
def test_daily_opening_on_transition_days_follows_the_gap_and_fold_rule(
    data: st.DataObject, name: str, year: int
) -> None:
    zone = ZoneInfo(name)
    start = datetime(year, 1, 1, tzinfo=UTC)
    changes = transitions_between(zone, start, start.replace(year=year + 1))
    assume(changes)
    change = data.draw(st.sampled_from(changes))
    schedule = Schedule.daily(data.draw(times_near(change, zone)), window=timedelta(hours=1))
    found = occurrences_between(
        schedule, date(1990, 1, 1), zone, change - timedelta(days=2), change + timedelta(days=2)
    )
    assert len(found) >= 3
    for occ in found:
        _check_opening_rule(schedule, date(1990, 1, 1), occ, zone)


def _scheduled_wall_time(schedule: Schedule, anchor: date, key: str) -> datetime:
    if key.startswith("visit:day"):
        visit = next(
            v for v in schedule.visits if v.day_offset == int(key.removeprefix("visit:day"))
        )
        day = anchor + timedelta(days=visit.day_offset - visit.before_days)
    else:
        day = date.fromisoformat(key)
    return datetime.combine(day, schedule.open_time)


@settings(max_examples=60, deadline=None)
@given(zm=zone_and_moment(), count=st.integers(1, 40), days=st.sets(st.integers(1, 7), min_size=1))
def test_schedule_with_n_occurrences_yields_exactly_n_wherever_the_ranges_are_cut(
    zm: tuple[str, datetime, datetime], count: int, days: set[int]
) -> None:
    name, around, _ = zm
    schedule = Schedule.on_weekdays(
        days, time(18), window=timedelta(hours=3), max_occurrences=count
    )
    anchor = around.astimezone(ZoneInfo(name)).date()
    start = around - timedelta(days=3)
    weekly_cuts = [
        occurrences_between(
            schedule, anchor, name, start + timedelta(weeks=w), start + timedelta(weeks=w + 1)
        )
        for w in range(42)
    ]
    assert sum(len(cut) for cut in weekly_cuts) == count
