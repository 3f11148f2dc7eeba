"""The diff between two versions names each change and flags what breaks comparability."""

from __future__ import annotations

from pathlib import Path

from app.codesign import document as doc
from app.codesign.diff import BREAKS, KEEPS, MAY_AFFECT, diff_instruments

DIARY = Path(__file__).resolve().parents[2] / "instruments" / "daily_symptom_diary.yaml"


def load(document):
    instrument, problems = doc.validate(document)
    assert instrument is not None, problems
    return instrument


def edited(*changes):
    """The diary with (part, path, value) changes applied."""
    instrument, items = doc.split(doc.from_yaml(DIARY.read_text("utf-8")))
    bodies = dict(items)
    for part, path, value in changes:
        if part == doc.INSTRUMENT_PART:
            instrument = doc.set_field(instrument, path, value, respondent_types=("self", "proxy"))
        else:
            bodies[part] = doc.set_field(
                bodies[part], path, value, respondent_types=("self", "proxy")
            )
    return doc.assemble(instrument, bodies)


def test_identical_versions_have_no_changes():
    assert diff_instruments(load(edited()), load(edited())).changes == ()


def test_rewording_in_the_source_language_may_affect_and_a_translation_keeps():
    diff = diff_instruments(
        load(edited()),
        load(
            edited(
                ("fatigue", "text.self.en", "How tired were you today?"),
                ("fatigue", "text.proxy.fr", "Votre enfant était-il fatigué aujourd'hui ?"),
            )
        ),
    )
    kinds = {(c.kind, c.field, c.language, c.comparability) for c in diff.changes}
    assert kinds == {
        ("reworded", "text.self", "en", MAY_AFFECT),
        ("translation_changed", "text.proxy", "fr", KEEPS),
    }
    assert diff.breaking == ()


def test_recoded_options_changed_scores_and_scales_break_comparability():
    diff = diff_instruments(
        load(edited()),
        load(
            edited(
                (doc.INSTRUMENT_PART, "choice_sets.sleep.0.score", 5),
                ("pain_where", "choices.5.value", "other"),
                ("fatigue", "scale.max", 5),
                (doc.INSTRUMENT_PART, "scores.0.method", "sum"),
            )
        ),
    )
    breaking = {(c.kind, c.item_id) for c in diff.breaking}
    assert ("options_recoded", "sleep") in breaking  # score of 'very_well' changed
    assert ("options_recoded", "pain_where") in breaking  # value 'elsewhere' gone
    assert ("range_changed", "fatigue") in breaking
    assert ("scoring_changed", None) in breaking
    assert ("options_added", "pain_where") in {(c.kind, c.item_id) for c in diff.changes}


def test_items_added_removed_and_logic_changes_are_named():
    older = edited()
    newer_doc = edited(("pain_where", "show_when", "pain >= 3"))
    newer_doc["pages"][2]["items"].append(
        {"id": "extra", "type": "yes_no", "text": {"en": "Did you go out today?"}}
    )
    newer_doc["pages"][2]["items"] = [
        i for i in newer_doc["pages"][2]["items"] if i["id"] != "anything_else"
    ]
    diff = diff_instruments(load(older), load(newer_doc))
    by_kind = {c.kind: c for c in diff.changes}
    assert by_kind["item_added"].item_id == "extra"
    assert by_kind["item_removed"].item_id == "anything_else"
    logic = by_kind["logic_changed"]
    assert (logic.item_id, logic.before, logic.after) == ("pain_where", "pain > 0", "pain >= 3")
    assert logic.comparability == MAY_AFFECT


def test_a_changed_recall_period_breaks_comparability():
    diff = diff_instruments(
        load(edited()), load(edited((doc.INSTRUMENT_PART, "recall_period.en", "The last 7 days")))
    )
    assert [c.kind for c in diff.breaking] == ["recall_period_changed"]
    assert diff.breaking[0].comparability == BREAKS
