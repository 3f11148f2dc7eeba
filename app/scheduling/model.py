"""Frozen value types for schedules, reminder policies and personal timetables.

Each type validates itself on construction and raises ``ScheduleError`` naming the field (for
nested values, the dotted path such as ``timetable.windows.sat`` or ``schedule.visits[1]``), so an
invalid schedule or timetable never reaches the maths in ``occurrences`` and ``reminders``.

Midnight rules (decided here, relied on everywhere):

* ``LocalWindow`` (an allowed reminder window on one weekday) ends on the same day unless it is
  marked ``overnight=True``; ``18:00-21:00`` is fine, ``12:00-09:00`` is refused as the likely
  typo it is, ``LocalWindow(time(22), time(1), overnight=True)`` runs into the next day (and
  belongs to the weekday it starts on). An end of ``00:00`` always means the coming midnight.
* ``QuietHours`` apply every day and cross midnight whenever ``end <= start`` (22:00-07:00 is
  their usual shape, so no flag is needed).
* A schedule's ``close_time`` at or before its ``open_time`` closes on the following day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Final, Literal
from zoneinfo import ZoneInfo

from app.scheduling.errors import ScheduleError
from app.scheduling.localtime import load_zone, require_aware

ScheduleKind = Literal["daily", "weekdays", "weekly", "visits"]
SCHEDULE_KINDS: Final = ("daily", "weekdays", "weekly", "visits")
# ISO weekday numbers (Monday = 1) by the names timetables use.
DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ISO_WEEKDAY: Final = {name: number for number, name in enumerate(DAY_NAMES, start=1)}

# Caps that keep one schedule's occurrences from overlapping the next (a DST day may still
# overlap by its shift) and keep a misconfigured policy from spamming a family.
MAX_RECURRING_WINDOW: Final = {
    "daily": timedelta(days=1),
    "weekdays": timedelta(days=1),
    "weekly": timedelta(days=7),
}
MAX_REMINDERS: Final = 20


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _check_local_time(value: object, path: str) -> time:
    if not isinstance(value, time):
        raise ScheduleError(path, f"must be a local time, got {type(value).__name__}")
    if value.tzinfo is not None:
        raise ScheduleError(
            path, "must be a naive local time; the time zone belongs to the timetable"
        )
    return value


@dataclass(frozen=True)
class Visit:
    """An event-anchored visit: due ``day_offset`` days after the anchor (day 0 = the anchor
    date), answerable from ``before_days`` before to ``after_days`` after that day."""

    day_offset: int
    before_days: int = 0
    after_days: int = 0


@dataclass(frozen=True)
class Schedule:
    """When one instrument is due, in the respondent's local time.

    * ``daily``: every day; ``weekdays``: on the ISO weekdays in ``weekdays``; ``weekly``: once a
      week on the single weekday in ``weekdays`` (or, if empty, on the weekday of the start day).
      Each opens at ``open_time`` and stays open either for the elapsed duration ``window`` or
      until the wall time ``close_time`` (the next day if not after ``open_time``). It starts on
      ``anchor + start_day`` and ends after whichever comes first: ``end_day`` (inclusive,
      relative to the anchor), ``end_date`` (inclusive) or ``max_occurrences``; with none it is
      open-ended and the caller materialises a rolling horizon.
    * ``visits``: one occurrence per ``Visit``, opening at ``open_time`` (default midnight) on
      the first day of its ± window and closing at ``close_time`` on its last day, or at the
      midnight that ends its last day when ``close_time`` is None.
    """

    kind: ScheduleKind
    open_time: time = time(0)
    window: timedelta | None = None
    close_time: time | None = None
    weekdays: frozenset[int] = frozenset()
    visits: tuple[Visit, ...] = ()
    start_day: int = 0
    end_day: int | None = None
    end_date: date | None = None
    max_occurrences: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULE_KINDS:
            raise ScheduleError(
                "schedule.kind", f"must be one of {', '.join(SCHEDULE_KINDS)}, got {self.kind!r}"
            )
        _check_local_time(self.open_time, "schedule.open_time")
        if self.close_time is not None:
            _check_local_time(self.close_time, "schedule.close_time")
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        object.__setattr__(self, "visits", tuple(self.visits))
        if self.kind == "visits":
            self._check_visits()
        else:
            self._check_recurring()

    def _check_recurring(self) -> None:
        if self.visits:
            raise ScheduleError(
                "schedule.visits", f"only a 'visits' schedule has visits, this one is {self.kind!r}"
            )
        for day in self.weekdays:
            if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 7:
                raise ScheduleError(
                    "schedule.weekdays", f"ISO weekdays are 1 (Monday) to 7 (Sunday), got {day!r}"
                )
        if self.kind == "daily" and self.weekdays:
            raise ScheduleError(
                "schedule.weekdays",
                "a daily schedule runs every day; use kind 'weekdays' to choose days",
            )
        if self.kind == "weekdays" and not self.weekdays:
            raise ScheduleError("schedule.weekdays", "choose at least one weekday")
        if self.kind == "weekly" and len(self.weekdays) > 1:
            raise ScheduleError(
                "schedule.weekdays",
                "a weekly schedule has one weekday; use kind 'weekdays' for several",
            )
        if (self.window is None) == (self.close_time is None):
            raise ScheduleError(
                "schedule.window", "give exactly one of window (a duration) or close_time"
            )
        if self.window is not None:
            longest = MAX_RECURRING_WINDOW[self.kind]
            if not isinstance(self.window, timedelta) or self.window <= timedelta(0):
                raise ScheduleError(
                    "schedule.window", f"must be a positive duration, got {self.window!r}"
                )
            if self.window > longest:
                raise ScheduleError(
                    "schedule.window",
                    f"at most {longest} for a {self.kind} schedule, got {self.window}",
                )
        elif self.close_time == self.open_time:
            raise ScheduleError(
                "schedule.close_time",
                f"equals open_time {_hhmm(self.open_time)}; use window=timedelta(days=1) for a whole day",
            )
        if self.end_day is not None and self.end_day < self.start_day:
            raise ScheduleError(
                "schedule.end_day", f"{self.end_day} is before start_day {self.start_day}"
            )
        if self.max_occurrences is not None and (
            isinstance(self.max_occurrences, bool) or self.max_occurrences < 1
        ):
            raise ScheduleError(
                "schedule.max_occurrences", f"must be at least 1, got {self.max_occurrences!r}"
            )

    def _check_visits(self) -> None:
        if not self.visits:
            raise ScheduleError("schedule.visits", "a visits schedule needs at least one visit")
        for name in ("window", "end_day", "end_date", "max_occurrences"):
            if getattr(self, name) is not None:
                raise ScheduleError(
                    f"schedule.{name}",
                    "does not apply to a visits schedule; each visit has its own window",
                )
        if self.weekdays or self.start_day:
            raise ScheduleError(
                "schedule.weekdays" if self.weekdays else "schedule.start_day",
                "does not apply to a visits schedule",
            )
        seen: set[int] = set()
        for index, visit in enumerate(self.visits):
            path = f"schedule.visits[{index}]"
            if not isinstance(visit, Visit):
                raise ScheduleError(path, f"must be a Visit, got {type(visit).__name__}")
            if visit.before_days < 0 or visit.after_days < 0:
                raise ScheduleError(
                    path,
                    f"before_days and after_days must be ≥ 0, got {visit.before_days} and {visit.after_days}",
                )
            if visit.day_offset in seen:
                # The offset is the occurrence key; two visits on one day would collide.
                raise ScheduleError(path, f"a second visit on day {visit.day_offset}")
            seen.add(visit.day_offset)
            if (
                visit.before_days == visit.after_days == 0
                and self.close_time is not None
                and self.close_time <= self.open_time
            ):
                raise ScheduleError(
                    path,
                    f"a one-day visit closes at {_hhmm(self.close_time)}, not after it opens at {_hhmm(self.open_time)}",
                )

    # Readable constructors; the dataclass fields remain the single source of truth.
    @classmethod
    def daily(
        cls,
        open_time: time,
        *,
        window: timedelta | None = None,
        close_time: time | None = None,
        start_day: int = 0,
        end_day: int | None = None,
        end_date: date | None = None,
        max_occurrences: int | None = None,
    ) -> Schedule:
        return cls(
            "daily",
            open_time,
            window,
            close_time,
            frozenset(),
            (),
            start_day,
            end_day,
            end_date,
            max_occurrences,
        )

    @classmethod
    def on_weekdays(
        cls,
        weekdays: Iterable[int],
        open_time: time,
        *,
        window: timedelta | None = None,
        close_time: time | None = None,
        start_day: int = 0,
        end_day: int | None = None,
        end_date: date | None = None,
        max_occurrences: int | None = None,
    ) -> Schedule:
        days = frozenset(weekdays)
        return cls(
            "weekdays",
            open_time,
            window,
            close_time,
            days,
            (),
            start_day,
            end_day,
            end_date,
            max_occurrences,
        )

    @classmethod
    def weekly(
        cls,
        weekday: int | None,
        open_time: time,
        *,
        window: timedelta | None = None,
        close_time: time | None = None,
        start_day: int = 0,
        end_day: int | None = None,
        end_date: date | None = None,
        max_occurrences: int | None = None,
    ) -> Schedule:
        days = frozenset() if weekday is None else frozenset({weekday})
        return cls(
            "weekly",
            open_time,
            window,
            close_time,
            days,
            (),
            start_day,
            end_day,
            end_date,
            max_occurrences,
        )

    @classmethod
    def visit_plan(
        cls, visits: Sequence[Visit], *, open_time: time = time(0), close_time: time | None = None
    ) -> Schedule:
        return cls("visits", open_time, None, close_time, visits=tuple(visits))


@dataclass(frozen=True)
class ReminderPolicy:
    """How often to remind about one occurrence.

    The first reminder goes at the first allowed instant at or after the occurrence opens; the
    n-th follow-up is due ``follow_up_gaps[n-1]`` after the previous reminder *as actually
    scheduled* (so two reminders are never closer than the gap), then moved to the next allowed
    instant. When more follow-ups than gaps are wanted the last gap repeats.
    """

    follow_up_gaps: tuple[timedelta, ...] = ()
    max_count: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "follow_up_gaps", tuple(self.follow_up_gaps))
        if (
            isinstance(self.max_count, bool)
            or not isinstance(self.max_count, int)
            or not 0 <= self.max_count <= MAX_REMINDERS
        ):
            raise ScheduleError(
                "policy.max_count",
                f"must be an integer from 0 to {MAX_REMINDERS}, got {self.max_count!r}",
            )
        for index, gap in enumerate(self.follow_up_gaps):
            if not isinstance(gap, timedelta) or gap <= timedelta(0):
                raise ScheduleError(
                    f"policy.follow_up_gaps[{index}]", f"must be a positive duration, got {gap!r}"
                )
        if self.max_count > 1 and not self.follow_up_gaps:
            raise ScheduleError(
                "policy.follow_up_gaps",
                f"max_count is {self.max_count}, so at least one follow-up gap is needed",
            )

    def gap_before(self, follow_up: int) -> timedelta:
        """The gap before follow-up number ``follow_up`` (1 = the first follow-up)."""
        return self.follow_up_gaps[min(follow_up, len(self.follow_up_gaps)) - 1]


@dataclass(frozen=True)
class LocalWindow:
    """A span of wall-clock time on one day; see the module docstring for midnight rules."""

    start: time
    end: time
    overnight: bool = False

    def contains(self, moment: time, *, next_day: bool = False) -> bool:
        """Whether wall time ``moment`` on the window's own day (or, with ``next_day``, on the
        day after, which only an overnight window reaches) falls inside it."""
        if next_day:
            return self.overnight and self.end != time(0) and moment < self.end
        if self.overnight or self.end == time(0):
            return moment >= self.start
        return self.start <= moment < self.end


@dataclass(frozen=True)
class QuietHours:
    """Daily wall-clock hours with no reminders; crosses midnight when ``end <= start``."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class Pause:
    """No reminders from local midnight starting ``start`` to local midnight ending ``end``
    (both inclusive local dates); reminders resume by themselves afterwards."""

    start: date
    end: date
    reason: str = ""

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Snooze:
    """No reminders in the instant range [``start``, ``until``) (aware datetimes)."""

    start: datetime
    until: datetime

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.until


def _check_window(window: object, path: str) -> LocalWindow:
    if not isinstance(window, LocalWindow):
        raise ScheduleError(path, f"must be a LocalWindow, got {type(window).__name__}")
    start = _check_local_time(window.start, path)
    end = _check_local_time(window.end, path)
    if end == start:
        raise ScheduleError(path, f"starts and ends at {_hhmm(start)}, so it is empty")
    if end == time(0):
        return window
    if window.overnight and end > start:
        raise ScheduleError(
            path,
            f"is marked overnight but ends at {_hhmm(end)}, after its start {_hhmm(start)} (that would be over 24 hours)",
        )
    if not window.overnight and end < start:
        raise ScheduleError(
            path,
            f"end {_hhmm(end)} is before start {_hhmm(start)} (mark it overnight=True if it crosses midnight)",
        )
    return window


@dataclass(frozen=True)
class Timetable:
    """One person's reminder timetable, all in the wall-clock time of ``tz`` (an IANA name).

    ``windows`` maps day names (``"mon"`` … ``"sun"``) to the spans in which reminders may go;
    a day left out has none. ``windows=None`` means no window restriction at all (quiet hours,
    pauses and snoozes still apply), the default before a person sets anything.
    """

    tz: str
    windows: Mapping[str, Sequence[LocalWindow]] | None = None
    quiet_hours: tuple[QuietHours, ...] = ()
    pauses: tuple[Pause, ...] = ()
    snoozes: tuple[Snooze, ...] = ()
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", load_zone(self.tz, "timetable.tz"))
        if self.windows is not None:
            checked: dict[str, tuple[LocalWindow, ...]] = {}
            for day, spans in self.windows.items():
                if day not in ISO_WEEKDAY:
                    raise ScheduleError(
                        f"timetable.windows.{day}",
                        f"unknown day; use one of {', '.join(DAY_NAMES)}",
                    )
                if isinstance(spans, LocalWindow):
                    spans = (spans,)
                checked[day] = tuple(
                    _check_window(span, f"timetable.windows.{day}") for span in spans
                )
            object.__setattr__(self, "windows", MappingProxyType(checked))
        object.__setattr__(self, "quiet_hours", tuple(self.quiet_hours))
        for index, quiet in enumerate(self.quiet_hours):
            path = f"timetable.quiet_hours[{index}]"
            if not isinstance(quiet, QuietHours):
                raise ScheduleError(path, f"must be QuietHours, got {type(quiet).__name__}")
            if _check_local_time(quiet.start, path) == _check_local_time(quiet.end, path):
                raise ScheduleError(
                    path,
                    f"starts and ends at {_hhmm(quiet.start)}; use a pause to silence whole days",
                )
        object.__setattr__(self, "pauses", tuple(self.pauses))
        for index, pause in enumerate(self.pauses):
            path = f"timetable.pauses[{index}]"
            if (
                not isinstance(pause, Pause)
                or not isinstance(pause.start, date)
                or not isinstance(pause.end, date)
            ):
                raise ScheduleError(path, "must be a Pause of two local dates")
            if isinstance(pause.start, datetime) or isinstance(pause.end, datetime):
                raise ScheduleError(path, "pause start and end are local dates, not datetimes")
            if pause.end < pause.start:
                raise ScheduleError(path, f"end {pause.end} is before start {pause.start}")
        snoozes = []
        for index, snooze in enumerate(self.snoozes):
            path = f"timetable.snoozes[{index}]"
            if not isinstance(snooze, Snooze):
                raise ScheduleError(path, f"must be a Snooze, got {type(snooze).__name__}")
            start = require_aware(snooze.start, f"{path}.start")
            until = require_aware(snooze.until, f"{path}.until")
            if until <= start:
                raise ScheduleError(
                    path, f"until {until.isoformat()} is not after start {start.isoformat()}"
                )
            snoozes.append(Snooze(start.astimezone(UTC), until.astimezone(UTC)))
        object.__setattr__(self, "snoozes", tuple(snoozes))

    def windows_on(self, weekday: int) -> tuple[LocalWindow, ...]:
        """The allowed windows starting on ISO ``weekday`` (empty when windows are unset)."""
        if self.windows is None:
            return ()
        return tuple(self.windows.get(DAY_NAMES[weekday - 1], ()))
