"""The participant API: what a phone (participant or caregiver) may see and do.

Authenticated by the device's bearer token (app/device_auth.py), so CSRF-exempt. "Due" means
"assigned": until schedules exist, every instrument the study assigns to a person's
respondent type and age band is offered every time.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import Response
from flask_smorest import Blueprint

from app.api.participant_schemas import (
    DueSchema,
    MeSchema,
    RenderedInstrumentQuerySchema,
    RenderedInstrumentSchema,
)
from app.device_auth import current_device, device_required
from app.errors import NotFound
from app.extensions import csrf, db
from app.instruments.model import Instrument
from app.instruments.rendering import render_instrument
from app.library.service import get_version, instrument_of
from app.participants import service as participants

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
    device = current_device()
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
    """For each person, the instruments to answer now, titled in the reader's language.

    Until schedules exist this is every instrument assigned to the study for that person's
    respondent type (self/proxy) and age band."""
    device = current_device()
    language = participants.holder_language(device)
    people = []
    for person in participants.people_for_device(db.session(), device):
        instruments = []
        for row in participants.available_instruments(
            db.session(), person.participant, person.respondent
        ):
            instrument = instrument_of(row.instrument_version)
            shown = display_language(instrument, language)
            instruments.append(
                {
                    "key": instrument.id,
                    "version": instrument.version,
                    "title": instrument.title.get(shown) or row.instrument_version.title,
                    "language": shown,
                    "respondent": str(person.respondent),
                }
            )
        people.append(
            SimpleNamespace(
                participant=person.participant,
                respondent=person.respondent,
                caregiver_role=person.caregiver_role,
                answered_by=person.answered_by,
                instruments=instruments,
            )
        )
    return {"people": people}


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
    language = display_language(instrument, participants.holder_language(device))
    rendered = render_instrument(instrument, language, str(person.respondent))
    return {
        **rendered,
        "participant_id": person.participant.id,
        "answered_by": person.answered_by,
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
