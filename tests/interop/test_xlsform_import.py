"""XLSForm import: every real fixture in ../shared/interop/xlsform has an asserted outcome, a
form written here exercises translations, hints, logic and scores, and bad files are refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from app.instruments.loader import parse_instrument
from app.instruments.model import Instrument
from app.interop import import_instrument
from app.interop.report import ImportReport, InteropError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "interop" / "xlsform"


def imported(source: Path | bytes, name: str | None = None) -> tuple[Instrument, ImportReport]:
    yaml_text, report = import_instrument(source, "xlsform", source_name=name)
    instrument, problems = parse_instrument(yaml_text, "imported.yaml")
    assert instrument is not None, [str(p) for p in problems]
    return instrument, report


def item(instrument: Instrument, item_id: str) -> Any:
    found = instrument.item(item_id)
    assert found is not None, f"no item {item_id}"
    return found


def reported(report: ImportReport, source_item: str | None, feature: str) -> str:
    for entry in report.entries:
        if entry.item == source_item and entry.feature == feature:
            return entry.action
    raise AssertionError(f"no report entry for {source_item}/{feature}: {report.lines()}")


def test_every_xlsform_fixture_is_covered_below() -> None:
    assert sorted(path.name for path in FIXTURES.iterdir() if path.suffix in (".xlsx", ".md")) == [
        "choice_filter_test.xlsx",
        "group.md",
        "group.xlsx",
        "loop.md",
        "loop.xlsx",
        "specify_other.md",
        "xlsform_spec_test.xlsx",
    ]


@pytest.mark.parametrize("name", ["group.xlsx", "group.md"])
def test_group_becomes_a_page_and_the_language_code_is_read(name: str) -> None:
    instrument, report = imported(FIXTURES / name)
    assert instrument.languages == ("en",)
    assert [(p.id, [i.id for i in p.items]) for p in instrument.pages] == [
        ("page_1", ["family_name"]),
        ("father", ["phone_number", "age"]),
    ]
    assert instrument.pages[1].title == {"en": "Father"}
    assert item(instrument, "age").type == "integer"
    assert item(instrument, "family_name").text["self"] == {"en": "What's your family name?"}
    assert reported(report, "phone_number", "type 'phone number'") == "asked as short text"


@pytest.mark.parametrize("name", ["loop.xlsx", "loop.md"])
def test_select_multiple_or_other_and_a_loop_asked_once(name: str) -> None:
    instrument, report = imported(FIXTURES / name)
    toilets = item(instrument, "available_toilet_types")
    assert toilets.type == "multiple_choice"
    assert [c.value for c in toilets.choices] == [
        "pit_latrine_with_slab",
        "open_pit_latrine",
        "bucket_system",
        "other",
    ]
    other = item(instrument, "available_toilet_types_other")
    assert other.show_when.source == "contains(available_toilet_types, 'other')"
    assert item(instrument, "number").type == "integer"
    assert reported(report, "loop_toilet_types", "loop") == "asked once: Chorus has no repeats"


def test_select_one_or_specify_other() -> None:
    instrument, _ = imported(FIXTURES / "specify_other.md")
    assert [c.value for c in item(instrument, "sex").choices] == ["male", "female", "other"]
    assert item(instrument, "sex_other").show_when.source == "sex == 'other'"


def test_choice_filter_is_reported_and_every_choice_offered() -> None:
    instrument, report = imported(FIXTURES / "choice_filter_test.xlsx")
    assert instrument.id == "cascading_selects1"
    assert [i.type for i in instrument.items] == ["single_choice"] * 3
    assert "every choice of the list is offered" in reported(report, "county", "choice_filter")
    assert "every choice of the list is offered" in reported(report, "city", "choice_filter")
    assert "listed twice" in reported(report, "county", "choices")


def test_the_pyxform_spec_form() -> None:
    instrument, report = imported(FIXTURES / "xlsform_spec_test.xlsx")
    assert instrument.id == "spec_test" and instrument.title == {"en": "Spec test"}
    assert instrument.languages == ("en", "zh")
    everything = next(p for p in instrument.pages if p.id == "everything")
    assert everything.show_when.source == "not (skip_to_end == 'yes')"
    assert all(i.show_when is None for i in everything.items if i.id != "email_note")
    assert item(instrument, "skip_to_end").choices[0].label == {"en": "Yes", "zh": "是"}
    decimal = item(instrument, "a_decimal")
    assert decimal.constraint.condition.source == "a_decimal <= a_integer"
    assert "generic message" in reported(report, "a_decimal", "constraint_message")
    multiple = item(instrument, "select_multiple_test")
    assert multiple.constraint.condition.source == (
        "not ((contains(select_multiple_test, 'yes')) and (contains(select_multiple_test, 'no')))"
    )
    assert multiple.constraint.message["zh"].startswith("對不起")
    assert item(instrument, "required_text").required
    assert item(instrument, "list_nolabel_test").required
    assert item(instrument, "acknowledge_test").type == "yes_no"
    assert "regex() has no Chorus equivalent" in reported(report, "email_note", "relevant")
    assert "left out" in reported(report, "geopoint_test", "type 'geopoint'")
    assert "not a sum or mean" in reported(report, "calculate_test", "calculate")
    assert "not asked" in reported(report, "start", "type 'start'")
    assert "not supported" in reported(report, None, "setting 'public_key'")
    assert instrument.item("geopoint_test") is None and instrument.item("start") is None


def build_workbook(
    survey: list[list[Any]], choices: list[list[Any]], settings: list[list[Any]]
) -> bytes:
    workbook = openpyxl.Workbook()
    for title, rows in (("survey", survey), ("choices", choices), ("settings", settings)):
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    del workbook["Sheet"]
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


SURVEY_HEADER = [
    "type", "name", "label::English (en)", "label::French (fr)", "hint::English (en)",
    "hint::French (fr)", "required", "relevant", "constraint", "constraint_message::English (en)",
    "constraint_message::French (fr)", "calculation",
]  # fmt: skip


def clinic_form() -> bytes:
    survey = [
        SURVEY_HEADER,
        ["begin group", "about", "About you", "À propos de vous"],
        ["integer", "age", "How old are you?", "Quel âge avez-vous ?", "In years", "En années",
         "yes", "", ". >= 0 and . <= 120", "Between 0 and 120", "Entre 0 et 120"],
        ["select_one yn", "pain_any", "Any pain today?", "Douleur aujourd'hui ?"],
        ["select_multiple where", "pain_where", "Where?", "Où ?", "", "", "", "${pain_any} = 'yes'"],
        ["decimal", "weight", "Weight", "Poids"],
        ["date", "visit_date", "Date of the visit", "Date de la visite"],
        ["text", "notes", "Anything else?", "Autre chose ?", "", "", "",
         "selected(${pain_where}, 'head') or ${age} > 60"],
        ["note", "thanks", "Thank you", "Merci"],
        ["end group"],
        ["begin group", "scale", "Last week", "La semaine dernière", "", "", "", "${age} >= 18"],
        ["select_one freq", "q1", "Tired?", "Fatigué ?", "", "", "yes"],
        ["select_one freq", "q2", "Sad?", "Triste ?", "", "", "yes"],
        ["calculate", "total", "", "", "", "", "", "", "", "", "", "${q1} + ${q2}"],
        ["end group"],
        ["begin repeat", "meds", "Medicines", "Médicaments"],
        ["text", "med_name", "Name of the medicine", "Nom du médicament"],
        ["end repeat"],
    ]  # fmt: skip
    choices = [
        ["list_name", "name", "label::English (en)", "label::French (fr)"],
        ["yn", "yes", "Yes", "Oui"],
        ["yn", "no", "No", "Non"],
        ["where", "head", "Head", "Tête"],
        ["where", "back", "Back", "Dos"],
        *[["freq", str(n), f"{n} days", f"{n} jours"] for n in range(4)],
    ]
    settings = [
        ["form_title", "form_id", "version", "default_language"],
        ["Clinic follow-up", "clinic_follow_up", "1.2.0", "English (en)"],
    ]
    return build_workbook(survey, choices, settings)


def test_a_translated_form_with_hints_logic_constraints_and_a_score() -> None:
    instrument, report = imported(clinic_form(), "clinic.xlsx")
    assert (instrument.id, instrument.version) == ("clinic_follow_up", "1.2.0")
    assert instrument.languages == ("en", "fr") and instrument.default_language == "en"
    assert [p.id for p in instrument.pages] == ["about", "scale", "page_3"]
    assert instrument.pages[1].show_when.source == "age >= 18"
    age = item(instrument, "age")
    assert age.required and age.help["self"] == {"en": "In years", "fr": "En années"}
    assert age.text["self"] == {"en": "How old are you?", "fr": "Quel âge avez-vous ?"}
    assert age.constraint.condition.source == "(age >= 0) and (age <= 120)"
    assert age.constraint.message == {"en": "Between 0 and 120", "fr": "Entre 0 et 120"}
    assert item(instrument, "pain_where").type == "multiple_choice"
    assert item(instrument, "pain_where").show_when.source == "pain_any == 'yes'"
    assert item(instrument, "notes").show_when.source == (
        "(contains(pain_where, 'head')) or (age > 60)"
    )
    assert [i.type for i in instrument.items if i.id in ("weight", "visit_date", "thanks")] == [
        "decimal",
        "date",
        "display",
    ]
    q1 = item(instrument, "q1")
    assert [c.value for c in q1.choices] == [0, 1, 2, 3]  # whole-number names become numbers
    assert q1.choices[2].label == {"en": "2 days", "fr": "2 jours"}
    (total,) = instrument.scores
    assert (total.id, total.method, total.items) == ("total", "sum", ("q1", "q2"))
    assert "became score 'total'" in reported(report, "total", "calculate")
    assert item(instrument, "med_name").type == "short_text"
    assert reported(report, "meds", "repeat") == "asked once: Chorus has no repeats"


def test_logic_on_a_later_question_is_reported_not_kept() -> None:
    survey = [
        ["type", "name", "label", "relevant"],
        ["integer", "first", "First", "${second} > 1"],
        ["integer", "second", "Second"],
    ]
    instrument, report = imported(
        build_workbook(survey, [["list_name", "name", "label"]], []), "x.xlsx"
    )
    assert item(instrument, "first").show_when is None
    assert "not an earlier question" in reported(report, "first", "relevant")


def test_range_becomes_a_bounded_whole_number() -> None:
    survey = [
        ["type", "name", "label", "parameters"],
        ["range", "effort", "How much effort?", "start=0 end=5 step=1"],
        ["range", "halves", "Halves?", "start=0 end=2 step=0.5"],
    ]
    workbook = build_workbook(survey, [["list_name", "name", "label"]], [])
    instrument, report = imported(workbook, "range.xlsx")
    effort = item(instrument, "effort")
    assert (effort.type, effort.minimum, effort.maximum) == ("integer", 0, 5)
    assert "step 0.5 not kept" in reported(report, "halves", "range step")


def zip_without_workbook() -> bytes:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return stream.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"hello, this is not a spreadsheet", "not an Excel workbook"),
        (b"PK\x03\x04 truncated zip", "not an Excel workbook"),
        (zip_without_workbook(), "not a usable XLSForm"),
        (
            build_workbook([], [["list_name", "name", "label"]], []),
            "You must have a sheet named 'survey'",
        ),
        (
            build_workbook(
                [["type", "name", "label"], ["select_one nolist", "q", "Q?"]],
                [["list_name", "name", "label"], ["other", "a", "A"], ["other", "b", "B"]],
                [],
            ),
            "nolist",
        ),
    ],
)
def test_bad_files_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(InteropError) as refused:
        import_instrument(data, "xlsform", source_name="bad.xlsx")
    assert str(refused.value).startswith("bad.xlsx: ")
    assert message in str(refused.value)
