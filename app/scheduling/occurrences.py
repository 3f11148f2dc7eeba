"""Occurrences: the concrete open/close windows a schedule produces for one person.

Everything is computed in the person's local wall-clock time and converted to UTC at the
boundary by ``localtime.local_to_utc`` (nonexistent times move forward to the first valid
instant, ambiguous ones take their first reading). The functions are pure: the caller passes the
anchor date (enrolment or another study date, as a local date) and the time zone in force.

Materialising (the caller's side): store one row per ``(participant, schedule, key)`` under a
UNIQUE constraint and insert with "on conflict do nothing". An occurrence belongs to the query
range that contains its **opening** instant, so ranges [a, b) and [b, c) give exactly the rows of
[a, c): a rolling horizon can be extended tick by tick, and re-running a tick never duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.scheduling.errors import ScheduleError
from app.scheduling.localtime import load_zone, local_to_utc, require_aware, wall_clock
from app.scheduling.model import Schedule, Visit

# Offsets span UTC-12 to UTC+14 and a day may be skipped (Pacific/Apia, 2011-12-30), so the
# same scheduled local day opens at most ~2 days of UTC apart in any two zones; 3 is a margin.
_ZONE_SHIFT_MARGIN = timedelta(days=3)


@dataclass(frozen=True)
class OccurrenceWindow:
    """One due questionnaire: open in [``opens_at_utc``, ``closes_at_utc``).

    ``key`` is stable and unique within a schedule: the scheduled local date (``2025-03-30``)
    for recurring schedules, ``visit:day+7`` for visits. It does not depend on the time zone or
    the query range, so it identifies the row to upsert after a time-zone move.
    """

    key: str
    opens_at_utc: datetime
    closes_at_utc: datetime


def occurrences_between(
    schedule: Schedule,
    anchor: date,
    tz: str | ZoneInfo,
    start_utc: datetime,
    end_utc: datetime,
) -> list[OccurrenceWindow]:
    """The occurrences of ``schedule`` whose opening instant lies in [``start_utc``, ``end_utc``),
    computed in ``tz`` for a person whose anchor (day 0) is the local date ``anchor``; sorted by
    opening instant, then key.

    After a time-zone move, call this with the new zone for whatever is not yet open, or use
    ``occurrences_after_move`` which also keeps occurrences that already opened.
    """
    if not isinstance(anchor, date) or isinstance(anchor, datetime):
        raise ScheduleError("anchor", f"must be a local date, got {type(anchor).__name__}")
    zone = load_zone(tz)
    start = require_aware(start_utc, "start_utc")
    end = require_aware(end_utc, "end_utc")
    if end <= start:
        return []
    if schedule.kind == "visits":
        found = [_visit_window(schedule, anchor, zone, visit) for visit in schedule.visits]
    else:
        found = list(_recurring_windows(schedule, anchor, zone, start, end))
    return sorted(
        (o for o in found if start <= o.opens_at_utc < end),
        key=lambda o: (o.opens_at_utc, o.key),
    )


def occurrences_after_move(
    schedule: Schedule,
    anchor: date,
    old_tz: str | ZoneInfo,
    new_tz: str | ZoneInfo,
    moved_at_utc: datetime,
    horizon_end_utc: datetime,
) -> list[OccurrenceWindow]:
    """What to write after the person's time zone changes at ``moved_at_utc``.

    Rule: an occurrence that already opened under the old zone keeps its window (a family part
    way through a questionnaire is not moved under its feet). Every other key up to the horizon
    takes its window in the new zone; if that window would already be over, the old (not yet
    open) window is kept instead, so a move never makes a questionnaire missed.

    The caller upserts the returned rows by key, and deletes its materialised rows that are not
    yet open (opens_at > moved_at) and whose key is not returned; the rolling horizon then
    continues in the new zone with ``occurrences_between`` as usual.
    """
    moved_at = require_aware(moved_at_utc, "moved_at_utc")
    horizon_end = require_aware(horizon_end_utc, "horizon_end_utc")
    earliest = moved_at - 2 * _ZONE_SHIFT_MARGIN
    old = {
        o.key: o
        for o in occurrences_between(
            schedule, anchor, old_tz, earliest, horizon_end + _ZONE_SHIFT_MARGIN
        )
    }
    opened = {key for key, o in old.items() if o.opens_at_utc <= moved_at}
    plan: list[OccurrenceWindow] = []
    for new in occurrences_between(
        schedule, anchor, new_tz, moved_at - _ZONE_SHIFT_MARGIN, horizon_end
    ):
        if new.key in opened:
            continue
        if new.closes_at_utc > moved_at:
            plan.append(new)
        elif new.key in old:
            plan.append(old[new.key])
    return sorted(plan, key=lambda o: (o.opens_at_utc, o.key))


def _closing(
    opens: datetime, day: date, open_time: time, close_day: date, close_time: time, zone: ZoneInfo
) -> datetime:
    closes = local_to_utc(close_day, close_time, zone)
    if closes <= opens:
        # Only when opening and closing both fall in one DST gap and collapse onto the same
        # transition instant: keep the window's nominal wall-clock length instead of an empty one.
        closes = opens + (
            datetime.combine(close_day, close_time) - datetime.combine(day, open_time)
        )
    return closes


def _visit_window(
    schedule: Schedule, anchor: date, zone: ZoneInfo, visit: Visit
) -> OccurrenceWindow:
    first = anchor + timedelta(days=visit.day_offset - visit.before_days)
    last = anchor + timedelta(days=visit.day_offset + visit.after_days)
    opens = local_to_utc(first, schedule.open_time, zone)
    if schedule.close_time is None:
        closes = _closing(opens, first, schedule.open_time, last + timedelta(days=1), time(0), zone)
    else:
        closes = _closing(opens, first, schedule.open_time, last, schedule.close_time, zone)
    return OccurrenceWindow(f"visit:day{visit.day_offset:+d}", opens, closes)


def _scheduled_weekdays(schedule: Schedule, first_day: date) -> frozenset[int]:
    if schedule.kind == "daily":
        return frozenset(range(1, 8))
    if schedule.kind == "weekly" and not schedule.weekdays:
        return frozenset({first_day.isoweekday()})
    return schedule.weekdays


def _ordinal(first_day: date, day: date, weekdays: frozenset[int]) -> int:
    """How many scheduled days fall in [first_day, day): arithmetic, so a query years after
    enrolment costs the same as one on day 0."""
    weeks, rest = divmod((day - first_day).days, 7)
    partial = sum((first_day + timedelta(days=i)).isoweekday() in weekdays for i in range(rest))
    return weeks * len(weekdays) + partial


def _recurring_windows(
    schedule: Schedule, anchor: date, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[OccurrenceWindow]:
    first_day = anchor + timedelta(days=schedule.start_day)
    last_candidates = [
        anchor + timedelta(days=schedule.end_day) if schedule.end_day is not None else None,
        schedule.end_date,
    ]
    last_day = min((d for d in last_candidates if d is not None), default=None)
    weekdays = _scheduled_weekdays(schedule, first_day)
    # A day's opening instant reads at or after its wall time and lies within a day of it even
    # across the largest gap, so two days of margin each side cannot miss an occurrence.
    day = max(first_day, wall_clock(start, zone).date() - timedelta(days=2))
    stop = wall_clock(end, zone).date() + timedelta(days=2)
    if last_day is not None:
        stop = min(stop, last_day)
    while day <= stop:
        if day.isoweekday() in weekdays and (
            schedule.max_occurrences is None
            or _ordinal(first_day, day, weekdays) < schedule.max_occurrences
        ):
            opens = local_to_utc(day, schedule.open_time, zone)
            if schedule.close_time is None:
                # The model guarantees a positive window when there is no close_time.
                closes = opens + (schedule.window or timedelta(0))
            else:
                close_day = (
                    day if schedule.close_time > schedule.open_time else day + timedelta(days=1)
                )
                closes = _closing(
                    opens, day, schedule.open_time, close_day, schedule.close_time, zone
                )
            yield OccurrenceWindow(day.isoformat(), opens.astimezone(UTC), closes.astimezone(UTC))
        day += timedelta(days=1)
