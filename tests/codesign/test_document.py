"""A draft is the instrument file's own data: split, edited by field path, put back together
and checked by the same loader as `chorus instruments check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.codesign import document as doc
from app.instruments.canonical import content_hash
from app.instruments.loader import load_instrument

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
DIARY = LIBRARY / "daily_symptom_diary.yaml"


def diary() -> tuple[dict, list]:
    instrument, items = doc.split(doc.from_yaml(DIARY.read_text("utf-8")))
    return instrument, items


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_library_file_survives_split_assemble_and_yaml_with_its_content_hash(path):
    original, _warnings = load_instrument(path)
    instrument, items = doc.split(doc.from_yaml(path.read_text("utf-8")))
    again, problems = doc.validate(doc.assemble(instrument, dict(items)))
    assert again is not None, problems
    assert content_hash(again) == content_hash(original)


def test_editing_one_respondents_wording_splits_shared_wording():
    item = {"id": "q", "type": "yes_no", "text": {"en": "Did you sleep?", "fr": "Dormi ?"}}
    edited = doc.set_field(
        item, "text.proxy.en", "Did your child sleep?", respondent_types=("self", "proxy")
    )
    assert edited["text"] == {
        "self": {"en": "Did you sleep?", "fr": "Dormi ?"},
        "proxy": {"en": "Did your child sleep?", "fr": "Dormi ?"},
    }
    assert item["text"] == {"en": "Did you sleep?", "fr": "Dormi ?"}  # the original is untouched


def test_a_language_without_respondent_on_separate_wording_is_refused_with_a_hint():
    item = {"id": "q", "type": "yes_no", "text": {"self": {"en": "A"}, "proxy": {"en": "B"}}}
    with pytest.raises(doc.FieldPathError, match=r"text\.proxy\.fr"):
        doc.set_field(item, "text.fr", "x", respondent_types=("self", "proxy"))


def test_field_paths_reach_into_lists_append_and_remove():
    item = {"id": "q", "type": "single_choice", "choices": [{"value": 1, "label": {"en": "A"}}]}
    added = doc.set_field(
        item, "choices.1", {"value": 2, "label": {"en": "B"}}, respondent_types=()
    )
    assert [c["value"] for c in added["choices"]] == [1, 2]
    scored = doc.set_field(added, "choices.1.score", 5, respondent_types=())
    assert doc.get_field(scored, "choices.1.score") == 5
    removed = doc.set_field(scored, "choices.0", None, respondent_types=())
    assert [c["value"] for c in removed["choices"]] == [2]
    with pytest.raises(doc.FieldPathError, match="only 2 members"):
        doc.set_field(added, "choices.5.score", 1, respondent_types=())
    with pytest.raises(doc.FieldPathError, match="position number"):
        doc.set_field(added, "choices.first.score", 1, respondent_types=())


def test_an_items_id_and_a_shared_answer_list_are_not_edited_in_place():
    with pytest.raises(doc.FieldPathError, match="id cannot change"):
        doc.set_field({"id": "q", "type": "yes_no"}, "id", "r", respondent_types=())
    with pytest.raises(doc.FieldPathError, match=r"choice_sets\.sleep"):
        doc.set_field(
            {"id": "q", "choices": "sleep"}, "choices.0.label.fr", "x", respondent_types=()
        )


def test_expression_checked_as_typed_gives_the_column_and_the_loaders_words():
    instrument, items = diary()
    broken = doc.check_expression(instrument, items, "pain >", part="pain_where", field="show_when")
    assert not broken.ok
    assert broken.column == 7
    assert broken.message == "show_when: at column 7: expected an operand, found end of expression"
    unknown = doc.check_expression(
        instrument, items, "pian > 0", part="pain_where", field="show_when"
    )
    assert not unknown.ok and "pian" in (unknown.message or "")
    forward = doc.check_expression(
        instrument, items, "mood == 'low'", part="pain_where", field="show_when"
    )
    assert not forward.ok and "not an earlier item" in (forward.message or "")
    fine = doc.check_expression(
        instrument, items, "pain >= 1", part="pain_where", field="show_when"
    )
    assert fine.ok and fine.names == ("pain",)
    own = doc.check_expression(
        instrument,
        items,
        "anything_else != 'x'",
        part="anything_else",
        field="constraint.condition",
    )
    assert own.ok
    alert = doc.check_expression(
        instrument, items, "symptom_burden > 8", part=doc.INSTRUMENT_PART, field="alerts.0.when"
    )
    assert alert.ok
    with pytest.raises(doc.FieldPathError):
        doc.check_expression(instrument, items, "1", part="pain", field="text")


def test_text_slots_name_every_translatable_text_by_part_and_path():
    instrument, items = diary()
    slots = {(s.part, s.path) for s in doc.text_slots(instrument, items)}
    assert (doc.INSTRUMENT_PART, "title") in slots
    assert (doc.INSTRUMENT_PART, "choice_sets.sleep.0.label") in slots
    assert ("fatigue", "text.self") in slots and ("fatigue", "text.proxy") in slots
    assert ("fatigue", "scale.min_label") in slots
    assert ("pain_where", "choices.0.label") in slots
    assert ("anything_else", "help") in slots  # shared by both respondents


def test_wording_grid_shows_both_respondents_side_by_side():
    shared = {"id": "q", "type": "yes_no", "text": {"en": "Tired?", "fr": "Fatigué ?"}}
    grid = doc.wording_grid(shared, "text", ("self", "proxy"), ("en", "fr", "de"))
    assert grid == {
        "self": {"en": "Tired?", "fr": "Fatigué ?", "de": None},
        "proxy": {"en": "Tired?", "fr": "Fatigué ?", "de": None},
    }
    path = doc.wording_paths(shared, "text", "proxy", "de")
    edited = doc.set_field(shared, path, "Müde?", respondent_types=("self", "proxy"))
    assert doc.wording_grid(edited, "text", ("self", "proxy"), ("de",)) == {
        "self": {"de": None},
        "proxy": {"de": "Müde?"},
    }


def test_a_new_items_expression_is_checked_where_it_will_be_placed():
    instrument, items = diary()
    at_start = doc.check_expression(
        instrument, items, "pain > 0", part="new_item", field="show_when", new_item_before="fatigue"
    )
    assert not at_start.ok and "not an earlier item" in (at_start.message or "")
    at_end = doc.check_expression(instrument, items, "pain > 0", part="new_item", field="show_when")
    assert at_end.ok


def test_new_answer_options_get_stored_values_from_their_labels():
    from app.codesign.document import choice_values

    assert choice_values(["Very well", "Très mal", "Très mal", "!!!"]) == [
        "very_well",
        "tres_mal",
        "tres_mal_2",
        "option_4",
    ]
