"""A small two-site study (LYON, LEEDS) plus another study, for the workspace page tests:
staff of every role, participants with occurrences, responses-free alerts and a study key."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.library import service as library
from app.library.models import InstrumentVersion
from app.news import service as news
from app.participants import service as participants
from app.reminders import study_schedules as schedules
from app.reminders.models import Occurrence, StudySchedule
from app.responses import keys
from app.responses.models import Alert
from app.responses.service import Submission, submit
from app.studies.models import Role
from tests.factories import PASSWORD, make_caregiver, make_participant, make_staff, make_study

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
PASSPHRASE = "a long data manager passphrase"

# (name, role, site code or None for every site, study slug)
STAFF = [
    ("admin", Role.ADMIN, None, "fatigue"),
    ("coord_lyon", Role.SITE_COORDINATOR, "LYON", "fatigue"),
    ("coord_leeds", Role.SITE_COORDINATOR, "LEEDS", "fatigue"),
    ("dm", Role.DATA_MANAGER, None, "fatigue"),
    ("dm_lyon", Role.DATA_MANAGER, "LYON", "fatigue"),
    ("author", Role.PATIENT_GROUP_AUTHOR, None, "fatigue"),
    ("other_admin", Role.ADMIN, None, "other"),
]


@dataclass
class World:
    study: Any
    other: Any
    staff: dict[str, Any] = field(default_factory=dict)
    participants: dict[str, Any] = field(default_factory=dict)  # code -> participant
    ids: dict[str, int] = field(default_factory=dict)  # sample ids for URL parameters
    recovery_key: str = ""  # the fatigue study's (exports by coordinators, who hold no key)


def published_version(session: Session, key: str) -> str:
    """The library's version of `key` as published here (PHQ-9's moves with the library)."""
    return session.scalars(
        select(InstrumentVersion.version).where(InstrumentVersion.instrument_key == key)
    ).one()


def _answer_phq9_urgently(session: Session, device: Any, participant: Any) -> str:
    """A real submission (sealed to the study key) whose item 9 raises the urgent alert."""
    now = utcnow()
    answers = {f"phq9_{i}": 1 for i in range(1, 9)} | {"phq9_9": 2, "phq9_difficulty": 1}
    receipt = submit(
        session,
        device,
        Submission(
            client_uuid=uuid.uuid4(),
            participant_id=participant.id,
            instrument_key="phq9",
            instrument_version=published_version(session, "phq9"),
            respondent_type="self",
            language="en",
            started_at=now - dt.timedelta(minutes=5),
            finished_at=now,
            answers=answers,
        ),
        now=now,
    )
    session.commit()
    assert receipt.alerts_raised >= 1
    return receipt.response_id


def build(session: Session) -> World:
    library.publish_paths(session, [LIBRARY], actor="test")
    study = make_study(session, "fatigue", sites=("LYON", "LEEDS"))
    other = make_study(session, "other", sites=("OSLO",))
    world = World(study, other)
    for name, role, site_code, slug in STAFF:
        world.staff[name] = make_staff(
            session,
            f"{name}@example.org",
            study=study if slug == "fatigue" else other,
            role=role,
            site_code=site_code,
        )
    for target in (study, other):
        diary = session.scalars(
            select(InstrumentVersion).where(InstrumentVersion.instrument_key == "phq9")
        ).one()
        participants.assign_instrument(session, target, diary, "self", "test")
        schedules.add_schedule(
            session,
            target,
            name="Weekly PHQ-9",
            instrument_key="phq9",
            instrument_version=published_version(session, "phq9"),
            respondent="self",
            spec={"kind": "daily", "open_time": "00:00", "window_minutes": 1440},
            actor="test",
        )
    session.commit()
    keys.create_study_key(session, other, actor="test")
    recovery = keys.create_study_key(session, study, actor="test")
    world.recovery_key = recovery
    keys.add_holder(
        session,
        study,
        existing=keys.HolderCredential("recovery", recovery),
        new_holder=world.staff["dm"],
        new_passphrase=PASSPHRASE,
        actor="test",
    )
    session.commit()
    for code, target, site_code in (
        ("LYON-0001", study, "LYON"),
        ("LEEDS-0001", study, "LEEDS"),
        ("OSLO-0001", other, "OSLO"),
    ):
        person = make_participant(session, target, code, site_code=site_code)
        world.participants[code] = person
        caregiver = make_caregiver(session, person)
        world.ids[f"{code}:caregiver"] = caregiver.id
        device, _token = _device(session, person)
        world.ids[f"{code}:device"] = device.id
        response_id = _answer_phq9_urgently(session, device, person)
        world.ids[f"{code}:alert"] = session.scalars(
            select(Alert.id).where(Alert.response_id == response_id)
        ).first()
        pause = _pause(session, person)
        world.ids[f"{code}:pause"] = pause.id
        world.ids[f"{code}:schedule"] = session.scalars(
            select(StudySchedule.id).where(StudySchedule.study_id == target.id)
        ).one()
        post = news.post_news(
            session,
            world.staff["admin" if target is study else "other_admin"],
            target,
            person.site,
            "en",
            f"News for {site_code}",
            f"Only for {site_code}.",
        )
        session.commit()
        world.ids[f"{code}:post"] = post.id
        world.ids[f"{code}:holder"] = world.staff["dm" if target is study else "other_admin"].id
        world.ids[f"{code}:membership"] = next(
            m.id
            for m in world.staff["coord_lyon" if target is study else "other_admin"].memberships
        )
    session.commit()
    from app.reminders import due

    due.ensure_planned(session, list(world.participants.values()), utcnow())
    session.commit()
    assert session.scalar(select(Occurrence.id).limit(1)) is not None
    _past_exports(session, world)
    _codesign_drafts(session, world)
    return world


def _past_exports(session: Session, world: World) -> None:
    """One finished export per site in the export history (dataset exports, issue #14)."""
    from app.exports.models import ExportRecord

    for code, target, site_code in (
        ("LYON-0001", world.study, "LYON"),
        ("LEEDS-0001", world.study, "LEEDS"),
        ("OSLO-0001", world.other, "OSLO"),
    ):
        record = ExportRecord(
            id=str(uuid.uuid4()),
            study_id=target.id,
            actor="test",
            channel="cli",
            parameters={"study": target.slug, "formats": ["csv"], "sites": [site_code]},
            profile="shifted",
            status="completed",
            responses=1,
            zip_bytes=1234,
            manifest_sha256="0" * 64,
            finished_at=utcnow(),
        )
        session.add(record)
        world.ids[f"{code}:export"] = record.id  # type: ignore[assignment]
    session.commit()


def _codesign_drafts(session: Session, world: World) -> None:
    """Co-design (issue #15): a draft of the diary in each study, owned by its patient-group
    author (the other study: its admin), with a comment and an open suggestion."""
    from app.codesign import service as codesign

    diary = session.scalars(
        select(InstrumentVersion).where(InstrumentVersion.instrument_key == "daily_symptom_diary")
    ).one()
    for codes, target, owner in (
        (("LYON-0001", "LEEDS-0001"), world.study, world.staff["author"]),
        (("OSLO-0001",), world.other, world.staff["other_admin"]),
    ):
        draft = codesign.create_draft_from_published(session, owner, target, diary.id)
        comment = codesign.add_comment(session, owner, draft.id, "First thoughts")
        suggestion = codesign.suggest(
            session, owner, draft.id, "fatigue", "text.self.en", "How tired were you today?"
        )
        session.commit()
        for code in codes:
            world.ids[f"{code}:draft"] = draft.id
            world.ids[f"{code}:comment"] = comment.id
            world.ids[f"{code}:suggestion"] = suggestion.id
            world.ids[f"{code}:version"] = diary.id


def _device(session: Session, person: Any) -> tuple[Any, str]:
    from tests.factories import make_device

    return make_device(session, person)  # type: ignore[no-any-return]


def _pause(session: Session, person: Any) -> Any:
    from app.reminders import timetables

    today = utcnow().date()
    pause = timetables.add_pause(
        session,
        person,
        starts_on=today + dt.timedelta(days=3),
        ends_on=today + dt.timedelta(days=5),
        reason="holiday",
        actor="test",
    )
    session.commit()
    return pause


def sign_in_page(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    """Signs in through the HTML form, as a person would."""
    page = client.get("/staff/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/staff/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]
