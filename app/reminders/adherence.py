"""A participant's occurrences and their adherence, as site staff see them (states only, never
answers). Plain functions over a session; the HTTP layer checks scope and audits the view."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.participants.models import Participant
from app.reminders.models import Occurrence, OccurrenceState, StudySchedule
from app.responses.models import Response


@dataclass(frozen=True)
class OccurrenceView:
    id: int
    schedule_id: int
    schedule: str
    instrument: str
    version: str
    respondent: str
    key: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    response_id: str | None
    state: OccurrenceState
    # Further answers sent for this occurrence after it was answered (#11): kept, flagged.
    repeat_response_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Adherence:
    counts: dict[str, int]  # every OccurrenceState, zero included
    # answered (on time or late) / everything that has closed or was answered; None before any
    rate: float | None
    on_time_rate: float | None


@dataclass(frozen=True)
class ParticipantOccurrences:
    participant_code: str
    occurrences: list[OccurrenceView]
    adherence: Adherence


def occurrences_of(
    session: Session, participant: Participant, now: dt.datetime
) -> ParticipantOccurrences:
    """Every occurrence planned for the participant (opening order) with its state at ``now``
    and the adherence summary. Cancelled occurrences are listed and counted but do not enter
    the rates."""
    rows = list(
        session.scalars(
            select(Occurrence)
            .where(Occurrence.participant_id == participant.id)
            .options(joinedload(Occurrence.schedule).joinedload(StudySchedule.instrument_version))
            .order_by(Occurrence.opens_at, Occurrence.id)
        )
    )
    repeats: dict[str, list[str]] = {}
    answered = [row.response_id for row in rows if row.response_id is not None]
    if answered:
        for repeat_id, first_id in session.execute(
            select(Response.id, Response.repeat_of_response_id)
            .where(Response.repeat_of_response_id.in_(answered))
            .order_by(Response.received_at, Response.id)
        ):
            repeats.setdefault(first_id or "", []).append(repeat_id)
    views = []
    for row in rows:
        version = row.schedule.instrument_version
        views.append(
            OccurrenceView(
                id=row.id,
                schedule_id=row.schedule_id,
                schedule=row.schedule.name,
                instrument=version.instrument_key,
                version=version.version,
                respondent=row.respondent,
                key=row.key,
                opens_at=row.opens_at,
                closes_at=row.closes_at,
                completed_at=row.completed_at,
                cancelled_at=row.cancelled_at,
                response_id=row.response_id,
                state=row.state(now),
                repeat_response_ids=tuple(repeats.get(row.response_id or "", ())),
            )
        )
    return ParticipantOccurrences(participant.code, views, summarise(views))


def summarise(views: list[OccurrenceView]) -> Adherence:
    counts = {state.value: 0 for state in OccurrenceState}
    for view in views:
        counts[view.state.value] += 1
    on_time = counts[OccurrenceState.COMPLETED]
    answered = on_time + counts[OccurrenceState.LATE]
    due = answered + counts[OccurrenceState.MISSED]
    return Adherence(
        counts=counts,
        rate=round(answered / due, 4) if due else None,
        on_time_rate=round(on_time / due, 4) if due else None,
    )
