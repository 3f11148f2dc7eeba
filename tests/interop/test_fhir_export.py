"""Every library instrument exports to a FHIR R4 Questionnaire that fhir.resources accepts,
carrying codes, ordinal values, enableWhen, translations and the content hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from app.instruments.canonical import content_hash
from app.instruments.loader import load_instrument, parse_instrument
from app.interop import fhir_vocabulary as v
from app.interop.fhir_export import instrument_to_questionnaire

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
INSTRUMENT_FILES = sorted(LIBRARY.glob("*.yaml"))


def exported(name: str) -> dict[str, Any]:
    instrument, _ = load_instrument(LIBRARY / f"{name}.yaml")
    return instrument_to_questionnaire(instrument)


def item(questionnaire: dict[str, Any], link_id: str) -> dict[str, Any]:
    stack = list(questionnaire["item"])
    while stack:
        entry = stack.pop()
        if entry["linkId"] == link_id:
            return entry
        stack += entry.get("item", [])
    raise AssertionError(f"no item {link_id}")


@pytest.mark.parametrize("path", INSTRUMENT_FILES, ids=lambda p: p.stem)
def test_every_library_instrument_exports_a_valid_r4_questionnaire(path: Path) -> None:
    instrument, _ = load_instrument(path)
    questionnaire = instrument_to_questionnaire(instrument)
    # JSON-serialisable as is, and valid against the Questionnaire model (R4B's Questionnaire
    # is R4's: R4B changed no element of it).
    parsed = Questionnaire.model_validate(json.loads(json.dumps(questionnaire)))
    assert parsed.version == instrument.version
    assert questionnaire["identifier"] == [
        {"system": v.CHORUS_CONTENT_HASH_SYSTEM, "value": content_hash(instrument)}
    ]
    assert questionnaire["url"].endswith("/" + instrument.id)
    assert [group["linkId"] for group in questionnaire["item"]] == [
        page.id for page in instrument.pages
    ]
    assert instrument_to_questionnaire(instrument) == questionnaire  # deterministic


def test_phq9_carries_loinc_codes_ordinal_values_and_an_expression_for_ordered_choices() -> None:
    questionnaire = exported("phq9")
    assert questionnaire["code"][0] == {
        "system": "http://loinc.org",
        "code": "44249-1",
        "display": "PHQ-9 quick depression assessment panel",
    }
    first = item(questionnaire, "phq9_1")
    assert first["type"] == "choice" and first["required"] is True
    assert first["code"] == [{"system": "http://loinc.org", "code": "44250-9"}]
    options = first["answerOption"]
    assert [o["valueCoding"]["code"] for o in options] == ["0", "1", "2", "3"]
    assert options[3]["valueCoding"]["display"] == "Nearly every day"
    assert options[3]["extension"] == [{"url": v.ORDINAL_VALUE, "valueDecimal": 3}]
    # "phq9_1 > 0" orders Codings, which enableWhen cannot: the page gets SDC FHIRPath instead.
    page = item(questionnaire, "difficulty")
    assert "enableWhen" not in page
    expression = v.extension_value(page, v.ENABLE_WHEN_EXPRESSION)
    assert expression["language"] == "text/fhirpath"
    assert (
        "(%resource.repeat(item).where(linkId='phq9_9').answer.value.code.toInteger() > 0)"
        in expression["expression"]
    )
    total = next(e for e in questionnaire["extension"] if e["url"] == v.CHORUS_SCORE)
    assert {"url": "method", "valueCode": "sum"} in total["extension"]


def test_diary_has_translations_respondent_wording_scales_and_enable_when() -> None:
    questionnaire = exported("daily_symptom_diary")
    assert questionnaire["title"] == "Daily symptom diary"
    french = [
        entry["extension"]
        for entry in questionnaire["_title"]["extension"]
        if {"url": "lang", "valueCode": "fr"} in entry["extension"]
    ]
    assert french == [
        [
            {"url": "lang", "valueCode": "fr"},
            {"url": "content", "valueString": "Journal quotidien des symptômes"},
        ]
    ]
    fatigue = item(questionnaire, "fatigue")
    assert fatigue["type"] == "integer"
    assert fatigue["text"] == "How tired did you feel today?"
    proxy = v.extensions_named(fatigue, v.CHORUS_RESPONDENT_TEXT)[0]
    assert v.read_translations(proxy)["de"] == "Wie müde wirkte Ihr Kind heute?"
    assert v.extension_value(fatigue, v.MIN_VALUE) == 0
    assert v.extension_value(fatigue, v.MAX_VALUE) == 10
    lower = item(questionnaire, "fatigue.lower")
    assert lower["type"] == "display" and lower["text"] == "Not tired at all"
    pain_where = item(questionnaire, "pain_where")
    assert pain_where["repeats"] is True
    assert pain_where["enableWhen"] == [{"question": "pain", "operator": ">", "answerInteger": 0}]
    assert "enableBehavior" not in pain_where
    help_item = item(questionnaire, "anything_else.help")
    control = v.extension_value(help_item, v.ITEM_CONTROL)
    assert control["coding"][0]["code"] == "help"
    assert item(questionnaire, "anything_else")["maxLength"] == 1000


def test_yes_no_skip_logic_and_exclusive_choice() -> None:
    questionnaire = exported("taking_part_feedback")
    assert item(questionnaire, "had_visit")["type"] == "boolean"
    assert item(questionnaire, "travel_minutes")["enableWhen"] == [
        {"question": "had_visit", "operator": "=", "answerBoolean": True}
    ]
    travel = item(questionnaire, "travel_minutes")
    unit = v.extension_value(travel, v.UNIT)
    assert unit["display"] == "minutes"
    nothing = item(questionnaire, "what_would_help")["answerOption"][-1]
    assert {"url": v.OPTION_EXCLUSIVE, "valueBoolean": True} in nothing["extension"]


def test_or_of_simple_tests_is_enable_behavior_any_and_constraint_is_target_constraint() -> None:
    source = (LIBRARY / "child_weekly_wellbeing.yaml").read_text("utf-8")
    source = source.replace(
        "show_when: unplanned_care == true",
        "show_when: unplanned_care == true or school_days_missed >= 3",
    ).replace(
        "        max: 7\n",
        "        max: 7\n        constraint: {condition: school_days_missed != 6, message: Not six}\n",
    )
    instrument, problems = parse_instrument(source, "variant.yaml")
    assert instrument is not None, problems
    questionnaire = instrument_to_questionnaire(instrument)
    Questionnaire.model_validate(questionnaire)
    details = item(questionnaire, "unplanned_care_details")
    assert details["enableBehavior"] == "any"
    assert details["enableWhen"] == [
        {"question": "unplanned_care", "operator": "=", "answerBoolean": True},
        {"question": "school_days_missed", "operator": ">=", "answerInteger": 3},
    ]
    missed = item(questionnaire, "school_days_missed")
    constraint = v.extensions_named(missed, v.TARGET_CONSTRAINT)[0]
    assert v.extension_value(constraint, "human") == "Not six"
    assert v.extension_value(constraint, "expression") == {
        "language": "text/fhirpath",
        "expression": "%resource.repeat(item).where(linkId='school_days_missed').answer.value != 6",
    }
