"""Alerts raised by submitted answers, as site staff see and acknowledge them.

Scoped by the access helper: a coordinator sees only their own sites' alerts. Listing is a
staff view of participant data, so it is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app import access
from app.access import ALL_SITES, Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.errors import Conflict, Invalid, NotFound
from app.participants.models import Participant
from app.responses.models import Alert, Response
from app.studies.models import Site, Study


@dataclass(frozen=True)
class AlertView:
    id: int
    participant_code: str
    site_code: str
    rule_id: str
    severity: str
    message: str
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None
    # Raised by a repeat answer to an occurrence already answered (see responses.service).
    repeat: bool = False
    # Who is handling it and how it was closed (#13); names, not ids, for the triage page.
    acknowledged_by: str | None = None
    resolved_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolution_outcome: str | None = None
    resolution_note: str | None = None

    @property
    def status(self) -> str:
        """open (nobody on it yet), acknowledged (being handled) or resolved (closed)."""
        if self.resolved_at is not None:
            return "resolved"
        return "open" if self.acknowledged_at is None else "acknowledged"


# What was done about a resolved alert; the note says the rest in the staff member's words.
OUTCOMES = ("contacted", "referred", "no_action", "other")
MAX_RESOLUTION_NOTE = 1000


def list_for(
    session: Session, user: StaffUser, study: Study, *, open_only: bool, alert_id: int | None = None
) -> list[AlertView]:
    """The alerts the user sees in the study, newest first (only `alert_id`, when given)."""
    scope = access.sites_in_scope(user.memberships, Permission.VIEW_ALERTS, study.id)
    if not scope:
        access.require_somewhere(user.memberships, Permission.VIEW_ALERTS, study.id)  # raises
    acker, resolver = aliased(StaffUser), aliased(StaffUser)
    query = (
        select(
            Alert,
            Participant.code,
            Site.code,
            Response.repeat_of_response_id,
            func.coalesce(func.nullif(acker.display_name, ""), acker.email),
            func.coalesce(func.nullif(resolver.display_name, ""), resolver.email),
        )
        .join(Response, Response.id == Alert.response_id)
        .join(Participant, Participant.id == Response.participant_id)
        .join(Site, Site.id == Alert.site_id)
        .outerjoin(acker, acker.id == Alert.acknowledged_by)
        .outerjoin(resolver, resolver.id == Alert.resolved_by)
        .where(Alert.study_id == study.id)
        .order_by(Alert.raised_at.desc())
    )
    if scope is not ALL_SITES:
        query = query.where(Alert.site_id.in_(scope))  # type: ignore[arg-type]
    if open_only:
        query = query.where(Alert.acknowledged_at.is_(None))
    if alert_id is not None:
        query = query.where(Alert.id == alert_id)
    # Six columns, two of them expressions: past what SQLAlchemy's select() overloads type.
    rows: list[Any] = list(session.execute(query).all())
    if alert_id is None:
        audit.record(
            session,
            actor=f"staff:{user.id}",
            action="alerts.listed",
            target=f"study:{study.id}",
            details={"count": len(rows)},
        )
    else:
        audit.record(
            session, actor=f"staff:{user.id}", action="alert.viewed", target=f"alert:{alert_id}"
        )
    return [
        AlertView(
            a.id,
            code,
            site_code,
            a.rule_id,
            a.severity,
            a.message,
            a.raised_at,
            a.acknowledged_at,
            repeat=repeat_of is not None,
            acknowledged_by=acked_by,
            resolved_at=a.resolved_at,
            resolved_by=resolved_by,
            resolution_outcome=a.resolution_outcome,
            resolution_note=a.resolution_note,
        )
        for a, code, site_code, repeat_of, acked_by, resolved_by in rows
    ]


def acknowledge(
    session: Session, user: StaffUser, study: Study, alert_id: int, *, now: dt.datetime
) -> AlertView:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.study_id != study.id:
        raise NotFound("No such alert.")
    access.require(user.memberships, Permission.VIEW_ALERTS, study.id, alert.site_id)
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, user.id
        audit.record(
            session,
            actor=f"staff:{user.id}",
            action="alert.acknowledged",
            target=f"alert:{alert.id}",
        )
    code, site_code, repeat_of = session.execute(
        select(Participant.code, Site.code, Response.repeat_of_response_id)
        .join(Response, Response.participant_id == Participant.id)
        .join(Site, Site.id == Participant.site_id)
        .where(Response.id == alert.response_id)
    ).one()
    return AlertView(
        alert.id,
        code,
        site_code,
        alert.rule_id,
        alert.severity,
        alert.message,
        alert.raised_at,
        alert.acknowledged_at,
        repeat=repeat_of is not None,
    )


def alert_in_scope(session: Session, user: StaffUser, study: Study, alert_id: int) -> Alert:
    """The alert if the user sees alerts at its site; NotFound for another study's."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.study_id != study.id:
        raise NotFound("No such alert.")
    access.require(user.memberships, Permission.VIEW_ALERTS, study.id, alert.site_id)
    return alert


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
    """Close an alert with what was done: an outcome from ``OUTCOMES`` and a note in the staff
    member's own words (never the participant's answers), kept on the alert and in the audit
    event. Resolving an alert nobody acknowledged acknowledges it too, so the alert e-mails
    still waiting for it are dropped (app.reminders.dispatch). Resolving twice is a Conflict:
    the first resolution stands, with its author and note."""
    alert = alert_in_scope(session, user, study, alert_id)
    # Locked (on PostgreSQL) so two people resolving at once cannot both win.
    session.refresh(alert, with_for_update=True)
    if alert.resolved_at is not None:
        raise Conflict("This alert was already resolved.")
    errors: dict[str, list[str]] = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = [f"Choose one of: {', '.join(OUTCOMES)}."]
    note = note.strip()
    if not note:
        errors["note"] = ["Say what was done."]
    elif len(note) > MAX_RESOLUTION_NOTE:
        errors["note"] = [f"Use at most {MAX_RESOLUTION_NOTE} characters."]
    if errors:
        raise Invalid("The resolution is not complete.", errors=errors)
    acknowledged_now = alert.acknowledged_at is None
    if acknowledged_now:
        alert.acknowledged_at, alert.acknowledged_by = now, user.id
    alert.resolved_at, alert.resolved_by = now, user.id
    alert.resolution_outcome, alert.resolution_note = outcome, note
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="alert.resolved",
        target=f"alert:{alert.id}",
        reason=note,
        details={"outcome": outcome, "acknowledged_with_it": acknowledged_now},
        now=now,
    )
    session.flush()
    return alert
