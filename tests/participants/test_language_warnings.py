"""Scheduling a questionnaire that lacks a reader's language warns staff, on the API and the
CLI, saying how many readers of which language get which language instead (#11)."""

from __future__ import annotations

import datetime as dt

from app.studies.models import Role
from tests.factories import make_staff, sign_in
from tests.reminders.planning_world import build_world, caregiver_for, enrol

ENROLLED = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)
PHQ9 = {
    "name": "PHQ-9 monthly",
    "instrument": "phq9",
    "version": "1.1.0",
    "respondent": "self",
    "spec": {"kind": "visits", "visits": [{"day": 0}]},
}


def readers(db_session):
    world = build_world(db_session)
    for code, language in (("A-1", "fr"), ("A-2", "fr"), ("A-3", "ar"), ("A-4", "en")):
        enrol(db_session, world, code, enrolled=ENROLLED).language = language
    child = enrol(db_session, world, "C-1", enrolled=ENROLLED, age_band="child")
    caregiver_for(db_session, child).language = "ar"
    db_session.commit()
    return world


def test_the_api_warns_of_readers_whose_language_the_questionnaire_lacks(client, db_session):
    world = readers(db_session)
    admin = make_staff(db_session, "admin@x.org", study=world.study, role=Role.ADMIN)
    signed = sign_in(client, admin.email)
    created = signed.post("/api/v1/studies/fatigue/schedules/", json=PHQ9)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["language_warnings"] == [
        "phq9 1.1.0 has no 'fr' text: 2 readers in 'fr' will get it in 'en'.",
        "phq9 1.1.0 has no 'ar' text: 1 reader in 'ar' will get it in 'en'.",
    ]
    # The child's questionnaire is read by the Arabic-speaking caregiver.
    proxy = signed.post(
        "/api/v1/studies/fatigue/schedules/",
        json={**PHQ9, "name": "Diary", "instrument": "daily_symptom_diary", "version": "1.0.0",
              "respondent": "proxy"},
    )  # fmt: skip
    assert proxy.get_json()["language_warnings"] == [
        "daily_symptom_diary 1.0.0 has no 'ar' text: 1 reader in 'ar' will get it in 'en'."
    ]


def test_the_cli_warns_too(runner, db_session):
    readers(db_session)
    result = runner.invoke(
        args=["schedules", "add", "--study", "fatigue", "--name", "PHQ-9", "--instrument", "phq9",
              "--version", "1.1.0", "--respondent", "self", "--spec", '{"kind": "visits", "visits": [{"day": 0}]}']
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Warning: phq9 1.1.0 has no 'fr' text: 2 readers in 'fr' will get it in 'en'." in (
        result.output
    )
