"""People in a study and who may act on them: the checks every participant service shares
(time zone, language, age band, pause), the reach of staff actors (`may_manage`), caregiver
links, who a device answers for and the instruments a study assigns. No Flask; callers commit.

Nothing here re-plans reminders, so the reminders planner builds on this module; the changes
that re-plan live in `enrolment.py` and `caregivers.py` (the rules of reach are in the
docstring of `caregivers.py`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import access
from app.access import Permission
from app.audit import service as audit
from app.db import insert_unique
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.library.models import InstrumentVersion
from app.library.service import instrument_of
from app.participants.models import (
    AgeBand,
    Caregiver,
    CaregiverLink,
    Device,
    Participant,
    ParticipantStatus,
    StudyInstrument,
)
from app.studies.models import Membership, Study

# ── Validation ────────────────────────────────────────────────────────────────────────────

# BCP 47, the shapes studies use: "fr", "en-GB", "es-419", "zh-Hant".
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-([A-Za-z]{4}|[A-Z]{2}|[0-9]{3}))?$")
CAREGIVER_ROLES = ("parent", "other_caregiver")
RESPONDENTS = ("self", "proxy", "both")


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # Not zones but files some systems keep beside them, meaning whatever the server is set to.
    return frozenset(zoneinfo.available_timezones() - {"localtime", "posixrules", "Factory"})


def check_time_zone(value: str) -> str:
    # A known list rather than ZoneInfo(value), which also opens any file under the zoneinfo
    # folder (e.g. "localtime", the server's own zone).
    if value not in _known_zones():
        raise Invalid(
            errors={
                "time_zone": [
                    f"Unknown time zone {value!r}. Use an IANA name, e.g. 'Europe/Paris'."
                ]
            }
        )
    return value


def check_language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise Invalid(
            errors={"language": [f"Unknown language code {value!r}. Use e.g. 'fr' or 'en-GB'."]}
        )
    return value


def check_optional(field: str, value: str | None, max_length: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > max_length or any(unicodedata.category(c).startswith("C") for c in value):
        raise Invalid(
            errors={field: [f"Use at most {max_length} characters, with no control characters."]}
        )
    return value


def age_band_on(date_of_birth: dt.date, today: dt.date) -> AgeBand:
    if date_of_birth > today:
        raise Invalid(errors={"date_of_birth": ["The date of birth is in the future."]})
    years = (
        today.year
        - date_of_birth.year
        - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))
    )
    if years < 12:
        return AgeBand.CHILD
    if years < 18:
        return AgeBand.ADOLESCENT
    return AgeBand.ADULT


def require_not_withdrawn(participant: Participant) -> None:
    if participant.status == ParticipantStatus.WITHDRAWN:
        raise Conflict(f"Participant '{participant.code}' has withdrawn from the study.")


def is_paused(participant: Participant, today: dt.date) -> bool:
    """Paused today? A pause with an end date lifts by itself after that date."""
    if participant.status != ParticipantStatus.PAUSED:
        return False
    return participant.paused_until is None or today <= participant.paused_until


# ── Reach of staff actors (see the module docstring) ──────────────────────────────────────

_STAFF_ACTOR = re.compile(r"^staff:([0-9]+)$")


def staff_memberships(session: Session, actor: str) -> list[Membership] | None:
    """The memberships of a staff actor ("staff:12"), or None for actors staff scope does not
    apply to (an operator's "cli", "demo", a device holder acting for themselves)."""
    match = _STAFF_ACTOR.match(actor)
    if match is None:
        return None
    return list(session.scalars(select(Membership).where(Membership.user_id == int(match[1]))))


def may_manage(session: Session, actor: str, participant: Participant) -> bool:
    memberships = staff_memberships(session, actor)
    return memberships is None or access.can(
        memberships, Permission.MANAGE_PARTICIPANTS, participant.study_id, participant.site_id
    )


def require_may_manage(session: Session, actor: str, participant: Participant) -> None:
    if not may_manage(session, actor, participant):
        # Alike for "not there" and "not yours": codes of other sites cannot be probed.
        raise NotFound("No such participant.")


def linked_children(session: Session, caregiver: Caregiver) -> list[Participant]:
    """Children the caregiver is linked to now and who have not withdrawn."""
    return [link.participant for link in active_links(session, caregiver)]


def unmanaged_children(session: Session, actor: str, caregiver: Caregiver) -> list[Participant]:
    """The caregiver's current children `actor` may not manage (empty for non-staff actors)."""
    return [p for p in linked_children(session, caregiver) if not may_manage(session, actor, p)]


# ── Caregiver links ───────────────────────────────────────────────────────────────────────


def active_links(session: Session, caregiver: Caregiver) -> list[CaregiverLink]:
    return list(
        session.scalars(
            select(CaregiverLink)
            .join(Participant, Participant.id == CaregiverLink.participant_id)
            .where(
                CaregiverLink.caregiver_id == caregiver.id,
                CaregiverLink.ended_at.is_(None),
                Participant.status != ParticipantStatus.WITHDRAWN.value,
            )
            .order_by(CaregiverLink.id)
        )
    )


def caregivers_of(session: Session, participant: Participant) -> list[CaregiverLink]:
    return list(
        session.scalars(
            select(CaregiverLink)
            .where(CaregiverLink.participant_id == participant.id, CaregiverLink.ended_at.is_(None))
            .order_by(CaregiverLink.id)
        )
    )


# ── Who a device answers for ──────────────────────────────────────────────────────────────


class Respondent(enum.StrEnum):
    SELF = "self"
    PROXY = "proxy"


@dataclass(frozen=True)
class Person:
    """Someone a device may answer for, and how."""

    participant: Participant
    respondent: Respondent
    caregiver_role: str | None  # "parent" / "other_caregiver" for proxies

    @property
    def answered_by(self) -> str:
        """The respondent_type a response records: self, parent or other_caregiver."""
        return self.caregiver_role or "self"


def people_for_device(session: Session, device: Device) -> list[Person]:
    if device.participant_id is not None:
        participant = device.participant
        if participant is None or participant.status == ParticipantStatus.WITHDRAWN:
            return []
        return [Person(participant, Respondent.SELF, None)]
    caregiver = device.caregiver
    assert caregiver is not None
    # reach None: a caregiver phone from before reach was recorded, which answers for every
    # linked child (migration 0005 records the reach of those that existed then).
    reach = None if device.reach is None else {int(i) for i in device.reach}
    return [
        Person(link.participant, Respondent.PROXY, link.caregiver_role)
        for link in active_links(session, caregiver)
        if reach is None or link.participant_id in reach
    ]


def person_for_device(session: Session, device: Device, participant_id: int) -> Person:
    """The person `participant_id` as this device may answer for them, or Forbidden."""
    for person in people_for_device(session, device):
        if person.participant.id == participant_id:
            return person
    raise Forbidden("This device may not answer for that participant.")


def holder_language(device: Device) -> str:
    """Whoever holds the phone reads the questions: a caregiver reads in their own language."""
    holder = device.participant if device.participant_id is not None else device.caregiver
    assert holder is not None
    return str(holder.language)


# ── Instruments assigned to a study ───────────────────────────────────────────────────────

_BAND_RESPONDENTS: dict[str, frozenset[Respondent]] = {
    AgeBand.CHILD: frozenset({Respondent.PROXY}),
    AgeBand.ADOLESCENT: frozenset({Respondent.SELF, Respondent.PROXY}),
    AgeBand.ADULT: frozenset({Respondent.SELF}),
}


def assign_instrument(
    session: Session,
    study: Study,
    instrument_version: InstrumentVersion,
    respondents: str,
    actor: str,
) -> StudyInstrument:
    if respondents not in RESPONDENTS:
        raise Invalid(errors={"respondents": [f"Use one of: {', '.join(RESPONDENTS)}."]})
    offered = instrument_of(instrument_version).respondents
    wanted = ("self", "proxy") if respondents == "both" else (respondents,)
    missing = [r for r in wanted if r not in offered]
    if missing:
        raise Invalid(
            errors={
                "respondents": [
                    f"{instrument_version.label} has no {'/'.join(missing)} wording "
                    f"(it is answered by: {', '.join(offered)})."
                ]
            }
        )
    row = StudyInstrument(
        study_id=study.id, instrument_version_id=instrument_version.id, respondents=respondents
    )
    if not insert_unique(session, row):
        raise Conflict(f"{instrument_version.label} is already assigned to '{study.slug}'.")
    audit.record(
        session,
        actor=actor,
        action="instrument.assigned",
        target=f"study:{study.id}",
        details={"instrument_version_id": instrument_version.id, "respondents": respondents},
    )
    return row


def available_instruments(
    session: Session, participant: Participant, respondent: Respondent | str
) -> list[StudyInstrument]:
    """Instruments this participant's study asks of `respondent` for someone of their age band:
    a child is answered for (proxy), an adult answers (self), an adolescent either way."""
    respondent = Respondent(respondent)
    if respondent not in _BAND_RESPONDENTS[AgeBand(participant.age_band)]:
        return []
    return list(
        session.scalars(
            select(StudyInstrument)
            .where(
                StudyInstrument.study_id == participant.study_id,
                StudyInstrument.respondents.in_((respondent.value, "both")),
            )
            .order_by(StudyInstrument.id)
        )
    )
