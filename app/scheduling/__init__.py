"""Scheduling maths: occurrences of a schedule and reminder times under a personal timetable.

Plain Python on the standard library's ``zoneinfo`` (no Flask, no database), so the scheduler
process, the API and the tests share one implementation. Modules: ``model`` (frozen, validated
values), ``localtime`` (wall clock ↔ UTC and the DST rule), ``occurrences`` and ``reminders``.
Every instant crossing the package boundary is an aware UTC datetime.
"""

from app.scheduling.errors import ScheduleError
from app.scheduling.model import (
    LocalWindow,
    Pause,
    QuietHours,
    ReminderPolicy,
    Schedule,
    Snooze,
    Timetable,
    Visit,
)
from app.scheduling.occurrences import OccurrenceWindow, occurrences_after_move, occurrences_between
from app.scheduling.reminder_times import is_allowed, next_allowed_instant, reminder_times

__all__ = [
    "LocalWindow",
    "OccurrenceWindow",
    "Pause",
    "QuietHours",
    "ReminderPolicy",
    "Schedule",
    "ScheduleError",
    "Snooze",
    "Timetable",
    "Visit",
    "is_allowed",
    "next_allowed_instant",
    "occurrences_after_move",
    "occurrences_between",
    "reminder_times",
]
