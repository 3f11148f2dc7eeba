"""Participant feedback for authors: how often each item was marked hard to understand, per
version, as a rate of the study's responses; never who."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.codesign import service as codesign
from app.db import utcnow
from app.participants.models import StudyInstrument
from app.responses import keys
from app.responses import service as responses
from tests.responses.conftest import _device, _participant, device_for, diary


def test_flag_rates_per_item_and_version_after_participants_flag_items(session, world):
    keys.create_study_key(session, world.study, actor="test")
    session.add(
        StudyInstrument(
            study_id=world.study.id, instrument_version_id=world.diary.id, respondents="both"
        )
    )
    adult = _participant(session, world.study, "A-001", "adult")
    token = _device(session, participant_id=adult.id)
    session.commit()
    before = codesign.feedback(session, world.author, world.study, "daily_symptom_diary")
    session.commit()
    assert [(v.version, v.responses) for v in before] == [("1.0.0", 0)]
    assert all(item.rate == 0.0 for item in before[0].items)

    device = device_for(session, token)
    for flags in (("sleep",), ("sleep", "pain"), ()):
        responses.submit(session, device, diary(adult.id, hard_to_understand=flags), now=utcnow())
        session.commit()

    [version] = codesign.feedback(session, world.coordinator, world.study, "daily_symptom_diary")
    session.commit()
    assert version.responses == 3
    by_item = {item.item_id: item for item in version.items}
    assert list(by_item) == ["fatigue", "pain", "pain_where", "sleep", "mood", "anything_else"]
    assert (by_item["sleep"].flagged, round(by_item["sleep"].rate, 3)) == (2, 0.667)
    assert (by_item["pain"].flagged, round(by_item["pain"].rate, 3)) == (1, 0.333)
    assert by_item["fatigue"].flagged == 0
    # Only counts and rates: nothing in the result could say who flagged what.
    fields = {f.name for f in dataclasses.fields(version)} | {
        f.name for f in dataclasses.fields(version.items[0])
    }
    assert fields == {"version_id", "version", "responses", "items", "item_id", "flagged", "rate"}
    viewed = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "codesign.feedback_viewed")
    ).all()
    assert [e.details for e in viewed][-1] == {"instrument": "daily_symptom_diary"}


def test_feedback_is_for_the_studys_co_designers_only(session, world):
    import pytest

    from app.errors import Forbidden, NotFound

    with pytest.raises(Forbidden):
        codesign.feedback(session, world.data_manager, world.study, "daily_symptom_diary")
    session.rollback()
    with pytest.raises(NotFound):
        codesign.feedback(session, world.outsider, world.study, "daily_symptom_diary")
    session.rollback()
