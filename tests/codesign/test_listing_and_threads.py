"""The smaller calls the pages make: lists of drafts and versions, moving items, comment
threads reopened, expression fields checked."""

from __future__ import annotations

import pytest

from app.codesign import service as codesign
from app.codesign.document import INSTRUMENT_PART
from app.errors import Conflict, Invalid


def test_lists_of_drafts_and_versions_for_the_pages(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    assert [d.id for d in codesign.list_drafts(session, world.coordinator, world.study)] == [
        draft.id
    ]
    choices = codesign.versions(session, world.author, world.study, "daily_symptom_diary")
    assert [(c.ref, c.label) for c in choices] == [
        (codesign.VersionRef.published(world.diary.id), "daily_symptom_diary 1.0.0 (published)"),
        (codesign.VersionRef.draft(draft.id), "daily_symptom_diary 1.1.0 (draft, draft)"),
    ]
    diff = codesign.diff_versions(
        session, world.author, world.study, choices[0].ref, choices[1].ref
    )
    assert diff.changes == ()  # only the version number differs


def test_moving_an_item_keeps_its_content_and_is_kept_in_history(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    codesign.move_item(
        session, world.author, draft.id, "mood", page_id="body", position=0, expected_revision=1
    )
    session.commit()
    view = codesign.get_draft(session, world.author, draft.id)
    assert [p.key for p in view.items][:2] == ["mood", "fatigue"]
    [moved] = codesign.history(session, world.author, draft.id, part_key=INSTRUMENT_PART)
    assert moved.path == "pages" and moved.author_id == world.author.id
    diff = codesign.diff_with_base(session, world.author, draft.id)
    assert {c.kind for c in diff.changes} == {"items_reordered"}
    with pytest.raises(Invalid):
        codesign.move_item(
            session,
            world.author,
            draft.id,
            "mood",
            page_id="nowhere",
            position=0,
            expected_revision=2,
        )
    session.rollback()


def test_threads_resolve_and_reopen_and_replies_join_their_thread(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    general = codesign.add_comment(session, world.coordinator, draft.id, "Looks good overall.")
    on_item = codesign.add_comment(session, world.author, draft.id, "Shorter?", part_key="sleep")
    reply = codesign.add_comment(
        session, world.coordinator, draft.id, "Agreed", reply_to=on_item.id
    )
    again = codesign.add_comment(session, world.author, draft.id, "Done", reply_to=reply.id)
    session.commit()
    assert (reply.thread_id, again.thread_id, again.part_key) == (on_item.id, on_item.id, "sleep")
    codesign.set_comment_resolved(session, world.coordinator, again.id)
    session.commit()
    open_threads = codesign.comments(session, world.author, draft.id, include_resolved=False)
    assert [t.root.id for t in open_threads] == [general.id]
    codesign.set_comment_resolved(session, world.author, on_item.id, resolved=False)
    session.commit()
    assert len(codesign.comments(session, world.author, draft.id, include_resolved=False)) == 2
    with pytest.raises(Invalid):
        codesign.add_comment(session, world.author, draft.id, "   ")
    session.rollback()
    with pytest.raises(Invalid):
        codesign.add_comment(session, world.author, draft.id, "x", part_key="no_such_item")
    session.rollback()


def test_expression_checks_name_the_field_they_cannot_check(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    with pytest.raises(Invalid):
        codesign.check_expression(
            session, world.author, draft.id, "1", part_key="pain", field="text"
        )
    alert = codesign.check_expression(
        session,
        world.coordinator,
        draft.id,
        "symptom_burden >= 7 and pain >= 9",
        part_key=INSTRUMENT_PART,
        field="alerts.0.when",
    )
    assert alert.ok


def test_nothing_is_discussed_on_a_published_draft(session, world):
    draft = codesign.create_draft(
        session, world.author, world.study, instrument_key="walk", title="Walk"
    )
    codesign.submit_for_review(session, world.author, draft.id)
    codesign.approve(session, world.author2, draft.id)
    codesign.approve(session, world.coordinator, draft.id)
    codesign.publish(session, world.author, draft.id)
    session.commit()
    with pytest.raises(Conflict):
        codesign.add_comment(session, world.author, draft.id, "Late thought")
    session.rollback()
    with pytest.raises(Conflict):
        codesign.suggest(session, world.coordinator, draft.id, "welcome", "text.en", "Hello")
    session.rollback()
