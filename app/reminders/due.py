"""What a phone shows as due for one person: open occurrences, the next one of each schedule,
and instruments the study asks for without any schedule (always available, as before
schedules existed). Plain functions over a session; callers commit.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.participants import people as participants
from app.participants.models import Participant, ParticipantStatus, StudyInstrument
from app.reminders import planner
from app.reminders.models import Occurrence, StudySchedule


class DueStatus(enum.StrEnum):
    OPEN = "open"  # an occurrence open now: answer it
    UPCOMING = "upcoming"  # the next occurrence of a schedule, not open yet ("soon")
    AVAILABLE = "available"  # no schedule: the study accepts an answer at any time


@dataclass(frozen=True)
class DueItem:
    assignment: StudyInstrument
    status: DueStatus
    occurrence: Occurrence | None = None


def ensure_planned(session: Session, people: Sequence[Participant], now: dt.datetime) -> bool:
    """Plan, right now, the people whose occurrences the scheduler has not planned far enough
    (just enrolled, or a schedule was just added), so a phone never waits for the next tick.
    Returns whether anything was planned (the caller commits)."""
    threshold = now + planner.HORIZON / 2
    behind = [
        p
        for p in people
        if p.status != ParticipantStatus.WITHDRAWN
        and (p.occurrences_until is None or p.occurrences_until < threshold)
    ]
    if behind:
        planner.plan_participants(session, behind, now)
    return bool(behind)


def due_for(
    session: Session, participant: Participant, respondent: str, now: dt.datetime
) -> list[DueItem]:
    """Open occurrences (soonest closing first), then unscheduled instruments, then the next
    occurrence of each schedule that is not open yet (soonest first).

    An instrument that any schedule of the study asks of this person -- even a retired one --
    is only due through its occurrences: retiring a schedule stops the questionnaire rather
    than making it answerable at any time.
    """
    assigned = {
        row.instrument_version_id: row
        for row in participants.available_instruments(session, participant, respondent)
    }
    if not assigned:
        return []
    scheduled = set(
        session.scalars(
            select(StudySchedule.instrument_version_id).where(
                StudySchedule.study_id == participant.study_id,
                StudySchedule.respondent == respondent,
                or_(StudySchedule.arm.is_(None), StudySchedule.arm == participant.arm),
                or_(
                    StudySchedule.participant_id.is_(None),
                    StudySchedule.participant_id == participant.id,
                ),
            )
        )
    )
    waiting = session.execute(
        select(Occurrence, StudySchedule.instrument_version_id)
        .join(StudySchedule, StudySchedule.id == Occurrence.schedule_id)
        .where(
            Occurrence.participant_id == participant.id,
            Occurrence.respondent == respondent,
            Occurrence.closes_at > now,
            Occurrence.opens_at < now + planner.HORIZON,
            Occurrence.completed_at.is_(None),
            Occurrence.cancelled_at.is_(None),
        )
        .order_by(Occurrence.opens_at, Occurrence.id)
    ).all()
    open_items: list[DueItem] = []
    upcoming: dict[int, DueItem] = {}
    for occurrence, version_id in waiting:
        assignment = assigned.get(version_id)
        if assignment is None:
            continue
        if occurrence.opens_at <= now:
            open_items.append(DueItem(assignment, DueStatus.OPEN, occurrence))
        elif occurrence.schedule_id not in upcoming:
            upcoming[occurrence.schedule_id] = DueItem(assignment, DueStatus.UPCOMING, occurrence)
    open_items.sort(key=lambda item: (_closes(item), _id(item)))
    always = [
        DueItem(row, DueStatus.AVAILABLE)
        for version_id, row in sorted(assigned.items(), key=lambda pair: pair[1].id)
        if version_id not in scheduled
    ]
    later = sorted(upcoming.values(), key=lambda item: (_opens(item), _id(item)))
    return [*open_items, *always, *later]


def _closes(item: DueItem) -> dt.datetime:
    assert item.occurrence is not None
    return item.occurrence.closes_at


def _opens(item: DueItem) -> dt.datetime:
    assert item.occurrence is not None
    return item.occurrence.opens_at


def _id(item: DueItem) -> int:
    assert item.occurrence is not None
    return item.occurrence.id
