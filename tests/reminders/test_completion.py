"""A submitted response completes its occurrence in the same transaction: explicitly by
occurrence_id or by matching; late answers are LATE, unanswered ones MISSED; a resend changes
nothing; a wrong occurrence_id is refused with a specific error and stores nothing."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import Invalid
from app.reminders.models import OccurrenceState
from app.responses import service as responses
from app.responses.models import Response
from tests.reminders.planning_world import (
    add,
    at,
    build_world,
    caregiver_for,
    device,
    diary_answers,
    enrol,
    occurrences,
    reminders_of,
)

# 1 March 2027: the diary is open 18:00-23:00 Paris time (17:00-22:00 UTC).
OPEN_NOW = at("2027-03-01 18:30")


def planned(db_session):
    from app.reminders import planner

    world = build_world(db_session)
    add(db_session, world)
    add(
        db_session, world, {"kind": "visits", "visits": [{"day": 0, "after": 6}]}, instrument="phq9"
    )
    adult = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    other = enrol(db_session, world, "A-2", enrolled=at("2027-03-01 08:00"))
    planner.materialise(db_session, at("2027-03-01 12:00"))
    db_session.commit()
    return world, adult, other, device(db_session, participant_id=adult.id)


def diary_of(db_session, person, key):
    return next(o for o in occurrences(db_session, person) if o.key == key and o.schedule_id == 1)


def count_responses(db_session):
    return db_session.scalar(sa.select(sa.func.count()).select_from(Response))


def test_explicit_occurrence_is_completed_and_its_reminders_cancelled(db_session):
    _, adult, _, phone = planned(db_session)
    target = diary_of(db_session, adult, "2027-03-01")
    receipt = responses.submit(
        db_session,
        phone,
        diary_answers(adult.id, OPEN_NOW, occurrence_id=target.id),
        now=OPEN_NOW + dt.timedelta(seconds=5),
    )
    db_session.commit()
    done = diary_of(db_session, adult, "2027-03-01")
    assert (done.response_id, done.completed_at) == (receipt.response_id, OPEN_NOW)
    assert done.state(OPEN_NOW) is OccurrenceState.COMPLETED
    assert receipt.occurrence_id == target.id
    rows = reminders_of(db_session, occurrence_id=target.id)
    assert {(r.state, r.note) for r in rows} == {("cancelled", "answered")}
    tomorrow = diary_of(db_session, adult, "2027-03-02")
    assert {r.state for r in reminders_of(db_session, occurrence_id=tomorrow.id)} == {"pending"}


def test_without_an_occurrence_id_the_open_one_is_matched(db_session):
    _, adult, _, phone = planned(db_session)
    receipt = responses.submit(db_session, phone, diary_answers(adult.id, OPEN_NOW), now=OPEN_NOW)
    db_session.commit()
    done = diary_of(db_session, adult, "2027-03-01")
    assert done.response_id == receipt.response_id and receipt.occurrence_id == done.id
    assert done.state(OPEN_NOW) is OccurrenceState.COMPLETED
    # The PHQ-9 visit open at the same time asks another instrument: untouched.
    visit = next(o for o in occurrences(db_session, adult) if o.schedule_id == 2)
    assert visit.completed_at is None


def test_answers_finished_offline_while_open_count_as_on_time(db_session):
    _, adult, _, phone = planned(db_session)
    next_morning = at("2027-03-02 07:00")  # sent when the phone found a network again
    responses.submit(db_session, phone, diary_answers(adult.id, OPEN_NOW), now=next_morning)
    db_session.commit()
    done = diary_of(db_session, adult, "2027-03-01")
    assert done.completed_at == OPEN_NOW
    assert done.state(next_morning) is OccurrenceState.COMPLETED


def test_an_answer_after_the_close_completes_the_last_closed_one_as_late(db_session):
    _, adult, _, phone = planned(db_session)
    late = at("2027-03-02 09:00")  # 10:00 in Paris, the diary of 1 March closed at 23:00
    responses.submit(db_session, phone, diary_answers(adult.id, late), now=late)
    db_session.commit()
    done = diary_of(db_session, adult, "2027-03-01")
    assert done.completed_at == late and done.state(late) is OccurrenceState.LATE
    # An unanswered one is missed once it closes; the next one is upcoming, then open.
    second = diary_of(db_session, adult, "2027-03-02")
    assert second.state(late) is OccurrenceState.UPCOMING
    assert second.state(at("2027-03-02 17:30")) is OccurrenceState.OPEN
    assert second.state(at("2027-03-02 22:00")) is OccurrenceState.MISSED


def test_an_identical_resend_changes_nothing_and_a_second_answer_does_not_recomplete(db_session):
    _, adult, _, phone = planned(db_session)
    target = diary_of(db_session, adult, "2027-03-01")
    first_id = uuid.uuid4()
    submission = diary_answers(adult.id, OPEN_NOW, occurrence_id=target.id, client_uuid=first_id)
    receipt = responses.submit(db_session, phone, submission, now=OPEN_NOW)
    db_session.commit()
    again = responses.submit(db_session, phone, submission, now=OPEN_NOW + dt.timedelta(hours=1))
    db_session.commit()
    assert again == receipt
    done = diary_of(db_session, adult, "2027-03-01")
    assert (done.completed_at, done.response_id) == (OPEN_NOW, receipt.response_id)
    # Another answer for the same occurrence is stored (nothing a family sends is lost) but
    # does not take the occurrence over; without an id it matches nothing else that is open.
    later = OPEN_NOW + dt.timedelta(minutes=30)
    other = responses.submit(
        db_session, phone, diary_answers(adult.id, later, occurrence_id=target.id), now=later
    )
    db_session.commit()
    assert other.occurrence_id is None and count_responses(db_session) == 2
    done = diary_of(db_session, adult, "2027-03-01")
    assert (done.completed_at, done.response_id) == (OPEN_NOW, receipt.response_id)


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("someone_else", "No such questionnaire is due for this participant"),
        ("unknown", "No such questionnaire is due for this participant"),
        ("other_instrument", "asks for phq9 1.1.0, not daily_symptom_diary 1.0.0"),
        ("not_open_yet", "opens at 2027-03-02T17:00:00+00:00"),
    ],
)
def test_a_wrong_occurrence_id_is_refused_by_name_and_stores_nothing(db_session, case, words):
    _, adult, other, phone = planned(db_session)
    visit = next(o for o in occurrences(db_session, adult) if o.schedule_id == 2)
    occurrence_id = {
        "someone_else": diary_of(db_session, other, "2027-03-01").id,
        "unknown": 999_999,
        "other_instrument": visit.id,
        "not_open_yet": diary_of(db_session, adult, "2027-03-02").id,
    }[case]
    with pytest.raises(Invalid) as caught:
        responses.submit(
            db_session,
            phone,
            diary_answers(adult.id, OPEN_NOW, occurrence_id=occurrence_id),
            now=OPEN_NOW,
        )
    db_session.rollback()
    assert words in caught.value.errors["occurrence_id"][0]
    assert count_responses(db_session) == 0
    assert all(o.completed_at is None for o in occurrences(db_session))


def test_a_proxy_answer_completes_the_proxy_occurrence_not_the_childs_own(db_session):
    from app.reminders import planner

    world = build_world(db_session)
    add(db_session, world)  # self
    add(db_session, world, respondent="proxy")
    teen = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"), age_band="adolescent")
    carer = caregiver_for(db_session, teen)
    planner.materialise(db_session, at("2027-03-01 12:00"))
    db_session.commit()
    carer_phone = device(db_session, caregiver_id=carer.id)
    own = next(o for o in occurrences(db_session, teen) if o.respondent == "self")
    with pytest.raises(Invalid) as caught:
        responses.submit(
            db_session,
            carer_phone,
            diary_answers(teen.id, OPEN_NOW, respondent="parent", occurrence_id=own.id),
            now=OPEN_NOW,
        )
    db_session.rollback()
    assert "answered as self, not proxy" in caught.value.errors["occurrence_id"][0]
    responses.submit(
        db_session, carer_phone, diary_answers(teen.id, OPEN_NOW, respondent="parent"), now=OPEN_NOW
    )
    db_session.commit()
    done = {o.respondent: o.completed_at for o in occurrences(db_session, teen) if o.key == "2027-03-01"}  # fmt: skip
    assert done == {"self": None, "proxy": OPEN_NOW}


def test_instruments_without_schedules_still_accept_answers(db_session):
    world = build_world(db_session)
    adult = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    receipt = responses.submit(
        db_session, device(db_session, participant_id=adult.id), diary_answers(adult.id, OPEN_NOW), now=OPEN_NOW
    )  # fmt: skip
    db_session.commit()
    assert receipt.occurrence_id is None and count_responses(db_session) == 1


def test_two_answers_racing_for_one_occurrence_complete_it_once(app, db_session, database_url):
    _, adult, _, phone = planned(db_session)
    engine = sa.create_engine(database_url)
    barrier = threading.Barrier(2)
    receipts: list[responses.Receipt] = []
    failures: list[BaseException] = []

    def answer() -> None:
        try:
            # Line up before touching the database: on SQLite the first query takes the
            # write lock, and a thread holding it at the barrier would wait forever.
            barrier.wait(timeout=30)
            with Session(engine) as session:
                phone_here = session.get(type(phone), phone.id)
                receipts.append(
                    responses.submit(
                        session, phone_here, diary_answers(adult.id, OPEN_NOW), now=OPEN_NOW
                    )
                )
                session.commit()
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()
    assert failures == [] and len(receipts) == 2
    done = diary_of(db_session, adult, "2027-03-01")
    assert done.response_id in {r.response_id for r in receipts}
    assert sorted(r.occurrence_id is None for r in receipts) == [False, True]


def test_a_second_answer_for_an_answered_occurrence_is_kept_and_flagged_as_a_repeat(db_session):
    """#11: one visit, one answer, unless the participant deliberately answers again (or an old
    phone resends). The repeat is stored, flagged, and shown to staff with its occurrence."""
    from app.reminders import adherence

    _, adult, _, phone = planned(db_session)
    target = diary_of(db_session, adult, "2027-03-01")
    first = responses.submit(
        db_session, phone, diary_answers(adult.id, OPEN_NOW, occurrence_id=target.id), now=OPEN_NOW
    )
    db_session.commit()
    assert first.repeat_of is None
    later = OPEN_NOW + dt.timedelta(minutes=10)
    repeat = responses.submit(
        db_session, phone, diary_answers(adult.id, later, occurrence_id=target.id), now=later
    )
    db_session.commit()
    assert (repeat.repeat_of, repeat.occurrence_id) == (first.response_id, None)
    stored = db_session.get(Response, repeat.response_id)
    assert stored is not None and stored.repeat_of_response_id == first.response_id
    assert db_session.get(Response, first.response_id).repeat_of_response_id is None
    view = adherence.occurrences_of(db_session, adult, later)
    shown = next(o for o in view.occurrences if o.id == target.id)
    assert (shown.response_id, shown.repeat_response_ids) == (
        first.response_id,
        (repeat.response_id,),
    )
    # Still one answered occurrence for adherence: the repeat does not count twice.
    assert view.adherence.counts["completed"] == 1
