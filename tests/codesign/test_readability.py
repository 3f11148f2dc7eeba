"""Readability against the study's target through the one adapter."""

from __future__ import annotations

from app.codesign import readability as reading

HARD = (
    "Notwithstanding considerable methodological heterogeneity, characterise the multidimensional "
    "consequences of intermittent symptomatology experienced throughout the preceding fortnight."
)
EASY = "Did you sleep well last night? Tell us how you feel."


def test_a_hard_english_question_is_above_grade_8_and_an_easy_one_is_not():
    hard = reading.assess(HARD, "en", 8)
    assert hard.scored and hard.measure == "Flesch-Kincaid grade"
    assert hard.value is not None and hard.value > 8 and hard.above_target
    easy = reading.assess(EASY, "en", 8)
    assert easy.scored and not easy.above_target


def test_reading_ease_measures_use_the_equivalent_of_the_grade_target():
    french = reading.assess("Comment avez-vous dormi la nuit dernière ? Dites-nous tout.", "fr", 8)
    assert french.scored and french.target == 60.0
    assert french.above_target == (french.value is not None and french.value < 60.0)


def test_short_labels_are_not_scored_and_other_languages_get_lix_without_a_target():
    short = reading.assess("Very well", "en", 8)
    assert not short.scored and short.guidance.startswith("too short to score")
    swedish = reading.assess("Hur mycket ont hade du i dag, tror du?", "sv", 8)
    assert swedish.scored and swedish.measure == "LIX"
    # No grade equivalent is known for LIX: it is shown, never flagged against the target.
    assert swedish.target is None and not swedish.above_target


def test_items_are_read_with_their_help_per_respondent_and_language():
    item = {
        "id": "q",
        "type": "yes_no",
        "text": {"self": {"en": EASY}, "proxy": {"en": HARD}},
        "help": {"en": "Answer for today only, please."},
    }
    report = reading.items([("q", item)], ("self", "proxy"), ["en"], 8)
    verdicts = {(r.respondent, r.assessment.above_target) for r in report}
    assert verdicts == {("self", False), ("proxy", True)}
