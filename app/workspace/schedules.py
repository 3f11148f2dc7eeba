"""Schedules for the workspace pages and the API: everyone in the study sees them, study-wide
managers (MANAGE_STUDY) add and retire them (app.reminders.study_schedules does the work and the
audit); and a participant's occurrences with adherence (site staff, audited here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from app import access
from app.access import Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.reminders import adherence
from app.reminders import study_schedules as schedules
from app.reminders.models import StudySchedule
from app.studies.models import Study
from app.workspace import common
from app.workspace.participants import get_participant


def list_for(session: Session, user: StaffUser, study: Study) -> tuple[list[StudySchedule], bool]:
    access.require_somewhere(user.memberships, Permission.VIEW_STUDY, study.id)
    return (
        schedules.list_schedules(session, study, include_retired=True),
        common.may(user, Permission.MANAGE_STUDY, study),
    )


def retire(
    session: Session, user: StaffUser, study: Study, schedule_id: int, now: dt.datetime
) -> StudySchedule:
    access.require(user.memberships, Permission.MANAGE_STUDY, study.id)
    return schedules.retire_schedule(session, study, schedule_id, actor=common.actor(user), now=now)


def list_schedules(
    session: Session, user: StaffUser, study: Study, *, include_retired: bool
) -> list[StudySchedule]:
    access.require_somewhere(user.memberships, Permission.VIEW_STUDY, study.id)
    return schedules.list_schedules(session, study, include_retired=include_retired)


def add(
    session: Session, user: StaffUser, study: Study, **fields: Any
) -> tuple[StudySchedule, list[str]]:
    """A new schedule (app.reminders.study_schedules checks and audits it) with the language warnings
    its creator should read. Schedules apply to every site: only a study-wide manager adds."""
    access.require(user.memberships, Permission.MANAGE_STUDY, study.id)
    row = schedules.add_schedule(session, study, actor=common.actor(user), **fields)
    return row, schedules.language_warnings(session, study, row)


def occurrences_of(
    session: Session, user: StaffUser, study: Study, code: str, now: dt.datetime
) -> adherence.ParticipantOccurrences:
    """A participant's occurrences with adherence: states only, never answers. Audited."""
    participant = get_participant(session, user, study, code, Permission.VIEW_PARTICIPANTS)
    found = adherence.occurrences_of(session, participant, now)
    audit.record(
        session,
        actor=common.actor(user),
        action="participant.occurrences_viewed",
        target=f"participant:{participant.id}",
    )
    return found
