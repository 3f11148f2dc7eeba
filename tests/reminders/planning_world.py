"""A small world for schedule, planner and completion tests: a study with a key, the shipped
instruments assigned, and helpers to enrol people at a fixed time and read what was planned."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import crypto
from app.library import service as library
from app.library.models import InstrumentVersion
from app.participants import service as participants
from app.participants.models import Caregiver, Device, Participant
from app.reminders import study_schedules as schedules
from app.reminders.models import Occurrence, OutboxMessage, StudySchedule
from app.responses import keys
from app.responses.service import Submission
from app.studies.models import Study
from tests.factories import make_study, site

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
UTC = dt.UTC
DIARY = {"kind": "daily", "open_time": "18:00", "close_time": "23:00"}


def at(text: str) -> dt.datetime:
    """An aware UTC instant from '2027-03-01 18:30'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class World:
    study: Study
    versions: dict[str, InstrumentVersion]


def build_world(session: Session, slug: str = "fatigue") -> World:
    library.publish_paths(session, [LIBRARY], actor="test")
    study = make_study(session, slug)
    keys.create_study_key(session, study, actor="test")
    versions = {row.instrument_key: row for row in session.scalars(sa.select(InstrumentVersion))}
    for key, respondents in (
        ("daily_symptom_diary", "both"),
        ("phq9", "self"),
        ("child_weekly_wellbeing", "proxy"),
    ):
        participants.assign_instrument(session, study, versions[key], respondents, "test")
    session.commit()
    return World(study, versions)


def enrol(
    session: Session,
    world: World,
    code: str,
    *,
    enrolled: dt.datetime,
    age_band: str = "adult",
    zone: str = "Europe/Paris",
    arm: str | None = None,
    site_code: str = "A",
) -> Participant:
    participant = participants.enroll(
        session,
        world.study,
        site(world.study, site_code),
        code=code,
        time_zone=zone,
        language="en",
        age_band=age_band,
        arm=arm,
        actor="test",
    )
    participant.enrolled_at = enrolled
    session.commit()
    return participant


def caregiver_for(
    session: Session, *children: Participant, zone: str = "Europe/London"
) -> Caregiver:
    caregiver = participants.add_caregiver(session, language="en", time_zone=zone, actor="test")
    for child in children:
        participants.link_caregiver(session, caregiver, child, "parent", "test")
    session.commit()
    return caregiver


def add(
    session: Session,
    world: World,
    spec: dict[str, Any] | None = None,
    *,
    instrument: str = "daily_symptom_diary",
    respondent: str = "self",
    reminders: int = 2,
    gaps: tuple[int, ...] = (120,),
    **extra: Any,
) -> StudySchedule:
    row = schedules.add_schedule(
        session,
        world.study,
        name=extra.pop("name", f"{instrument} ({respondent})"),
        instrument_key=instrument,
        instrument_version=world.versions[instrument].version,
        respondent=respondent,
        spec=spec or DIARY,
        reminder_max_count=reminders,
        reminder_gaps_minutes=list(gaps),
        actor="test",
        **extra,
    )
    session.commit()
    return row


def occurrences(session: Session, participant: Participant | None = None) -> list[Occurrence]:
    session.expire_all()
    statement = sa.select(Occurrence).order_by(
        Occurrence.participant_id, Occurrence.schedule_id, Occurrence.opens_at
    )
    if participant is not None:
        statement = statement.where(Occurrence.participant_id == participant.id)
    return list(session.scalars(statement))


def reminders_of(session: Session, **where: Any) -> list[OutboxMessage]:
    session.expire_all()
    statement = sa.select(OutboxMessage).order_by(OutboxMessage.send_at, OutboxMessage.id)
    for name, value in where.items():
        statement = statement.where(getattr(OutboxMessage, name) == value)
    return list(session.scalars(statement))


def device(session: Session, **holder: int) -> Device:
    row = Device(token_hash=crypto.hash_token(crypto.new_token()), **holder)
    session.add(row)
    session.commit()
    return row


def diary_answers(
    participant_id: int,
    finished: dt.datetime,
    *,
    respondent: str = "self",
    occurrence_id: int | None = None,
    client_uuid: uuid.UUID | None = None,
) -> Submission:
    return Submission(
        client_uuid=client_uuid or uuid.uuid4(),
        participant_id=participant_id,
        instrument_key="daily_symptom_diary",
        instrument_version="1.0.0",
        respondent_type=respondent,
        language="en",
        started_at=finished - dt.timedelta(minutes=4),
        finished_at=finished,
        answers={"fatigue": 6, "pain": 0, "sleep": "ok", "mood": "ok"},
        occurrence_id=occurrence_id,
    )
