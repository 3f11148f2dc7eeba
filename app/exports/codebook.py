"""codebook.csv and codebook.html: every column of every data file with its label, type,
allowed values and their labels, unit, instrument and version, and scoring rule."""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from typing import Any, Final, TextIO

from app.exports.columns import Column
from app.exports.csv_format import LONG_HEADER, escape_formula
from app.exports.model import ExportOptions, VersionInfo

HEADER: Final = (
    "file",
    "column",
    "label",
    "type",
    "values",
    "numeric_codes",
    "unit",
    "instrument",
    "version",
    "content_hash",
    "source",
    "scoring_rule",
)
LONG_LABELS: Final = {
    "response_id": "Response id",
    "participant": "Participant code or pseudonym",
    "site": "Site code",
    "instrument": "Instrument",
    "version": "Instrument version",
    "finished_utc": "Finished (UTC)",
    "item": "Item id",
    "value": "Answer (code or label; one row per selected choice)",
}
VALUE_SEPARATOR: Final = " | "


def values_text(column: Column) -> str:
    return VALUE_SEPARATOR.join(f"{code}={label}" for code, label in column.values)


def numeric_codes_text(column: Column) -> str:
    if not column.string_codes:
        return ""
    return VALUE_SEPARATOR.join(f"{code}={number}" for code, number in column.numeric_codes.items())


def rows(
    tables: Sequence[tuple[VersionInfo, str, Sequence[Column]]], include_long: bool
) -> list[list[str]]:
    out: list[list[str]] = []
    for version, path, columns in tables:
        for c in columns:
            out.append(
                [
                    path,
                    c.name,
                    c.label,
                    c.kind,
                    values_text(c),
                    numeric_codes_text(c),
                    c.unit,
                    version.key,
                    version.version,
                    version.content_hash,
                    c.source,
                    c.scoring_rule,
                ]
            )
    if include_long:
        kinds = {"finished_utc": "datetime"}
        for name in LONG_HEADER:
            label = LONG_LABELS[name]
            out.append(["data/long.csv", name, label, kinds.get(name, "string"), *[""] * 8])
    return out


def write_csv(out: TextIO, table: list[list[str]], options: ExportOptions) -> None:
    writer = csv.writer(out, delimiter=options.delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in table:
        writer.writerow([escape_formula(v) for v in row])


def write_html(out: TextIO, table: list[list[str]], study_name: str, meta: dict[str, Any]) -> None:
    e = html.escape
    out.write(
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Codebook: {e(study_name)}</title>\n"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;line-height:1.4}"
        "table{border-collapse:collapse;margin-bottom:2rem}th,td{border:1px solid #888;"
        "padding:.3rem .5rem;vertical-align:top;text-align:left}caption{font-weight:bold;"
        "text-align:left;padding:.5rem 0}ul{margin:0;padding-left:1.2rem}</style>\n"
        "</head>\n<body>\n<main>\n"
        f"<h1>Codebook: {e(study_name)}</h1>\n<dl>\n"
    )
    for key, value in meta.items():
        out.write(f"<dt>{e(str(key))}</dt><dd>{e(str(value))}</dd>\n")
    out.write("</dl>\n")
    by_file: dict[str, list[list[str]]] = {}
    for row in table:
        by_file.setdefault(row[0], []).append(row)
    for path, file_rows in by_file.items():
        first = file_rows[0]
        caption = f"{path}" + (f" — {first[7]} {first[8]}" if first[7] else "")
        out.write(f"<table>\n<caption>{e(caption)}</caption>\n<thead><tr>")
        for head in ("Column", "Label", "Type", "Values", "Unit", "Scoring rule"):
            out.write(f'<th scope="col">{head}</th>')
        out.write("</tr></thead>\n<tbody>\n")
        for row in file_rows:
            values = row[4].split(VALUE_SEPARATOR) if row[4] else []
            listed = (
                "<ul>" + "".join(f"<li>{e(v)}</li>" for v in values) + "</ul>" if values else ""
            )
            out.write(
                f'<tr><th scope="row"><code>{e(row[1])}</code></th><td>{e(row[2])}</td>'
                f"<td>{e(row[3])}</td><td>{listed}</td><td>{e(row[6])}</td><td>{e(row[11])}</td></tr>\n"
            )
        out.write("</tbody>\n</table>\n")
    out.write("</main>\n</body>\n</html>\n")
