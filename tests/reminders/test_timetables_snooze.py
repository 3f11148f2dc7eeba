"""Snooze: the recipient's next pending reminder moves to the first moment their timetable
allows after the delay, never at or past the questionnaire's close, and nobody else's moves."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.errors import Conflict, Invalid, NotFound
from app.reminders import timetables
from app.reminders.models import Occurrence, OutboxMessage, StudySchedule
from tests.factories import make_caregiver, make_device, make_participant, make_study
from tests.participants.helpers import publish_library

UTC = dt.UTC
# Wednesday 10 March 2027; Paris is UTC+1.
NOW = dt.datetime(2027, 3, 10, 19, 40, tzinfo=UTC)  # 20:40 in Paris


@pytest.fixture
def setting(db_session):
    versions = publish_library(db_session)
    study = make_study(db_session)
    adult = make_participant(db_session, study, "P-001")
    child = make_participant(db_session, study, "P-002", age_band="child")
    stranger = make_participant(db_session, study, "P-003", age_band="child")
    caregiver = make_caregiver(db_session, child)
    schedule = StudySchedule(
        study_id=study.id,
        name="diary",
        instrument_version_id=versions["daily_symptom_diary"].id,
        respondent="self",
        spec={"kind": "daily"},
        created_by="test",
    )
    db_session.add(schedule)
    db_session.commit()
    return schedule, adult, child, stranger, caregiver


def occurrence(session, schedule, participant, closes_at, respondent="self", **extra):
    row = Occurrence(
        schedule_id=schedule.id,
        participant_id=participant.id,
        respondent=respondent,
        key=f"k{closes_at.isoformat()}",
        opens_at=NOW - dt.timedelta(hours=3),
        closes_at=closes_at,
        **extra,
    )
    session.add(row)
    session.flush()
    return row


def reminder(session, occ, sequence, send_at, state="pending", **recipient):
    who = next(iter(recipient.items()))
    row = OutboxMessage(
        dedupe_key=f"rem:{occ.id}:{who[0][0]}{who[1]}:{sequence}",
        kind="reminder",
        channel="push",
        occurrence_id=occ.id,
        sequence=sequence,
        send_at=send_at,
        state=state,
        **recipient,
    )
    session.add(row)
    session.flush()
    return row


def reread(session, row):
    session.expire_all()
    return session.get(OutboxMessage, row.id)


def test_snooze_into_quiet_hours_waits_for_the_morning(db_session, setting):
    schedule, adult, *_ = setting
    occ = occurrence(
        db_session, schedule, adult, closes_at=dt.datetime(2027, 3, 11, 10, tzinfo=UTC)
    )
    sent = reminder(
        db_session, occ, 0, NOW - dt.timedelta(hours=2), "sent", participant_id=adult.id
    )
    pending = reminder(db_session, occ, 1, NOW + dt.timedelta(minutes=5), participant_id=adult.id)
    later = reminder(db_session, occ, 2, NOW + dt.timedelta(hours=20), participant_id=adult.id)
    db_session.commit()

    result = timetables.snooze(db_session, adult, occ.id, 30, now=NOW)
    db_session.commit()
    # 21:10 in Paris is inside the default quiet hours (21:00-08:00): 08:00 Paris = 07:00 UTC.
    morning = dt.datetime(2027, 3, 11, 7, 0, tzinfo=UTC)
    assert result.send_at == morning and result.moved == 1
    moved = reread(db_session, pending)
    assert moved.send_at == morning and moved.state == "pending"
    assert moved.note.startswith("snoozed")
    assert reread(db_session, sent).send_at == NOW - dt.timedelta(hours=2)
    assert reread(db_session, later).send_at == NOW + dt.timedelta(hours=20)


def test_snooze_never_goes_past_the_close_it_drops_the_reminder_instead(db_session, setting):
    schedule, adult, *_ = setting
    closes = dt.datetime(2027, 3, 10, 21, 30, tzinfo=UTC)  # 22:30 Paris, all quiet from 21:00
    occ = occurrence(db_session, schedule, adult, closes_at=closes)
    pending = reminder(db_session, occ, 0, NOW + dt.timedelta(minutes=1), participant_id=adult.id)
    db_session.commit()
    result = timetables.snooze(db_session, adult, occ.id, 30, now=NOW)
    db_session.commit()
    assert result.send_at is None
    row = reread(db_session, pending)
    assert row.state == "cancelled" and row.note.startswith("snoozed")
    # Without quiet hours the same snooze lands inside the window, still before the close.
    timetables.update_timetable(db_session, adult, quiet_hours=[], actor="t", now=NOW)
    occ2 = occurrence(db_session, schedule, adult, closes_at=closes + dt.timedelta(minutes=1))
    row2 = reminder(db_session, occ2, 0, NOW, participant_id=adult.id)
    db_session.commit()
    assert timetables.snooze(
        db_session, adult, occ2.id, 110, now=NOW
    ).send_at == NOW + dt.timedelta(minutes=110)
    # One minute more would reach the close: dropped.
    row3_occ = occurrence(db_session, schedule, adult, closes_at=NOW + dt.timedelta(minutes=60))
    reminder(db_session, row3_occ, 0, NOW, participant_id=adult.id)
    assert timetables.snooze(db_session, adult, row3_occ.id, 60, now=NOW).send_at is None
    assert reread(db_session, row2).state == "pending"


def test_snooze_respects_windows_and_pauses(db_session, setting):
    schedule, adult, *_ = setting
    timetables.update_timetable(
        db_session,
        adult,
        windows={
            "wed": [{"start": "20:00", "end": "21:00"}],
            "fri": [{"start": "18:00", "end": "19:00"}],
        },
        quiet_hours=[],
        actor="t",
        now=NOW,
    )
    timetables.add_pause(
        db_session,
        adult,
        starts_on=dt.date(2027, 3, 11),
        ends_on=dt.date(2027, 3, 11),
        reason=None,
        actor="t",
        now=NOW,
    )
    occ = occurrence(db_session, schedule, adult, closes_at=NOW + dt.timedelta(days=5))
    pending = reminder(db_session, occ, 0, NOW, participant_id=adult.id)
    db_session.commit()
    # 20:40 + 30 min = 21:10 Wednesday, after the window; Thursday paused; Friday 18:00 Paris.
    result = timetables.snooze(db_session, adult, occ.id, 30, now=NOW)
    assert result.send_at == dt.datetime(2027, 3, 12, 17, 0, tzinfo=UTC)
    assert reread(db_session, pending).send_at == result.send_at


def test_a_caregiver_snoozes_only_their_own_reminder_for_a_linked_child(db_session, setting):
    schedule, adult, child, stranger, caregiver = setting
    timetables.update_timetable(db_session, caregiver, quiet_hours=[], actor="t", now=NOW)
    occ = occurrence(
        db_session, schedule, child, closes_at=NOW + dt.timedelta(hours=5), respondent="proxy"
    )
    mine = reminder(db_session, occ, 0, NOW, caregiver_id=caregiver.id)
    other = reminder(db_session, occ, 0, NOW, participant_id=child.id)
    db_session.commit()
    result = timetables.snooze(db_session, caregiver, occ.id, 15, now=NOW)
    db_session.commit()
    assert result.send_at == NOW + dt.timedelta(minutes=15)
    assert reread(db_session, mine).send_at == NOW + dt.timedelta(minutes=15)
    assert reread(db_session, other).send_at == NOW
    # Someone else's questionnaire is not found, whoever asks.
    strange = occurrence(
        db_session, schedule, stranger, closes_at=NOW + dt.timedelta(hours=5), respondent="proxy"
    )
    with pytest.raises(NotFound):
        timetables.snooze(db_session, caregiver, strange.id, 15, now=NOW)
    with pytest.raises(NotFound):
        timetables.snooze(db_session, adult, occ.id, 15, now=NOW)


@pytest.mark.parametrize("minutes", [4, 721, 0, -5, True])
def test_snooze_minutes_out_of_range_are_refused(db_session, setting, minutes):
    schedule, adult, *_ = setting
    occ = occurrence(db_session, schedule, adult, closes_at=NOW + dt.timedelta(hours=5))
    with pytest.raises(Invalid) as caught:
        timetables.snooze(db_session, adult, occ.id, minutes, now=NOW)
    assert list(caught.value.errors) == ["minutes"]


def test_nothing_to_snooze_is_a_conflict(db_session, setting):
    schedule, adult, *_ = setting
    done = occurrence(
        db_session,
        schedule,
        adult,
        closes_at=NOW + dt.timedelta(hours=5),
        completed_at=NOW - dt.timedelta(minutes=1),
    )
    reminder(db_session, done, 0, NOW + dt.timedelta(hours=1), participant_id=adult.id)
    closed = occurrence(db_session, schedule, adult, closes_at=NOW - dt.timedelta(minutes=1))
    quiet = occurrence(db_session, schedule, adult, closes_at=NOW + dt.timedelta(hours=6))
    reminder(db_session, quiet, 0, NOW - dt.timedelta(hours=1), "sent", participant_id=adult.id)
    for occ in (done, closed, quiet):
        with pytest.raises(Conflict):
            timetables.snooze(db_session, adult, occ.id, 15, now=NOW)


def test_phone_snooze_endpoint(client, db_session, setting):
    schedule, adult, *_ = setting
    _, token = make_device(db_session, adult)
    timetables.update_timetable(db_session, adult, quiet_hours=[], actor="t")
    now = dt.datetime.now(UTC)
    occ = occurrence(db_session, schedule, adult, closes_at=now + dt.timedelta(hours=12))
    pending = reminder(db_session, occ, 0, now + dt.timedelta(minutes=2), participant_id=adult.id)
    db_session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/me/occurrences/{occ.id}/snooze"
    refused = client.post(url, json={"minutes": 3}, headers=headers)
    assert refused.status_code == 422 and "minutes" in refused.get_json()["errors"]["json"]
    assert client.post(url, json={"minutes": "30"}, headers=headers).status_code == 422
    response = client.post(url, json={"minutes": 30}, headers=headers)
    assert response.status_code == 200, response.get_json()
    send_at = dt.datetime.fromisoformat(response.get_json()["send_at"])
    assert now + dt.timedelta(minutes=30) <= send_at < now + dt.timedelta(minutes=31)
    assert reread(db_session, pending).send_at == send_at
    missing = client.post(
        "/api/v1/me/occurrences/999999/snooze", json={"minutes": 30}, headers=headers
    )
    assert missing.status_code == 404
    assert db_session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
