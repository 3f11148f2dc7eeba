"""Package rules: the engine stays framework-free, readability works offline, render is JSON."""

from __future__ import annotations

import json
from pathlib import Path

from app.instruments.loader import load_instrument
from app.instruments.readability import measure, readability_report
from app.instruments.rendering import render_instrument

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_readability_per_language_and_unsupported_languages_say_so() -> None:
    name, grade, _ = measure("How tired did you feel today? Tell us in a few words.", "en")
    assert name == "Flesch-Kincaid grade" and grade is not None and grade < 6
    assert measure("Wie müde haben Sie sich heute gefühlt?", "de")[0] == "Wiener Sachtextformel"
    assert measure("Olet väsynyt", "fi") == (None, None, "no readability measure for language 'fi'")
    diary, _ = load_instrument(REPO_ROOT / "instruments" / "daily_symptom_diary.yaml")
    report = readability_report(diary)
    assert {entry.language for entry in report} == {"en", "fr", "es", "de"}
    assert any(entry.location == "item 'pain' text.proxy" for entry in report)


def test_rendered_instrument_is_json_with_one_language_and_compiled_skip_logic() -> None:
    diary, _ = load_instrument(REPO_ROOT / "instruments" / "daily_symptom_diary.yaml")
    rendered = render_instrument(diary, "es", "proxy")
    text = json.dumps(rendered, ensure_ascii=False, allow_nan=False)
    assert "How tired" not in text and "Wie müde" not in text
    pain_where = rendered["pages"][0]["items"][2]
    assert pain_where["show_when"] == {"op": ">", "args": [{"var": "pain"}, {"lit": 0.0}]}
    assert pain_where["text"].startswith("¿Dónde parecía tener dolor su hijo")
