"""Alerts triage for the workspace: the audited list (app.responses.alerts) plus acknowledging
with a note, which the API's acknowledge has no field for. The note goes into the audit event's
reason; it is the staff member's own words, never the participant's answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app import access
from app.access import Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.errors import Invalid, NotFound
from app.responses import alerts
from app.responses.models import Alert
from app.studies.models import Study
from app.workspace import common

MAX_NOTE = 500
SEVERITY_ORDER = {"urgent": 0, "high": 1, "warning": 2, "info": 3}


@dataclass(frozen=True)
class Triage:
    open: list[alerts.AlertView]
    acknowledged: list[alerts.AlertView]


def triage(session: Session, user: StaffUser, study: Study) -> Triage:
    """Open alerts, most severe then oldest first; the last 50 acknowledged below them."""
    every = alerts.list_for(session, user, study, open_only=False)  # audited there
    waiting = [a for a in every if a.acknowledged_at is None]
    waiting.sort(key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.raised_at))
    done = [a for a in every if a.acknowledged_at is not None][:50]
    return Triage(waiting, done)


def acknowledge(
    session: Session, user: StaffUser, study: Study, alert_id: int, note: str, now: dt.datetime
) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.study_id != study.id:
        raise NotFound("No such alert.")
    access.require(user.memberships, Permission.VIEW_ALERTS, study.id, alert.site_id)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Invalid(errors={"note": [f"Use at most {MAX_NOTE} characters."]})
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, user.id
        audit.record(
            session,
            actor=common.actor(user),
            action="alert.acknowledged",
            target=f"alert:{alert.id}",
            reason=note or None,
        )
    return alert
