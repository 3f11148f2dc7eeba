"""Moving questions between pages and adding answer options (own lists and shared lists):
checked by the loader, refused on a stale revision like every edit, kept in the history and
audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.codesign import service as codesign
from app.codesign.document import INSTRUMENT_PART
from app.codesign.models import DraftChange
from app.errors import Forbidden, Invalid


@pytest.fixture
def draft(session, world):
    created = codesign.create_draft_from_published(
        session, world.author, world.study, world.diary.id
    )
    session.commit()
    return created


def _view(session, user, draft_id):
    return codesign.get_draft(session, user, draft_id)


def _layout(session, user, draft_id):
    view = _view(session, user, draft_id)
    return [(page["id"], list(page["items"])) for page in view.instrument.body["pages"]]


def _events(session, action):
    return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_a_question_moves_to_another_page_and_the_move_is_kept(session, world, draft):
    revision = _view(session, world.author, draft.id).instrument.revision
    assert codesign.move_item(
        session,
        world.author,
        draft.id,
        "sleep",
        page_id="anything_else_page",
        position=0,
        expected_revision=revision,
    )
    session.commit()
    layout = dict(_layout(session, world.author, draft.id))
    assert layout["night_and_mood"] == ["mood"]
    assert layout["anything_else_page"] == ["sleep", "anything_else"]
    assert _view(session, world.author, draft.id).instrument.revision == revision + 1
    [change] = session.scalars(
        sa.select(DraftChange).where(DraftChange.draft_id == draft.id, DraftChange.path == "pages")
    )
    assert change.author_id == world.author.id
    [event] = _events(session, "codesign.item_moved")
    assert event.details["from_page"] == "night_and_mood"
    assert event.details["page"] == "anything_else_page" and event.details["position"] == 0


def test_a_move_on_a_stale_revision_is_a_conflict_and_moves_nothing(session, world, draft):
    revision = _view(session, world.author, draft.id).instrument.revision
    codesign.edit(
        session, world.author2, draft.id, INSTRUMENT_PART, {"title.fr": "Journal"}, revision
    )
    session.commit()
    before = _layout(session, world.author, draft.id)
    with pytest.raises(codesign.EditConflict) as conflict:
        codesign.move_item(
            session,
            world.author,
            draft.id,
            "mood",
            page_id="body",
            position=0,
            expected_revision=revision,
        )
    session.rollback()
    assert conflict.value.current_revision == revision + 1
    assert "moving this question" in conflict.value.message
    assert _layout(session, world.author, draft.id) == before
    assert _events(session, "codesign.item_moved") == []


def test_a_move_onto_a_new_page_and_back_leaves_no_empty_page(session, world, draft):
    revision = _view(session, world.author, draft.id).instrument.revision
    codesign.move_item(
        session,
        world.author,
        draft.id,
        "anything_else",
        page_id=codesign.NEW_PAGE,
        position=0,
        expected_revision=revision,
    )
    session.commit()
    layout = _layout(session, world.author, draft.id)
    assert layout[-1] == ("page_4", ["anything_else"])
    assert "anything_else_page" not in dict(layout)  # left empty, so it went
    # Moving to where it already is changes nothing and records nothing.
    assert not codesign.move_item(
        session,
        world.author,
        draft.id,
        "anything_else",
        page_id="page_4",
        position=0,
        expected_revision=revision + 1,
    )
    session.rollback()
    assert len(_events(session, "codesign.item_moved")) == 1


def test_a_move_that_makes_skip_logic_look_forward_is_refused(session, world, draft):
    revision = _view(session, world.author, draft.id).instrument.revision
    with pytest.raises(Invalid) as refused:
        codesign.move_item(
            session,
            world.author,
            draft.id,
            "pain",
            page_id="night_and_mood",
            position=0,
            expected_revision=revision,
        )
    session.rollback()
    assert any("not an earlier item" in m for ms in refused.value.errors.values() for m in ms)


def test_only_authors_move_questions(session, world, draft):
    with pytest.raises(Forbidden):
        codesign.move_item(
            session,
            world.coordinator,
            draft.id,
            "mood",
            page_id="body",
            position=0,
            expected_revision=1,
        )
    session.rollback()


def test_an_answer_option_is_added_to_a_questions_own_list(session, world, draft):
    part = next(p for p in _view(session, world.author, draft.id).items if p.key == "pain_where")
    view = codesign.add_choice(
        session,
        world.author,
        draft.id,
        "pain_where",
        value="chest",
        labels={"en": "Chest", "fr": "Poitrine"},
        score=None,
        expected_revision=part.revision,
    )
    session.commit()
    assert view.revision == part.revision + 1
    assert view.body["choices"][-1] == {
        "value": "chest",
        "label": {"en": "Chest", "fr": "Poitrine"},
    }
    [event] = _events(session, "codesign.choice_added")
    assert event.details["part"] == "pain_where" and event.details["list"] == "choices"
    assert "Chest" not in str(event.details)  # ids and places only, never texts
    history = codesign.history(session, world.author, draft.id, part_key="pain_where")
    assert history[0].path == "choices.6" and history[0].after["value"] == "chest"


def test_a_duplicate_or_stale_answer_option_is_refused(session, world, draft):
    part = next(p for p in _view(session, world.author, draft.id).items if p.key == "pain_where")
    with pytest.raises(Invalid) as duplicate:
        codesign.add_choice(
            session,
            world.author,
            draft.id,
            "pain_where",
            value="head",
            labels={"en": "Head again"},
            score=None,
            expected_revision=part.revision,
        )
    session.rollback()
    assert any("appears twice" in m for ms in duplicate.value.errors.values() for m in ms)
    with pytest.raises(Invalid) as bad_value:
        codesign.add_choice(
            session,
            world.author,
            draft.id,
            "pain_where",
            value="two words",
            labels={"en": "Two"},
            score=None,
            expected_revision=part.revision,
        )
    session.rollback()
    assert "value" in bad_value.value.errors
    with pytest.raises(codesign.EditConflict):
        codesign.add_choice(
            session,
            world.author,
            draft.id,
            "pain_where",
            value="chest",
            labels={"en": "Chest"},
            score=None,
            expected_revision=part.revision - 1,
        )
    session.rollback()


def test_a_shared_answer_list_gets_an_option_and_its_labels_are_edited(session, world, draft):
    revision = _view(session, world.author, draft.id).instrument.revision
    sleep = next(p for p in _view(session, world.author, draft.id).items if p.key == "sleep")
    with pytest.raises(Invalid) as refused:  # the question uses the shared list
        codesign.add_choice(
            session,
            world.author,
            draft.id,
            "sleep",
            value="not_at_all",
            labels={"en": "Not at all"},
            score=0,
            expected_revision=sleep.revision,
        )
    session.rollback()
    assert "shared answer list 'sleep'" in refused.value.errors["value"][0]
    codesign.add_choice(
        session,
        world.author,
        draft.id,
        INSTRUMENT_PART,
        choice_set="sleep",
        value="not_at_all",
        labels={"en": "Not at all", "fr": "Pas du tout"},
        score=0,
        expected_revision=revision,
    )
    codesign.edit(
        session,
        world.author,
        draft.id,
        INSTRUMENT_PART,
        {"choice_sets.sleep.0.label.fr": "Très très bien", "choice_sets.sleep.0.score": 5},
        revision + 1,
    )
    session.commit()
    members = _view(session, world.author, draft.id).instrument.body["choice_sets"]["sleep"]
    assert members[-1]["value"] == "not_at_all" and members[-1]["score"] == 0
    assert members[0]["label"]["fr"] == "Très très bien" and members[0]["score"] == 5
    # The English source did not change, so the French it was edited beside is current.
    report = codesign.translation_status(session, world.author, draft.id)
    french = next(s for s in report.languages if s.language == "fr")
    assert not any(e.stale for e in french.entries if e.path.startswith("choice_sets.sleep"))
