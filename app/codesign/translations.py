"""Translations of a draft: how complete each language is, which are stale, and CSV in and out.

A translation remembers the fingerprint (``document.source_hash``) of the source-language text
it was made from. When the source text changes, the fingerprints differ and the translation is
stale until someone edits or confirms it. Translators work in a spreadsheet: the CSV carries
each source text and its fingerprint, so a translation imported later is recorded against the
source it was really made from, and shows as stale if the source moved on meanwhile.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from app.codesign.document import TextSlot, source_hash
from app.codesign.messages import N_

CSV_COLUMNS: Final = ("part", "field", "language", "source_text", "source_hash", "translation")
MAX_TRANSLATION_LENGTH: Final = 4000
MAX_ROWS: Final = 20000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection); such
# cells are written with a leading apostrophe, which the import takes off again.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_HASH: Final = re.compile(r"[0-9a-f]{32}")

# (part, field with its language) -> the source fingerprint recorded with that translation
Recorded = Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class TranslationEntry:
    part: str
    path: str  # the field without its language, e.g. "text.proxy"
    language: str
    source: str
    translation: str | None
    stale: bool

    @property
    def field(self) -> str:
        return f"{self.path}.{self.language}"


@dataclass(frozen=True)
class LanguageStatus:
    language: str
    total: int
    translated: int
    stale: int
    entries: tuple[TranslationEntry, ...] = field(repr=False, default=())

    @property
    def missing(self) -> int:
        return self.total - self.translated

    @property
    def complete_percent(self) -> int:
        """Translated and not stale, as a whole percentage (rounded down: 100 means done)."""
        return 100 if self.total == 0 else (self.translated - self.stale) * 100 // self.total


def is_stale(slot: TextSlot, language: str, default: str, recorded: Recorded) -> bool:
    source = slot.texts.get(default)
    fingerprint = recorded.get((slot.part, slot.field(language)))
    if source is None or language not in slot.texts or fingerprint is None:
        return False
    return fingerprint != source_hash(source)


def status(
    slots: Sequence[TextSlot], languages: Sequence[str], default: str, recorded: Recorded
) -> list[LanguageStatus]:
    """One entry per language other than the source language, in the instrument's order."""
    report = []
    for language in languages:
        if language == default:
            continue
        entries = tuple(
            TranslationEntry(
                slot.part,
                slot.path,
                language,
                slot.texts[default],
                slot.texts.get(language),
                is_stale(slot, language, default, recorded),
            )
            for slot in slots
            if default in slot.texts
        )
        report.append(
            LanguageStatus(
                language,
                len(entries),
                sum(entry.translation is not None for entry in entries),
                sum(entry.stale for entry in entries),
                entries,
            )
        )
    return report


def _cell(text: str | None) -> str:
    text = text or ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def export_csv(entries: Iterable[TranslationEntry]) -> str:
    """UTF-8 CSV text with a byte-order mark, so spreadsheet programs read accents right."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                entry.part,
                entry.path,
                entry.language,
                _cell(entry.source),
                source_hash(entry.source),
                _cell(entry.translation),
            ]
        )
    return out.getvalue()


@dataclass(frozen=True)
class ImportedTranslation:
    row: int
    part: str
    field: str  # with its language
    text: str
    source_hash: str  # the fingerprint of the source the translator saw


def parse_csv(
    text: str, slots: Sequence[TextSlot], languages: Sequence[str], default: str
) -> tuple[list[ImportedTranslation], dict[str, list[str]]]:
    """The rows to apply and the errors by row (``"row 3"``: [...]); rows are numbered as a
    spreadsheet shows them, the header being row 1. Empty translations are skipped."""
    errors: dict[str, list[str]] = {}
    rows: list[ImportedTranslation] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != list(CSV_COLUMNS):
            return [], {
                "row 1": [N_("expected the columns %(columns)s", columns=", ".join(CSV_COLUMNS))]
            }
        known = {(slot.part, slot.path): slot for slot in slots}
        seen: dict[tuple[str, str, str], int] = {}
        for number, raw in enumerate(reader, start=2):
            if number > MAX_ROWS + 1:
                errors[f"row {number}"] = [
                    N_("a file may hold at most %(count)s rows", count=MAX_ROWS)
                ]
                break
            if not any(cell.strip() for cell in raw):
                continue
            problems = _row_problems(raw, known, languages, default)
            if not problems:
                part, path, language = raw[0].strip(), raw[1].strip(), raw[2].strip()
                if (part, path, language) in seen:
                    problems.append(
                        N_(
                            "the same text and language as row %(row)s",
                            row=seen[(part, path, language)],
                        )
                    )
                seen[(part, path, language)] = number
            if problems:
                errors[f"row {number}"] = problems
                continue
            translation = _uncell(raw[5]).strip()
            if translation:
                rows.append(
                    ImportedTranslation(
                        number,
                        raw[0].strip(),
                        f"{raw[1].strip()}.{raw[2].strip()}",
                        translation.replace("\r\n", "\n"),
                        raw[4].strip(),
                    )
                )
    except csv.Error as error:
        errors[f"row {reader.line_num}"] = [N_("not valid CSV: %(reason)s", reason=str(error))]
    return rows, errors


def _row_problems(
    raw: list[str],
    known: Mapping[tuple[str, str], TextSlot],
    languages: Sequence[str],
    default: str,
) -> list[str]:
    if len(raw) != len(CSV_COLUMNS):
        return [
            N_(
                "expected %(wanted)s cells, found %(count)s",
                wanted=len(CSV_COLUMNS),
                count=len(raw),
            )
        ]
    part, path, language, _source, fingerprint, translation = (cell.strip() for cell in raw)
    problems: list[str] = []
    if (part, path) not in known:
        problems.append(N_("no text '%(path)s' in '%(part)s' in this draft", path=path, part=part))
    if language == default:
        problems.append(
            N_(
                "'%(language)s' is the source language; edit source texts in the draft",
                language=language,
            )
        )
    elif language not in languages:
        problems.append(
            N_(
                "language '%(language)s' is not one of the draft's languages (%(languages)s)",
                language=language,
                languages=", ".join(languages),
            )
        )
    if not _HASH.fullmatch(fingerprint):
        problems.append(N_("source_hash: keep the value from the exported file"))
    text = _uncell(translation)
    if len(text) > MAX_TRANSLATION_LENGTH:
        problems.append(
            N_("translation: use at most %(count)s characters", count=MAX_TRANSLATION_LENGTH)
        )
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text):
        problems.append(N_("translation: remove control characters"))
    return problems
