"""When to remind a person about one occurrence, given their timetable.

An instant is **allowed** when, read on the person's wall clock, it lies inside an allowed window
for that weekday (or in the after-midnight part of the previous day's overnight window), outside
every quiet-hours span, on no paused local date, and outside every snooze. Because the test is
made on the wall clock, a fall-back hour that repeats 01:00-02:00 is judged twice, once per
reading, and a window starting in a spring-forward gap becomes allowed at the transition.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from app.scheduling.localtime import (
    instants_reading,
    require_aware,
    transitions_between,
    wall_clock,
)
from app.scheduling.model import ReminderPolicy, Timetable
from app.scheduling.occurrences import OccurrenceWindow

# next_allowed_instant inspects one UTC day at a time so its cost follows the distance to the
# answer, not the length of the range it was given (a pause can last weeks).
_CHUNK = timedelta(days=1)


def is_allowed(timetable: Timetable, instant_utc: datetime) -> bool:
    """Whether a reminder may be sent at ``instant_utc`` under ``timetable``."""
    instant = require_aware(instant_utc, "instant_utc")
    if any(snooze.contains(instant) for snooze in timetable.snoozes):
        return False
    local = wall_clock(instant, timetable.zone)
    day, moment = local.date(), local.time()
    if any(pause.contains(day) for pause in timetable.pauses):
        return False
    if any(quiet.contains(moment) for quiet in timetable.quiet_hours):
        return False
    if timetable.windows is None:
        return True
    if any(w.contains(moment) for w in timetable.windows_on(day.isoweekday())):
        return True
    yesterday = (day - timedelta(days=1)).isoweekday()
    return any(w.contains(moment, next_day=True) for w in timetable.windows_on(yesterday))


def _boundary_times(timetable: Timetable) -> set[time]:
    """Every wall time at which the allowed/blocked answer can change (midnight covers weekday
    changes and pause edges)."""
    times = {time(0)}
    for spans in (timetable.windows or {}).values():
        for span in spans:
            times.update((span.start, span.end))
    for quiet in timetable.quiet_hours:
        times.update((quiet.start, quiet.end))
    return times


def _candidates(
    timetable: Timetable, start: datetime, end: datetime, boundaries: set[time]
) -> list[datetime]:
    """Instants in [start, end) where allowedness may change, plus ``start`` itself. Between two
    consecutive candidates the answer is constant, so testing candidates finds the first allowed
    instant exactly."""
    zone = timetable.zone
    found = {start, *transitions_between(zone, start, end)}
    for snooze in timetable.snoozes:
        found.update((snooze.start, snooze.until))
    first_day = wall_clock(start, zone).date() - timedelta(days=2)
    last_day = wall_clock(end, zone).date() + timedelta(days=2)
    day = first_day
    while day <= last_day:
        for moment in boundaries:
            # Readings of a wall time inside a gap do not exist; the transition (already a
            # candidate) is where such a boundary takes effect.
            found.update(instants_reading(datetime.combine(day, moment), zone))
        day += timedelta(days=1)
    return sorted(c for c in found if start <= c < end)


def next_allowed_instant(
    timetable: Timetable, after_utc: datetime, before_utc: datetime
) -> datetime | None:
    """The first allowed instant in [``after_utc``, ``before_utc``), in UTC, or None."""
    after = require_aware(after_utc, "after_utc")
    before = require_aware(before_utc, "before_utc")
    boundaries = _boundary_times(timetable)
    chunk_start = after
    while chunk_start < before:
        chunk_end = min(chunk_start + _CHUNK, before)
        for candidate in _candidates(timetable, chunk_start, chunk_end, boundaries):
            if is_allowed(timetable, candidate):
                return candidate
        chunk_start = chunk_end
    return None


def reminder_times(
    window: OccurrenceWindow,
    policy: ReminderPolicy,
    timetable: Timetable,
    completed_at: datetime | None = None,
    now: datetime | None = None,
) -> list[datetime]:
    """The UTC instants at which to remind about ``window``, strictly increasing.

    The first goes at the first allowed instant at or after the window opens; each follow-up is
    due its gap after the previous reminder and moves to the next allowed instant. None is at
    or after ``closes_at_utc`` or ``completed_at``; at most ``policy.max_count``.

    The chain is always computed from the opening with the timetable as it is now; with
    ``now`` the reminders before ``now`` (already sent, or past) are left out but still count
    towards ``max_count``, so recomputing after a snooze or a settings change never restarts
    the count. Snoozes therefore carry their own start instant.
    """
    opens = require_aware(window.opens_at_utc, "window.opens_at_utc")
    limit = require_aware(window.closes_at_utc, "window.closes_at_utc")
    if completed_at is not None:
        limit = min(limit, require_aware(completed_at, "completed_at"))
    cutoff = require_aware(now, "now") if now is not None else None
    times: list[datetime] = []
    due = opens
    for number in range(policy.max_count):
        if number:
            due = times[-1] + policy.gap_before(number)
        found = next_allowed_instant(timetable, due, limit)
        if found is None:
            break
        times.append(found.astimezone(UTC))
    if cutoff is not None:
        times = [t for t in times if t >= cutoff]
    return times


def pause_reason(timetable: Timetable, day: date) -> str | None:
    """The reason of the pause covering local ``day``, for staff screens; None if not paused."""
    for pause in timetable.pauses:
        if pause.contains(day):
            return pause.reason or "paused"
    return None
