"""Wide CSV per instrument version and long.csv (one row per answer).

Dialect: comma or semicolon between cells, a point or comma as decimal mark, optional UTF-8
byte-order mark (Excel needs it to read UTF-8). Codes or labels (labels in the chosen language).

Formula injection (CWE-1236): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is written with a leading apostrophe (OWASP's advice), so a spreadsheet shows
it as text instead of running it. Numbers Chorus writes itself (scores, ratings, negative
integers) are never altered; only text, which may come from a participant, is.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from typing import Any, Final, TextIO

from app.exports.columns import Column, item_label, label_language, text_in
from app.exports.model import ExportOptions, Record, utc_iso

FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")


_TRIGGERS: Final = frozenset(FORMULA_TRIGGERS)


def escape_formula(text: str) -> str:
    return "'" + text if text[:1] in _TRIGGERS else text


def number_text(value: int | float, decimal: str) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is bool:
        return "1" if value else "0"
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace(".", decimal) if decimal != "." else text


def cell(column: Column, value: Any, options: ExportOptions) -> str:
    if value is None:
        return ""
    kind = type(value)
    if kind is str and not column.values:  # most cells: metadata and text
        return escape_formula(value) if value else value
    if kind is int and not column.values:
        return str(value)
    if options.labels == "labels" and column.values:
        for code, label in column.values:
            if code == value and type(code) is type(value):
                return escape_formula(label)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value, options.decimal)
    if isinstance(value, bool):
        return "1" if value else "0"
    return escape_formula(str(value))


def writer(out: TextIO, options: ExportOptions) -> Any:
    return csv.writer(out, delimiter=options.delimiter, lineterminator="\r\n")


def wide_row(columns: Sequence[Column], record: Record, options: ExportOptions) -> list[str]:
    return [cell(c, c.get(record), options) for c in columns]


LONG_HEADER: Final = (
    "response_id",
    "participant",
    "site",
    "instrument",
    "version",
    "finished_utc",
    "item",
    "value",
)


def long_rows(record: Record, options: ExportOptions) -> Iterator[list[str]]:
    """One row per answer (per selected choice for multiple choice), in item order."""
    instrument = record.version.instrument
    language = label_language(instrument, options)
    fallback = instrument.default_language
    head = [
        record.response_id,
        escape_formula(record.participant),
        escape_formula(record.site),
        record.version.key,
        record.version.version,
        utc_iso(record.finished_at),
    ]
    for item in record.version.answerable_items:
        answer = record.answers.get(item.id)
        if answer is None:
            continue
        for value in answer if isinstance(answer, list) else [answer]:
            shown: Any = value
            if options.labels == "labels":
                choice = item.choice(value)
                if choice is not None:
                    shown = text_in(choice.label, language, fallback)
            if isinstance(shown, bool):
                shown = int(shown)
            text = (
                number_text(shown, options.decimal)
                if isinstance(shown, int | float)
                else escape_formula(str(shown))
            )
            yield [*head, item.id, text]


__all__ = ["cell", "escape_formula", "item_label", "long_rows", "wide_row"]
