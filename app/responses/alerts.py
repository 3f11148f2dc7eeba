"""Alerts raised by submitted answers, as site staff see and acknowledge them.

Scoped by the access helper: a coordinator sees only their own sites' alerts. Listing is a
staff view of participant data, so it is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import access
from app.access import ALL_SITES, Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.errors import NotFound
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


def list_for(
    session: Session, user: StaffUser, study: Study, *, open_only: bool
) -> list[AlertView]:
    scope = access.sites_in_scope(user.memberships, Permission.VIEW_ALERTS, study.id)
    if not scope:
        access.require_somewhere(user.memberships, Permission.VIEW_ALERTS, study.id)  # raises
    query = (
        select(Alert, Participant.code, Site.code, Response.repeat_of_response_id)
        .join(Response, Response.id == Alert.response_id)
        .join(Participant, Participant.id == Response.participant_id)
        .join(Site, Site.id == Alert.site_id)
        .where(Alert.study_id == study.id)
        .order_by(Alert.raised_at.desc())
    )
    if scope is not ALL_SITES:
        query = query.where(Alert.site_id.in_(scope))  # type: ignore[arg-type]
    if open_only:
        query = query.where(Alert.acknowledged_at.is_(None))
    rows = session.execute(query).all()
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="alerts.listed",
        target=f"study:{study.id}",
        details={"count": len(rows)},
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
        )
        for a, code, site_code, repeat_of in rows
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
