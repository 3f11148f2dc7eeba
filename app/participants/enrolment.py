"""Enrol participants, pause, resume and withdraw them. No Flask; callers commit.

A withdrawal re-plans the participant's reminders at once (`replan_reminders`)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.db import insert_unique, utcnow
from app.errors import Conflict, Invalid
from app.participants.models import AgeBand, Device, Invitation, Participant, ParticipantStatus
from app.participants.people import (
    age_band_on,
    check_language,
    check_optional,
    check_time_zone,
    require_not_withdrawn,
)
from app.reminders import planner
from app.studies.models import Site, Study

_PARTICIPANT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

# ── Enrolment ─────────────────────────────────────────────────────────────────────────────


def enroll(
    session: Session,
    study: Study,
    site: Site,
    *,
    code: str,
    time_zone: str,
    language: str,
    date_of_birth: dt.date | None = None,
    age_band: AgeBand | str | None = None,
    arm: str | None = None,
    nickname: str | None = None,
    colour: str | None = None,
    actor: str,
    today: dt.date | None = None,
) -> Participant:
    """Enrol one participant. A date of birth only chooses the age band and is not stored."""
    errors: dict[str, list[str]] = {}
    if site.study_id != study.id:
        errors["site"] = [f"Site '{site.code}' is not part of study '{study.slug}'."]
    if not _PARTICIPANT_CODE.match(code):
        errors["code"] = ["Use up to 32 letters, digits, '-' or '_', e.g. 'LYON-0042'."]
    for check, value in ((check_time_zone, time_zone), (check_language, language)):
        try:
            check(value)
        except Invalid as error:
            errors.update(error.errors)
    band: AgeBand | None = None
    if date_of_birth is None and age_band is None:
        # Say what is missing (#11): the old "either ..., not both" read as if both were given.
        errors["age_band"] = [
            "Missing: give the participant's age band (child, adolescent or adult) "
            "or their date of birth."
        ]
    elif date_of_birth is not None and age_band is not None:
        errors["age_band"] = ["Give either a date of birth or an age band, not both."]
    elif date_of_birth is not None:
        try:
            band = age_band_on(date_of_birth, today or utcnow().date())
        except Invalid as error:
            errors.update(error.errors)
    else:
        try:
            band = AgeBand(str(age_band))
        except ValueError:
            errors["age_band"] = [f"Use one of: {', '.join(b.value for b in AgeBand)}."]
    if colour is not None and colour != "" and not _COLOUR.match(colour):
        errors["colour"] = ["Use a colour like '#1f77b4'."]
    try:
        arm = check_optional("arm", arm, 64)
        nickname = check_optional("nickname", nickname, 40)
    except Invalid as error:
        errors.update(error.errors)
    if errors:
        raise Invalid(errors=errors)
    assert band is not None
    participant = Participant(
        study_id=study.id,
        site_id=site.id,
        code=code,
        time_zone=time_zone,
        language=language,
        age_band=band.value,
        arm=arm,
        nickname=nickname,
        colour=colour.lower() if colour else None,
    )
    if not insert_unique(session, participant):
        raise Conflict(f"Study '{study.slug}' already has a participant with code '{code}'.")
    audit.record(
        session,
        actor=actor,
        action="participant.enrolled",
        target=f"participant:{participant.id}",
        details={"study_id": study.id, "site_id": site.id, "age_band": band.value},
    )
    return participant


def pause(
    session: Session,
    participant: Participant,
    until: dt.date | None,
    reason: str | None,
    actor: str,
    *,
    today: dt.date | None = None,
) -> Participant:
    """Pause reminders ("in hospital until the 14th"); `until` None means until resumed."""
    require_not_withdrawn(participant)
    if until is not None and until < (today or utcnow().date()):
        raise Invalid(errors={"until": ["The pause must end today or later."]})
    participant.status = ParticipantStatus.PAUSED.value
    participant.paused_until = until
    audit.record(
        session,
        actor=actor,
        action="participant.paused",
        target=f"participant:{participant.id}",
        reason=check_optional("reason", reason, 500),
        details={"until": until.isoformat() if until else None},
    )
    session.flush()
    return participant


def resume(session: Session, participant: Participant, actor: str) -> Participant:
    require_not_withdrawn(participant)
    participant.status = ParticipantStatus.ACTIVE.value
    participant.paused_until = None
    audit.record(
        session, actor=actor, action="participant.resumed", target=f"participant:{participant.id}"
    )
    session.flush()
    return participant


def withdraw(
    session: Session,
    participant: Participant,
    *,
    reason: str | None,
    actor: str,
    now: dt.datetime | None = None,
) -> Participant:
    """Withdraw: the participant's devices and open invitations stop working at once; their
    data is kept. Caregiver links stay as a record of who answered, but a withdrawn
    participant is no longer offered to any caregiver's device."""
    require_not_withdrawn(participant)
    now = now or utcnow()
    participant.status = ParticipantStatus.WITHDRAWN.value
    participant.withdrawn_at = now
    participant.paused_until = None
    session.execute(
        update(Device)
        .where(Device.participant_id == participant.id, Device.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(Invitation)
        .where(
            Invitation.participant_id == participant.id,
            Invitation.redeemed_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    audit.record(
        session,
        actor=actor,
        action="participant.withdrawn",
        target=f"participant:{participant.id}",
        reason=check_optional("reason", reason, 500),
    )
    replan_reminders(session, participant, now)
    return participant


def replan_reminders(session: Session, participant: Participant, now: dt.datetime) -> None:
    """Re-plan the participant's reminders at once after a change of who receives them, so a
    withdrawn child's caregivers get no more reminders and a newly linked caregiver gets them
    without waiting for the scheduler's next horizon run."""
    session.flush()
    planner.replan_person(session, participant=participant, now=now)
