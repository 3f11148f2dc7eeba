"""Syntax that reads a wide CSV with its labels applied: SPSS (.sps, also runs in PSPP),
Stata (.do), R (.R, base R only) and SAS (.sas, with PROC FORMAT).

Run a file from the folder the ZIP was extracted to (paths are relative: ``data/...``). With
``--labels labels`` the CSV already holds label texts, so the syntax reads those columns as
text and applies no value labels. Text cells escaped against formula injection keep their
leading apostrophe (see app/exports/csv_format.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from app.exports.columns import NUMERIC_KINDS, Column
from app.exports.model import ExportOptions, VersionInfo

STRING_WIDTH: Final = 255
WIDE_TEXT: Final = 4000


def _coded(column: Column, options: ExportOptions) -> bool:
    """Read as numbers with value labels (codes mode), else as text."""
    if options.labels == "labels" and column.values:
        return False
    return column.kind in NUMERIC_KINDS or (column.kind == "choice" and not column.string_codes)


def _recoded(column: Column, options: ExportOptions) -> bool:
    """A string choice code turned into its number with value labels by the syntax."""
    return options.labels == "codes" and column.string_codes


def _width(column: Column) -> int:
    return WIDE_TEXT if column.source == "item" and column.kind == "string" else STRING_WIDTH


# ── SPSS / PSPP ─────────────────────────────────────────────────────────────────────────────


def _sps_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def spss(
    version: VersionInfo, csv_path: str, columns: Sequence[Column], options: ExportOptions
) -> str:
    lines = [
        f"* Chorus export: {version.reference} ({version.content_hash}).",
        "* Run from the folder the export ZIP was extracted to.",
        f"SET DECIMAL={'COMMA' if options.decimal == ',' else 'DOT'}.",
        "GET DATA",
        "  /TYPE=TXT",
        f"  /FILE={_sps_quote(csv_path)}",
        "  /ENCODING='UTF-8'",
        "  /ARRANGEMENT=DELIMITED",
        "  /DELCASE=LINE",
        "  /FIRSTCASE=2",
        f"  /DELIMITERS={_sps_quote(options.delimiter)}",
        "  /QUALIFIER='\"'",
        "  /VARIABLES=",
    ]
    for c in columns:
        if _recoded(c, options):
            lines.append(f"    {c.name}_s A{STRING_WIDTH}")
        elif _coded(c, options):
            lines.append(f"    {c.name} {'F12.4' if c.kind == 'decimal' else 'F8.0'}")
        else:
            lines.append(f"    {c.name} A{_width(c)}")
    lines[-1] += "."
    for c in columns:
        if _recoded(c, options):
            pairs = " ".join(f"({_sps_quote(str(v))}={n})" for v, n in c.numeric_codes.items())
            lines.append(f"RECODE {c.name}_s {pairs} INTO {c.name}.")
            lines.append(f"FORMATS {c.name} (F8.0).")
            lines.append(f"DELETE VARIABLES {c.name}_s.")
    lines.append("VARIABLE LABELS")
    lines.append("  " + "\n  /".join(f"{c.name} {_sps_quote(c.label)}" for c in columns) + ".")
    labelled = [c for c in columns if c.values and (_coded(c, options) or _recoded(c, options))]
    if labelled:
        lines.append("VALUE LABELS")
        parts = []
        for c in labelled:
            codes = c.numeric_codes
            pairs = " ".join(f"{codes[v]} {_sps_quote(text)}" for v, text in c.values)
            parts.append(f"{c.name} {pairs}")
        lines.append("  " + "\n  /".join(parts) + ".")
    lines.append("EXECUTE.")
    return "\n".join(lines) + "\n"


# ── Stata ───────────────────────────────────────────────────────────────────────────────────


def _dta_quote(text: str) -> str:
    return '`"' + text.replace('"', "'") + "\"'"


def stata(
    version: VersionInfo, csv_path: str, columns: Sequence[Column], options: ExportOptions
) -> str:
    decimal = ", decimalseparator(,)" if options.decimal == "," else ""
    delimiter = ";" if options.delimiter == ";" else ","
    lines = [
        f"* Chorus export: {version.reference} ({version.content_hash}).",
        "* Run from the folder the export ZIP was extracted to.",
        f'import delimited using "{csv_path}", delimiter("{delimiter}") varnames(1) '
        f"encoding(utf-8) bindquote(strict) case(preserve) stringcols(_all) clear{decimal}",
    ]
    for c in columns:
        if _coded(c, options):
            lines.append(
                f"destring {c.name}, replace" + (" dpcomma" if options.decimal == "," else "")
            )
    for c in columns:
        if _recoded(c, options):
            lines.append(f"rename {c.name} {c.name[:28]}_s")
            lines.append(f"generate {c.name} = .")
            for v, n in c.numeric_codes.items():
                lines.append(f'replace {c.name} = {n} if {c.name[:28]}_s == "{v}"')
            lines.append(f"drop {c.name[:28]}_s")
    for c in columns:
        lines.append(f"label variable {c.name} {_dta_quote(c.label[:80])}")
    for i, c in enumerate(columns):
        if c.values and (_coded(c, options) or _recoded(c, options)):
            codes = c.numeric_codes
            pairs = " ".join(f"{codes[v]} {_dta_quote(t)}" for v, t in c.values)
            lines.append(f"label define lbl{i} {pairs}, replace")
            lines.append(f"label values {c.name} lbl{i}")
    return "\n".join(lines) + "\n"


# ── R ───────────────────────────────────────────────────────────────────────────────────────


def _r_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def r(
    version: VersionInfo, csv_path: str, columns: Sequence[Column], options: ExportOptions
) -> str:
    classes = ", ".join(
        f"{_r_string(c.name)} = {_r_string(('numeric' if c.kind == 'decimal' else 'integer') if _coded(c, options) else 'character')}"
        for c in columns
    )
    lines = [
        f"# Chorus export: {version.reference} ({version.content_hash}).",
        "# Run from the folder the export ZIP was extracted to. Base R only.",
        "chorus <- utils::read.csv(",
        f"  {_r_string(csv_path)},",
        f"  sep = {_r_string(options.delimiter)}, dec = {_r_string(options.decimal)},",
        '  fileEncoding = "UTF-8-BOM", na.strings = "", check.names = FALSE,',
        f"  colClasses = c({classes})",
        ")",
    ]
    for c in columns:
        if c.values and (_coded(c, options) or _recoded(c, options)):
            levels = ", ".join(
                _r_string(str(v)) if _recoded(c, options) else str(v) for v, _ in c.values
            )
            labels = ", ".join(_r_string(t) for _, t in c.values)
            lines.append(
                f"chorus[[{_r_string(c.name)}]] <- factor(chorus[[{_r_string(c.name)}]], "
                f"levels = c({levels}), labels = c({labels}))"
            )
    for c in columns:
        lines.append(f'attr(chorus[[{_r_string(c.name)}]], "label") <- {_r_string(c.label)}')
    return "\n".join(lines) + "\n"


# ── SAS ─────────────────────────────────────────────────────────────────────────────────────


def _sas_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sas(
    version: VersionInfo, csv_path: str, columns: Sequence[Column], options: ExportOptions
) -> str:
    dataset = "chorus_" + "".join(ch if ch.isalnum() else "_" for ch in version.key)[:24]
    formats: list[str] = []
    applied: list[str] = []
    for i, c in enumerate(columns):
        if not c.values or not (_coded(c, options) or _recoded(c, options)):
            continue
        if _recoded(c, options):
            name = f"$cf{i}x"
            pairs = " ".join(f"{_sas_quote(str(v))}={_sas_quote(t)}" for v, t in c.values)
        else:
            name = f"nf{i}x"
            pairs = " ".join(f"{c.numeric_codes[v]}={_sas_quote(t)}" for v, t in c.values)
        formats.append(f"  VALUE {name} {pairs};")
        applied.append(f"{c.name} {name}.")
    numeric = "COMMAX32." if options.decimal == "," else "BEST32."
    informats = " ".join(
        f"{c.name} {numeric if _coded(c, options) else f'${_width(c)}.'}" for c in columns
    )
    lines = [
        f"/* Chorus export: {version.reference} ({version.content_hash}). */",
        "/* Run from the folder the export ZIP was extracted to. */",
        "PROC FORMAT;",
        *formats,
        "RUN;",
        f"DATA work.{dataset};",
        f"  INFILE {_sas_quote(csv_path)} DLM={_sas_quote(options.delimiter)} DSD MISSOVER "
        "FIRSTOBS=2 LRECL=1000000 ENCODING='utf-8';",
        f"  INFORMAT {informats};",
        "  INPUT " + " ".join(c.name + ("" if _coded(c, options) else " $") for c in columns) + ";",
    ]
    if applied:
        lines.append("  FORMAT " + " ".join(applied) + ";")
    lines.append(
        "  LABEL " + " ".join(f"{c.name}={_sas_quote(c.label[:256])}" for c in columns) + ";"
    )
    lines.append("RUN;")
    return "\n".join(lines) + "\n"
