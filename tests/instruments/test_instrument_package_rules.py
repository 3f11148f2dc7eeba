"""Package rules: the engine stays framework-free, readability works offline, render is JSON."""

from __future__ import annotations

import json
from pathlib import Path

from app.instruments.loader import load_instrument
from app.instruments.readability import measure, readability_report, second_measure
from app.instruments.rendering import render_instrument

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_readability_per_language_and_unsupported_languages_say_so() -> None:
    name, grade, _ = measure("How tired did you feel today? Tell us in a few words.", "en")
    assert name == "Flesch-Kincaid grade" and grade is not None and grade < 6
    assert measure("Wie müde haben Sie sich heute gefühlt?", "de")[0] == "Wiener Sachtextformel"
    finnish = measure("Olet väsynyt tänään, kerro meille lyhyesti miten menee", "fi")
    assert finnish[0] == "LIX" and finnish[1] is not None  # any other language: LIX
    diary, _ = load_instrument(REPO_ROOT / "instruments" / "daily_symptom_diary.yaml")
    report = readability_report(diary)
    assert {entry.language for entry in report} == {"en", "fr", "es", "de"}
    assert any(entry.location == "item 'pain' text.proxy" for entry in report)


def test_strings_too_short_for_a_formula_are_not_scored() -> None:
    """#11: one-word labels scored French -14.8 and Spanish 145.8."""
    for word, language in (("Fatigue", "fr"), ("Cansancio", "es"), ("Müde", "de"), ("Tired", "en")):
        name, value, note = measure(word, language)
        assert name is not None and value is None, (language, value)
        assert note == "too short to score (1 word; a formula needs 5 or more)"


def test_each_language_gets_its_own_formula() -> None:
    french = "Comment vous sentez-vous aujourd'hui dans l'ensemble ?"
    spanish = "¿Cómo se ha sentido hoy en general, en pocas palabras?"
    german = "Wie müde haben Sie sich heute gefühlt?"
    assert measure(french, "fr")[0] == "Kandel-Moles reading ease"
    assert measure(spanish, "es")[0] == "Szigriszt-Pazos perspicuity"
    assert 0 < (measure(french, "fr")[1] or 0) <= 100
    assert 0 < (measure(spanish, "es")[1] or 0) <= 100
    assert second_measure(spanish, "es")[:1] == ("Fernandez-Huerta reading ease",)  # type: ignore[index]
    assert second_measure(german, "de")[:1] == ("Amstad reading ease",)  # type: ignore[index]
    assert second_measure(french, "fr") is None
    arabic = measure("شكرًا لإخبارنا. لقد ذكرت أنه راودتك أفكار بإيذاء نفسك.", "ar")
    assert arabic[0] == "LIX" and arabic[1] is not None


def test_rendered_instrument_is_json_with_one_language_and_compiled_skip_logic() -> None:
    diary, _ = load_instrument(REPO_ROOT / "instruments" / "daily_symptom_diary.yaml")
    rendered = render_instrument(diary, "es", "proxy")
    text = json.dumps(rendered, ensure_ascii=False, allow_nan=False)
    assert "How tired" not in text and "Wie müde" not in text
    pain_where = rendered["pages"][0]["items"][2]
    assert pain_where["show_when"] == {"op": ">", "args": [{"var": "pain"}, {"lit": 0.0}]}
    assert pain_where["text"].startswith("¿Dónde parecía tener dolor su hijo")
