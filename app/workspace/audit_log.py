"""The audit viewer: a study's events with filters, and the whole chain's verification.

The log is one chain for the whole installation, so a study's events are picked out by what
they name: the study itself (``study:ID`` or ``details.study_id``), its participants, sites,
alerts and schedules. Only the newest events are searched (``SCAN``); older ones stay in the
log and in ``chorus audit verify``. Viewing the log is itself audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import access
from app.access import Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.errors import Invalid
from app.participants.models import Participant
from app.reminders.models import StudySchedule
from app.responses.models import Alert
from app.studies.models import Study
from app.workspace import common

SCAN = 5000
SHOWN = 200


@dataclass(frozen=True)
class AuditQuery:
    action: str = ""
    actor: str = ""
    target: str = ""
    since: dt.date | None = None


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    chain: audit.ChainReport
    scanned: int


def _names_of(session: Session, study: Study) -> set[str]:
    names = {f"study:{study.id}"}
    names |= {f"site:{site.id}" for site in study.sites}
    names |= {
        f"participant:{pid}"
        for pid in session.scalars(select(Participant.id).where(Participant.study_id == study.id))
    }
    names |= {
        f"alert:{aid}"
        for aid in session.scalars(select(Alert.id).where(Alert.study_id == study.id))
    }
    names |= {
        f"schedule:{sid}"
        for sid in session.scalars(
            select(StudySchedule.id).where(StudySchedule.study_id == study.id)
        )
    }
    return names


def study_events(session: Session, user: StaffUser, study: Study, query: AuditQuery) -> AuditPage:
    access.require(user.memberships, Permission.VIEW_AUDIT, study.id)
    for name, value in (("action", query.action), ("actor", query.actor), ("target", query.target)):
        if len(value) > 100:
            raise Invalid(errors={name: ["Use at most 100 characters."]})
    statement = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(SCAN)
    if query.action:
        statement = statement.where(AuditEvent.action.startswith(query.action, autoescape=True))
    if query.actor:
        statement = statement.where(AuditEvent.actor == query.actor)
    if query.target:
        statement = statement.where(AuditEvent.target == query.target)
    if query.since:
        statement = statement.where(
            AuditEvent.occurred_at >= dt.datetime.combine(query.since, dt.time(0), tzinfo=dt.UTC)
        )
    names = _names_of(session, study)
    rows = list(session.scalars(statement))
    mine = [
        event
        for event in rows
        if event.target in names or (event.details or {}).get("study_id") == study.id
    ][:SHOWN]
    chain = audit.verify(session)
    audit.record(
        session,
        actor=common.actor(user),
        action="audit.viewed",
        target=f"study:{study.id}",
        details={"shown": len(mine)},
    )
    return AuditPage(mine, chain, len(rows))
