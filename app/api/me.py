"""The participant API: what a phone (participant or caregiver) may see and do.

Authenticated by the device's bearer token (app/device_auth.py), so CSRF-exempt. "Due" comes
from the study's schedules (app/reminders/due.py); an instrument the study assigns without any
schedule is offered every time, as before schedules existed.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import marshmallow as ma
from flask import Response

from app.api import Blueprint
from app.api.parsing import RowId
from app.api.schemas import StrictSchema
from app.db import utcnow
from app.device_auth import current_device, device_required
from app.errors import NotFound
from app.extensions import csrf, db
from app.instruments.model import Instrument
from app.instruments.rendering import render_instrument
from app.library.service import get_version, instrument_of
from app.participants import service as participants
from app.participants.models import Device
from app.reminders import due as due_service
from app.studies.service import safety_contacts_for


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


blp = Blueprint(
    "me",
    __name__,
    url_prefix="/api/v1/me",
    description="For participants' and caregivers' phones (Authorization: Bearer <device token>)",
)
csrf.exempt(blp)


def display_language(instrument: Instrument, wanted: str) -> str:
    """The reader's language if the instrument has it (or its primary subtag), else its default."""
    for candidate in (wanted, wanted.split("-")[0]):
        if candidate in instrument.languages:
            return candidate
    return instrument.default_language


@blp.get("")
@blp.response(200, MeSchema)
@blp.alt_response(401, description="No device token, or the device was revoked")
@device_required
def who_am_i() -> dict[str, Any]:
    """Who this phone belongs to and the people it may answer for (self, or each linked child)."""
    return me_of(current_device())


def me_of(device: Device) -> dict[str, Any]:
    """GET /me's answer for ``device`` (also part of the redeem answer)."""
    holder = device.participant if device.participant_id is not None else device.caregiver
    return {
        "kind": "participant" if device.participant_id is not None else "caregiver",
        "language": holder.language,
        "time_zone": holder.time_zone,
        "device_id": device.id,
        "device_label": device.label,
        "people": participants.people_for_device(db.session(), device),
    }


@blp.get("/due")
@blp.response(200, DueSchema)
@blp.alt_response(401, description="No device token, or the device was revoked")
@device_required
def due() -> dict[str, Any]:
    """For each person, the questionnaires to answer, titled in the reader's language.

    Scheduled instruments appear through their occurrences: each one open now
    (`status` "open", with `occurrence_id`, `opens_at`, `closes_at`), and the next one of each
    schedule that is not open yet (`status` "upcoming", `upcoming` true) for a "soon" list.
    Instruments the study asks for without a schedule are always available (`status`
    "available", `occurrence_id` null). Send `occurrence_id` with the answers."""
    return due_of(current_device())


def due_of(device: Device) -> dict[str, Any]:
    """GET /me/due's answer for ``device`` (also part of the redeem answer); commits when it
    had to plan occurrences first."""
    session = db.session()
    language = participants.holder_language(device)
    now = utcnow()
    people = participants.people_for_device(session, device)
    if due_service.ensure_planned(session, [person.participant for person in people], now):
        db.session.commit()
    shown_people = []
    for person in people:
        instruments = []
        for item in due_service.due_for(session, person.participant, str(person.respondent), now):
            version = item.assignment.instrument_version
            instrument = instrument_of(version)
            shown = display_language(instrument, language)
            occurrence = item.occurrence
            instruments.append(
                {
                    "key": instrument.id,
                    "version": instrument.version,
                    "title": instrument.title.get(shown) or version.title,
                    "language": shown,
                    "respondent": str(person.respondent),
                    "status": str(item.status),
                    "upcoming": item.status is due_service.DueStatus.UPCOMING,
                    "occurrence_id": occurrence.id if occurrence else None,
                    "opens_at": occurrence.opens_at if occurrence else None,
                    "closes_at": occurrence.closes_at if occurrence else None,
                }
            )
        shown_people.append(
            SimpleNamespace(
                participant=person.participant,
                respondent=person.respondent,
                caregiver_role=person.caregiver_role,
                answered_by=person.answered_by,
                instruments=instruments,
            )
        )
    return {"people": shown_people}


@blp.get("/instruments/<key>/<version>")
@blp.arguments(RenderedInstrumentQuerySchema, location="query")
@blp.response(200, RenderedInstrumentSchema)
@blp.alt_response(401, description="No device token, or the device was revoked")
@blp.alt_response(403, description="This device may not answer for that participant")
@blp.alt_response(404, description="No such published version, or not asked of that person")
@blp.alt_response(422, description="`for` is missing or not a number")
@device_required
def rendered_instrument(query: dict[str, int], key: str, version: str) -> dict[str, Any]:
    """An instrument version rendered for the reader's language and the person's respondent
    type (proxy wording for a caregiver)."""
    device = current_device()
    person = participants.person_for_device(db.session(), device, query["for_"])
    row, instrument = get_version(db.session(), key, version)
    assigned = participants.available_instruments(
        db.session(), person.participant, person.respondent
    )
    if row.id not in {a.instrument_version_id for a in assigned}:
        raise NotFound(f"{row.label} is not asked of this person.")
    reader = participants.holder_language(device)
    language = display_language(instrument, reader)
    rendered = render_instrument(instrument, language, str(person.respondent), reader)
    return {
        **rendered,
        "participant_id": person.participant.id,
        "answered_by": person.answered_by,
        "safety_contacts": safety_contacts_for(person.participant.site, reader),
    }


@blp.delete("/device")
@blp.response(204)
@blp.alt_response(401, description="No device token, or the device was already revoked")
@device_required
def sign_out_device() -> Response:
    """Sign this phone out for good: its token stops working at once."""
    participants.revoke_by_holder(db.session(), current_device())
    db.session.commit()
    return Response(status=204)
