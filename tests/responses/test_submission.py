"""Submitting responses: authorised, validated, sealed, stored exactly once."""

import threading
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from app import crypto
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid
from app.participants.models import ParticipantStatus
from app.responses import keys
from app.responses import service as responses
from app.responses.models import Alert, Response
from tests.responses.conftest import HOLDER_PASSPHRASE, device_for, diary, phq9


def count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def holder(world):
    return keys.HolderCredential("staff", HOLDER_PASSPHRASE, world.holder)


def test_submitted_answers_are_sealed_and_open_for_a_key_holder(db_session, world):
    receipt = responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        phq9(world.adult.id, item9=0),
        now=utcnow(),
    )
    db_session.commit()
    row = db_session.get(Response, receipt.response_id)
    assert crypto.is_sealed_envelope(row.sealed)
    assert row.respondent_type == "self" and row.device_utc_offset_minutes == 60
    opened = responses.open_one(db_session, receipt.response_id, holder(world))
    assert opened["answers"]["phq9_1"] == 1
    assert opened["scores"]["total"]["value"] == 8
    assert opened["scores"]["total"]["band"]


def test_urgent_answer_raises_an_alert_for_the_participants_site_without_answers(db_session, world):
    receipt = responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        phq9(world.adult.id, item9=2),
        now=utcnow(),
    )
    db_session.commit()
    alert = db_session.scalar(sa.select(Alert))
    assert alert.response_id == receipt.response_id and alert.site_id == world.adult.site_id
    assert alert.severity == "urgent" and receipt.alerts_raised == 1
    assert "2" not in alert.message.split() and "phq9_9" not in alert.message


def test_identical_resend_returns_the_original_receipt(db_session, world):
    device = device_for(db_session, world.adult_token)
    submission = diary(world.adult.id)
    first = responses.submit(db_session, device, submission, now=utcnow())
    db_session.commit()
    again = responses.submit(db_session, device, submission, now=utcnow())
    assert again == first
    assert count(db_session, Response) == 1


def test_resend_with_other_answers_is_409_and_changes_nothing(db_session, world):
    device = device_for(db_session, world.adult_token)
    client_uuid = uuid.uuid4()
    responses.submit(
        db_session, device, diary(world.adult.id, client_uuid=client_uuid), now=utcnow()
    )
    db_session.commit()
    changed = diary(
        world.adult.id,
        client_uuid=client_uuid,
        answers={"fatigue": 9, "pain": 0, "sleep": "ok", "mood": "ok"},
    )
    with pytest.raises(Conflict):
        responses.submit(db_session, device, changed, now=utcnow())
    db_session.rollback()
    assert count(db_session, Response) == 1


def test_concurrent_duplicates_store_one_row(database_url, world):
    engine = sa.create_engine(database_url)
    submission = diary(world.adult.id)
    receipts, errors = [], []
    barrier = threading.Barrier(3)

    def send():
        try:
            # Line up before touching the database: on SQLite the first query takes the write
            # lock, and a thread holding it at the barrier would wait for the others forever.
            barrier.wait(timeout=30)
            with Session(engine) as session:
                device = device_for(session, world.adult_token)
                receipts.append(responses.submit(session, device, submission, now=utcnow()))
                session.commit()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine) as session:
        stored = count(session, Response)
    engine.dispose()
    assert errors == []
    assert stored == 1
    assert len({r.response_id for r in receipts}) == 1


def test_caregiver_answers_for_linked_children_across_studies(db_session, world):
    device = device_for(db_session, world.caregiver_token)
    for child in (world.child, world.other_child):
        receipt = responses.submit(
            db_session, device, diary(child.id, respondent="parent"), now=utcnow()
        )
        row = db_session.get(Response, receipt.response_id)
        assert row.participant_id == child.id and row.study_id == child.study_id
        assert (
            row.respondent_type == "parent" and row.answered_by_caregiver_id == world.caregiver.id
        )


def test_caregiver_cannot_answer_for_a_child_not_linked_to_them(db_session, world):
    device = device_for(db_session, world.caregiver_token)
    with pytest.raises(Forbidden):
        responses.submit(
            db_session, device, diary(world.unlinked_child.id, respondent="parent"), now=utcnow()
        )
    assert count(db_session, Response) == 0


def test_participant_cannot_answer_for_someone_else_or_as_a_proxy(db_session, world):
    device = device_for(db_session, world.adult_token)
    with pytest.raises(Forbidden):
        responses.submit(db_session, device, diary(world.child.id, respondent="self"), now=utcnow())
    with pytest.raises(Invalid):
        responses.submit(
            db_session, device, diary(world.adult.id, respondent="parent"), now=utcnow()
        )


def test_invalid_answers_name_the_item_and_store_nothing(db_session, world):
    device = device_for(db_session, world.adult_token)
    with pytest.raises(Invalid) as refused:
        responses.submit(
            db_session,
            device,
            diary(world.adult.id, answers={"fatigue": 11, "sleep": "ok", "mood": "ok"}),
            now=utcnow(),
        )
    assert {"fatigue", "pain"} <= set(refused.value.errors["answers"])
    assert count(db_session, Response) == 0


def test_instrument_not_assigned_for_this_respondent_is_refused(db_session, world):
    device = device_for(db_session, world.caregiver_token)
    with pytest.raises(Invalid) as refused:
        responses.submit(
            db_session, device, phq9(world.child.id, respondent="parent"), now=utcnow()
        )
    assert "not part of this study for proxy answers" in refused.value.errors["instrument"][0]


def test_withdrawn_participant_sends_no_new_answers(db_session, world):
    world.adult.status = ParticipantStatus.WITHDRAWN.value
    db_session.commit()
    with pytest.raises(Forbidden):
        responses.submit(
            db_session,
            device_for(db_session, world.adult_token),
            diary(world.adult.id),
            now=utcnow(),
        )


def test_storage_refuses_a_plaintext_payload(db_session, world):
    receipt = responses.submit(
        db_session, device_for(db_session, world.adult_token), diary(world.adult.id), now=utcnow()
    )
    db_session.commit()
    row = db_session.get(Response, receipt.response_id)
    row.sealed = b'{"answers": {"fatigue": 6}}'
    with pytest.raises(StatementError) as refused:
        db_session.flush()
    assert isinstance(refused.value.orig, crypto.NotSealed)
    db_session.rollback()


def test_a_tampered_envelope_does_not_open(db_session, world):
    receipt = responses.submit(
        db_session, device_for(db_session, world.adult_token), diary(world.adult.id), now=utcnow()
    )
    db_session.commit()
    row = db_session.get(Response, receipt.response_id)
    tampered = bytearray(row.sealed)
    tampered[-5] ^= 0x01
    db_session.execute(
        sa.update(Response).where(Response.id == row.id).values(sealed=bytes(tampered))
    )
    db_session.commit()
    with pytest.raises(crypto.EnvelopeError):
        responses.open_one(db_session, row.id, holder(world))


def test_an_envelope_moved_to_another_row_does_not_open(db_session, world):
    device = device_for(db_session, world.adult_token)
    first = responses.submit(db_session, device, diary(world.adult.id), now=utcnow())
    second = responses.submit(
        db_session,
        device,
        diary(world.adult.id, answers={"fatigue": 2, "pain": 0, "sleep": "ok", "mood": "ok"}),
        now=utcnow(),
    )
    db_session.commit()
    moved = db_session.get(Response, first.response_id).sealed
    db_session.execute(
        sa.update(Response).where(Response.id == second.response_id).values(sealed=moved)
    )
    db_session.commit()
    with pytest.raises(crypto.EnvelopeError):
        responses.open_one(db_session, second.response_id, holder(world))


def test_hard_to_understand_flags_stay_readable_and_are_checked(db_session, world):
    device = device_for(db_session, world.adult_token)
    receipt = responses.submit(
        db_session, device, diary(world.adult.id, hard_to_understand=("sleep",)), now=utcnow()
    )
    assert db_session.get(Response, receipt.response_id).hard_to_understand == ["sleep"]
    with pytest.raises(Invalid):
        responses.submit(
            db_session, device, diary(world.adult.id, hard_to_understand=("nope",)), now=utcnow()
        )


def test_staff_assisted_answers_on_the_participants_own_phone_are_recorded_as_such(
    db_session, world
):
    receipt = responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        diary(world.adult.id, respondent="staff_assisted"),
        now=utcnow(),
    )
    assert db_session.get(Response, receipt.response_id).respondent_type == "staff_assisted"
    with pytest.raises(Invalid):
        responses.submit(
            db_session,
            device_for(db_session, world.caregiver_token),
            diary(world.child.id, respondent="staff_assisted"),
            now=utcnow(),
        )
