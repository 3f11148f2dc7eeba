"""A small world for response tests: a study with a key and a key holder, published
instruments, an adult participant, children and a caregiver, each with a device."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import crypto
from app.library import service as library
from app.library.models import InstrumentVersion
from app.participants.models import Caregiver, CaregiverLink, Device, Participant, StudyInstrument
from app.responses import keys
from app.responses.service import Submission
from app.studies.models import Role
from tests.factories import make_staff, make_study

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
HOLDER_PASSPHRASE = "a long key-holder passphrase"


@dataclass
class World:
    study: object
    other_study: object
    recovery_key: str
    holder: object
    adult: Participant
    adult_token: str
    child: Participant
    other_child: Participant
    unlinked_child: Participant
    caregiver: Caregiver
    caregiver_token: str


def _device(session, **holder) -> str:
    token = crypto.new_token()
    session.add(Device(token_hash=crypto.hash_token(token), **holder))
    return token


def _assign(session, study, key, respondents):
    version = session.query(InstrumentVersion).filter_by(instrument_key=key).one()
    session.add(
        StudyInstrument(
            study_id=study.id, instrument_version_id=version.id, respondents=respondents
        )
    )


def _participant(session, study, code, age_band, site_index=0):
    p = Participant(
        study_id=study.id,
        site_id=study.sites[site_index].id,
        code=code,
        time_zone="Europe/Paris",
        language="en",
        age_band=age_band,
    )
    session.add(p)
    session.flush()
    return p


@pytest.fixture
def world(db_session) -> World:
    library.publish_paths(db_session, [LIBRARY], actor="test")
    study = make_study(db_session, "fatigue")
    other = make_study(db_session, "sleep")
    recovery = keys.create_study_key(db_session, study, actor="test")
    keys.create_study_key(db_session, other, actor="test")
    for s in (study, other):
        _assign(db_session, s, "daily_symptom_diary", "both")
        _assign(db_session, s, "phq9", "self")
    holder = make_staff(db_session, "dm@example.org", study=study, role=Role.DATA_MANAGER)
    keys.add_holder(
        db_session,
        study,
        existing=keys.HolderCredential("recovery", recovery),
        new_holder=holder,
        new_passphrase=HOLDER_PASSPHRASE,
        actor="test",
    )
    adult = _participant(db_session, study, "A-001", "adult")
    child = _participant(db_session, study, "A-002", "child")
    unlinked = _participant(db_session, study, "B-003", "child", site_index=1)
    other_child = _participant(db_session, other, "S-001", "child")
    caregiver = Caregiver(language="en", time_zone="Europe/Paris")
    db_session.add(caregiver)
    db_session.flush()
    db_session.add_all(
        [
            CaregiverLink(
                caregiver_id=caregiver.id, participant_id=child.id, caregiver_role="parent"
            ),
            CaregiverLink(
                caregiver_id=caregiver.id, participant_id=other_child.id, caregiver_role="parent"
            ),
        ]
    )
    adult_token = _device(db_session, participant_id=adult.id)
    caregiver_token = _device(db_session, caregiver_id=caregiver.id)
    db_session.commit()
    return World(
        study,
        other,
        recovery,
        holder,
        adult,
        adult_token,
        child,
        other_child,
        unlinked,
        caregiver,
        caregiver_token,
    )


def device_for(session, token: str) -> Device:
    return session.query(Device).filter_by(token_hash=crypto.hash_token(token)).one()


PARIS = dt.timezone(dt.timedelta(hours=1))


def diary(
    participant_id: int, *, respondent="self", answers=None, client_uuid=None, **overrides
) -> Submission:
    values = dict(
        client_uuid=client_uuid or uuid.uuid4(),
        participant_id=participant_id,
        instrument_key="daily_symptom_diary",
        instrument_version="1.0.0",
        respondent_type=respondent,
        language="en",
        started_at=dt.datetime(2026, 11, 20, 18, 0, tzinfo=PARIS),
        finished_at=dt.datetime(2026, 11, 20, 18, 4, tzinfo=PARIS),
        answers=answers
        if answers is not None
        else {"fatigue": 6, "pain": 0, "sleep": "ok", "mood": "ok"},
    )
    values.update(overrides)
    return Submission(**values)


def phq9(participant_id: int, item9: int = 0, **overrides) -> Submission:
    answers = {f"phq9_{i}": 1 for i in range(1, 9)} | {"phq9_9": item9, "phq9_difficulty": 1}
    overrides.setdefault("instrument_version", "1.1.0")
    return diary(participant_id, instrument_key="phq9", answers=answers, **overrides)
