"""FHIR R4 bulk-data NDJSON: one Questionnaire per instrument version, one
QuestionnaireResponse per response, and a bulk-data style manifest (FHIR Bulk Data Access
IG, "Complete Status" response body).

Subjects are logical references by identifier (a study-scoped participant code, or the keyed
pseudonym under a de-identification profile): no Patient resource, no server ids.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, TextIO

from app.exports.columns import text_in
from app.exports.model import Progress, Record, VersionInfo
from app.instruments.model import Instrument, Item

# Same base as the instrument exporter in app/interop (".invalid" names, never resolves).
CHORUS_BASE: Final = "http://chorus.invalid/fhir/"
QUESTIONNAIRE_BASE: Final = CHORUS_BASE + "Questionnaire/"


def participant_system(study_slug: str) -> str:
    return f"{CHORUS_BASE}study/{study_slug}/participant"


def caregiver_system(study_slug: str) -> str:
    return f"{CHORUS_BASE}study/{study_slug}/caregiver"


def questionnaire_url(version: VersionInfo) -> str:
    return QUESTIONNAIRE_BASE + version.key


def questionnaire_for(version: VersionInfo) -> dict[str, Any]:
    """The Questionnaire resource of an instrument version.

    ADAPTER POINT: the instrument -> FHIR Questionnaire mapping belongs to app/interop
    (issue #16, ``app.interop.fhir_export.instrument_to_questionnaire``). Until that module is
    merged this writes a minimal equivalent with the same url, linkIds and page groups, so the
    QuestionnaireResponses below stay valid either way; the lead switches this one function.
    """
    instrument = version.instrument
    lang = instrument.default_language
    return {
        "resourceType": "Questionnaire",
        "id": _fhir_id(version.stem),
        "url": questionnaire_url(version),
        "version": version.version,
        "identifier": [{"system": CHORUS_BASE + "content-hash", "value": version.content_hash}],
        "name": _fhir_name(version.key),
        "title": text_in(instrument.title, lang, lang),
        "status": "active",
        "language": lang,
        "subjectType": ["Patient"],
        "item": [
            {
                "linkId": page.id,
                "type": "group",
                **({"text": text_in(page.title, lang, lang)} if page.title else {}),
                "item": [_questionnaire_item(item, lang) for item in page.items],
            }
            for page in instrument.pages
        ],
    }


_TYPES: Final = {
    "single_choice": "choice",
    "multiple_choice": "choice",
    "rating_0_10": "integer",
    "vas_0_100": "integer",
    "integer": "integer",
    "decimal": "decimal",
    "yes_no": "boolean",
    "date": "date",
    "time": "time",
    "short_text": "string",
    "long_text": "text",
    "display": "display",
}


def _questionnaire_item(item: Item, lang: str) -> dict[str, Any]:
    wording = item.text.get("self") or item.text.get("proxy") or {}
    out: dict[str, Any] = {
        "linkId": item.id,
        "text": text_in(wording, lang, lang),
        "type": _TYPES[item.type],
    }
    if item.required:
        out["required"] = True
    if item.type == "multiple_choice":
        out["repeats"] = True
    if item.choices:
        out["answerOption"] = [
            {"valueCoding": {"code": str(c.value), "display": text_in(c.label, lang, lang)}}
            for c in item.choices
        ]
    return out


def _fhir_id(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text)
    return cleaned[:64]


def _fhir_name(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in text)
    return cleaned if cleaned[:1].isalpha() else "Q" + cleaned


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
    for page in instrument.pages:
        answered = [
            {"linkId": item.id, "answer": _answer(item, record.answers[item.id], lang)}
            for item in page.items
            if item.answerable and record.answers.get(item.id) not in (None, [])
        ]
        if answered:
            pages.append({"linkId": page.id, "item": answered})
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


def write_responses(
    out: TextIO, records: Iterable[Record], study_slug: str, progress: Progress, counter: list[int]
) -> Iterator[None]:
    for record in records:
        out.write(json.dumps(questionnaire_response(record, study_slug), ensure_ascii=False) + "\n")
        counter[0] += 1
        progress.step()
        yield


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
