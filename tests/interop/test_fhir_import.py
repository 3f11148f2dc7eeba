"""FHIR R4 Questionnaire import: every real fixture in ../shared/interop/fhir has an asserted
outcome; STU3 and R5 are refused by name; a Chorus export comes back as the same instrument."""

from __future__ import annotations

import copy
import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest

from app.instruments.canonical import content_hash
from app.instruments.expressions import is_true
from app.instruments.loader import load_instrument, parse_instrument
from app.instruments.model import Instrument
from app.interop import fhir_vocabulary as v
from app.interop import import_instrument
from app.interop.fhir_export import instrument_to_questionnaire
from app.interop.report import ImportReport, InteropError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "interop" / "fhir"
QUESTIONNAIRES = FIXTURES / "questionnaire"
LIBRARY = sorted((ROOT / "instruments").glob("*.yaml"))


def imported(name: str) -> tuple[Instrument, ImportReport]:
    yaml_text, report = import_instrument(QUESTIONNAIRES / name, "fhir")
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


def test_every_questionnaire_fixture_is_covered_below() -> None:
    covered = {
        "androidfhir-repeated-group.json",
        "androidfhir-skip-logic.json",
        "androidfhir-text-fields.json",
        "lforms-apgar-itemweight.json",
        "lforms-bit-of-everything.json",
        "lforms-min-max-occurs.json",
        "lforms-phq9.json",
        "sdc-hunger-vital-sign.json",
        "sdc-phq9.json",
        "sdc-test-all-data-types.json",
        "sdc-test-enablewhen.json",
        "sdc-test-repeatable-nested-groups.json",
        "sdc-weight-height-tracking.json",
    }
    assert {path.name for path in QUESTIONNAIRES.glob("*.json")} == covered


def test_sdc_phq9_contained_value_set_ordinals_and_calculated_total() -> None:
    instrument, report = imported("sdc-phq9.json")
    assert instrument.version == "0.0.1"
    assert [page.id for page in instrument.pages] == ["H1_T1"]
    first = item(instrument, "H1_T1_Q1")
    assert first.type == "single_choice"
    assert [(c.value, c.score) for c in first.choices] == [
        ("Not-at-all", 0.0),
        ("Several-days", 1.0),
        ("More than half the days", 2.0),
        ("Nearly every day", 3.0),
    ]
    assert first.choices[0].label == {"en": "Not at all"}
    (total,) = instrument.scores
    assert total.method == "sum" and total.max_missing == 0
    assert total.items == tuple(f"H1_T1_Q{n}" for n in range(1, 10))
    assert [c.code for c in total.codes] == ["44261-6"]
    assert "became score 'H1_TS'" in reported(report, "H1/TS", "calculatedExpression")
    assert instrument.copyright.startswith("This content is an unaltered digital reproduction")


def test_lforms_phq9_loinc_codes_ordinal_values_and_variables_make_a_score() -> None:
    instrument, report = imported("lforms-phq9.json")
    assert [c.code for c in instrument.codes] == ["44249-1"]
    first = item(instrument, "item_44250_9")
    assert [c.code for c in first.codes] == ["44250-9"] and first.required
    assert [(c.value, c.score) for c in first.choices] == [
        ("LA6568-5", 0.0),
        ("LA6569-3", 1.0),
        ("LA6570-1", 2.0),
        ("LA6571-9", 3.0),
    ]
    (total,) = instrument.scores
    assert total.id == "item_44261_6" and len(total.items) == 9
    assert "item_69722_7" not in total.items  # the difficulty item has no ordinal values
    assert "http://loinc.org" in reported(report, "/44250-9", "answer codes")


def test_apgar_item_weights_and_iif_all_answered_sum() -> None:
    instrument, _report = imported("lforms-apgar-itemweight.json")
    (score,) = instrument.scores
    assert score.items == (
        "item_32406_1",
        "item_32407_9",
        "item_32409_5",
        "item_32408_7",
        "item_32410_3",
    )
    assert [c.score for c in item(instrument, "item_32406_1").choices] == [0.0, 1.0, 2.0]


def test_enable_when_operators_and_behaviors() -> None:
    instrument, report = imported("sdc-test-enablewhen.json")
    q1 = "item_83d5c1a6_5dc3_44d0_9d9e_d687c72e143e"
    hidden_until_q1 = item(instrument, "e5da17a7_7546_45c5_9bcd_d0b09a74cc14")
    assert hidden_until_q1.show_when.source == f"{q1} == true"
    # a Coding answer compared with answerString '2' still finds the choice (typed 2)
    assert item(instrument, "e5da17a7_7546_45c5_9bcd_d0b09a74ty76").show_when.source == (
        "s1_radio == 2"
    )
    seven = "item_5e1209b7_c9e0_4bf4_b228_fr096s903m25"
    not_seven = item(instrument, "item_65578509_21ae_234vy_slo4_eddfjqwwr2")
    assert not_seven.show_when.source == f"answered({seven}) and {seven} != 7"
    both = item(instrument, "item_3cf51112_6896_4076_8994_b6ff3e52f359").show_when.source
    assert both == f"{seven} == 8 and item_5e1209b7_c9e0_4bf4_b228_c6591b540qmo == 4"
    assert item(instrument, "date_greater_2000_01_01").show_when.source == (
        "date_of_birth_question > '2000-01-01'"
    )
    assert item(instrument, "BOWOPTOTH").show_when.source == "contains(BC029, 9)"
    # ordering a choice whose codes are not numbers, and a question whose answers are on a
    # terminology server, cannot be said: reported, and the items show unconditionally.
    assert "Chorus orders numbers and dates only" in reported(
        report, "945b97b5-6d74-4a55-9be1-19897512jj89", "enableWhen"
    )
    assert item(instrument, "item_840c08ad_4b27_4c1d_9d6e_824202519kied").show_when is None
    assert "not contained" in reported(
        report, "1acf93a7-0890-44cd-be48-542defb35248", "answerValueSet"
    )
    assert "shown without this condition" in reported(
        report, "945b97b5-6d74-4a55-9be1-1989751219fb", "enableWhen"
    )
    # a nested group's heading is a display item carrying the group's condition
    heading = item(instrument, "item_65578509_21ae_4a48_94de_e46b1e87d3fb")
    assert heading.type == "display" and heading.show_when.source == f"{q1} == true"


def test_all_data_types_map_or_are_reported() -> None:
    instrument, report = imported("sdc-test-all-data-types.json")
    types = {i.id: i.type for i in instrument.items}
    assert types["id_string"] == "short_text" and types["id_text"] == "long_text"
    assert types["id_boolean"] == "yes_no" and types["id_time"] == "time"
    assert types["id_integer"] == "integer" and types["id_decimal"] == "decimal"
    assert types["id_datetime"] == "date"
    assert "time of day" in reported(report, "id-datetime", "dateTime")
    assert "id_attachment" not in types
    assert "left out" in reported(report, "id-attachment", "item type 'attachment'")


def test_bit_of_everything_units_quantity_open_choice_and_reference() -> None:
    instrument, report = imported("lforms-bit-of-everything.json")
    assert item(instrument, "Item_decimal").unit == {"en": "meters"}
    assert item(instrument, "Item_quantity").type == "decimal"
    assert [c.value for c in item(instrument, "Item_rb_local").choices] == ["a", "b"]
    assert "first is used" in reported(report, "Item-quantity", "questionnaire-unitOption")
    assert "left out" in reported(report, "Item-reference", "item type 'reference'")
    assert "no free-text answer" in reported(report, "Item12", "open-choice")
    assert instrument.authors == ("DEMO: Telstra Health",)


def test_repeats_are_asked_once_and_reported() -> None:
    instrument, report = imported("sdc-test-repeatable-nested-groups.json")
    assert item(instrument, "ba91450b_6e67_40dc_8629_0f1b60577774").type == "display"
    assert "asked once" in reported(report, "ba91450b-6e67-40dc-8629-0f1b60577774", "repeats")
    instrument, report = imported("lforms-min-max-occurs.json")
    assert item(instrument, "item_1_1").required
    assert "only one answer" in reported(report, "1.1", "repeats")
    instrument, report = imported("androidfhir-repeated-group.json")
    assert [i.id for i in instrument.items] == ["item_1_1", "item_1_2"]
    assert "asked once" in reported(report, "1", "repeats")


def test_android_skip_logic_text_fields_and_flyover() -> None:
    instrument, _ = imported("androidfhir-skip-logic.json")
    assert item(instrument, "item_1_1").show_when.source == "item_1_0 == 'Y'"
    instrument, report = imported("androidfhir-text-fields.json")
    first = item(instrument, "item_1")
    assert first.text["self"] == {"en": "Enter a string"}
    assert "fly-over" in reported(report, "1", "text")
    assert item(instrument, "item_4").unit == {"en": "kilogram"}


def test_calculations_that_are_not_sums_are_reported_not_invented() -> None:
    instrument, report = imported("sdc-weight-height-tracking.json")
    assert instrument.version == "3.0.0" and not instrument.scores
    assert "not a sum or mean" in reported(report, "/39156-5", "calculatedExpression")
    assert item(instrument, "item_29463_7").unit == {"en": "kg"}
    instrument, report = imported("sdc-hunger-vital-sign.json")
    assert not instrument.scores
    assert [i.id for i in instrument.items] == ["item_88122_7", "item_88123_5"]
    assert "left out" in reported(report, "/88124-3", "calculatedExpression")


def test_a_questionnaire_response_is_refused() -> None:
    with pytest.raises(InteropError, match="expected a FHIR Questionnaire, found resourceType"):
        import_instrument(FIXTURES / "questionnaire-response" / "sdc-phq9-response.json", "fhir")


def phq9_resource() -> dict[str, Any]:
    return json.loads((QUESTIONNAIRES / "lforms-phq9.json").read_text("utf-8"))


def test_stu3_enable_when_has_answer_is_refused_naming_the_version() -> None:
    resource = phq9_resource()
    resource["item"][1]["enableWhen"] = [{"question": "/44250-9", "hasAnswer": True}]
    with pytest.raises(InteropError, match=r"FHIR STU3 \(3\.0\).*item\.enableWhen\.hasAnswer"):
        import_instrument(json.dumps(resource).encode(), "fhir", source_name="stu3.json")


def test_stu3_item_option_is_refused_naming_the_version() -> None:
    resource = phq9_resource()
    resource["item"][0]["option"] = resource["item"][0].pop("answerOption")
    with pytest.raises(InteropError) as refused:
        import_instrument(json.dumps(resource).encode(), "fhir", source_name="stu3.json")
    assert "FHIR STU3 (3.0)" in str(refused.value)
    assert "item.option" in str(refused.value) and "/44250-9" in str(refused.value)


@pytest.mark.parametrize(
    ("change", "evidence"),
    [
        (lambda r: r.update(versionAlgorithmString="semver"), "versionAlgorithmString"),
        (lambda r: r["item"][0].update(answerConstraint="optionsOnly"), "item.answerConstraint"),
        (lambda r: r["item"][0].update(type="coding"), "item type 'coding'"),
    ],
)
def test_r5_is_refused_naming_the_version(change: Any, evidence: str) -> None:
    resource = phq9_resource()
    change(resource)
    with pytest.raises(InteropError) as refused:
        import_instrument(json.dumps(resource).encode(), "fhir", source_name="r5.json")
    assert "FHIR R5 (5.0)" in str(refused.value) and evidence in str(refused.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"resourceType": "Questionnaire", "item": [', "not valid JSON: line 1, column 44"),
        (b"\xff\xfe\x00", "not UTF-8 text"),
        (b"[1, 2]", "expected a FHIR resource (a JSON object)"),
        (b'{"resourceType": "Patient"}', "found resourceType 'Patient'"),
        (b'{"resourceType": "Questionnaire", "item": []}', "has no items"),
    ],
)
def test_bad_files_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(InteropError, match=r"^bad\.json: ") as refused:
        import_instrument(data, "fhir", source_name="bad.json")
    assert message in str(refused.value)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_round_trip_gives_the_same_instrument(path: Path) -> None:
    instrument, _ = load_instrument(path)
    questionnaire = json.dumps(instrument_to_questionnaire(instrument)).encode()
    yaml_text, report = import_instrument(questionnaire, "fhir", source_name="export.json")
    back, problems = parse_instrument(yaml_text, "back.yaml")
    assert back is not None, problems
    assert content_hash(back) == content_hash(instrument)
    assert back == instrument
    assert report.of_kind("dropped") == [] and report.of_kind("changed") == []


def without_chorus_extensions(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: without_chorus_extensions(value)
            for key, value in node.items()
            if not (isinstance(value, str) and key == "url" and value.startswith(v.CHORUS_BASE))
        }
    if isinstance(node, list):
        kept = [
            entry
            for entry in node
            if not (isinstance(entry, dict) and str(entry.get("url", "")).startswith(v.CHORUS_BASE))
        ]
        return [without_chorus_extensions(entry) for entry in kept]
    return node


@pytest.mark.parametrize("name", ["phq9", "daily_symptom_diary", "taking_part_feedback"])
def test_standard_fhir_alone_keeps_the_skip_logic(name: str) -> None:
    """What another system sees (no Chorus extensions): enableWhen and the SDC FHIRPath we
    write come back as skip logic that decides exactly as the original on every answer mix."""
    original, _ = load_instrument(ROOT / "instruments" / f"{name}.yaml")
    plain = without_chorus_extensions(copy.deepcopy(instrument_to_questionnaire(original)))
    yaml_text, _ = import_instrument(json.dumps(plain).encode(), "fhir", source_name="plain.json")
    back, problems = parse_instrument(yaml_text, "plain.yaml")
    assert back is not None, problems
    conditions = [(p.id, p.show_when) for p in original.pages] + [
        (i.id, i.show_when) for i in original.items
    ]
    back_conditions = {p.id: p.show_when for p in back.pages} | {
        i.id: i.show_when for i in back.items
    }
    checked = 0
    for target, condition in conditions:
        if condition is None:
            assert back_conditions[target] is None
            continue
        names = condition.names
        samples = [_samples(original.item(n)) for n in names]
        translated = back_conditions[target]
        assert translated is not None, target
        combinations: list[tuple[Any, ...]] = list(
            itertools.islice(itertools.product(*samples), 3000)
        )
        chooser = random.Random(1)  # noqa: S311 - fixed seed: the same mixes on every run
        combinations += [tuple(chooser.choice(s) for s in samples) for _ in range(3000)]
        for combination in combinations:
            answers = dict(zip(names, combination, strict=True))
            assert is_true(translated.ast, answers) == is_true(condition.ast, answers), (
                target,
                translated.source,
                answers,
            )
            checked += 1
    assert checked > 0


def _samples(found: Any) -> list[Any]:
    if found.type == "single_choice":
        return [None, *[c.value for c in found.choices]]
    if found.type == "multiple_choice":
        return [None, [], [found.choices[0].value], [c.value for c in found.choices[:2]]]
    if found.type == "yes_no":
        return [None, True, False]
    return [None, 0, 1, 5, 10]


def test_hostile_nesting_is_reported_not_a_crash() -> None:
    deep = "not(" * 600 + "true" + ")" * 600
    resource = {
        "resourceType": "Questionnaire",
        "item": [
            {"linkId": "a", "type": "boolean", "text": "A"},
            {
                "linkId": "b",
                "type": "string",
                "text": "B",
                "extension": [
                    {
                        "url": v.ENABLE_WHEN_EXPRESSION,
                        "valueExpression": {"language": "text/fhirpath", "expression": deep},
                    }
                ],
            },
        ],
    }
    yaml_text, report = import_instrument(
        json.dumps(resource).encode(), "fhir", source_name="d.json"
    )
    action = reported(report, "b", "enableWhen")
    assert "nested too deeply" in action and "…" in action and len(action) < 300
    assert "show_when" not in yaml_text
