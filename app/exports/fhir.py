"""FHIR R4 bulk-data NDJSON: one Questionnaire per instrument version, one
QuestionnaireResponse per response, and a bulk-data style manifest (FHIR Bulk Data Access
IG, "Complete Status" response body).

Subjects are logical references by identifier (a study-scoped participant code, or the keyed
pseudonym under a de-identification profile): no Patient resource, no server ids.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Final, TextIO

from app.exports.columns import text_in
from app.exports.model import Record, VersionInfo
from app.instruments.model import Instrument, Item, Page
from app.interop import fhir_vocabulary as vocabulary
from app.interop.fhir_export import instrument_to_questionnaire

CHORUS_BASE: Final = vocabulary.CHORUS_BASE  # ".invalid": names, never resolves
QUESTIONNAIRE_BASE: Final = vocabulary.CHORUS_QUESTIONNAIRE


def participant_system(study_slug: str) -> str:
    return f"{CHORUS_BASE}study/{study_slug}/participant"


def caregiver_system(study_slug: str) -> str:
    return f"{CHORUS_BASE}study/{study_slug}/caregiver"


def questionnaire_url(version: VersionInfo) -> str:
    return QUESTIONNAIRE_BASE + version.key


def questionnaire_for(version: VersionInfo) -> dict[str, Any]:
    """The Questionnaire resource of an instrument version: the instrument exporter of
    app/interop (issue #16), so a dataset and an instrument export describe it identically."""
    return instrument_to_questionnaire(version.instrument)


def page_link_id(page: Page, item_ids: set[str]) -> str:
    """The page group's linkId, as app.interop.fhir_export names it (pages and items share
    one linkId namespace; a page named like an item gets a suffix)."""
    return page.id if page.id not in item_ids else f"{page.id}.page"


def _fhir_id(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text)
    return cleaned[:64]


def _fhir_datetime(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    return str(value)  # a year under the year profile: FHIR dateTime allows "2026"


def _answer(item: Item, value: Any, lang: str) -> list[dict[str, Any]]:
    if item.type in ("single_choice", "multiple_choice"):
        out = []
        for v in value if isinstance(value, list) else [value]:
            choice = item.choice(v)
            coding: dict[str, Any] = {"code": str(v)}
            if choice is not None:
                coding["display"] = text_in(choice.label, lang, lang)
            out.append({"valueCoding": coding})
        return out
    if item.type in ("rating_0_10", "vas_0_100", "integer"):
        return [{"valueInteger": int(value)}]
    if item.type == "decimal":
        return [{"valueDecimal": value}]
    if item.type == "yes_no":
        return [{"valueBoolean": bool(value)}]
    if item.type == "date":
        return [{"valueDate": str(value)}]
    if item.type == "time":
        return [{"valueTime": f"{value}:00" if len(str(value)) == 5 else str(value)}]
    return [{"valueString": str(value)}]


def questionnaire_response(record: Record, study_slug: str) -> dict[str, Any]:
    instrument: Instrument = record.version.instrument
    lang = (
        record.language if record.language in instrument.languages else instrument.default_language
    )
    pages = []
    item_ids = {item.id for item in instrument.items}
    for page in instrument.pages:
        answered = [
            {"linkId": item.id, "answer": _answer(item, record.answers[item.id], lang)}
            for item in page.items
            if item.answerable and record.answers.get(item.id) not in (None, [])
        ]
        if answered:
            pages.append({"linkId": page_link_id(page, item_ids), "item": answered})
    subject = {
        "type": "Patient",
        "identifier": {"system": participant_system(study_slug), "value": record.participant},
    }
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": _fhir_id(record.response_id),
        "questionnaire": f"{questionnaire_url(record.version)}|{record.version.version}",
        "status": "completed",
        "subject": subject,
        "authored": _fhir_datetime(record.finished_at),
        "language": record.language,
    }
    if record.answered_by:
        resource["author"] = {
            "type": "RelatedPerson",
            "identifier": {"system": caregiver_system(study_slug), "value": record.answered_by},
        }
        resource["source"] = resource["author"]
    else:
        resource["author"] = subject
        resource["source"] = subject
    if pages:
        resource["item"] = pages
    return resource


def write_questionnaires(out: TextIO, versions: Sequence[VersionInfo]) -> int:
    for version in versions:
        out.write(json.dumps(questionnaire_for(version), ensure_ascii=False) + "\n")
    return len(versions)


def response_line(record: Record, study_slug: str) -> str:
    return json.dumps(questionnaire_response(record, study_slug), ensure_ascii=False) + "\n"


def bulk_manifest(
    transaction_time: dt.datetime, request: str, outputs: list[tuple[str, str, int]]
) -> dict[str, Any]:
    return {
        "transactionTime": transaction_time.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "request": request,
        "requiresAccessToken": False,
        "output": [{"type": t, "url": url, "count": n} for t, url, n in outputs],
        "error": [],
    }
