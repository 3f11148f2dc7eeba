"""Dataset exports for staff: POST the choices and a secret, receive the ZIP as it is made.

The service checks the role (site coordinators: their own sites, de-identified only), unlocks
the study key with the secret and records the audit events; this view only parses, calls and
streams. Staff session + CSRF, like every staff POST.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, stream_with_context
from flask_smorest import Blueprint
from marshmallow import validate

from app.api import documented_errors
from app.auth import current_staff, staff_required
from app.errors import ChorusError
from app.exports import service as exports
from app.exports.model import FORMATS, ExportOptions, Profile
from app.extensions import db, settings
from app.responses import keys

blp = Blueprint(
    "exports",
    __name__,
    url_prefix="/api/v1/studies/<slug>/exports",
    description="Datasets: streamed, labelled, de-identified exports",
)
_document = documented_errors(
    blp,
    (401, "Not signed in"),
    (
        403,
        "Wrong passphrase or recovery key (audited), a site or identified data your role "
        "may not export, or CSRF token missing",
    ),
    (404, "No such study"),
    (422, "Invalid choices (each field says what was expected)"),
)


class ExportRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    passphrase = ma.fields.String(
        load_only=True,
        metadata={"description": "Your key-holder passphrase (data managers)"},
    )
    recovery_key = ma.fields.String(
        load_only=True, metadata={"description": "The study's recovery key, instead"}
    )
    formats = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(FORMATS)),
        load_default=lambda: ["csv"],
        validate=validate.Length(min=1),
    )
    sites = ma.fields.List(ma.fields.String(), load_default=list)
    instruments = ma.fields.List(
        ma.fields.String(), load_default=list, metadata={"description": "key or key@version"}
    )
    since = ma.fields.Date(
        load_default=None, metadata={"description": "Finished on or after (UTC)"}
    )
    until = ma.fields.Date(
        load_default=None, metadata={"description": "Finished on or before (UTC)"}
    )
    labels = ma.fields.String(load_default="codes", validate=validate.OneOf(["codes", "labels"]))
    language = ma.fields.String(load_default=None, validate=validate.Length(min=2, max=16))
    deidentify = ma.fields.String(
        load_default=None,
        validate=validate.OneOf([p.value for p in Profile]),
        metadata={"description": "Default: none if your role allows identified data, else shifted"},
    )
    delimiter = ma.fields.String(load_default=",", validate=validate.OneOf([",", ";"]))
    decimal = ma.fields.String(load_default=".", validate=validate.OneOf([".", ","]))
    bom = ma.fields.Boolean(load_default=False)

    @ma.validates_schema
    def _one_secret(self, data: dict[str, Any], **kwargs: Any) -> None:
        if bool(data.get("passphrase")) == bool(data.get("recovery_key")):
            raise ma.ValidationError("Give either passphrase or recovery_key.", "passphrase")
        if data["delimiter"] == data["decimal"]:
            raise ma.ValidationError("Must differ from the decimal mark.", "delimiter")


class ExportRecordSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    actor = ma.fields.String(dump_only=True)
    channel = ma.fields.String(dump_only=True)
    parameters = ma.fields.Dict(dump_only=True, metadata={"description": "What was asked for"})
    profile = ma.fields.String(dump_only=True, metadata={"description": "De-identification"})
    status = ma.fields.String(
        dump_only=True,
        metadata={
            "enum": ["running", "completed", "incomplete", "failed"],
            "description": "incomplete: the receiver stopped reading; failed: see failure",
        },
    )
    failure = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"enum": list(exports.FAILURES), "description": "Why a failed export failed"},
    )
    failure_reason = ma.fields.Method(
        "_reason", dump_only=True, allow_none=True, metadata={"type": "string"}
    )
    responses = ma.fields.Integer(dump_only=True)
    progress_done = ma.fields.Integer(
        dump_only=True, metadata={"description": "Responses written (once per pass over them)"}
    )
    progress_total = ma.fields.Integer(dump_only=True)
    zip_bytes = ma.fields.Integer(dump_only=True, allow_none=True)
    manifest_sha256 = ma.fields.String(dump_only=True, allow_none=True)
    started_at = ma.fields.AwareDateTime(dump_only=True)
    finished_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)

    def _reason(self, record: Any) -> str | None:
        return exports.FAILURES.get(record.failure) if record.failure else None


@blp.get("/")
@blp.response(200, ExportRecordSchema(many=True))
@_document()
@staff_required
def list_exports(slug: str) -> list[Any]:
    """Export history of the study, newest first (who, when, what, checksums)."""
    user = current_staff()
    session = db.session()
    study = keys.study_by_slug(session, slug)
    found = exports.history(session, user, study)
    session.commit()
    return found


@blp.get("/<export_id>")
@blp.response(200, ExportRecordSchema)
@_document()
@staff_required
def export_progress(slug: str, export_id: str) -> Any:
    """One export: progress while it streams (updated every few seconds), then its checksum."""
    record = exports.progress_of(db.session(), current_staff(), export_id)
    db.session.commit()
    return record


@blp.post("/")
@blp.arguments(ExportRequestSchema)
@blp.response(200, description="The export ZIP, streamed")
@blp.doc(
    responses={
        "200": {
            "description": "The export ZIP (data, codebook, native files, syntax, FHIR, ODM, "
            "manifest.json with SHA-256 of every file), streamed as it is produced",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "X-Chorus-Export-Id": {
                    "description": "Export id (history and progress)",
                    "schema": {"type": "string"},
                }
            },
        }
    }
)
@_document()
@staff_required
def create_export(payload: dict[str, Any], slug: str) -> Response:
    """Export a study's responses as one ZIP; the audit event is recorded before the first byte."""
    user = current_staff()
    if payload.get("passphrase"):
        credential = keys.HolderCredential("staff", payload["passphrase"], user)
    else:
        credential = keys.HolderCredential("recovery", payload["recovery_key"])
    request = exports.ExportRequest(
        study_slug=slug,
        options=ExportOptions(
            formats=frozenset(payload["formats"]),
            labels=payload["labels"],
            language=payload["language"],
            delimiter=payload["delimiter"],
            decimal=payload["decimal"],
            bom=payload["bom"],
        ),
        profile=Profile(payload["deidentify"]) if payload["deidentify"] else None,
        sites=tuple(payload["sites"]),
        instruments=tuple(payload["instruments"]),
        since=payload["since"],
        until=payload["until"],
    )
    session = db.session()
    try:
        prepared = exports.prepare(
            session,
            user=user,
            credential=credential,
            request=request,
            deid_key=exports.deidentification_key(settings().secret_key),
            channel="api",
        )
    except keys.KeyUnlockFailed:
        session.commit()  # the failed attempt stays on record
        raise
    except ChorusError:
        session.rollback()
        raise
    session.commit()
    response = Response(
        stream_with_context(prepared.chunks(session.commit)), mimetype="application/zip"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{prepared.filename}"'
    response.headers["X-Chorus-Export-Id"] = prepared.export_id
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # proxies pass chunks on as they come
    return response
