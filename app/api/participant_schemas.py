"""Schemas for participants, caregivers, invitations and devices, named after what they carry.

Staff and phones get different classes: a phone never sees site or enrolment details, staff
never see a token after the one response that hands it out.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.api.parsing import RowId
from app.api.schemas import StrictSchema
from app.participants.models import AgeBand
from app.participants.service import (
    CAREGIVER_ROLES,
    DEFAULT_INVITATION_DAYS,
    MAX_INVITATION_DAYS,
)

# ── Staff ─────────────────────────────────────────────────────────────────────────────────


class ParticipantEnrolSchema(StrictSchema):
    """Give `date_of_birth` or `age_band`; a date of birth only sets the age band and is not stored."""

    site = ma.fields.String(required=True, metadata={"description": "Site code, e.g. LYON"})
    code = ma.fields.String(
        required=True, metadata={"description": "Pseudonymous study code, e.g. LYON-0042"}
    )
    time_zone = ma.fields.String(
        required=True, metadata={"description": "IANA time zone, e.g. Europe/Paris"}
    )
    language = ma.fields.String(required=True, metadata={"description": "BCP 47, e.g. fr"})
    date_of_birth = ma.fields.Date(load_default=None, load_only=True)
    age_band = ma.fields.String(
        load_default=None, validate=validate.OneOf([b.value for b in AgeBand])
    )
    arm = ma.fields.String(load_default=None, validate=validate.Length(max=64))
    nickname = ma.fields.String(load_default=None, validate=validate.Length(max=40))
    colour = ma.fields.String(load_default=None, metadata={"description": "e.g. #1f77b4"})


class ReminderPauseSchema(ma.Schema):
    starts_on = ma.fields.Date(dump_only=True)
    ends_on = ma.fields.Date(dump_only=True)
    reason = ma.fields.String(dump_only=True)


class ParticipantSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(dump_only=True)
    site = ma.fields.Function(lambda p: p.site.code, dump_only=True)
    time_zone = ma.fields.String(dump_only=True)
    language = ma.fields.String(dump_only=True)
    age_band = ma.fields.String(dump_only=True)
    arm = ma.fields.String(dump_only=True, allow_none=True)
    nickname = ma.fields.String(dump_only=True, allow_none=True)
    colour = ma.fields.String(dump_only=True, allow_none=True)
    status = ma.fields.String(dump_only=True)
    paused_until = ma.fields.Date(dump_only=True, allow_none=True)
    enrolled_at = ma.fields.DateTime(dump_only=True)
    withdrawn_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    reminder_pause = ma.fields.Nested(
        ReminderPauseSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The participant's own reminder pause covering today (list only)"},
    )


class ParticipantListQuerySchema(StrictSchema):
    site = ma.fields.String(load_default=None, metadata={"description": "Only this site (code)"})


class InvitationCreateSchema(StrictSchema):
    valid_for_days = ma.fields.Integer(
        load_default=DEFAULT_INVITATION_DAYS,
        validate=validate.Range(min=1, max=MAX_INVITATION_DAYS),
    )


class IssuedInvitationSchema(ma.Schema):
    """Shown once: only hashes are stored, so a lost link or code means a new invitation."""

    link = ma.fields.String(
        dump_only=True,
        metadata={"description": "Open on the phone; the secret is in the #fragment"},
    )
    code = ma.fields.String(
        dump_only=True, metadata={"description": "To type instead: 10 characters, ABCD-EFGH-JK"}
    )
    expires_at = ma.fields.DateTime(dump_only=True)


class InvitationQrSchema(StrictSchema):
    link = ma.fields.String(
        required=True,
        validate=validate.Length(max=2000),
        metadata={"description": "The link from the invitation response"},
    )


class PauseSchema(StrictSchema):
    until = ma.fields.Date(
        load_default=None, metadata={"description": "Last paused day; null: until resumed"}
    )
    reason = ma.fields.String(load_default=None, validate=validate.Length(max=500))


class ReasonSchema(StrictSchema):
    reason = ma.fields.String(load_default=None, validate=validate.Length(max=500))


class CaregiverCreateSchema(StrictSchema):
    language = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    caregiver_role = ma.fields.String(required=True, validate=validate.OneOf(CAREGIVER_ROLES))
    display_name = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=80),
        metadata={"description": "Optional; how the study team refers to them"},
    )


class CaregiverLinkCreateSchema(StrictSchema):
    caregiver_role = ma.fields.String(required=True, validate=validate.OneOf(CAREGIVER_ROLES))


class CaregiverLinkSchema(ma.Schema):
    caregiver_id = ma.fields.Integer(dump_only=True)
    caregiver_role = ma.fields.String(dump_only=True)
    display_name = ma.fields.Function(lambda link: link.caregiver.display_name, dump_only=True)
    language = ma.fields.Function(lambda link: link.caregiver.language, dump_only=True)
    time_zone = ma.fields.Function(lambda link: link.caregiver.time_zone, dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


def _holder(device: Any) -> str:
    return "participant" if device.participant_id is not None else "caregiver"


class DeviceSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    holder = ma.fields.Function(
        _holder, dump_only=True, metadata={"enum": ["participant", "caregiver"]}
    )
    caregiver_id = ma.fields.Integer(dump_only=True, allow_none=True)
    label = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    last_seen_at = ma.fields.DateTime(dump_only=True)
    revoked_at = ma.fields.DateTime(dump_only=True, allow_none=True)


# ── Phones ────────────────────────────────────────────────────────────────────────────────


class RedeemSchema(StrictSchema):
    """Send `token` (from the link's #join= fragment) or `code` (typed), not both."""

    token = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    code = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    device_label = ma.fields.String(load_default=None, validate=validate.Length(max=80))

    @ma.validates_schema
    def _one_secret(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("token") is None) == (data.get("code") is None):
            raise ma.ValidationError("Send the invitation code or the link token.", "code")


class DeviceCredentialSchema(ma.Schema):
    """Shown once. Send as `Authorization: Bearer <device_token>` on every /api/v1/me request."""

    device_token = ma.fields.String(dump_only=True)
    device_id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"enum": ["participant", "caregiver"]})
    me = ma.fields.Nested(
        "MeSchema",
        dump_only=True,
        metadata={"description": "What `GET /api/v1/me` answers with this token"},
    )
    due = ma.fields.Nested(
        "DueSchema",
        dump_only=True,
        metadata={"description": "What `GET /api/v1/me/due` answers with this token, now"},
    )


class PersonSchema(ma.Schema):
    """Someone this phone answers for. `respondent` picks the wording (self or proxy);
    `answered_by` is what a response records (self, parent, other_caregiver)."""

    participant_id = ma.fields.Function(lambda p: p.participant.id, dump_only=True)
    study = ma.fields.Function(lambda p: p.participant.study.slug, dump_only=True)
    nickname = ma.fields.Function(lambda p: p.participant.nickname, dump_only=True)
    colour = ma.fields.Function(lambda p: p.participant.colour, dump_only=True)
    time_zone = ma.fields.Function(
        lambda p: p.participant.time_zone,
        dump_only=True,
        metadata={"description": "The person's own time zone: their questionnaires open in it"},
    )
    age_band = ma.fields.Function(lambda p: p.participant.age_band, dump_only=True)
    status = ma.fields.Function(lambda p: p.participant.status, dump_only=True)
    respondent = ma.fields.Function(
        lambda p: str(p.respondent), dump_only=True, metadata={"enum": ["self", "proxy"]}
    )
    caregiver_role = ma.fields.String(dump_only=True, allow_none=True)
    answered_by = ma.fields.String(dump_only=True)


class MeSchema(ma.Schema):
    kind = ma.fields.String(dump_only=True, metadata={"enum": ["participant", "caregiver"]})
    language = ma.fields.String(dump_only=True)
    time_zone = ma.fields.String(dump_only=True)
    device_id = ma.fields.Integer(dump_only=True)
    device_label = ma.fields.String(dump_only=True)
    people = ma.fields.List(ma.fields.Nested(PersonSchema), dump_only=True)


class DueInstrumentSchema(ma.Schema):
    key = ma.fields.String(dump_only=True)
    version = ma.fields.String(dump_only=True)
    title = ma.fields.String(dump_only=True)
    language = ma.fields.String(dump_only=True)
    respondent = ma.fields.String(dump_only=True)
    status = ma.fields.String(
        dump_only=True,
        metadata={
            "enum": ["open", "upcoming", "available"],
            "description": "open: answer now; upcoming: the next one, opens at opens_at; "
            "available: no schedule, answer any time",
        },
    )
    upcoming = ma.fields.Boolean(dump_only=True, metadata={"description": "status == upcoming"})
    occurrence_id = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Send with the answers; null for unscheduled instruments"},
    )
    opens_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    closes_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)


class PersonDueSchema(PersonSchema):
    instruments = ma.fields.List(ma.fields.Nested(DueInstrumentSchema), dump_only=True)


class DueSchema(ma.Schema):
    people = ma.fields.List(ma.fields.Nested(PersonDueSchema), dump_only=True)


class RenderedInstrumentQuerySchema(StrictSchema):
    for_ = RowId(
        required=True,
        data_key="for",
        metadata={"description": "The participant answered for (an id from GET /api/v1/me)"},
    )


class RenderedInstrumentSchema(ma.Schema):
    """The instrument as the phone shows it (see app/instruments/rendering.py)."""

    class Meta:
        unknown = ma.INCLUDE

    id = ma.fields.String(dump_only=True)
    version = ma.fields.String(dump_only=True)
    content_hash = ma.fields.String(dump_only=True)
    language = ma.fields.String(dump_only=True)
    respondent = ma.fields.String(dump_only=True)
    title = ma.fields.String(dump_only=True)
    description = ma.fields.String(dump_only=True, allow_none=True)
    recall_period = ma.fields.String(dump_only=True, allow_none=True)
    estimated_minutes = ma.fields.Raw(dump_only=True, allow_none=True)
    copyright = ma.fields.String(dump_only=True, allow_none=True)
    pages = ma.fields.List(ma.fields.Dict(), dump_only=True)
    scores = ma.fields.List(
        ma.fields.Dict(),
        dump_only=True,
        metadata={"description": "How each score is computed, for the phone's own trend chart"},
    )
    safety = ma.fields.List(
        ma.fields.Dict(),
        dump_only=True,
        metadata={
            "description": "Alert rules with a message for the participant ({id, when, message, "
            "language}): the phone evaluates `when` over the answers and its scores and shows "
            "the message on the thank-you screen, online or not"
        },
    )
    safety_contacts = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The site's or study's help contacts in the reader's language"},
    )
    participant_id = ma.fields.Integer(dump_only=True)
    answered_by = ma.fields.String(dump_only=True)
