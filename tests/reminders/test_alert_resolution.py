"""Resolving an alert (#13): closed with who, when, the outcome and a note, audited; resolving
an alert nobody acknowledged acknowledges it, so its pending alert e-mails are not sent (the
safety path keeps working); site scope and bad input are refused and change nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.errors import Conflict, Forbidden, Invalid
from app.reminders.dispatch import DeliveryConfig
from app.responses import alerts
from app.responses import service as responses
from app.responses.models import Alert
from app.studies.models import Role
from tests.factories import make_staff
from tests.reminders.test_dispatch import NOW, tick
from tests.reminders.test_dispatch import config as config
from tests.reminders.test_dispatch import smtp_server as smtp_server
from tests.reminders.test_dispatch import vapid_keys as vapid_keys
from tests.responses.conftest import World, device_for, phq9
from tests.responses.conftest import world as world
from tests.support.smtp_server import SmtpTestServer


def _urgent_alert(session: Session, world: World) -> Alert:
    responses.submit(
        session, device_for(session, world.adult_token), phq9(world.adult.id, item9=2), now=NOW
    )
    session.commit()
    alert = session.scalars(sa.select(Alert).where(Alert.resolved_at.is_(None))).one()
    return alert


def test_a_resolved_alert_sends_no_pending_notice_and_says_who_when_and_what(
    db_session: Session,
    world: World,
    smtp_server: SmtpTestServer,
    config: DeliveryConfig,
    database_url: str,
) -> None:
    coordinator = make_staff(
        db_session, "ca@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    alert = _urgent_alert(db_session, world)

    alerts.resolve(
        db_session,
        coordinator,
        world.study,
        alert.id,
        outcome="contacted",
        note="Phoned the family; GP appointment tomorrow.",
        now=NOW,
    )
    db_session.commit()

    assert tick(database_url, config).outcomes == {"cancelled": 1}
    assert smtp_server.messages == []
    db_session.expire_all()
    row = db_session.get(Alert, alert.id)
    assert row is not None
    assert (row.resolved_at, row.resolved_by, row.resolution_outcome) == (
        NOW,
        coordinator.id,
        "contacted",
    )
    assert row.resolution_note == "Phoned the family; GP appointment tomorrow."
    assert (row.acknowledged_at, row.acknowledged_by) == (NOW, coordinator.id)
    event = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "alert.resolved")
    ).one()
    assert event.actor == f"staff:{coordinator.id}" and event.target == f"alert:{alert.id}"
    assert event.reason == "Phoned the family; GP appointment tomorrow."
    assert event.details == {"outcome": "contacted", "acknowledged_with_it": True}
    (view,) = alerts.list_for(db_session, coordinator, world.study, open_only=False)
    assert view.status == "resolved" and view.resolved_by == coordinator.display_name


def test_resolving_keeps_who_acknowledged_and_cannot_be_done_twice(
    db_session: Session, world: World
) -> None:
    first = make_staff(
        db_session, "ca@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    second = make_staff(db_session, "ad@x.org", study=world.study, role=Role.ADMIN)
    alert = _urgent_alert(db_session, world)
    alerts.acknowledge(db_session, first, world.study, alert.id, now=NOW)
    db_session.commit()
    (handled,) = alerts.list_for(db_session, first, world.study, open_only=False)
    assert handled.status == "acknowledged"

    alerts.resolve(
        db_session, second, world.study, alert.id, outcome="no_action", note="Reviewed.", now=NOW
    )
    db_session.commit()
    with pytest.raises(Conflict):
        alerts.resolve(
            db_session, first, world.study, alert.id, outcome="other", note="Again", now=NOW
        )
    db_session.rollback()
    row = db_session.get(Alert, alert.id)
    assert row is not None
    assert (row.acknowledged_by, row.resolved_by, row.resolution_note) == (
        first.id,
        second.id,
        "Reviewed.",
    )


@pytest.mark.parametrize(
    ("outcome", "note", "field"),
    [("fixed", "Done", "outcome"), ("contacted", "   ", "note"), ("other", "x" * 1001, "note")],
)
def test_an_incomplete_resolution_is_refused_and_changes_nothing(
    db_session: Session, world: World, outcome: str, note: str, field: str
) -> None:
    coordinator = make_staff(
        db_session, "ca@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    alert = _urgent_alert(db_session, world)
    with pytest.raises(Invalid) as refused:
        alerts.resolve(
            db_session, coordinator, world.study, alert.id, outcome=outcome, note=note, now=NOW
        )
    assert list(refused.value.errors) == [field]
    db_session.rollback()
    row = db_session.get(Alert, alert.id)
    assert row is not None and row.resolved_at is None and row.acknowledged_at is None


def test_another_sites_coordinator_cannot_resolve(db_session: Session, world: World) -> None:
    elsewhere = make_staff(
        db_session, "cb@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="B"
    )
    alert = _urgent_alert(db_session, world)
    with pytest.raises(Forbidden):
        alerts.resolve(
            db_session, elsewhere, world.study, alert.id, outcome="other", note="x", now=NOW
        )
    db_session.rollback()
    row = db_session.get(Alert, alert.id)
    assert row is not None and row.resolved_at is None


def test_the_database_refuses_a_resolution_without_an_outcome(
    db_session: Session, world: World
) -> None:
    alert = _urgent_alert(db_session, world)
    alert.resolved_at = NOW
    with pytest.raises(sa.exc.IntegrityError):
        db_session.commit()
    db_session.rollback()
