"""Reading-level measures for every participant-visible string of an instrument.

Which measure depends on the language, because readability formulas are calibrated per
language (#11): English gets the Flesch-Kincaid grade; German the Wiener Sachtextformel (a school
grade); Spanish the Szigriszt-Pazos perspicuity (the Flesch adaptation Spanish studies use;
Fernandez-Huerta's reading ease is in ``SECOND_MEASURES``); French the Kandel-Moles reading ease
(207 - 1.015 words/sentence - 73.6 syllables/word, textstat's French Flesch); Italian
Flesch-Vacca and Dutch Flesch-Douma. Any other language gets LIX, which counts long words and
needs no syllables, rather than a misleading English score.

A string shorter than ``MIN_WORDS`` words is not scored: the formulas are averages over
sentences and words, and a one-word label gave nonsense (French -14.8, Spanish 145.8).

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
    "es": ("Szigriszt-Pazos perspicuity", "0-100; higher is easier; aim for 65 or above"),
    "fr": ("Kandel-Moles reading ease", "0-100; higher is easier; aim for 70 or above"),
    "it": ("Flesch-Vacca reading ease", "0-100; higher is easier; aim for 70 or above"),
    "nl": ("Flesch-Douma reading ease", "0-100; higher is easier; aim for 70 or above"),
}
# Any other language: LIX (Bjornsson), words per sentence + percentage of words over six letters.
LIX = ("LIX", "higher is harder; below 40 is easy, above 50 hard")
# Other well-known measures for a language, for callers that want a second opinion.
SECOND_MEASURES = {
    "de": ("Amstad reading ease", "0-100; higher is easier; aim for 70 or above"),
    "es": ("Fernandez-Huerta reading ease", "0-100; higher is easier; aim for 70 or above"),
}
# Fewer words than this and no formula says anything meaningful.
MIN_WORDS = 5


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


def word_count(text: str) -> int:
    return len(selections.list_words(text, lowercase=True))


def measure(text: str, language: str) -> tuple[str | None, float | None, str]:
    """``(measure name, value, how to read it)``; the value is None when the text is too short
    to score (the note says so). Same signature as before #11 (helpers such as the co-design
    workspace call it)."""
    root = language.split("-")[0]
    name, guidance = MEASURES.get(root, LIX)
    words = word_count(text)
    if words < MIN_WORDS:
        counted = "1 word" if words == 1 else f"{words} words"
        return name, None, f"too short to score ({counted}; a formula needs {MIN_WORDS} or more)"
    if root == "en":
        value = _english_grade(text)
    elif root == "de":
        value = float(metrics.wiener_sachtextformel(text, 1, "de"))
    elif root == "es":
        value = float(metrics.szigriszt_pazos(text, "es"))
    elif root in MEASURES:
        # textstat's language-specific Flesch constants: Kandel-Moles (fr), Vacca (it), Douma (nl)
        value = float(metrics.flesch_reading_ease(text, root))
    else:
        value = float(metrics.lix(text))
    return name, round(value, 1), guidance


def second_measure(text: str, language: str) -> tuple[str, float | None, str] | None:
    """The language's other well-known measure (Amstad for German, Fernandez-Huerta for
    Spanish), or None where there is none; None as the value when the text is too short."""
    root = language.split("-")[0]
    if root not in SECOND_MEASURES:
        return None
    name, guidance = SECOND_MEASURES[root]
    if word_count(text) < MIN_WORDS:
        return name, None, "too short to score"
    if root == "de":
        value = float(metrics.flesch_reading_ease(text, "de"))  # textstat's German is Amstad
    else:
        value = float(metrics.fernandez_huerta(text, "es"))
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
