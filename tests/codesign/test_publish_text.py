"""app.library.publish_text: a file given as text publishes with the same checks and the same
immutability as files on disk."""

from __future__ import annotations

import pytest

from app.errors import Conflict
from app.library import service as library
from app.library.service import InvalidInstrumentFiles, PublishStatus
from tests.codesign.conftest import DIARY


def test_publish_text_checks_publishes_once_and_refuses_edited_content(session):
    text = DIARY.read_text("utf-8")
    result, row = library.publish_text(session, text, "daily_symptom_diary.yaml", actor="staff:1")
    session.commit()
    assert result.status == PublishStatus.PUBLISHED and row.source_text == text
    again, same = library.publish_text(session, text, "daily_symptom_diary.yaml", actor="staff:1")
    assert again.status == PublishStatus.UNCHANGED and same.id == row.id
    with pytest.raises(Conflict, match="already published with different content"):
        library.publish_text(
            session, text.replace("Daily symptom diary", "Symptom diary"), "x.yaml", actor="staff:1"
        )
    session.rollback()
    with pytest.raises(InvalidInstrumentFiles):
        library.publish_text(session, "id: [", "broken.yaml", actor="staff:1")
    session.rollback()
