"""Rows for outbox, dispatch and scheduler-process tests, inserted directly (no planner): a
study with two sites, one schedule, people with devices and push subscriptions at a local push
service, occurrences and reminder rows -- all with explicit times."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import crypto
from app.library.models import InstrumentVersion
from app.participants.models import Caregiver, CaregiverLink, Device, Participant
from app.reminders.models import (
    Occurrence,
    OutboxMessage,
    PushSubscription,
    StudySchedule,
    Timetable,
)
from app.studies.models import Study
from tests.factories import make_study, site
from tests.support.push_endpoint import PushEndpoint

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """An aware UTC instant from '2027-03-01 18:30'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class World:
    study: Study
    schedule: StudySchedule
    proxy_schedule: StudySchedule


def build(session: Session, slug: str = "fatigue") -> World:
    study = make_study(session, slug)
    version = InstrumentVersion(
        instrument_key="stub",
        version="1.0.0",
        content_hash="sha256:" + "0" * 64,
        source_text="",
        source_file="stub.yaml",
        title="Stub",
        published_by="test",
    )
    session.add(version)
    session.flush()
    schedules = [
        StudySchedule(
            study_id=study.id,
            name=f"diary ({respondent})",
            instrument_version_id=version.id,
            respondent=respondent,
            spec={"kind": "daily", "open_time": "18:00", "close_time": "23:00"},
            reminder_max_count=2,
            reminder_gaps_minutes=[60],
            created_by="test",
        )
        for respondent in ("self", "proxy")
    ]
    session.add_all(schedules)
    session.commit()
    return World(study, schedules[0], schedules[1])


def participant(
    session: Session,
    world: World,
    code: str,
    *,
    site_code: str = "A",
    language: str = "en",
    zone: str = "Europe/Paris",
    **extra: Any,
) -> Participant:
    row = Participant(
        study_id=world.study.id,
        site_id=site(world.study, site_code).id,
        code=code,
        time_zone=zone,
        language=language,
        age_band=extra.pop("age_band", "adult"),
        **extra,
    )
    session.add(row)
    session.commit()
    return row


def caregiver(
    session: Session, *children: Participant, language: str = "en", zone: str = "Europe/London"
) -> Caregiver:
    row = Caregiver(language=language, time_zone=zone)
    session.add(row)
    session.flush()
    for child in children:
        session.add(
            CaregiverLink(caregiver_id=row.id, participant_id=child.id, caregiver_role="parent")
        )
    session.commit()
    return row


def timetable(
    session: Session,
    person: Participant | Caregiver,
    *,
    windows: dict[str, list[list[str]]] | None = None,
    quiet_hours: list[list[str]] | None = None,
    reminder_email: str | None = None,
) -> Timetable:
    """A stored timetable; by default one that allows every instant (no quiet hours)."""
    row = Timetable(
        participant_id=person.id if isinstance(person, Participant) else None,
        caregiver_id=person.id if isinstance(person, Caregiver) else None,
        windows=windows,
        quiet_hours=quiet_hours or [],
        reminder_email=reminder_email,
        updated_by="test",
    )
    session.add(row)
    session.commit()
    return row


def device(session: Session, person: Participant | Caregiver, **extra: Any) -> Device:
    holder = (
        {"participant_id": person.id}
        if isinstance(person, Participant)
        else {"caregiver_id": person.id}
    )
    row = Device(token_hash=crypto.hash_token(crypto.new_token()), **holder, **extra)
    session.add(row)
    session.commit()
    return row


def subscribe(session: Session, service: PushEndpoint, dev: Device) -> tuple[PushSubscription, Any]:
    """A subscription of ``dev`` at the local push service: (stored row, browser side)."""
    browser = service.subscribe()
    return store_subscription(session, dev, browser.endpoint, browser.p256dh, browser.auth), browser


def store_subscription(
    session: Session, dev: Device, endpoint: str, p256dh: str, auth: str
) -> PushSubscription:
    row = PushSubscription(
        device_id=dev.id,
        endpoint=endpoint,
        endpoint_hash=hashlib.sha256(endpoint.encode()).hexdigest(),
        p256dh=p256dh,
        auth=auth,
    )
    session.add(row)
    session.commit()
    return row


def occurrence(
    session: Session,
    world: World,
    person: Participant,
    *,
    opens: dt.datetime,
    closes: dt.datetime,
    respondent: str = "self",
    key: str | None = None,
) -> Occurrence:
    row = Occurrence(
        schedule_id=(world.schedule if respondent == "self" else world.proxy_schedule).id,
        participant_id=person.id,
        respondent=respondent,
        key=key or opens.isoformat(),
        opens_at=opens,
        closes_at=closes,
    )
    session.add(row)
    session.commit()
    return row


def reminder(
    session: Session,
    occ: Occurrence,
    *,
    send_at: dt.datetime,
    to: Participant | Caregiver | None = None,
    sequence: int = 0,
    **extra: Any,
) -> OutboxMessage:
    """A planned reminder row for ``occ`` (to the participant unless ``to`` says otherwise)."""
    recipient = to if to is not None else session.get(Participant, occ.participant_id)
    assert recipient is not None
    is_caregiver = isinstance(recipient, Caregiver)
    row = OutboxMessage(
        dedupe_key=f"rem:{occ.id}:{'c' if is_caregiver else 'p'}{recipient.id}:{sequence}",
        kind="reminder",
        channel="push",
        occurrence_id=occ.id,
        sequence=sequence,
        participant_id=None if is_caregiver else recipient.id,
        caregiver_id=recipient.id if is_caregiver else None,
        send_at=send_at,
        **extra,
    )
    session.add(row)
    session.commit()
    return row


def fresh(session: Session, row: Any) -> Any:
    """The row as the database has it now."""
    session.expire_all()
    return session.get(type(row), row.id)


def states(session: Session) -> dict[int, str]:
    session.expire_all()
    return {
        row_id: state
        for row_id, state in session.execute(sa.select(OutboxMessage.id, OutboxMessage.state))
    }
