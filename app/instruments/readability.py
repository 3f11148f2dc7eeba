"""Reading-level measures for every participant-visible string of an instrument.

Which measure depends on the language, because readability formulas are calibrated per
language: English gets the Flesch-Kincaid grade; German the Wiener Sachtextformel (a school
grade); Spanish the Fernandez Huerta reading ease; French, Italian and Dutch textstat's
language-specific Flesch reading ease (0-100, higher is easier). Other languages get no measure
and say so, rather than a misleading English score.

Syllables come from pyphen hyphenation (via textstat for non-English languages). For English we
count them the same way ourselves: textstat 0.7.13 would otherwise download NLTK's CMU
dictionary over the network on first use, which a server and a test suite must not do. Grades
can therefore differ slightly from ``textstat.flesch_kincaid_grade`` with the CMU dictionary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import pyphen  # type: ignore[import-untyped]
from textstat.backend import metrics, selections

from app.instruments.model import Instrument, LocalizedText, Wording

MEASURES = {
    "en": ("Flesch-Kincaid grade", "higher is harder; aim for 6 or below"),
    "de": ("Wiener Sachtextformel", "a school grade; higher is harder; aim for 6 or below"),
    "es": ("Fernandez Huerta reading ease", "0-100; higher is easier; aim for 70 or above"),
    "fr": ("Flesch reading ease (French)", "0-100; higher is easier; aim for 70 or above"),
    "it": ("Flesch reading ease (Italian)", "0-100; higher is easier; aim for 70 or above"),
    "nl": ("Flesch reading ease (Dutch)", "0-100; higher is easier; aim for 70 or above"),
}


@dataclass(frozen=True)
class Readability:
    location: str  # e.g. "item 'pain' text.proxy"
    language: str
    text: str
    measure: str | None
    value: float | None
    note: str


@lru_cache(maxsize=1)
def _english_hyphenator() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


def _english_grade(text: str) -> float:
    words = selections.list_words(text, lowercase=True)
    if not words:
        return 0.0
    hyphenator = _english_hyphenator()
    syllables = sum(len(hyphenator.positions(word)) + 1 for word in words)
    words_per_sentence = float(metrics.words_per_sentence(text))
    return 0.39 * words_per_sentence + 11.8 * syllables / len(words) - 15.59


def measure(text: str, language: str) -> tuple[str | None, float | None, str]:
    """``(measure name, value, how to read it)``; name and value are None when unsupported."""
    root = language.split("-")[0]
    if root not in MEASURES:
        return None, None, f"no readability measure for language '{language}'"
    name, guidance = MEASURES[root]
    if root == "en":
        value = _english_grade(text)
    elif root == "de":
        value = float(metrics.wiener_sachtextformel(text, 1, "de"))
    elif root == "es":
        value = float(metrics.fernandez_huerta(text, "es"))
    else:
        value = float(metrics.flesch_reading_ease(text, root))
    return name, round(value, 1), guidance


def _strings(instrument: Instrument) -> Iterator[tuple[str, LocalizedText]]:
    def wording(location: str, text: Wording) -> Iterator[tuple[str, LocalizedText]]:
        for respondent, localized in text.items():
            yield f"{location}.{respondent}", localized

    yield "title", instrument.title
    yield "description", instrument.description
    yield "recall_period", instrument.recall_period
    for page in instrument.pages:
        yield f"page '{page.id}' title", page.title
        for item in page.items:
            yield from wording(f"item '{item.id}' text", item.text)
            yield from wording(f"item '{item.id}' help", item.help)
            for choice in item.choices:
                yield f"item '{item.id}' choice {choice.value!r}", choice.label
            if item.constraint is not None:
                yield f"item '{item.id}' constraint.message", item.constraint.message


def readability_report(instrument: Instrument) -> list[Readability]:
    """One entry per participant-visible string and language, in file order."""
    report: list[Readability] = []
    for location, localized in _strings(instrument):
        for language, text in localized.items():
            name, value, note = measure(text, language)
            report.append(Readability(location, language, text, name, value, note))
    return report
