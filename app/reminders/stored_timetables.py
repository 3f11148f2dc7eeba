"""A person's stored reminder timetable as the scheduling maths reads it: the
``app.scheduling.Timetable`` of whoever receives reminders (a participant answering for
themselves, or a caregiver), from their ``time_zone``, their ``Timetable`` row and their pauses.

Read-only, so the planner and the dispatcher build on it; reading, editing, pausing and snoozing
for people and staff are in ``app.reminders.timetables``, which re-plans after each change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import scheduling
from app.participants.models import Caregiver, Participant
from app.reminders.models import Timetable, TimetablePause
from app.scheduling import LocalWindow, Pause, QuietHours

Person = Participant | Caregiver

# The quiet hours of someone who has not chosen any: no reminder between 21:00 and 08:00 local.
DEFAULT_QUIET_HOURS: Final = (("21:00", "08:00"),)


# ── Whose timetable ───────────────────────────────────────────────────────────────────────


def owner(participant: Participant | None, caregiver: Caregiver | None) -> Person:
    if (participant is None) == (caregiver is None):
        raise TypeError("give exactly one of participant= or caregiver=")
    owner = participant if participant is not None else caregiver
    assert owner is not None
    return owner


def timetable_row(session: Session, person: Person) -> Timetable | None:
    column = Timetable.participant_id if isinstance(person, Participant) else Timetable.caregiver_id
    return session.scalar(select(Timetable).where(column == person.id))


def _times(pair: Sequence[str]) -> tuple[dt.time, dt.time]:
    return dt.time.fromisoformat(pair[0]), dt.time.fromisoformat(pair[1])


def _stored_windows(row: Timetable) -> dict[str, list[LocalWindow]] | None:
    if row.windows is None:
        return None
    return {
        day: [LocalWindow(*_times(span), overnight="overnight" in span[2:]) for span in spans]
        for day, spans in row.windows.items()
    }


def _stored_quiet(row: Timetable | None) -> list[QuietHours]:
    pairs = DEFAULT_QUIET_HOURS if row is None else row.quiet_hours
    return [QuietHours(*_times(pair)) for pair in pairs]


def open_pauses(row: Timetable | None) -> list[TimetablePause]:
    if row is None:
        return []
    return [p for p in row.pauses if p.cancelled_at is None]


def scheduling_timetable(
    session: Session,
    *,
    participant: Participant | None = None,
    caregiver: Caregiver | None = None,
) -> scheduling.Timetable:
    """The ``app.scheduling.Timetable`` of the person who receives reminders.

    Time zone from the person's ``time_zone``; windows and quiet hours from their timetable
    row, or no window restriction and ``DEFAULT_QUIET_HOURS`` without one; pauses from the
    pauses not cancelled (past ones included: they are harmless and keep the answer the same
    for any instant). Snoozes are not stored here: see ``snooze``.
    """
    person = owner(participant, caregiver)
    return timetable_from_row(person, timetable_row(session, person))


def timetable_from_row(person: Person, row: Timetable | None) -> scheduling.Timetable:
    """:func:`scheduling_timetable` from an already loaded timetable row (``None``: the
    person has none), for callers that read many at once."""
    return scheduling.Timetable(
        person.time_zone,
        windows=_stored_windows(row) if row is not None else None,
        quiet_hours=tuple(_stored_quiet(row)),
        pauses=tuple(Pause(p.starts_on, p.ends_on, p.reason) for p in open_pauses(row)),
    )
