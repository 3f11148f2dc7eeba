"""Removing and reordering answer options (own lists and shared lists): refused when the
instrument still compares answers with the option or the loader would refuse the list left,
refused on a stale revision like every edit, kept in the history and audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.codesign import service as codesign
from app.codesign.document import INSTRUMENT_PART
from app.errors import Forbidden, Invalid, NotFound


@pytest.fixture
def draft(session, world):
    created = codesign.create_draft_from_published(
        session, world.author, world.study, world.diary.id
    )
    session.commit()
    return created


def _part(session, user, draft_id, key):
    view = codesign.get_draft(session, user, draft_id)
    return (
        view.instrument if key == INSTRUMENT_PART else next(p for p in view.items if p.key == key)
    )


def _values(members):
    return [member["value"] for member in members]


def _events(session, action):
    return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_an_option_is_removed_from_a_questions_own_list_and_kept(session, world, draft):
    part = _part(session, world.author, draft.id, "pain_where")
    view = codesign.remove_choice(
        session, world.author, draft.id, "pain_where", index=1, expected_revision=part.revision
    )
    session.commit()
    assert view.revision == part.revision + 1
    assert _values(view.body["choices"]) == [
        "head",
        "back",
        "joints",
        "arms_legs",
        "elsewhere",
    ]
    [event] = _events(session, "codesign.choice_removed")
    assert event.details["part"] == "pain_where" and event.details["position"] == 1
    assert "Tummy" not in str(event.details)
    [change, *_] = codesign.history(session, world.author, draft.id, part_key="pain_where")
    assert change.path == "choices"
    assert "tummy" in _values(change.before) and "tummy" not in _values(change.after)


def test_an_option_moves_up_and_down_without_changing_what_answers_store(session, world, draft):
    part = _part(session, world.author, draft.id, "pain_where")
    view = codesign.move_choice(
        session,
        world.author,
        draft.id,
        "pain_where",
        index=2,
        to=0,
        expected_revision=part.revision,
    )
    session.commit()
    assert _values(view.body["choices"])[:3] == ["back", "head", "tummy"]
    assert view.body["choices"][0]["label"]["fr"] == "Dos"
    [event] = _events(session, "codesign.choice_moved")
    assert (event.details["position"], event.details["to"]) == (2, 0)
    with pytest.raises(Invalid):
        codesign.move_choice(
            session,
            world.author,
            draft.id,
            "pain_where",
            index=0,
            to=6,
            expected_revision=view.revision,
        )
    session.rollback()


def test_a_stale_removal_or_move_is_a_conflict_and_changes_nothing(session, world, draft):
    part = _part(session, world.author, draft.id, "pain_where")
    for call in (
        lambda: codesign.remove_choice(
            session, world.author, draft.id, "pain_where", index=0, expected_revision=0
        ),
        lambda: codesign.move_choice(
            session, world.author, draft.id, "pain_where", index=0, to=1, expected_revision=0
        ),
    ):
        with pytest.raises(codesign.EditConflict):
            call()
        session.rollback()
    assert _part(session, world.author, draft.id, "pain_where").body == part.body
    with pytest.raises(NotFound):
        codesign.remove_choice(
            session, world.author, draft.id, "pain_where", index=6, expected_revision=1
        )
    session.rollback()


def test_an_option_that_skip_logic_compares_with_is_not_removed(session, world, draft):
    instrument = _part(session, world.author, draft.id, INSTRUMENT_PART)
    part = _part(session, world.author, draft.id, "pain_where")
    sleep = _part(session, world.author, draft.id, "sleep")
    codesign.edit(
        session,
        world.author,
        draft.id,
        "sleep",
        {"show_when": "'head' in pain_where"},
        sleep.revision,
    )
    session.commit()
    with pytest.raises(Invalid) as refused:
        codesign.remove_choice(
            session, world.author, draft.id, "pain_where", index=0, expected_revision=part.revision
        )
    session.rollback()
    [message] = refused.value.errors["choice"]
    assert "sleep show_when" in message and "head" in message
    # Another option of the same list goes; the question still has it.
    codesign.remove_choice(
        session, world.author, draft.id, "pain_where", index=1, expected_revision=part.revision
    )
    session.commit()
    assert instrument.revision == _part(session, world.author, draft.id, INSTRUMENT_PART).revision


def test_a_shared_list_option_used_by_an_alert_is_not_removed(session, world, draft):
    revision = _part(session, world.author, draft.id, INSTRUMENT_PART).revision
    codesign.edit(
        session,
        world.author,
        draft.id,
        INSTRUMENT_PART,
        {"alerts.0.when": "pain >= 9 or sleep == 'very_badly'"},
        revision,
    )
    session.commit()
    with pytest.raises(Invalid) as refused:
        codesign.remove_choice(
            session,
            world.author,
            draft.id,
            INSTRUMENT_PART,
            choice_set="sleep",
            index=4,
            expected_revision=revision + 1,
        )
    session.rollback()
    assert "alerts.0.when" in refused.value.errors["choice"][0]
    view = codesign.move_choice(
        session,
        world.author,
        draft.id,
        INSTRUMENT_PART,
        choice_set="sleep",
        index=4,
        to=0,
        expected_revision=revision + 1,
    )
    view = codesign.remove_choice(
        session,
        world.author,
        draft.id,
        INSTRUMENT_PART,
        choice_set="sleep",
        index=1,
        expected_revision=view.revision,
    )
    session.commit()
    assert _values(view.body["choice_sets"]["sleep"]) == ["very_badly", "well", "ok", "badly"]
    with pytest.raises(Invalid) as own:  # the question's list is the shared one
        codesign.remove_choice(
            session, world.author, draft.id, "sleep", index=0, expected_revision=1
        )
    session.rollback()
    assert "shared answer list 'sleep'" in own.value.errors["choice"][0]


def test_the_loader_refuses_a_list_left_with_one_option(session, world, draft):
    revision = _part(session, world.author, draft.id, INSTRUMENT_PART).revision
    for _ in range(3):
        revision = codesign.remove_choice(
            session,
            world.author,
            draft.id,
            INSTRUMENT_PART,
            choice_set="mood",
            index=0,
            expected_revision=revision,
        ).revision
    session.commit()
    with pytest.raises(Invalid) as refused:
        codesign.remove_choice(
            session,
            world.author,
            draft.id,
            INSTRUMENT_PART,
            choice_set="mood",
            index=0,
            expected_revision=revision,
        )
    session.rollback()
    messages = [m for ms in refused.value.errors.values() for m in ms]
    assert any("at least 2 choices" in m for m in messages), messages


def test_only_authors_remove_or_move_options(session, world, draft):
    with pytest.raises(Forbidden):
        codesign.remove_choice(
            session, world.coordinator, draft.id, "pain_where", index=0, expected_revision=1
        )
    session.rollback()


def test_a_removed_option_breaks_comparability_in_the_diff_a_move_does_not(session, world, draft):
    part = _part(session, world.author, draft.id, "pain_where")
    moved = codesign.move_choice(
        session,
        world.author,
        draft.id,
        "pain_where",
        index=0,
        to=1,
        expected_revision=part.revision,
    )
    session.commit()
    diff = codesign.diff_with_base(session, world.author, draft.id)
    assert diff is not None and not diff.breaking
    assert ("options_reordered", "may_affect") in {(c.kind, c.comparability) for c in diff.changes}
    codesign.remove_choice(
        session, world.author, draft.id, "pain_where", index=5, expected_revision=moved.revision
    )
    revision = _part(session, world.author, draft.id, INSTRUMENT_PART).revision
    codesign.remove_choice(
        session,
        world.author,
        draft.id,
        INSTRUMENT_PART,
        choice_set="sleep",
        index=0,
        expected_revision=revision,
    )
    session.commit()
    diff = codesign.diff_with_base(session, world.author, draft.id)
    breaking = {(c.kind, c.item_id, tuple(c.before or ())) for c in diff.breaking}
    assert ("options_recoded", "pain_where", ("elsewhere",)) in breaking
    assert ("options_recoded", "sleep", ("very_well",)) in breaking
