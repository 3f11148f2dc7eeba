"""Review and publishing: two sides, two people, no self-approval, approvals bound to the
content they approved, published versions immutable."""

from __future__ import annotations

import pytest

from app.codesign import service as codesign
from app.codesign.models import DraftState, Transition
from app.errors import Conflict, Forbidden, Invalid


def revision(session, user, draft_id, key):
    view = codesign.get_draft(session, user, draft_id)
    return next(p.revision for p in (view.instrument, *view.items) if p.key == key)


@pytest.fixture
def edited_draft(session, world):
    """A new version whose only changes are the owner's."""
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    codesign.edit(
        session,
        world.author,
        draft.id,
        "fatigue",
        {"text.self.en": "How tired were you today?"},
        revision(session, world.author, draft.id, "fatigue"),
    )
    session.commit()
    return draft


def test_approving_changes_only_you_made_is_refused(session, world, edited_draft):
    codesign.submit_for_review(session, world.author, edited_draft.id)
    session.commit()
    with pytest.raises(Forbidden, match="someone else must approve"):
        codesign.approve(session, world.author, edited_draft.id)
    session.rollback()
    codesign.approve(session, world.author2, edited_draft.id)  # the other patient-group author
    session.commit()
    with pytest.raises(Conflict, match="already approved"):
        codesign.approve(session, world.author2, edited_draft.id)
    session.rollback()
    with pytest.raises(Conflict, match="approved draft"):
        codesign.publish(session, world.author2, edited_draft.id)
    session.rollback()
    codesign.approve(session, world.coordinator, edited_draft.id)
    session.commit()
    assert (
        codesign.get_draft(session, world.author, edited_draft.id).draft.state
        == DraftState.APPROVED
    )
    with pytest.raises(Forbidden):  # a data manager approves nothing
        codesign.approve(session, world.data_manager, edited_draft.id)
    session.rollback()


def test_two_approvals_from_one_side_do_not_publish(session, world, edited_draft):
    codesign.submit_for_review(session, world.author, edited_draft.id)
    codesign.approve(session, world.author2, edited_draft.id)
    session.commit()
    assert (
        codesign.get_draft(session, world.author, edited_draft.id).draft.state
        == DraftState.IN_REVIEW
    )
    assert [a.side for a in codesign.approvals(session, world.author, edited_draft.id)] == [
        "patient_group"
    ]


def test_changes_requested_reopen_editing_and_approvals_count_only_for_what_they_saw(
    session, world, edited_draft
):
    codesign.submit_for_review(session, world.author, edited_draft.id)
    session.commit()
    with pytest.raises(Conflict, match="cannot be edited"):
        codesign.edit(session, world.author, edited_draft.id, "pain", {"required": False}, 1)
    session.rollback()
    codesign.approve(session, world.author2, edited_draft.id)
    codesign.approve(session, world.coordinator, edited_draft.id)
    session.commit()
    with pytest.raises(Invalid):
        codesign.request_changes(session, world.coordinator, edited_draft.id, "  ")
    session.rollback()
    codesign.request_changes(
        session, world.coordinator, edited_draft.id, "Say 'today' at the start."
    )
    session.commit()
    codesign.edit(
        session,
        world.author,
        edited_draft.id,
        "fatigue",
        {"text.self.en": "Today, how tired were you?"},
        revision(session, world.author, edited_draft.id, "fatigue"),
    )
    codesign.submit_for_review(session, world.author, edited_draft.id)
    session.commit()
    assert codesign.approvals(session, world.author, edited_draft.id) == []  # content changed
    codesign.approve(session, world.author2, edited_draft.id)
    codesign.approve(session, world.coordinator, edited_draft.id)
    session.commit()
    row = codesign.publish(session, world.author, edited_draft.id)
    session.commit()
    states = [
        (t.from_state, t.to_state)
        for t in session.query(Transition)
        .filter_by(draft_id=edited_draft.id)
        .order_by(Transition.id)
    ]
    assert states == [
        ("", "draft"),
        ("draft", "in_review"),
        ("in_review", "approved"),
        ("approved", "changes_requested"),
        ("changes_requested", "in_review"),
        ("in_review", "approved"),
        ("approved", "published"),
    ]
    assert row.version == "1.1.0"
    with pytest.raises(Conflict):  # published: frozen
        codesign.edit(session, world.author, edited_draft.id, "pain", {"required": False}, 1)
    session.rollback()
    # A second draft claiming the same version cannot publish over it.
    with pytest.raises(Conflict, match="already published"):
        codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.rollback()


def test_a_draft_without_changes_has_nothing_to_review(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    with pytest.raises(Invalid, match="Nothing has changed"):
        codesign.submit_for_review(session, world.author, draft.id)
    session.rollback()


def test_a_new_instrument_is_its_creators_work_and_needs_others_to_approve(session, world):
    draft = codesign.create_draft(
        session, world.author, world.study, instrument_key="fatigue_diary", title="Fatigue diary"
    )
    session.commit()
    codesign.submit_for_review(session, world.author, draft.id)
    session.commit()
    with pytest.raises(Forbidden):
        codesign.approve(session, world.author, draft.id)
    session.rollback()
    codesign.approve(session, world.author2, draft.id)
    codesign.approve(session, world.coordinator, draft.id)
    row = codesign.publish(session, world.coordinator, draft.id)
    session.commit()
    assert (row.instrument_key, row.version, row.published_by) == (
        "fatigue_diary",
        "1.0.0",
        f"staff:{world.coordinator.id}",
    )


def test_one_draft_per_version_in_a_study(session, world, edited_draft):
    with pytest.raises(Conflict, match="already has a draft"):
        codesign.create_draft_from_published(session, world.author2, world.study, world.diary.id)
    session.rollback()
    other = codesign.create_draft_from_published(
        session, world.author2, world.study, world.diary.id, version="2.0.0"
    )
    session.commit()
    instrument_revision = next(
        p.revision for p in [codesign.get_draft(session, world.author2, other.id).instrument]
    )
    with pytest.raises(Conflict, match="already has a draft"):
        codesign.edit(
            session,
            world.author2,
            other.id,
            "@instrument",
            {"version": "1.1.0"},
            instrument_revision,
        )
    session.rollback()
    with pytest.raises(Conflict, match="already published"):
        codesign.edit(
            session,
            world.author2,
            other.id,
            "@instrument",
            {"version": "1.0.0"},
            instrument_revision,
        )
    session.rollback()
    codesign.edit(
        session, world.author2, other.id, "@instrument", {"version": "3.0.0"}, instrument_revision
    )
    session.commit()
    assert codesign.get_draft(session, world.author2, other.id).draft.version == "3.0.0"
