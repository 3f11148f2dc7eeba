"""Schedules as the workspace shows them: everyone in the study sees them, study-wide
managers (MANAGE_STUDY) retire them (app.reminders.study_schedules does the work and the audit)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from app import access
from app.access import Permission
from app.accounts.models import StaffUser
from app.reminders import study_schedules as schedules
from app.reminders.models import StudySchedule
from app.studies.models import Study
from app.workspace import common


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
