"""Uploaded files into instrument YAML: the single entry point for every file format.

An importer takes the file's bytes and name and returns ``(yaml_text, report)``: the instrument
as an ``instruments/`` file plus what the conversion wants a person to know (a list of notes,
one note, or None; each shown as text). The draft is then
made from the YAML exactly as from an uploaded ``.yaml`` file, so every format gets the same
check. XLSForm and FHIR Questionnaire importers (issue #16) register here by file suffix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, Final

from app.errors import Invalid

Importer = Callable[[bytes, str], tuple[str, Any]]

MAX_UPLOAD_BYTES: Final = 2 * 1024 * 1024


def _yaml(data: bytes, filename: str) -> tuple[str, list[str]]:
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        raise Invalid(
            f"{filename} is not UTF-8 text (byte {error.start + 1}); save it as UTF-8.",
            errors={"file": [f"not UTF-8 text at byte {error.start + 1}"]},
        ) from error


IMPORTERS: dict[str, Importer] = {".yaml": _yaml, ".yml": _yaml}


def register(suffix: str, importer: Importer) -> None:
    """Make ``importer`` handle uploads whose name ends in ``suffix`` (e.g. ``.xlsx``)."""
    IMPORTERS[suffix.lower()] = importer


def _notes(report: Any) -> tuple[str, ...]:
    if report is None:
        return ()
    if isinstance(report, list | tuple):
        return tuple(str(note) for note in report)
    return (str(report),)


def to_instrument_yaml(data: bytes, filename: str) -> tuple[str, tuple[str, ...]]:
    """``(yaml_text, notes)`` for an uploaded file, by its suffix."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid(
            f"{filename} is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB.",
            errors={"file": ["file too large"]},
        )
    suffix = PurePosixPath(filename).suffix.lower()
    importer = IMPORTERS.get(suffix)
    if importer is None:
        known = ", ".join(sorted(IMPORTERS))
        raise Invalid(
            f"{filename}: files ending in '{suffix or '(nothing)'}' cannot be read; use {known}.",
            errors={"file": [f"unsupported file type '{suffix}'"]},
        )
    yaml_text, report = importer(data, filename)
    return yaml_text, _notes(report)


def _interop(source_format: str) -> Importer:
    """An XLSForm or FHIR Questionnaire file through ``app.interop`` (issue #16): the YAML it
    makes and its report's lines (what was mapped, changed or left out, per item)."""

    def read(data: bytes, filename: str) -> tuple[str, list[str]]:
        from app.interop import InteropError, import_instrument

        try:
            yaml_text, report = import_instrument(data, source_format, source_name=filename)
        except InteropError as error:
            raise Invalid(f"{filename}: {error}", errors={"file": [str(error)]}) from error
        return yaml_text, report.lines()

    return read


for _suffix, _format in ((".xlsx", "xlsform"), (".xls", "xlsform"), (".json", "fhir")):
    register(_suffix, _interop(_format))
