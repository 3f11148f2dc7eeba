"""Instruments in and out of Chorus: FHIR R4 Questionnaire export, FHIR and XLSForm import.

Plain Python (no Flask, no database), like the instrument engine it maps to and from.
Public API:

* :func:`app.interop.fhir_export.instrument_to_questionnaire` — an instrument version as a FHIR
  R4 Questionnaire dict (stable; the data exports call it).
"""
