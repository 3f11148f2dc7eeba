"""Files in and out (instrument YAML, translators' CSV) and the readability report."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from app.codesign import service as codesign
from app.codesign.importers import register
from app.codesign.models import Draft, DraftPart
from app.errors import Conflict, Forbidden, Invalid
from app.instruments.loader import check_paths, parse_instrument
from tests.codesign.conftest import DIARY

GOOD = """\
id: walk_test
version: "1.0.0"
title: {en: Walking, fr: Marche}
languages: [en, fr]
default_language: en
licence: CC-BY-4.0
copyright: © 2026 test
authors: [Test]
respondents: [self]
estimated_minutes: 1
pages:
  - id: main
    items:
      - id: walked
        type: yes_no
        text: {en: "Did you go for a walk today?", fr: "Avez-vous marché aujourd'hui ?"}
      - id: minutes
        type: integer
        show_when: walked == true
        min: 0
        max: 600
        text: {en: "For how many minutes?", fr: "Pendant combien de minutes ?"}
"""


def revision(session, user, draft_id, key):
    view = codesign.get_draft(session, user, draft_id)
    return next(p.revision for p in (view.instrument, *view.items) if p.key == key)


def test_an_invalid_upload_is_refused_with_each_problem_per_item_as_the_check_reports(
    session, world, tmp_path
):
    broken = GOOD.replace("walked == true", "walked ==").replace("type: integer", "type: number")
    path = tmp_path / "walk_test.yaml"
    path.write_text(broken, "utf-8")
    expected = [str(p) for p in check_paths([path])]
    with pytest.raises(Invalid) as refused:
        codesign.import_draft(session, world.author, world.study, broken.encode(), str(path))
    session.rollback()
    reported = [line for lines in refused.value.errors.values() for line in lines]
    assert sorted(reported) == sorted(expected) and len(expected) >= 1
    assert set(refused.value.errors) == {"item 'minutes'"}
    assert session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 0


def test_a_valid_upload_becomes_a_draft_and_downloads_as_an_equivalent_file(session, world):
    imported = codesign.import_draft(
        session, world.author, world.study, GOOD.encode(), "walk_test.yaml"
    )
    session.commit()
    draft = imported.draft
    assert imported.notes == ()
    view = codesign.get_draft(session, world.author, draft.id)
    assert [p.key for p in view.items] == ["walked", "minutes"] and draft.base_version_id is None
    name, text = codesign.download(
        session, world.author, world.study, codesign.VersionRef.draft(draft.id)
    )
    assert name == "walk_test.yaml"
    reloaded, problems = parse_instrument(text, name)
    assert reloaded is not None, problems
    original, _ = parse_instrument(GOOD, name)
    from app.instruments.canonical import content_hash

    assert content_hash(reloaded) == content_hash(original) == view.content_hash


def test_uploading_a_published_version_again_is_refused_and_a_new_version_is_a_draft_of_it(
    session, world
):
    text = DIARY.read_text("utf-8")
    with pytest.raises(Conflict, match="already published"):
        codesign.import_draft(
            session, world.author, world.study, text.encode(), "daily_symptom_diary.yaml"
        )
    session.rollback()
    draft = codesign.import_draft(
        session,
        world.author,
        world.study,
        text.replace('version: "1.0.0"', 'version: "2.0.0"').encode(),
        "daily_symptom_diary.yaml",
    ).draft
    session.commit()
    assert (draft.version, draft.base_version_id) == ("2.0.0", world.diary.id)


def test_uploads_of_other_formats_go_through_the_one_importer_entry_point(session, world):
    with pytest.raises(Invalid, match="cannot be read"):
        codesign.import_draft(session, world.author, world.study, b"<xml/>", "form.xml")
    session.rollback()
    register(".walk", lambda data, name: (GOOD, [f"converted {name}"]))
    try:
        imported = codesign.import_draft(
            session, world.author, world.study, b"anything", "form.walk"
        )
        session.commit()
    finally:
        from app.codesign.importers import IMPORTERS

        IMPORTERS.pop(".walk")
    assert imported.draft.instrument_key == "walk_test"
    assert imported.notes == ("converted form.walk",)


def _rows(text):
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def _csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_translations_round_trip_through_csv_and_track_their_source(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    name, exported = codesign.export_translations(session, world.author, draft.id, "fr")
    assert name == "daily_symptom_diary-1.1.0-fr.csv"
    rows = _rows(exported)
    fatigue = next(r for r in rows if (r["part"], r["field"]) == ("fatigue", "text.self"))
    assert fatigue["source_text"] == "How tired did you feel today?"
    # Meanwhile the English source changes.
    codesign.edit(
        session,
        world.author,
        draft.id,
        "fatigue",
        {"text.self.en": "How tired were you today?"},
        revision(session, world.author, draft.id, "fatigue"),
    )
    session.commit()
    fatigue["translation"] = "Quelle était votre fatigue aujourd'hui ?"
    pain = next(r for r in rows if (r["part"], r["field"]) == ("pain", "text.self"))
    pain["translation"] = "Avez-vous eu mal aujourd'hui ?"
    result = codesign.import_translations(session, world.author, draft.id, _csv(rows))
    session.commit()
    assert (result.applied, result.stale, result.parts) == (2, 1, ("fatigue", "pain"))
    french = next(
        s
        for s in codesign.translation_status(session, world.author, draft.id).languages
        if s.language == "fr"
    )
    stale = {(e.part, e.field): e for e in french.entries if e.stale}
    assert list(stale) == [("fatigue", "text.self.fr")]  # made from the old English
    assert (
        stale[("fatigue", "text.self.fr")].translation == "Quelle était votre fatigue aujourd'hui ?"
    )
    # The translator checks it against the new source and keeps it.
    codesign.confirm_translation(
        session,
        world.author,
        draft.id,
        "fatigue",
        "text.self.fr",
        revision(session, world.author, draft.id, "fatigue"),
    )
    session.commit()
    french = next(
        s
        for s in codesign.translation_status(session, world.author, draft.id).languages
        if s.language == "fr"
    )
    assert french.stale == 0 and french.complete_percent == 100
    history = codesign.history(session, world.author, draft.id, part_key="pain")
    assert [(c.path, c.author_id) for c in history] == [("text.self.fr", world.author.id)]


def test_a_csv_with_bad_rows_changes_nothing_and_names_each_row(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    rows = _rows(codesign.export_translations(session, world.author, draft.id, "de")[1])
    rows[0]["translation"] = "Neu"
    rows[3]["part"] = "no_such_item"
    rows[5]["language"] = "en"
    before = session.scalars(
        sa.select(DraftPart.revision).where(DraftPart.draft_id == draft.id).order_by(DraftPart.id)
    ).all()
    with pytest.raises(Invalid) as refused:
        codesign.import_translations(session, world.author, draft.id, _csv(rows))
    session.rollback()
    assert set(refused.value.errors) == {"row 5", "row 7"}
    after = session.scalars(
        sa.select(DraftPart.revision).where(DraftPart.draft_id == draft.id).order_by(DraftPart.id)
    ).all()
    assert before == after
    with pytest.raises(Invalid):
        codesign.export_translations(session, world.author, draft.id, "en")  # the source


def test_readability_warns_above_the_studys_target(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    hard = (
        "Please estimate the overall intensity of the exhaustion you experienced throughout today."
    )
    codesign.edit(
        session,
        world.author,
        draft.id,
        "fatigue",
        {"text.self.en": hard},
        revision(session, world.author, draft.id, "fatigue"),
    )
    session.commit()
    report = codesign.readability(session, world.author, draft.id)
    assert report.target_grade == 8.0
    flagged = {(w.part, w.path, w.language) for w in report.warnings if hasattr(w, "path")}
    assert ("fatigue", "text.self", "en") in flagged
    assert any(getattr(w, "item_id", None) == "fatigue" for w in report.warnings)
    short = next(s for s in report.strings if s.text == "Head")
    assert not short.assessment.scored
    with pytest.raises(Forbidden):
        codesign.set_readability_target(session, world.author, world.study, 6)
    session.rollback()
    codesign.set_readability_target(session, world.coordinator, world.study, 16)
    session.commit()
    relaxed = codesign.readability(session, world.author, draft.id)
    assert relaxed.target_grade == 16.0
    assert ("fatigue", "text.self", "en") not in {
        (w.part, w.path, w.language) for w in relaxed.warnings if hasattr(w, "path")
    }
    with pytest.raises(Invalid):
        codesign.set_readability_target(session, world.coordinator, world.study, 0)
    session.rollback()


def test_rewriting_a_whole_wording_with_its_translations_keeps_them_current(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    rev = revision(session, world.author, draft.id, "mood")
    codesign.edit(
        session,
        world.author,
        draft.id,
        "mood",
        {
            "text.self": {
                "en": "How was your mood?",
                "fr": "Votre humeur ?",
                "es": "¿Su ánimo?",
                "de": "Ihre Stimmung?",
            }
        },
        rev,
    )
    session.commit()
    status = codesign.translation_status(session, world.author, draft.id)
    assert all(language.stale == 0 for language in status.languages)
    # Only the English changes: all three translations of that text are stale.
    codesign.edit(
        session, world.author, draft.id, "mood", {"text.self.en": "How did you feel?"}, rev + 1
    )
    session.commit()
    status = codesign.translation_status(session, world.author, draft.id)
    assert [(s.language, s.stale) for s in status.languages] == [("fr", 1), ("es", 1), ("de", 1)]


def test_reimporting_a_reviewed_stale_translation_unchanged_confirms_it(session, world):
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    rev = revision(session, world.author, draft.id, "sleep")
    codesign.edit(
        session, world.author, draft.id, "sleep", {"text.self.en": "How well did you sleep?"}, rev
    )
    session.commit()
    rows = _rows(codesign.export_translations(session, world.author, draft.id, "fr")[1])
    sleep = [r for r in rows if (r["part"], r["field"]) == ("sleep", "text.self")]
    assert sleep[0]["source_text"] == "How well did you sleep?"  # the new source, old French
    result = codesign.import_translations(session, world.author, draft.id, _csv(sleep))
    session.commit()
    assert (result.applied, result.stale) == (0, 0)
    french = next(
        s
        for s in codesign.translation_status(session, world.author, draft.id).languages
        if s.language == "fr"
    )
    assert french.stale == 0
    assert revision(session, world.author, draft.id, "sleep") == rev + 2
