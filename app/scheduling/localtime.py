"""Local wall-clock time ↔ UTC instants, with one documented rule for DST gaps and folds.

Every schedule and timetable is written in the person's wall-clock time; everything stored or
compared crosses this module once. The rule (used for occurrence opening/closing instants and for
resolving wall times generally):

* a **nonexistent** local time (inside a spring-forward gap, or a skipped day such as
  Pacific/Apia's 2011-12-30) resolves to the **first valid instant after it**, i.e. the
  transition itself: 02:30 on Paris's spring-forward day becomes 03:00 CEST (01:00 UTC). This
  differs from ``zoneinfo``'s own ``fold=0`` answer (03:30 CEST), which would open a window
  later than anyone expects;
* an **ambiguous** local time (inside a fall-back fold) resolves to its **first** occurrence
  (``fold=0``, the earlier UTC instant).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.scheduling.errors import ScheduleError

# Offsets change at most about twice a year; probing every few hours finds each change and a
# binary search then pins it to the second (tzdata has whole-second transitions). Two changes
# within one probe step do not occur in tzdata.
_PROBE_STEP = timedelta(hours=3)


def load_zone(name: str | ZoneInfo, field: str = "tz") -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name, or a ``ScheduleError`` naming ``field``."""
    if isinstance(name, ZoneInfo):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(
            field, f"time zone must be an IANA name such as 'Europe/Paris', got {name!r}"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: keys such as '../etc' that zoneinfo refuses; OSError: unreadable tz file.
        raise ScheduleError(field, f"unknown time zone {name!r}") from None


def require_aware(value: datetime, field: str) -> datetime:
    """``value`` converted to UTC; naive datetimes are refused (their meaning is a guess)."""
    if not isinstance(value, datetime):
        raise ScheduleError(field, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(field, "must be timezone-aware (UTC), got a naive datetime")
    return value.astimezone(UTC)


def wall_clock(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of an aware ``instant`` in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _offset_at(seconds: int, zone: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(seconds, zone).utcoffset()


def _first_change(lo: int, hi: int, zone: ZoneInfo) -> int:
    """Smallest POSIX second in (lo, hi] whose offset differs from ``lo``'s (one must)."""
    before = _offset_at(lo, zone)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset_at(mid, zone) == before:
            lo = mid
        else:
            hi = mid
    return hi


def transitions_between(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants in [start, end) at which ``zone``'s UTC offset changes."""
    found: list[datetime] = []
    lo = math.floor(start.timestamp())
    stop = math.ceil(end.timestamp())
    step = int(_PROBE_STEP.total_seconds())
    while lo < stop:
        hi = min(lo + step, stop)
        if _offset_at(lo, zone) != _offset_at(hi, zone):
            instant = datetime.fromtimestamp(_first_change(lo, hi, zone), UTC)
            if start <= instant < end:
                found.append(instant)
        lo = hi
    return found


def instants_reading(naive: datetime, zone: ZoneInfo) -> list[datetime]:
    """Every UTC instant at which a clock in ``zone`` reads ``naive``: none in a gap, two in a
    fold, otherwise one. Sorted."""
    out: set[datetime] = set()
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if wall_clock(instant, zone) == naive:
            out.add(instant)
    return sorted(out)


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``day`` at wall time ``at`` under the module's gap/fold rule."""
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    readings = instants_reading(naive, zone)
    if readings:
        return readings[0]
    # In a gap zoneinfo's fold=0 applies the pre-gap offset (an instant after the gap) and
    # fold=1 the post-gap offset (an instant before it); the transition lies between them.
    after_gap = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    before_gap = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = sorted((before_gap, after_gap))
    second = _first_change(math.floor(lo.timestamp()), math.ceil(hi.timestamp()), zone)
    return datetime.fromtimestamp(second, UTC)
