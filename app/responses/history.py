"""A phone's own history: which questionnaires its people submitted, and when. Metadata only.

Answers and scores are sealed to the study key, which the server cannot open outside an
export, so the history carries what stays in clear (instrument, version, time, who answered).
The participant app keeps its own copy of the scores it computed for the trend chart.

Whose answers a phone sees: a participant's phone, the answers given as that participant
(``self``, and ``staff_assisted`` ones given on it with a site team member); a caregiver's
phone, the proxy answers (``parent``/``other_caregiver``) for the children it answers for. An
adolescent's own answers are not listed on a parent's phone, nor the reverse.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from app.library.models import InstrumentVersion
from app.library.service import instrument_of
from app.participants import people as participants
from app.participants.models import Device
from app.responses.models import Response

OWN_TYPES = ("self", "staff_assisted")
PROXY_TYPES = ("parent", "other_caregiver")


@dataclass(frozen=True)
class HistoryItem:
    response_id: str
    participant_id: int
    instrument: str
    version: str
    title: str
    submitted_at: dt.datetime
    respondent_type: str


def _title(version: InstrumentVersion, language: str) -> str:
    instrument = instrument_of(version)
    for candidate in (language, language.split("-")[0]):
        if candidate in instrument.title:
            return str(instrument.title[candidate])
    return str(instrument.title.get(instrument.default_language) or version.title)


def history_for_device(
    session: Session,
    device: Device,
    participant_id: int | None,
    *,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[HistoryItem], int]:
    """(one page of items newest first, total). ``participant_id`` must be one of the
    device's people (Forbidden otherwise); None means all of them."""
    if participant_id is not None:
        people = [participants.person_for_device(session, device, participant_id)]
    else:
        people = participants.people_for_device(session, device)
    if not people:
        return [], 0
    types = OWN_TYPES if device.participant_id is not None else PROXY_TYPES
    where = (
        Response.participant_id.in_([p.participant.id for p in people]),
        Response.respondent_type.in_(types),
    )
    total = int(session.scalar(select(func.count()).select_from(Response).where(*where)) or 0)
    rows = session.scalars(
        select(Response)
        .where(*where)
        .options(joinedload(Response.instrument_version))
        .order_by(Response.finished_at.desc(), Response.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    language = participants.holder_language(device)
    items = [
        HistoryItem(
            response_id=row.id,
            participant_id=row.participant_id,
            instrument=row.instrument_version.instrument_key,
            version=row.instrument_version.version,
            title=_title(row.instrument_version, language),
            submitted_at=row.finished_at,
            respondent_type=row.respondent_type,
        )
        for row in rows
    ]
    return items, total
