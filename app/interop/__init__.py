"""Instruments in and out of Chorus: FHIR R4 Questionnaire export, FHIR and XLSForm import.

Plain Python (no Flask, no database), like the instrument engine it maps to and from.
Public API:

* :func:`app.interop.fhir_export.instrument_to_questionnaire` — an instrument version as a FHIR
  R4 Questionnaire dict (stable; the data exports call it).
* :func:`import_instrument` — a file (path or bytes) in ``xlsform`` or ``fhir`` format as
  ``(yaml_text, ImportReport)``; the YAML passes ``chorus instruments check``. Raises
  :class:`~app.interop.report.InteropError` when the file cannot be imported at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from app.interop.report import ImportReport, InteropError

SOURCE_FORMATS: Final = ("xlsform", "fhir")


def import_instrument(
    source: str | Path | bytes,
    source_format: str,
    *,
    instrument_id: str | None = None,
    source_name: str | None = None,
) -> tuple[str, ImportReport]:
    """Import ``source`` (a path, or an upload's bytes named ``source_name``) as a draft."""
    if source_format == "fhir":
        from app.interop.fhir_import import import_fhir

        return import_fhir(source, instrument_id=instrument_id, source_name=source_name)
    if source_format == "xlsform":
        from app.interop.xlsform_import import import_xlsform

        return import_xlsform(source, instrument_id=instrument_id, source_name=source_name)
    raise InteropError(
        f"unknown source format {source_format!r}; use one of {', '.join(SOURCE_FORMATS)}"
    )


__all__ = ["SOURCE_FORMATS", "ImportReport", "InteropError", "import_instrument"]
