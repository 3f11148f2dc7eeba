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
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, TextIO

from app.exports.columns import Column, item_label, label_language, text_in
from app.exports.model import ExportOptions, Record, VersionInfo, utc_iso

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


# ── The same rows, fast ─────────────────────────────────────────────────────────────────────
# A million responses are a hundred million cells: ``cell`` decides each one's formatting
# from its column and value every time. The planners below decide once per column what
# ``cell`` would do (choice codes and labels looked up in a table built by ``cell`` itself),
# keep the per-cell work to a branch and a dict lookup, and fall back to ``cell`` for any
# value they did not plan for, so the output is the same byte for byte
# (tests/exports/test_rows.py compares them on every record and dialect).

_TEXT, _NUMBER, _CODED = 0, 1, 2
_SCALARS: Final = frozenset({str, int, float, bool})  # hashable: may be looked up


def _coded_table(column: Column, options: ExportOptions) -> dict[Any, tuple[type, str]]:
    """Each allowed value's cell text, with its type (a 1 is not a True, nor a '1')."""
    return {code: (type(code), cell(column, code, options)) for code, _label in column.values}


def wide_row_function(
    columns: Sequence[Column], options: ExportOptions
) -> Callable[[Record], list[str]]:
    """``wide_row(columns, record, options)`` as a function of the record alone."""
    plan: list[tuple[int, Callable[[Record], Any] | None, str, Any, Column]] = []
    for column in columns:
        # Item columns other than flags read the answer itself: no getter call per cell.
        item_id = column.item_id if column.source == "item" and column.kind != "flag" else ""
        get = None if item_id else column.get
        if column.values:
            plan.append((_CODED, get, item_id, _coded_table(column, options), column))
        elif column.kind in ("integer", "decimal", "year", "flag"):
            plan.append((_NUMBER, get, item_id, None, column))
        else:
            plan.append((_TEXT, get, item_id, None, column))
    triggers = _TRIGGERS
    decimal = options.decimal

    def row(record: Record) -> list[str]:
        answers = record.answers
        out: list[str] = []
        append = out.append
        for mode, get, item_id, table, column in plan:
            value = get(record) if get is not None else answers.get(item_id)
            if value is None:
                append("")
                continue
            kind = type(value)
            if mode == _CODED:
                hit = table.get(value) if kind in _SCALARS else None
                if hit is not None and hit[0] is kind:
                    append(hit[1])
                    continue
            elif kind is str:
                append("'" + value if value[:1] in triggers else value)
                continue
            elif kind is int:
                append(str(value))
                continue
            elif kind is float and mode == _NUMBER:
                append(number_text(value, decimal))
                continue
            append(cell(column, value, options))
        return out

    return row


def _long_text(item: Any, value: Any, options: ExportOptions, language: str, fallback: str) -> str:
    """One long.csv value cell, as ``long_rows`` writes it."""
    shown: Any = value
    if options.labels == "labels":
        choice = item.choice(value)
        if choice is not None:
            shown = text_in(choice.label, language, fallback)
    if isinstance(shown, bool):
        shown = int(shown)
    if isinstance(shown, int | float):
        return number_text(shown, options.decimal)
    return escape_formula(str(shown))


def long_rows_function(
    version: VersionInfo, options: ExportOptions
) -> Callable[[Record], list[tuple[str, ...]]]:
    """``list(long_rows(record, options))`` for records of one version, as tuples."""
    instrument = version.instrument
    language = label_language(instrument, options)
    fallback = instrument.default_language
    plan = []
    for item in version.answerable_items:
        # Choices are few: their texts are made once. Other values (numbers, free text) are
        # formatted as they come; caching them would grow with the data.
        table = {
            c.value: (type(c.value), _long_text(item, c.value, options, language, fallback))
            for c in item.choices
        }
        plan.append((item.id, item, table))
    key, number = version.key, version.version
    triggers = _TRIGGERS
    decimal = options.decimal

    def rows(record: Record) -> list[tuple[str, ...]]:
        answers = record.answers
        participant, site = record.participant, record.site
        head = (
            record.response_id,
            "'" + participant if participant[:1] in triggers else participant,
            "'" + site if site[:1] in triggers else site,
            key,
            number,
            utc_iso(record.finished_at),
        )
        out: list[tuple[str, ...]] = []
        for item_id, item, table in plan:
            answer = answers.get(item_id)
            if answer is None:
                continue
            for value in answer if type(answer) is list else (answer,):
                kind = type(value)
                hit = table.get(value) if table and kind in _SCALARS else None
                if hit is not None and hit[0] is kind:
                    text = hit[1]
                elif kind is int:
                    text = str(value)
                elif kind is str and not table:
                    text = "'" + value if value[:1] in triggers else value
                elif kind is float:
                    text = number_text(value, decimal)
                else:
                    text = _long_text(item, value, options, language, fallback)
                out.append((*head, item_id, text))
        return out

    return rows


__all__ = [
    "cell",
    "escape_formula",
    "item_label",
    "long_rows",
    "long_rows_function",
    "wide_row",
    "wide_row_function",
]
