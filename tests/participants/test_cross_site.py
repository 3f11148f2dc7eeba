"""A caregiver shared by two sites (issue #10, item 1): no staff action creates, changes or ends
access to a participant the acting staff member may not manage.

The world: study "fatigue" with sites A and B, a caregiver linked to child A-2 (site A) and
child B-2 (site B), a coordinator for each site, and a study-wide coordinator. Each test fails
on the code before issue #10, where a site-A coordinator's invitation reached the site-B
child, a revocation by site A cut site B's family off, and site A could edit the reminders
site B's child gets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.db import utcnow
from app.errors import Forbidden, NotFound
from app.participants import service as participants
from app.participants.models import Caregiver, Device, Participant
from app.reminders import timetables
from app.studies.models import Role, Study
from tests.factories import make_caregiver, make_device, make_participant, make_staff, sign_in

BASE = "/api/v1/studies/fatigue/participants"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Shared:
    study: Study
    a_child: Participant
    b_child: Participant
    caregiver: Caregiver
    coord_a: int
    coord_b: int


@pytest.fixture
def shared(db_session) -> Shared:
    from tests.factories import make_study

    study = make_study(db_session)
    a_child = make_participant(db_session, study, "A-2", age_band="child", nickname="Léa")
    b_child = make_participant(
        db_session, study, "B-2", age_band="child", site_code="B", nickname="Sam"
    )
    caregiver = make_caregiver(db_session, a_child, b_child)
    a = make_staff(
        db_session, "coord@a.org", study=study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    b = make_staff(
        db_session, "coord@b.org", study=study, role=Role.SITE_COORDINATOR, site_code="B"
    )
    make_staff(db_session, "lead@x.org", study=study, role=Role.SITE_COORDINATOR)
    return Shared(study, a_child, b_child, caregiver, a.id, b.id)


def redeem(client, code: str) -> str:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/v1/invitations/redeem", json={"code": code}, environ_base={"REMOTE_ADDR": "192.0.2.9"}
    )
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["device_token"])


def people(client, token: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    return sorted(p["nickname"] for p in response.get_json()["people"])


def actions(session) -> list[str]:  # type: ignore[no-untyped-def]
    return list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


# ── Invitations and the phones redeemed from them ─────────────────────────────────────────


def test_site_a_invitation_reaches_only_site_a_children(client, db_session, shared):
    signed = sign_in(client, "coord@a.org")
    issued = signed.post(f"{BASE}/A-2/caregivers/{shared.caregiver.id}/invitations", json={})
    assert issued.status_code == 201
    phone = client.application.test_client()
    token = redeem(phone, issued.get_json()["code"])
    assert people(phone, token) == ["Léa"]
    # Nothing of the site-B child: history refused, rendered instrument refused.
    history = phone.get(f"/api/v1/me/history?for={shared.b_child.id}", headers=bearer(token))
    assert history.status_code == 403
    due = phone.get("/api/v1/me/due", headers=bearer(token)).get_json()
    assert [p["participant_id"] for p in due["people"]] == [shared.a_child.id]
    event = db_session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "invitation.created")
    )
    assert event.details["reach"] == [shared.a_child.id]


def test_a_new_invitation_from_site_a_leaves_site_b_its_children(client, db_session, shared):
    """An earlier unused invitation (issued study-wide, reaching both) is narrowed to the
    site-B child, not voided: site A cannot end site B's family's way onto a phone."""
    earlier = participants.create_invitation(
        db_session,
        shared.caregiver,
        valid_for=dt.timedelta(days=3),
        pepper="t" * 48,
        base_url="http://localhost",
        actor="cli",
    )
    db_session.commit()
    signed = sign_in(client, "coord@a.org")
    assert (
        signed.post(f"{BASE}/A-2/caregivers/{shared.caregiver.id}/invitations", json={}).status_code
        == 201
    )
    phone = client.application.test_client()
    token = redeem(phone, earlier.code)
    assert people(phone, token) == ["Sam"]


def test_site_b_invitation_then_linking_at_site_a_extends_the_phone(client, db_session, shared):
    """The linker may share a child they manage with the caregiver's live phones."""
    signed_b = sign_in(client, "coord@b.org")
    issued = signed_b.post(f"{BASE}/B-2/caregivers/{shared.caregiver.id}/invitations", json={})
    phone = client.application.test_client()
    token = redeem(phone, issued.get_json()["code"])
    assert people(phone, token) == ["Sam"]
    a_new = make_participant(db_session, shared.study, "A-3", age_band="child", nickname="Zoé")
    staff = client.application.test_client()
    signed_a = sign_in(staff, "coord@a.org")
    linked = staff.put(
        f"{BASE}/A-3/caregivers/{shared.caregiver.id}",
        json={"caregiver_role": "parent"},
        headers={"X-CSRFToken": signed_a.csrf},
    )
    assert linked.status_code == 201, linked.get_json()
    assert a_new.id and people(phone, token) == ["Sam", "Zoé"]


def test_linking_needs_the_childs_site(client, db_session, shared):
    b_new = make_participant(db_session, shared.study, "B-3", age_band="child", site_code="B")
    signed = sign_in(client, "coord@a.org")
    response = signed.client.put(
        f"{BASE}/B-3/caregivers/{shared.caregiver.id}",
        json={"caregiver_role": "parent"},
        headers={"X-CSRFToken": signed.csrf},
    )
    assert response.status_code == 404
    with pytest.raises(NotFound):
        participants.link_caregiver(
            db_session, shared.caregiver, b_new, "parent", f"staff:{shared.coord_a}"
        )
    db_session.rollback()
    assert "caregiver.linked" not in actions(db_session)[-1:]


def test_site_a_revoking_a_shared_phone_ends_only_site_a_access(client, db_session, shared):
    device, token = make_device(db_session, shared.caregiver)  # issued by an operator: both
    phone = client.application.test_client()
    assert people(phone, token) == ["Léa", "Sam"]
    signed = sign_in(client, "coord@a.org")
    revoked = signed.post(f"{BASE}/A-2/devices/{device.id}/revoke", json={"reason": "lost"})
    assert revoked.status_code == 200
    assert people(phone, token) == ["Sam"]
    db_session.expire_all()
    assert db_session.get(Device, device.id).revoked_at is None
    assert "device.narrowed" in actions(db_session)
    # Site B, now the only one reached, revokes the phone outright.
    staff_b = client.application.test_client()
    signed_b = sign_in(staff_b, "coord@b.org")
    assert signed_b.post(f"{BASE}/B-2/devices/{device.id}/revoke", json={}).status_code == 200
    assert phone.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_a_study_wide_coordinator_revokes_a_shared_phone_outright(client, db_session, shared):
    device, token = make_device(db_session, shared.caregiver)
    signed = sign_in(client, "lead@x.org")
    assert signed.post(f"{BASE}/A-2/devices/{device.id}/revoke", json={}).status_code == 200
    assert (
        client.application.test_client().get("/api/v1/me", headers=bearer(token)).status_code == 401
    )


def test_site_a_cannot_unlink_the_site_b_child(client, db_session, shared):
    signed = sign_in(client, "coord@a.org")
    response = signed.client.delete(
        f"{BASE}/B-2/caregivers/{shared.caregiver.id}", headers={"X-CSRFToken": signed.csrf}
    )
    assert response.status_code == 404
    with pytest.raises(NotFound):
        participants.unlink_caregiver(
            db_session,
            shared.caregiver,
            shared.b_child,
            reason=None,
            actor=f"staff:{shared.coord_a}",
        )


# ── The services refuse on their own, whatever the caller ─────────────────────────────────


def test_services_scope_staff_actors_directly(db_session, shared):
    actor = f"staff:{shared.coord_a}"
    issued = participants.create_invitation(
        db_session,
        shared.caregiver,
        valid_for=dt.timedelta(days=1),
        pepper="t" * 48,
        base_url="http://localhost",
        actor=actor,
    )
    db_session.commit()
    device, _token = participants.redeem(
        db_session,
        code=issued.code,
        device_label=None,
        client_ip="192.0.2.3",
        pepper="t" * 48,
        now=utcnow(),
    )
    assert [p.participant.code for p in participants.people_for_device(db_session, device)] == [
        "A-2"
    ]
    with pytest.raises(Forbidden):
        timetables.update_timetable(db_session, shared.caregiver, quiet_hours=[], actor=actor)
    with pytest.raises(Forbidden):
        timetables.add_pause(
            db_session,
            shared.caregiver,
            starts_on=dt.date.today() + dt.timedelta(days=2),
            ends_on=dt.date.today() + dt.timedelta(days=3),
            reason=None,
            actor=actor,
        )
    with pytest.raises(NotFound):
        timetables.update_timetable(db_session, shared.b_child, quiet_hours=[], actor=actor)
    # Other study: a coordinator of another study reaches nothing of this caregiver.
    from tests.factories import make_study

    other = make_study(db_session, "other")
    stranger = make_staff(db_session, "x@other.org", study=other, role=Role.ADMIN)
    with pytest.raises(NotFound):
        participants.create_invitation(
            db_session,
            shared.caregiver,
            valid_for=dt.timedelta(days=1),
            pepper="t" * 48,
            base_url="http://localhost",
            actor=f"staff:{stranger.id}",
        )


def test_caregiver_pause_by_the_caregiver_cannot_be_cancelled_by_one_site(
    client, db_session, shared
):
    _device, token = make_device(db_session, shared.caregiver)
    phone = client.application.test_client()
    day = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
    added = phone.post(
        "/api/v1/me/timetable/pauses",
        json={"starts_on": day, "ends_on": day, "reason": "holiday"},
        headers=bearer(token),
    )
    assert added.status_code == 201
    signed = sign_in(client, "coord@a.org")
    cancelled = signed.client.delete(
        f"{BASE}/A-2/caregivers/{shared.caregiver.id}/timetable/pauses/{added.get_json()['id']}",
        headers={"X-CSRFToken": signed.csrf},
    )
    assert cancelled.status_code == 403
    # The study-wide coordinator manages both children and may.
    lead = client.application.test_client()
    signed_lead = sign_in(lead, "lead@x.org")
    assert (
        lead.delete(
            f"{BASE}/B-2/caregivers/{shared.caregiver.id}/timetable/pauses/{added.get_json()['id']}",
            headers={"X-CSRFToken": signed_lead.csrf},
        ).status_code
        == 204
    )


def test_migration_records_the_reach_of_existing_caregiver_phones(app, db_session, shared):
    """Caregiver phones and invitations from before 0005 keep what they reached at upgrade:
    every child then linked (an ended link is not reached), recorded so it no longer grows."""
    from flask_migrate import downgrade, upgrade

    from app.participants.models import Invitation

    third = make_participant(db_session, shared.study, "A-9", age_band="child")
    participants.link_caregiver(db_session, shared.caregiver, third, "parent", "cli")
    participants.unlink_caregiver(db_session, shared.caregiver, third, reason=None, actor="cli")
    db_session.commit()
    device, _token = make_device(db_session, shared.caregiver)
    participants.create_invitation(
        db_session,
        shared.caregiver,
        valid_for=dt.timedelta(days=1),
        pepper="t" * 48,
        base_url="http://localhost",
        actor="cli",
    )
    db_session.commit()
    device_id, caregiver_id = device.id, shared.caregiver.id
    expected = sorted([shared.a_child.id, shared.b_child.id])
    db_session.close()
    with app.app_context():
        downgrade(revision="0004")
        upgrade()
    assert db_session.get(Device, device_id).reach == expected
    open_invitation = db_session.scalar(
        sa.select(Invitation).where(
            Invitation.caregiver_id == caregiver_id, Invitation.redeemed_at.is_(None)
        )
    )
    assert open_invitation.reach == expected
