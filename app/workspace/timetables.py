"""Reminder timetables as site staff reach them: a participant's own, or that of a caregiver
linked to them (a caregiver has no site: staff reach one only through a participant at their
sites). Reading needs VIEW_PARTICIPANTS and is audited as a staff view of participant data;
changing needs MANAGE_PARTICIPANTS and is audited by app.reminders.timetables."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.access import Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.participants.models import Caregiver, Participant
from app.reminders import timetables
from app.reminders.models import TimetablePause
from app.studies.models import Study
from app.workspace import common
from app.workspace.participants import get_participant, linked_caregiver


def person_for(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    caregiver_id: int | None,
    permission: Permission,
) -> Participant | Caregiver:
    """Participant `code`, or the caregiver `caregiver_id` linked to them."""
    if caregiver_id is None:
        return get_participant(session, user, study, code, permission)
    caregiver: Caregiver = linked_caregiver(
        session, user, study, code, caregiver_id, permission
    ).caregiver
    return caregiver


def _target(person: Participant | Caregiver) -> str:
    return f"{'participant' if isinstance(person, Participant) else 'caregiver'}:{person.id}"


def view(
    session: Session, user: StaffUser, study: Study, code: str, caregiver_id: int | None
) -> timetables.TimetableView:
    person = person_for(session, user, study, code, caregiver_id, Permission.VIEW_PARTICIPANTS)
    found = timetables.get_timetable(session, person)
    audit.record(
        session, actor=common.actor(user), action="timetable.viewed", target=_target(person)
    )
    return found


def update(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    caregiver_id: int | None,
    **fields: Any,
) -> timetables.TimetableView:
    """Change the fields given (time_zone, windows, quiet_hours, reminder_email); others stay."""
    person = person_for(session, user, study, code, caregiver_id, Permission.MANAGE_PARTICIPANTS)
    return timetables.update_timetable(session, person, actor=common.actor(user), **fields)


def add_pause(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    caregiver_id: int | None,
    **fields: Any,
) -> TimetablePause:
    """A pause between two local days (starts_on, ends_on, reason)."""
    person = person_for(session, user, study, code, caregiver_id, Permission.MANAGE_PARTICIPANTS)
    return timetables.add_pause(session, person, actor=common.actor(user), **fields)


def cancel_pause(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    caregiver_id: int | None,
    pause_id: int,
) -> TimetablePause:
    person = person_for(session, user, study, code, caregiver_id, Permission.MANAGE_PARTICIPANTS)
    return timetables.cancel_pause(session, person, pause_id, actor=common.actor(user))
