"""Completion per schedule, site and closing day, kept by the database.

``adherence_rollup`` holds, for every (schedule, site, UTC day on which occurrences close), how
many non-cancelled occurrences close that day (``due``) and how many of them were answered
before closing (``on_time``) or after (``late``). The weekly completion chart reads a few
hundred of these rows instead of every occurrence of six weeks.

One place owns it: triggers created by migration 0011 (``app/migrations/versions/
0011_adherence_rollup.py``) on ``occurrences`` (insert, update, delete) and ``participants``
(a site change, and on PostgreSQL a delete). Application code never writes this table, so
every path that changes an occurrence -- planning, re-planning, a response, a cancellation,
a bulk UPDATE, a cascade -- keeps it right, on SQLite (row triggers) and PostgreSQL
(statement triggers over transition tables, so a bulk insert costs one grouped upsert).

Missed is not stored: an occurrence becomes missed by time passing, not by a write. For a
day that is over, missed = due - on_time - late; the current day is counted from
``occurrences`` directly (one day of rows, through the ``closes_at`` index).
``recount`` recomputes the table from ``occurrences`` (tests compare the two).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base
from app.participants.models import Participant
from app.reminders.models import Occurrence


class AdherenceDay(Base):
    __tablename__ = "adherence_rollup"

    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("study_schedules.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(primary_key=True)  # UTC date of closes_at
    due: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)


Key = tuple[int, int, dt.date]


def stored(session: Session) -> dict[Key, tuple[int, int, int]]:
    """The table's non-empty rows, keyed by (schedule, site, day)."""
    rows = session.execute(
        select(
            AdherenceDay.schedule_id,
            AdherenceDay.site_id,
            AdherenceDay.day,
            AdherenceDay.due,
            AdherenceDay.on_time,
            AdherenceDay.late,
        )
    ).all()
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows if (r[3], r[4], r[5]) != (0, 0, 0)}


def recount(session: Session) -> dict[Key, tuple[int, int, int]]:
    """What the table should hold, computed from every occurrence (slow; for checks)."""
    rows = session.execute(
        select(
            Occurrence.schedule_id,
            Participant.site_id,
            Occurrence.closes_at,
            Occurrence.completed_at,
        )
        .join(Participant, Participant.id == Occurrence.participant_id)
        .where(Occurrence.cancelled_at.is_(None))
    ).all()
    counts: dict[Key, list[int]] = {}
    for schedule_id, site_id, closes_at, completed_at in rows:
        entry = counts.setdefault((schedule_id, site_id, closes_at.date()), [0, 0, 0])
        entry[0] += 1
        if completed_at is not None:
            entry[1 if completed_at < closes_at else 2] += 1
    return {key: (v[0], v[1], v[2]) for key, v in counts.items()}


def count_rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AdherenceDay)) or 0
