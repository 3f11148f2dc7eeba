"""Editing drafts: concurrent edits never overwrite, structure changes are checked, and only
the right people may do each thing."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.codesign import service as codesign
from app.codesign.document import INSTRUMENT_PART
from app.codesign.models import DraftChange, DraftPart
from app.errors import Conflict, Forbidden, Invalid, NotFound


@pytest.fixture
def draft(session, world):
    created = codesign.create_draft_from_published(
        session, world.author, world.study, world.diary.id
    )
    session.commit()
    return created


def revision(session, user, draft_id, key):
    view = codesign.get_draft(session, user, draft_id)
    return next(p.revision for p in (view.instrument, *view.items) if p.key == key)


def test_two_people_editing_one_item_get_the_conflict_with_both_versions(engine, world, draft):
    with Session(engine) as first, Session(engine) as second:
        seen_by_first = revision(first, world.author, draft.id, "fatigue")
        first.commit()
        seen_by_second = revision(second, world.author2, draft.id, "fatigue")
        second.commit()
        codesign.edit(
            first,
            world.author,
            draft.id,
            "fatigue",
            {"text.self.en": "How tired did you feel?"},
            seen_by_first,
        )
        first.commit()
        with pytest.raises(codesign.EditConflict) as conflict:
            codesign.edit(
                second,
                world.author2,
                draft.id,
                "fatigue",
                {"text.self.en": "How worn out were you today?"},
                seen_by_second,
            )
        second.rollback()
    error = conflict.value
    assert error.yours == {"text.self.en": "How worn out were you today?"}
    assert error.theirs == {"text.self.en": "How tired did you feel?"}
    assert (error.your_revision, error.current_revision) == (seen_by_second, seen_by_second + 1)
    assert error.changed_by == world.author.id
    assert error.errors["theirs"] == error.theirs and "was not saved" in error.message
    with Session(engine) as check:
        body = check.scalar(
            sa.select(DraftPart.body).where(
                DraftPart.draft_id == draft.id, DraftPart.key == "fatigue"
            )
        )
    assert body["text"]["self"]["en"] == "How tired did you feel?"


def test_racing_edits_of_one_item_save_one_and_refuse_the_other(engine, world, draft):
    with Session(engine) as s:
        seen = revision(s, world.author, draft.id, "pain")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def edit(user, wording):
        try:
            barrier.wait(timeout=30)
            with Session(engine) as s:
                codesign.edit(s, user, draft.id, "pain", {"text.self.en": wording}, seen)
                s.commit()
            outcomes.append("saved")
        except codesign.EditConflict:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=edit, args=(world.author, "How much did it hurt today?")),
        threading.Thread(target=edit, args=(world.author2, "How bad was your pain today?")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "saved"]
    with Session(engine) as s:
        assert revision(s, world.author, draft.id, "pain") == seen + 1


def test_edits_to_different_items_do_not_conflict(session, world, draft):
    codesign.edit(
        session,
        world.author,
        draft.id,
        "fatigue",
        {"required": False},
        revision(session, world.author, draft.id, "fatigue"),
    )
    codesign.edit(
        session,
        world.author2,
        draft.id,
        "pain",
        {"required": False},
        revision(session, world.author2, draft.id, "pain"),
    )
    session.commit()


def test_an_edit_giving_the_instrument_a_problem_is_refused_with_the_loaders_message(
    session, world, draft
):
    rev = revision(session, world.author, draft.id, "fatigue")
    with pytest.raises(Invalid) as refused:
        codesign.edit(session, world.author, draft.id, "fatigue", {"scale.max": 0}, rev)
    session.rollback()
    assert refused.value.errors == {
        "scale.max": ["scale max 0 = min 0: a scale needs at least two points"]
    }
    with pytest.raises(Invalid) as unknown:
        codesign.edit(session, world.author, draft.id, "fatigue", {"colour": "red"}, rev)
    session.rollback()
    assert unknown.value.errors["colour"][0].startswith("unknown field 'colour'")
    with pytest.raises(Invalid) as fixed_field:
        codesign.edit(session, world.author, draft.id, INSTRUMENT_PART, {"id": "other"}, 1)
    session.rollback()
    assert "cannot be changed" in fixed_field.value.errors["id"][0]
    assert revision(session, world.author, draft.id, "fatigue") == rev
    assert session.scalar(sa.select(sa.func.count()).select_from(DraftChange)) == 0


def test_add_move_and_remove_items_keep_skip_logic_looking_back(session, world, draft):
    with pytest.raises(Invalid) as forward:
        codesign.add_item(
            session,
            world.author,
            draft.id,
            {
                "id": "went_out",
                "type": "yes_no",
                "show_when": "pain > 5",
                "text": "Did you go out today?",
            },
            page_id="body",
            position=0,
        )
    session.rollback()
    assert "not an earlier item" in forward.value.errors["show_when"][0]
    codesign.add_item(
        session,
        world.author,
        draft.id,
        {"id": "went_out", "type": "yes_no", "text": "Did you go out today?"},
        page_id="outside",
        page_title={"en": "Outside"},
    )
    session.commit()
    view = codesign.get_draft(session, world.author, draft.id)
    assert view.items[-1].key == "went_out"
    assert view.document["pages"][-1]["id"] == "outside"
    assert any("'fr' text" in w.message for w in view.warnings)  # missing translations warn
    with pytest.raises(Invalid):  # pain_where's skip logic needs pain before it
        codesign.move_item(
            session,
            world.author,
            draft.id,
            "pain",
            page_id="outside",
            position=1,
            expected_revision=revision(session, world.author, draft.id, INSTRUMENT_PART),
        )
    session.rollback()
    with pytest.raises(Invalid) as used:
        codesign.remove_item(
            session,
            world.author,
            draft.id,
            "pain",
            revision(session, world.author, draft.id, "pain"),
        )
    session.rollback()
    assert used.value.errors
    codesign.remove_item(session, world.author, draft.id, "went_out", 1)
    session.commit()
    view = codesign.get_draft(session, world.author, draft.id)
    assert "went_out" not in [p.key for p in view.items]
    assert view.document["pages"][-1]["id"] == "anything_else_page"


def test_who_may_do_what(session, world, draft):
    with pytest.raises(NotFound):
        codesign.get_draft(session, world.outsider, draft.id)
    with pytest.raises(Forbidden):
        codesign.get_draft(session, world.data_manager, draft.id)
    view = codesign.get_draft(session, world.coordinator, draft.id)
    assert "edit" not in view.may and "suggest" in view.may
    with pytest.raises(Forbidden):
        codesign.edit(session, world.coordinator, draft.id, "pain", {"required": False}, 1)
    session.rollback()
    with pytest.raises(Forbidden):
        codesign.create_draft(
            session, world.coordinator, world.study, instrument_key="x", title="X"
        )
    session.rollback()
    suggestion = codesign.suggest(session, world.coordinator, draft.id, "pain", "required", False)
    session.commit()
    with pytest.raises(Forbidden, match="owner"):
        codesign.accept_suggestion(session, world.author2, suggestion.id)
    session.rollback()
    codesign.reject_suggestion(session, world.author, suggestion.id, note="It must stay required.")
    session.commit()
    with pytest.raises(Conflict, match="already rejected"):
        codesign.accept_suggestion(session, world.author, suggestion.id)
    session.rollback()


def test_accepting_a_suggestion_over_a_later_edit_is_a_conflict(session, world, draft):
    suggestion = codesign.suggest(
        session, world.coordinator, draft.id, "sleep", "text.proxy.en", "How did your child sleep?"
    )
    session.commit()
    codesign.edit(
        session,
        world.author,
        draft.id,
        "sleep",
        {"text.proxy.en": "How well did your child sleep?"},
        revision(session, world.author, draft.id, "sleep"),
    )
    session.commit()
    with pytest.raises(codesign.EditConflict) as conflict:
        codesign.accept_suggestion(session, world.author, suggestion.id)
    session.rollback()
    assert conflict.value.yours == {"text.proxy.en": "How did your child sleep?"}
    assert conflict.value.theirs == {"text.proxy.en": "How well did your child sleep?"}


def test_a_suggestion_that_could_not_be_accepted_is_refused_at_once(session, world, draft):
    with pytest.raises(Invalid) as refused:
        codesign.suggest(
            session, world.coordinator, draft.id, "pain_where", "show_when", "mood == 'low'"
        )
    session.rollback()
    assert "not an earlier item" in refused.value.errors["show_when"][0]


def test_a_new_instrument_starts_valid_and_its_id_is_unique(session, world):
    created = codesign.create_draft(
        session,
        world.author,
        world.study,
        instrument_key="fatigue_diary",
        title="Fatigue diary",
        respondents=("self", "proxy"),
    )
    session.commit()
    view = codesign.get_draft(session, world.author, created.id)
    assert view.content_hash.startswith("sha256:") and view.draft.version == "1.0.0"
    with pytest.raises(Conflict):
        codesign.create_draft(
            session, world.author, world.study, instrument_key="fatigue_diary", title="Again"
        )
    session.rollback()
    with pytest.raises(Conflict, match="already published"):
        codesign.create_draft(
            session, world.author, world.study, instrument_key="daily_symptom_diary", title="X"
        )
    session.rollback()
    with pytest.raises(Invalid):
        codesign.create_draft(
            session, world.author, world.study, instrument_key="Bad Name", title="X"
        )
    session.rollback()


def test_scoring_options_and_ranges_are_edited_as_fields_and_checked(session, world, draft):
    instrument_revision = revision(session, world.author, draft.id, INSTRUMENT_PART)
    with pytest.raises(Invalid) as refused:
        codesign.edit(
            session,
            world.author,
            draft.id,
            INSTRUMENT_PART,
            {"scores.0.items": ["fatigue", "anything_else"]},
            instrument_revision,
        )
    session.rollback()
    assert refused.value.errors == {
        "scores.symptom_burden.items": [
            "score 'symptom_burden': items: 'anything_else' is a long_text item and cannot be scored"
        ]
    }
    codesign.edit(
        session,
        world.author,
        draft.id,
        INSTRUMENT_PART,
        {
            "scores.0.items": ["fatigue", "pain"],
            "scores.0.method": "sum",
            "choice_sets.sleep.0.score": 5,
        },
        instrument_revision,
    )
    codesign.edit(
        session,
        world.author,
        draft.id,
        "pain_where",
        {"required": True, "max_choices": 3},
        revision(session, world.author, draft.id, "pain_where"),
    )
    session.commit()
    view = codesign.get_draft(session, world.author, draft.id)
    assert view.document["scores"][0]["method"] == "sum"
    assert view.document["choice_sets"]["sleep"][0]["score"] == 5
    diff = codesign.diff_with_base(session, world.author, draft.id)
    assert {(c.kind, c.comparability) for c in diff.breaking} == {
        ("scoring_changed", "breaks"),
        ("options_recoded", "breaks"),
    }


def test_values_that_are_not_plain_text_or_numbers_and_page_structure_are_refused(
    session, world, draft
):
    rev = revision(session, world.author, draft.id, "pain")
    for value, words in (
        ("How much\x00pain?", "control characters"),
        (float("nan"), "finite"),
        ({1: "x"}, "field names"),
        ({"a"}, "cannot be stored"),
        ("x" * 5000, "at most"),
    ):
        with pytest.raises(Invalid) as refused:
            codesign.edit(session, world.author, draft.id, "pain", {"text.self.en": value}, rev)
        session.rollback()
        assert words in refused.value.errors["text.self.en"][0]
    instrument_revision = revision(session, world.author, draft.id, INSTRUMENT_PART)
    for path in ("pages", "pages.0", "pages.0.items", "pages.0.items.1"):
        with pytest.raises(Invalid):
            codesign.edit(
                session, world.author, draft.id, INSTRUMENT_PART, {path: []}, instrument_revision
            )
        session.rollback()
    codesign.edit(
        session,
        world.author,
        draft.id,
        INSTRUMENT_PART,
        {"pages.0.title.en": "Your body"},
        instrument_revision,
    )
    session.commit()


def test_ownership_passes_to_another_author_who_then_decides_suggestions(session, world, draft):
    with pytest.raises(Forbidden):  # not the owner, not an admin
        codesign.transfer_ownership(session, world.author2, draft.id, world.author2.id)
    session.rollback()
    with pytest.raises(Invalid):  # a coordinator is not an author
        codesign.transfer_ownership(session, world.author, draft.id, world.coordinator.id)
    session.rollback()
    suggestion = codesign.suggest(session, world.coordinator, draft.id, "pain", "required", False)
    codesign.transfer_ownership(session, world.author, draft.id, world.author2.id)
    session.commit()
    with pytest.raises(Forbidden):
        codesign.accept_suggestion(session, world.author, suggestion.id)
    session.rollback()
    codesign.accept_suggestion(session, world.author2, suggestion.id)
    session.commit()
    assert "decide_suggestions" in codesign.get_draft(session, world.author2, draft.id).may
