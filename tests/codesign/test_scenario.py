"""The issue's walk-through at the domain level: draft, expression error and fix, comment,
suggestion accepted, translation stale, review with both approvals, publish, diff."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.codesign import service as codesign
from app.codesign.document import INSTRUMENT_PART
from app.codesign.models import DraftState
from app.errors import Invalid
from app.instruments.canonical import content_hash
from app.instruments.loader import parse_instrument
from app.library import service as library


def test_co_design_from_draft_to_published_version_and_its_diff(session, world):
    author, coordinator = world.author, world.coordinator
    draft = codesign.create_draft_from_published(session, author, world.study, world.diary.id)
    session.commit()
    assert (draft.version, draft.state) == ("1.1.0", DraftState.DRAFT)
    view = codesign.get_draft(session, author, draft.id)
    revision = {part.key: part.revision for part in view.items}

    # An invalid skip-logic expression: checked as typed, then refused on saving, same words.
    check = codesign.check_expression(
        session, author, draft.id, "pain >", part_key="pain_where", field="show_when"
    )
    assert (check.ok, check.column) == (False, 7)
    with pytest.raises(Invalid) as refused:
        codesign.edit(
            session, author, draft.id, "pain_where", {"show_when": "pain >"}, revision["pain_where"]
        )
    session.rollback()
    assert refused.value.errors == {"show_when": [check.message]}
    fixed = codesign.edit(
        session, author, draft.id, "pain_where", {"show_when": "pain >= 2"}, revision["pain_where"]
    )
    session.commit()
    assert fixed.revision == revision["pain_where"] + 1

    # A comment on a field, a reply, resolved.
    comment = codesign.add_comment(
        session,
        coordinator,
        draft.id,
        "Is 'tired' the word families use?",
        part_key="fatigue",
        path="text.self.en",
    )
    codesign.add_comment(session, author, draft.id, "Yes, we asked them.", reply_to=comment.id)
    codesign.set_comment_resolved(session, coordinator, comment.id)
    session.commit()
    [thread] = codesign.comments(session, author, draft.id, part_key="fatigue")
    assert thread.resolved and [r.body for r in thread.replies] == ["Yes, we asked them."]

    # The coordinator suggests a French wording; the owner accepts it; it is attributed.
    suggestion = codesign.suggest(
        session,
        coordinator,
        draft.id,
        "fatigue",
        "text.self.fr",
        "Êtes-vous fatigué(e) aujourd'hui ?",
        note="Plus simple",
    )
    session.commit()
    codesign.accept_suggestion(session, author, suggestion.id)
    session.commit()
    [change] = codesign.history(session, author, draft.id, part_key="fatigue")
    assert (change.author_id, change.applied_by, change.suggestion_id) == (
        coordinator.id,
        author.id,
        suggestion.id,
    )
    assert change.after == "Êtes-vous fatigué(e) aujourd'hui ?"

    # The English source changes: the French (and other) translations become stale.
    before = codesign.translation_status(session, author, draft.id)
    assert all(language.stale == 0 for language in before.languages)
    fatigue = next(
        p for p in codesign.get_draft(session, author, draft.id).items if p.key == "fatigue"
    )
    codesign.edit(
        session,
        author,
        draft.id,
        "fatigue",
        {"text.self.en": "How tired were you today?"},
        fatigue.revision,
    )
    session.commit()
    after = codesign.translation_status(session, author, draft.id)
    french = next(language for language in after.languages if language.language == "fr")
    stale = [(e.part, e.field) for e in french.entries if e.stale]
    assert stale == [("fatigue", "text.self.fr")]
    assert {language.stale for language in after.languages} == {1}

    # Review: both approvals, then publish through the library.
    codesign.submit_for_review(session, author, draft.id)
    session.commit()
    codesign.approve(session, author, draft.id)  # the coordinator's suggestion is in it too
    session.commit()
    assert codesign.get_draft(session, author, draft.id).draft.state == DraftState.IN_REVIEW
    codesign.approve(session, coordinator, draft.id)
    session.commit()
    assert codesign.get_draft(session, author, draft.id).draft.state == DraftState.APPROVED
    published = codesign.publish(session, coordinator, draft.id)
    session.commit()
    assert (published.instrument_key, published.version) == ("daily_symptom_diary", "1.1.0")
    row, instrument = library.get_version(session, "daily_symptom_diary", "1.1.0")
    assert row.content_hash == content_hash(instrument)
    assert instrument.item("pain_where").show_when.source == "pain >= 2"
    name, text = codesign.download(
        session, author, world.study, codesign.VersionRef.published(row.id)
    )
    assert name == "daily_symptom_diary.yaml" and text == row.source_text
    reparsed, _ = parse_instrument(text, name)
    assert content_hash(reparsed) == row.content_hash

    # The diff against the previous version.
    diff = codesign.diff_versions(
        session,
        author,
        world.study,
        codesign.VersionRef.published(world.diary.id),
        codesign.VersionRef.published(row.id),
    )
    changes = {(c.kind, c.item_id, c.field, c.language) for c in diff.changes}
    assert ("logic_changed", "pain_where", "show_when", None) in changes
    assert ("reworded", "fatigue", "text.self", "en") in changes
    assert ("translation_changed", "fatigue", "text.self", "fr") in changes
    assert diff.breaking == ()

    # Every transition and change is in the audit log, and the chain holds.
    actions = list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))
    for action in (
        "codesign.draft_created",
        "codesign.edited",
        "codesign.commented",
        "codesign.comment_resolved",
        "codesign.suggested",
        "codesign.suggestion_accepted",
        "codesign.review_submitted",
        "codesign.approval_recorded",
        "codesign.review_approved",
        "instrument.published",
        "codesign.published",
    ):
        assert action in actions
    assert audit.verify(session).ok
    draft_after = codesign.get_draft(session, author, draft.id)
    assert draft_after.draft.state == DraftState.PUBLISHED and "edit" not in draft_after.may
    assert draft_after.instrument.key == INSTRUMENT_PART
