"""Submitting a finished questionnaire from a phone. Bearer-authenticated, so CSRF-exempt."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.api import Blueprint
from app.api.parsing import RowId
from app.db import utcnow
from app.device_auth import current_device, device_required
from app.extensions import csrf, db
from app.responses import service as responses

blp = Blueprint(
    "responses", __name__, url_prefix="/api/v1/me/responses", description="Submitting answers"
)
csrf.exempt(blp)


class ResponseSubmitSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    id = ma.fields.UUID(
        required=True,
        metadata={
            "description": "Made by the phone when the questionnaire starts; resending with the same id is safe"
        },
    )
    participant_id = RowId(
        required=True,
        metadata={"description": "Whom the answers are about (yourself or a linked child)"},
    )
    instrument = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    respondent_type = ma.fields.String(
        required=True, validate=validate.OneOf(responses.RESPONDENT_TYPES)
    )
    language = ma.fields.String(required=True, validate=validate.Length(min=2, max=16))
    started_at = ma.fields.AwareDateTime(
        required=True, metadata={"description": "With the phone's UTC offset"}
    )
    finished_at = ma.fields.AwareDateTime(
        required=True, metadata={"description": "With the phone's UTC offset"}
    )
    answers = ma.fields.Dict(keys=ma.fields.String(), required=True)
    hard_to_understand = ma.fields.List(
        ma.fields.String(),
        load_default=list,
        metadata={"description": "Item ids the respondent found hard to understand"},
    )
    occurrence_id = RowId(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The due questionnaire answered (occurrence_id from GET /api/v1/me/due); "
            "omit it and the server picks the one open when the answers were finished"
        },
    )

    @ma.validates_schema
    def _finished_after_started(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["finished_at"] < data["started_at"]:
            raise ma.ValidationError("Must not be before started_at.", "finished_at")


class ReceiptSchema(ma.Schema):
    id = ma.fields.String(dump_only=True, attribute="client_uuid")
    response_id = ma.fields.String(dump_only=True)
    received_at = ma.fields.AwareDateTime(dump_only=True)
    instrument = ma.fields.String(dump_only=True)
    alerts_raised = ma.fields.Integer(dump_only=True)
    occurrence_id = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The due questionnaire this response completed, if any"},
    )
    repeat_of = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "Set when the questionnaire named by occurrence_id was already "
            "answered: the response that answered it. This one is kept and flagged as a repeat."
        },
    )


# One schema instance for every request: webargs would build one from the class per request
# (copying every field), about a tenth of a submission's CPU time.
_SUBMIT_SCHEMA = ResponseSubmitSchema()


@blp.post("/")
@blp.arguments(_SUBMIT_SCHEMA)
@blp.response(
    201, ReceiptSchema, description="Stored (or, for an identical resend, the original receipt)"
)
@blp.alt_response(401, description="This phone is not signed in")
@blp.alt_response(403, description="This phone may not answer for that participant")
@blp.alt_response(404, description="No such participant")
@blp.alt_response(409, description="A different response was already sent with this id")
@blp.alt_response(
    422,
    description="Answers missing or invalid (errors name each item), or occurrence_id not a "
    "questionnaire of this participant, instrument and respondent",
)
@device_required
def submit(payload: dict[str, Any]) -> responses.Receipt:
    """Submit answers exactly once: idempotent by the phone's UUID."""
    submission = responses.Submission(
        client_uuid=payload["id"],
        participant_id=payload["participant_id"],
        instrument_key=payload["instrument"],
        instrument_version=payload["version"],
        respondent_type=payload["respondent_type"],
        language=payload["language"],
        started_at=payload["started_at"],
        finished_at=payload["finished_at"],
        answers=payload["answers"],
        hard_to_understand=tuple(payload["hard_to_understand"]),
        occurrence_id=payload["occurrence_id"],
    )
    receipt = responses.submit(db.session(), current_device(), submission, now=utcnow())
    db.session.commit()
    return receipt
