"""The loader: every shipped instrument passes; each kind of error gives its exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.instruments.canonical import content_hash
from app.instruments.loader import (
    InstrumentLoadError,
    Problem,
    check_paths,
    load_instrument,
    parse_instrument,
)
from app.instruments.rendering import RenderError, render_instrument

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTRUMENTS = REPO_ROOT / "instruments"
SHIPPED = sorted(INSTRUMENTS.glob("*.yaml"))

VALID = """\
id: diary
version: "1.0.0"
title: {en: Diary, fr: Journal}
languages: [en, fr]
default_language: en
licence: CC-BY-4.0
copyright: test
authors: [Test]
respondents: [self, proxy]
estimated_minutes: 2
pages:
  - id: main
    items:
      - id: pain
        type: rating_0_10
        required: true
        text:
          self: {en: "How much pain did you have?", fr: "Douleur ?"}
          proxy: {en: "How much pain did your child have?", fr: "Douleur de l'enfant ?"}
        scale:
          min_label: {en: None, fr: Aucune}
          max_label: {en: Worst, fr: Pire}
      - id: where
        type: multiple_choice
        show_when: pain > 0
        text: {en: "Where?", fr: "Où ?"}
        choices:
          - {value: head, label: {en: Head, fr: Tête}}
          - {value: back, label: {en: Back, fr: Dos}}
"""


def test_shipped_library_has_the_promised_instruments() -> None:
    names = {path.stem for path in SHIPPED}
    assert {"phq9", "gad7", "daily_symptom_diary", "child_weekly_wellbeing"} <= names
    assert "taking_part_feedback" in names


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_instrument_passes_the_checker(path: Path) -> None:
    assert check_paths([path]) == []
    instrument, _ = load_instrument(path)
    assert path.stem == instrument.id
    for respondent in instrument.respondents:
        for language in instrument.languages:
            assert render_instrument(instrument, language, respondent)["pages"]


def test_diary_has_self_and_proxy_wording_in_four_languages() -> None:
    diary, warnings = load_instrument(INSTRUMENTS / "daily_symptom_diary.yaml")
    assert warnings == []
    assert set(diary.languages) >= {"en", "fr", "es", "de"}
    proxy = render_instrument(diary, "de", "proxy")
    assert proxy["pages"][0]["items"][0]["text"] == "Wie müde wirkte Ihr Kind heute?"
    own = render_instrument(diary, "en", "self")
    assert own["pages"][0]["items"][0]["text"] == "How tired did you feel today?"


def test_child_report_is_proxy_only() -> None:
    child, _ = load_instrument(INSTRUMENTS / "child_weekly_wellbeing.yaml")
    assert child.respondents == ("proxy",)
    with pytest.raises(RenderError, match="not answered by 'self'"):
        render_instrument(child, "en", "self")


def test_valid_file_loads_with_no_problems(tmp_path: Path) -> None:
    instrument, problems = parse_instrument(VALID, "diary.yaml")
    assert problems == []
    assert instrument is not None and [i.id for i in instrument.items] == ["pain", "where"]


def errors_for(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "diary.yaml"
    path.write_text(text, "utf-8")
    return [str(problem) for problem in check_paths([path])]


BROKEN = [
    (
        "scale bounds",
        ("        scale:\n", "        scale:\n          min: 11\n          max: 10\n"),
        "item 'pain': scale max 10 < min 11",
    ),
    (
        "bad expression",
        ("show_when: pain > 0", "show_when: pain > )"),
        "item 'where': show_when: at column 8: expected an operand, found ')'",
    ),
    (
        "unknown item in expression",
        ("show_when: pain > 0", "show_when: pian > 0"),
        "item 'where': show_when: at column 1: unknown item 'pian'",
    ),
    (
        "forward reference",
        ("        required: true\n        text:\n          self:",
         "        required: true\n        show_when: answered(where)\n        text:\n          self:"),
        "item 'pain': show_when: 'where' is not an earlier item; skip logic may only refer to "
        "items before it",
    ),
    (
        "unknown field with suggestion",
        ("        required: true\n", "        requried: true\n"),
        "item 'pain': unknown field 'requried' (did you mean 'required'?)",
    ),
    (
        "unknown type",
        ("type: multiple_choice", "type: checkbox"),
        "item 'where': type 'checkbox' is not an item type; use one of single_choice, "
        "multiple_choice, rating_0_10, vas_0_100, integer, decimal, yes_no, date, time, "
        "short_text, long_text, display",
    ),
    (
        "field for another type",
        ("        show_when: pain > 0\n", "        show_when: pain > 0\n        max_length: 5\n"),
        "item 'where': max_length does not apply to a multiple_choice item",
    ),
    (
        "missing proxy wording",
        ('''          proxy: {en: "How much pain did your child have?", fr: "Douleur de l'enfant ?"}\n''',
         ""),
        "item 'pain': text: no proxy wording, but the instrument is answered by proxy",
    ),
    (
        "language not declared",
        ('text: {en: "Where?", fr: "Où ?"}', 'text: {en: "Where?", it: "Dove?"}'),
        "item 'where': text: language 'it' is not one of the instrument's languages (en, fr)",
    ),
    (
        "no default language text",
        ('text: {en: "Where?", fr: "Où ?"}', 'text: {fr: "Où ?"}'),
        "item 'where': text: no text in the default language 'en'",
    ),
    (
        "duplicate choice",
        ("{value: back, label: {en: Back, fr: Dos}}", "{value: head, label: {en: Back, fr: Dos}}"),
        "item 'where': choices: value 'head' appears twice",
    ),
    (
        "duplicate item id",
        ("      - id: where\n", "      - id: pain\n"),
        "item 'pain': id 'pain' is used by more than one item",
    ),
    (
        "bad version",
        ('version: "1.0.0"', "version: 1.0"),
        "version: 1.0 is not a semantic version MAJOR.MINOR.PATCH such as '1.0.0' (quote it "
        "in YAML)",
    ),
    (
        "missing top-level field",
        ("licence: CC-BY-4.0\n", ""),
        "missing required field 'licence'",
    ),
    (
        "default language not listed",
        ("default_language: en", "default_language: de"),
        "default_language: 'de' is not one of the languages (en, fr)",
    ),
    (
        "duplicate key",
        ("estimated_minutes: 2\n", "estimated_minutes: 2\nestimated_minutes: 3\n"),
        "not valid YAML: line 11, column 1: key 'estimated_minutes' appears twice in one mapping",
    ),
    (
        "required display item",
        ("        type: multiple_choice\n", "        type: display\n        required: true\n"),
        "item 'where': required: a display item takes no answer",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("case", "edit", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_gives_exact_message(
    tmp_path: Path, case: str, edit: tuple[str, str], expected: str
) -> None:
    old, new = edit
    assert old in VALID, case
    messages = errors_for(tmp_path, VALID.replace(old, new, 1))
    assert f"{tmp_path / 'diary.yaml'}: {expected}" in messages, messages


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("show_when: pain > 0", "show_when: pain > )").replace(
        "        scale:\n", "        scale:\n          min: 11\n          max: 10\n"
    )
    assert len(errors_for(tmp_path, text)) == 2


def test_missing_translation_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "diary.yaml"
    path.write_text(
        VALID.replace('text: {en: "Where?", fr: "Où ?"}', 'text: {en: "Where?"}'), "utf-8"
    )
    assert check_paths([path]) == []
    _, warnings = load_instrument(path)
    assert [str(w) for w in warnings] == [
        f"{path}: item 'where': warning: text: no 'fr' text; 'fr' readers will see the 'en' text"
    ]
    instrument, _ = load_instrument(path)
    rendered = render_instrument(instrument, "fr", "self")
    assert rendered["pages"][0]["items"][1]["text"] == "Where?"


def test_load_instrument_raises_with_all_problems(tmp_path: Path) -> None:
    path = tmp_path / "diary.yaml"
    path.write_text("id: [\n", "utf-8")
    with pytest.raises(InstrumentLoadError) as raised:
        load_instrument(path)
    assert raised.value.problems[0].field == "yaml"


def test_problem_format_matches_the_cli_contract() -> None:
    problem = Problem("instruments/diary.yaml", "pain", "scale.max", "scale max 10 < min 11")
    assert str(problem) == "instruments/diary.yaml: item 'pain': scale max 10 < min 11"


def test_yes_and_no_stay_text_in_yaml(tmp_path: Path) -> None:
    text = VALID.replace("value: head", "value: no").replace("value: back", "value: yes")
    instrument, problems = parse_instrument(text, "diary.yaml")
    assert problems == [] and instrument is not None
    assert [c.value for c in instrument.items[1].choices] == ["no", "yes"]


def test_content_hash_ignores_formatting_but_not_wording() -> None:
    first, _ = parse_instrument(VALID, "a.yaml")
    reformatted, _ = parse_instrument(
        "# a comment\n" + VALID.replace("[en, fr]", "\n  - en\n  - fr"), "b.yaml"
    )
    reworded, _ = parse_instrument(VALID.replace("Where?", "Where was it?"), "c.yaml")
    assert first is not None and reformatted is not None and reworded is not None
    assert content_hash(first) == content_hash(reformatted)
    assert content_hash(first) != content_hash(reworded)
    assert content_hash(first).startswith("sha256:")
