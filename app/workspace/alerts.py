"""Alerts triage for the workspace: the audited list (app.responses.alerts) in three groups
(open, acknowledged, resolved), acknowledging with a note, which the API's acknowledge has no
field for, and resolving with an outcome and a note (#13). The note goes into the audit event's
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


STATUSES = ("open", "acknowledged", "resolved")
RECENT_RESOLVED = 50


@dataclass(frozen=True)
class Triage:
    open: list[alerts.AlertView]
    acknowledged: list[alerts.AlertView]  # being handled: every one, oldest first
    resolved: list[alerts.AlertView]  # closed: the most recent RECENT_RESOLVED
    status: str = ""  # the filter: "" (all three) or one of STATUSES

    def shows(self, status: str) -> bool:
        return self.status in ("", status)


def triage(session: Session, user: StaffUser, study: Study, status: str = "") -> Triage:
    """Open alerts, most severe then oldest first; then those being handled (acknowledged,
    not resolved), oldest first; then the last resolved. `status` shows one group only."""
    if status and status not in STATUSES:
        raise Invalid(errors={"status": [f"Use one of: {', '.join(STATUSES)}."]})
    every = alerts.list_for(session, user, study, open_only=False)  # audited there
    waiting = [a for a in every if a.status == "open"]
    waiting.sort(key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.raised_at))
    handled = [a for a in every if a.status == "acknowledged"]
    handled.sort(key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.raised_at))
    closed = [a for a in every if a.status == "resolved"]
    closed.sort(key=lambda a: a.resolved_at or a.raised_at, reverse=True)
    return Triage(waiting, handled, closed[:RECENT_RESOLVED], status)


def alert_for_resolving(
    session: Session, user: StaffUser, study: Study, alert_id: int
) -> alerts.AlertView:
    """One alert for its resolve page (access checked, the view audited as the list is)."""
    alerts.alert_in_scope(session, user, study, alert_id)
    found = alerts.list_for(session, user, study, open_only=False, alert_id=alert_id)
    if not found:
        raise NotFound("No such alert.")
    return found[0]


def resolve(
    session: Session,
    user: StaffUser,
    study: Study,
    alert_id: int,
    *,
    outcome: str,
    note: str,
    now: dt.datetime,
) -> Alert:
    """Close the alert with what was done (app.responses.alerts checks access and audits)."""
    return alerts.resolve(session, user, study, alert_id, outcome=outcome, note=note, now=now)


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
