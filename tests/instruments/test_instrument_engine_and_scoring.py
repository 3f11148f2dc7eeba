"""Answer validation (skip logic, required, domains), scoring against published values, alerts."""

from __future__ import annotations

import csv
import datetime
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.instruments.alerts import evaluate_alerts
from app.instruments.engine import validate_answers
from app.instruments.loader import load_instrument, parse_instrument
from app.instruments.model import Instrument, Item
from app.instruments.scoring import compute_scores, round_half_up

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTRUMENTS = REPO_ROOT / "instruments"
PHQ9_BANDS_CSV = (
    REPO_ROOT.parent / "shared" / "interop" / "scoring" / "phq9-total-score-severity.csv"
)


def load(name: str) -> Instrument:
    instrument, _ = load_instrument(INSTRUMENTS / f"{name}.yaml")
    return instrument


PHQ9 = load("phq9")
GAD7 = load("gad7")
DIARY = load("daily_symptom_diary")
CHILD = load("child_weekly_wellbeing")
FEEDBACK = load("taking_part_feedback")


def phq9_answers_totalling(total: int) -> dict[str, object]:
    answers: dict[str, object] = {}
    remaining = total
    for index in range(1, 10):
        value = min(3, remaining)
        answers[f"phq9_{index}"] = value
        remaining -= value
    return answers


def published_phq9_bands() -> list[tuple[int, str]]:
    with PHQ9_BANDS_CSV.open(encoding="utf-8") as handle:
        return [(int(row["total_score"]), row["severity"]) for row in csv.DictReader(handle)]


@pytest.mark.parametrize(("total", "severity"), published_phq9_bands())
def test_phq9_total_and_band_match_published_values(total: int, severity: str) -> None:
    answers = phq9_answers_totalling(total)
    result = validate_answers(PHQ9, answers, "self")
    assert result.ok, result.errors
    score = compute_scores(PHQ9, result.answers)["total"]
    assert score.value == total
    assert score.band == severity
    assert score.items_used == tuple(f"phq9_{i}" for i in range(1, 10))


def test_phq9_item_9_above_zero_raises_urgent_alert() -> None:
    answers = {**phq9_answers_totalling(0), "phq9_9": 1, "phq9_difficulty": 1}
    result = validate_answers(PHQ9, answers, "self")
    assert result.ok
    alerts = evaluate_alerts(PHQ9, result.answers, compute_scores(PHQ9, result.answers))
    assert [(a.rule_id, a.severity) for a in alerts] == [("self_harm_thoughts", "urgent")]
    calm = validate_answers(PHQ9, phq9_answers_totalling(0), "self")
    assert evaluate_alerts(PHQ9, calm.answers, compute_scores(PHQ9, calm.answers)) == ()


def test_phq9_has_no_total_when_an_item_is_missing() -> None:
    answers = phq9_answers_totalling(12)
    del answers["phq9_4"]
    score = compute_scores(PHQ9, answers)["total"]
    assert score.value is None
    assert score.reason == "1 of 9 items unanswered; no item may be missing"
    assert score.items_missing == ("phq9_4",)


@pytest.mark.parametrize(("total", "band"), [(4, "Minimal anxiety"), (5, "Mild anxiety"),
                                             (10, "Moderate anxiety"), (15, "Severe anxiety"),
                                             (21, "Severe anxiety")])  # fmt: skip
def test_gad7_cut_points(total: int, band: str) -> None:
    answers: dict[str, object] = {}
    for index in range(1, 8):
        answers[f"gad7_{index}"] = min(3, max(0, total - 3 * (index - 1)))
    score = compute_scores(GAD7, answers)["total"]
    assert (score.value, score.band) == (total, band)


CHILD_ALL = {"played": "always", "slept_well": "often", "ate_well": "sometimes",
             "with_others": "rarely", "worried": "never"}  # fmt: skip


def test_reverse_scored_item_counts_backwards() -> None:
    # played 4 + slept 3 + ate 2 + with_others 1 + worried never → reversed 4 = 14
    score = compute_scores(CHILD, CHILD_ALL)["wellbeing_index"]
    assert (score.value, score.band, score.prorated) == (14, "Middle", False)


def test_proration_with_exactly_max_missing_items() -> None:
    answers = {key: value for key, value in CHILD_ALL.items() if key != "ate_well"}
    score = compute_scores(CHILD, answers)["wellbeing_index"]
    # (4 + 3 + 1 + 4) * 5 / 4 = 15.0
    assert (score.value, score.prorated, score.items_missing) == (15, True, ("ate_well",))


def test_proration_rounds_half_up() -> None:
    answers = {**CHILD_ALL, "played": "sometimes"}
    del answers["ate_well"]
    # (2 + 3 + 1 + 4) * 5 / 4 = 12.5 → 13, not banker's 12
    assert compute_scores(CHILD, answers)["wellbeing_index"].value == 13
    assert round_half_up(2.5, 0) == 3 and round_half_up(0.125, 2) == 0.13


def test_one_more_missing_item_than_allowed_gives_no_score_with_reason() -> None:
    answers = {key: value for key, value in CHILD_ALL.items() if key not in ("ate_well", "played")}
    score = compute_scores(CHILD, answers)["wellbeing_index"]
    assert score.value is None
    assert score.reason == "2 of 5 items unanswered; at most 1 may be missing"
    assert score.items_used == ("slept_well", "with_others", "worried")


def test_mean_over_answered_items_and_rounding() -> None:
    assert compute_scores(DIARY, {"fatigue": 3, "pain": 4})["symptom_burden"].value == 3.5
    assert compute_scores(DIARY, {"fatigue": 7})["symptom_burden"].value == 7
    assert compute_scores(DIARY, {})["symptom_burden"].value is None


LOOKUP_INSTRUMENT = """\
id: t
version: "1.0.0"
title: T
languages: [en]
default_language: en
licence: x
copyright: x
authors: [x]
respondents: [self]
estimated_minutes: 1
pages:
  - id: p
    items:
      - {id: a, type: rating_0_10, text: A, scale: {min: 1, max: 3, min_label: lo, max_label: hi}}
      - {id: b, type: rating_0_10, text: B, scale: {min: 1, max: 3, min_label: lo, max_label: hi}}
scores:
  - id: t_score
    label: T-score
    method: sum
    items: [a, b]
    weights: {b: 2}
    when: answered(a)
    lookup: {3: 35.2, 4: 41.0, 5: 47.5, 6: 52.1, 7: 58.3, 8: 63.0, 9: 70.4}
    bands: [{min: 0, max: 54.9, label: Normal}, {min: 55, max: 100, label: Raised}]
"""


def test_weights_lookup_table_and_band() -> None:
    instrument, problems = parse_instrument(LOOKUP_INSTRUMENT, "t.yaml")
    assert instrument is not None, problems
    score = compute_scores(instrument, {"a": 3, "b": 2})["t_score"]
    assert (score.raw, score.value, score.band) == (7, 58.3, "Raised")
    assert (
        compute_scores(instrument, {"b": 2})["t_score"].reason == "condition not met: answered(a)"
    )


def test_skip_logic_drops_answers_to_hidden_items() -> None:
    result = validate_answers(
        DIARY,
        {"fatigue": 2, "pain": 0, "pain_where": ["head"], "sleep": "well", "mood": "good"},
        "self",
    )
    assert result.ok
    assert result.dropped == ("pain_where",)
    assert "pain_where" not in result.answers and "pain_where" not in result.visible


def test_hidden_required_item_is_not_required_and_visible_one_is() -> None:
    base = {"had_visit": False, "overall_burden": 3}
    assert validate_answers(FEEDBACK, base, "self").ok
    result = validate_answers(FEEDBACK, {**base, "had_visit": True}, "proxy")
    assert [(e.item_id, e.code) for e in result.errors] == [
        ("travel_minutes", "required"),
        ("time_off", "required"),
    ]


def test_page_skip_logic_and_unknown_items() -> None:
    result = validate_answers(PHQ9, {**phq9_answers_totalling(0), "phq9_difficulty": 2,
                                     "bogus": 1}, "self")  # fmt: skip
    assert result.dropped == ("phq9_difficulty",)
    assert [(e.item_id, e.code) for e in result.errors] == [("bogus", "unknown_item")]


def test_respondent_type_must_be_allowed() -> None:
    result = validate_answers(CHILD, CHILD_ALL, "self")
    assert [e.code for e in result.errors] == ["respondent_not_allowed"]


def test_exclusive_choice_cannot_be_combined() -> None:
    answers = {
        "had_visit": False,
        "overall_burden": 1,
        "what_would_help": ["nothing", "fewer_visits"],
    }
    result = validate_answers(FEEDBACK, answers, "self")
    assert [e.code for e in result.errors] == ["exclusive_choice"]


@pytest.mark.parametrize(
    ("answer", "code"),
    [(11, "out_of_range"), (-1, "out_of_range"), (5.5, "wrong_type"), ("5", "wrong_type"),
     (True, "wrong_type"), ([5], "wrong_type")],
)  # fmt: skip
def test_rating_domain(answer: object, code: str) -> None:
    result = validate_answers(
        DIARY, {"fatigue": answer, "pain": 0, "sleep": "ok", "mood": "ok"}, "self"
    )
    assert [(e.item_id, e.code) for e in result.errors] == [("fatigue", code)]


def test_choice_values_are_typed() -> None:
    result = validate_answers(PHQ9, {**phq9_answers_totalling(0), "phq9_1": "0"}, "self")
    assert [(e.item_id, e.code) for e in result.errors] == [("phq9_1", "not_a_choice")]
    result = validate_answers(PHQ9, {**phq9_answers_totalling(0), "phq9_1": False}, "self")
    assert [(e.item_id, e.code) for e in result.errors] == [("phq9_1", "not_a_choice")]


def test_blank_text_is_unanswered() -> None:
    result = validate_answers(CHILD, {**CHILD_ALL, "overall_week": 5, "unplanned_care": False,
                                      "anything_else": "   "}, "proxy")  # fmt: skip
    assert result.ok and "anything_else" not in result.answers


# -- property: the validator never accepts an answer outside the item's domain ----------------

ANY_ANSWER = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["0", "head", "very_well", "2024-02-30", "2024-02-29", "23:59", "24:00",
                     "nothing", "fewer_visits", "always"]),
    st.lists(st.sampled_from(["head", "back", "nothing", "fewer_visits", 1, "x"]), max_size=4),
    st.integers(min_value=-2, max_value=1500),
)  # fmt: skip


def in_domain(item: Item, value: Any) -> bool:
    """An independent statement of each item type's domain."""

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if item.type == "single_choice":
        return any(type(c.value) is type(value) and c.value == value for c in item.choices)
    if item.type == "multiple_choice":
        values = [c.value for c in item.choices]
        return (isinstance(value, list) and len(set(map(repr, value))) == len(value)
                and all(any(type(v) is type(m) and v == m for v in values) for m in value))  # fmt: skip
    if item.type in ("rating_0_10", "vas_0_100"):
        assert item.scale is not None
        return is_int(value) and item.scale.minimum <= value <= item.scale.maximum
    if item.type in ("integer", "decimal"):
        number = is_int(value) or (item.type == "decimal" and isinstance(value, float))
        return (number and math.isfinite(value)
                and (item.minimum is None or value >= item.minimum)
                and (item.maximum is None or value <= item.maximum))  # fmt: skip
    if item.type == "yes_no":
        return isinstance(value, bool)
    if item.type == "date":
        try:
            datetime.date.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return len(value) == 10
    if item.type == "time":
        return isinstance(value, str) and len(value) == 5 and "00:00" <= value <= "23:59"
    if item.type in ("short_text", "long_text"):
        return isinstance(value, str) and len(value) <= (item.max_length or 4000)
    return False


ALL_ITEMS = [(instrument, item) for instrument in (PHQ9, GAD7, DIARY, CHILD, FEEDBACK)
             for item in instrument.items]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(pair=st.sampled_from(ALL_ITEMS), value=ANY_ANSWER)
def test_validator_never_accepts_an_answer_outside_the_domain(
    pair: tuple[Instrument, Item], value: Any
) -> None:
    instrument, item = pair
    respondent = instrument.respondents[0]
    result = validate_answers(instrument, {item.id: value}, respondent)
    if item.id in result.answers:
        assert in_domain(item, result.answers[item.id]), (item.id, value)
