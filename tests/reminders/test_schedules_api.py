"""HTTP: staff schedules (study-wide managers), a participant's occurrences with adherence
(site-scoped, audited), /api/v1/me/due built on occurrences, and submission by occurrence_id."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.db import utcnow
from app.participants import service as participants
from app.participants.models import Participant
from app.reminders import planner
from app.reminders.models import Occurrence, StudySchedule
from app.studies.models import Role
from tests.factories import make_device, make_staff, sign_in
from tests.reminders.planning_world import add, build_world, caregiver_for, enrol

SCHEDULES = "/api/v1/studies/fatigue/schedules/"
DIARY_BODY = {
    "name": "Daily diary",
    "instrument": "daily_symptom_diary",
    "version": "1.0.0",
    "respondent": "self",
    "spec": {"kind": "daily", "open_time": "18:00", "close_time": "23:00"},
    "reminder_max_count": 2,
    "reminder_gaps_minutes": [120],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audits(session, action):
    session.expire_all()
    return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


# ── Staff: schedules ──────────────────────────────────────────────────────────────────────


def test_a_study_wide_admin_adds_lists_and_retires_schedules(client, db_session):
    world = build_world(db_session)
    admin = make_staff(db_session, "admin@x.org", study=world.study, role=Role.ADMIN)
    signed = sign_in(client, admin.email)
    created = signed.post(SCHEDULES, json=DIARY_BODY)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["spec"] == DIARY_BODY["spec"] and body["instrument"] == "daily_symptom_diary"
    assert body["created_by"] == f"staff:{admin.id}" and body["retired_at"] is None
    assert [s["id"] for s in client.get(SCHEDULES).get_json()] == [body["id"]]
    assert audits(db_session, "schedule.added")[0].actor == f"staff:{admin.id}"

    retired = client.delete(f"{SCHEDULES}{body['id']}", headers={"X-CSRFToken": signed.csrf})
    assert retired.status_code == 200 and retired.get_json()["retired_at"]
    assert client.get(SCHEDULES).get_json() == []
    assert len(client.get(f"{SCHEDULES}?include_retired=true").get_json()) == 1
    again = client.delete(f"{SCHEDULES}{body['id']}", headers={"X-CSRFToken": signed.csrf})
    assert again.status_code == 409
    assert client.delete(f"{SCHEDULES}999", headers={"X-CSRFToken": signed.csrf}).status_code == 404


def test_a_bad_schedule_gets_422_naming_the_field_and_nothing_is_stored(client, db_session):
    world = build_world(db_session)
    admin = make_staff(db_session, "admin@x.org", study=world.study, role=Role.ADMIN)
    signed = sign_in(client, admin.email)
    cases = [
        ({**DIARY_BODY, "spec": {"kind": "daily", "open_time": "6pm", "close_time": "23:00"}}, "spec.open_time"),
        ({**DIARY_BODY, "reminder_gaps_minutes": []}, "reminder_gaps_minutes"),
        ({**DIARY_BODY, "instrument": "gad7"}, "instrument"),
        ({**DIARY_BODY, "instrument": "phq9", "version": "1.1.0", "respondent": "proxy"}, "respondent"),
    ]  # fmt: skip
    for payload, field in cases:
        response = signed.post(SCHEDULES, json=payload)
        assert response.status_code == 422, response.get_json()
        assert field in response.get_json()["errors"], response.get_json()
    unknown = signed.post(SCHEDULES, json={**DIARY_BODY, "colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.get_json()["errors"]["json"]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(StudySchedule)) == 0
    assert audits(db_session, "schedule.added") == []


def test_only_study_wide_managers_change_schedules(app, client, db_session):
    world = build_world(db_session)
    make_staff(db_session, "coord@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A")  # fmt: skip
    make_staff(db_session, "stranger@x.org")
    row = add(db_session, world)
    coordinator = sign_in(client, "coord@x.org")
    assert coordinator.post(SCHEDULES, json=DIARY_BODY).status_code == 403
    assert client.delete(f"{SCHEDULES}{row.id}", headers={"X-CSRFToken": coordinator.csrf}).status_code == 403  # fmt: skip
    assert [s["id"] for s in client.get(SCHEDULES).get_json()] == [row.id]  # they may read them
    outsider = sign_in(app.test_client(), "stranger@x.org")
    assert outsider.client.get(SCHEDULES).status_code == 404
    assert outsider.post(SCHEDULES, json=DIARY_BODY).status_code == 404


# ── Staff: a participant's occurrences ────────────────────────────────────────────────────


def test_site_staff_see_occurrences_and_adherence_of_their_sites_only_audited(client, db_session):
    world = build_world(db_session)
    add(db_session, world)
    at_a = enrol(db_session, world, "A-1", enrolled=utcnow() - dt.timedelta(days=3), zone="UTC")
    enrol(db_session, world, "B-1", enrolled=utcnow(), zone="UTC", site_code="B")
    db_session.execute(sa.update(Participant).values(occurrences_until=None))
    db_session.commit()
    # Planned as if three days ago, so some of A-1's diaries are over.
    planner.materialise(db_session, utcnow() - dt.timedelta(days=3))
    db_session.commit()
    first = db_session.scalars(
        sa.select(Occurrence)
        .where(Occurrence.participant_id == at_a.id)
        .order_by(Occurrence.opens_at)
    ).first()
    first.completed_at = first.opens_at + dt.timedelta(minutes=5)
    db_session.commit()
    user = make_staff(db_session, "coord@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A")  # fmt: skip
    sign_in(client, "coord@x.org")

    response = client.get("/api/v1/studies/fatigue/participants/A-1/occurrences")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    states = [o["state"] for o in body["occurrences"]]
    assert states[0] == "completed" and "upcoming" in states
    assert set(states) <= {"completed", "missed", "open", "upcoming"}
    counts = body["adherence"]["counts"]
    assert set(counts) == {"upcoming", "open", "completed", "late", "missed", "cancelled"}
    assert counts["completed"] == 1 and sum(counts.values()) == len(states)
    assert body["adherence"]["rate"] == round(1 / (1 + counts["missed"]), 4)
    assert {"answers", "scores"}.isdisjoint(body["occurrences"][0])
    event = audits(db_session, "participant.occurrences_viewed")[0]
    assert (event.actor, event.target) == (f"staff:{user.id}", f"participant:{at_a.id}")

    # Another site's code answers as an unknown one (issue #10).
    other_site = client.get("/api/v1/studies/fatigue/participants/B-1/occurrences")
    assert other_site.status_code == 404
    assert client.get("/api/v1/studies/fatigue/participants/Z-9/occurrences").status_code == 404
    assert len(audits(db_session, "participant.occurrences_viewed")) == 1


# ── Phones: what is due ───────────────────────────────────────────────────────────────────


def test_due_lists_open_and_upcoming_occurrences_and_unscheduled_instruments(client, db_session):
    world = build_world(db_session)
    participants.assign_instrument(
        db_session, world.study, world.versions["taking_part_feedback"], "self", "test"
    )
    db_session.commit()
    # Open all day, every day, in UTC (no DST day leaves a gap between two windows).
    add(db_session, world, {"kind": "daily", "open_time": "00:00", "window_minutes": 1440})
    add(db_session, world, {"kind": "visits", "visits": [{"day": 7}]}, instrument="phq9")
    adult = enrol(db_session, world, "A-1", enrolled=utcnow(), zone="UTC")
    _, token = make_device(db_session, adult)

    response = client.get("/api/v1/me/due", headers=bearer(token))
    assert response.status_code == 200
    items = response.get_json()["people"][0]["instruments"]
    shown = [(i["key"], i["status"], i["upcoming"], i["occurrence_id"] is not None) for i in items]
    assert shown == [
        ("daily_symptom_diary", "open", False, True),
        ("taking_part_feedback", "available", False, False),
        ("daily_symptom_diary", "upcoming", True, True),
        ("phq9", "upcoming", True, True),
    ]
    today = dt.datetime.combine(utcnow().date(), dt.time(0), tzinfo=dt.UTC)
    assert items[0]["opens_at"] == today.isoformat()
    assert items[0]["closes_at"] == (today + dt.timedelta(days=1)).isoformat()
    assert items[1]["opens_at"] is None and items[1]["closes_at"] is None
    assert {"key", "version", "title", "language", "respondent"} <= set(items[0])
    # The phone's first look planned the participant; a second look plans nothing new.
    count = db_session.scalar(sa.select(sa.func.count()).select_from(Occurrence))
    client.get("/api/v1/me/due", headers=bearer(token))
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Occurrence)) == count

    # Answering with the occurrence id completes it: it leaves the list.
    submitted = client.post(
        "/api/v1/me/responses/",
        json={
            "id": str(uuid.uuid4()),
            "participant_id": adult.id,
            "instrument": "daily_symptom_diary",
            "version": "1.0.0",
            "respondent_type": "self",
            "language": "en",
            "started_at": utcnow().isoformat(),
            "finished_at": utcnow().isoformat(),
            "answers": {"fatigue": 6, "pain": 0, "sleep": "ok", "mood": "ok"},
            "occurrence_id": items[0]["occurrence_id"],
        },
        headers=bearer(token),
    )
    assert submitted.status_code == 201, submitted.get_json()
    assert submitted.get_json()["occurrence_id"] == items[0]["occurrence_id"]
    after = client.get("/api/v1/me/due", headers=bearer(token)).get_json()
    assert [i["status"] for i in after["people"][0]["instruments"]] == [
        "available",
        "upcoming",
        "upcoming",
    ]


def test_due_for_a_caregiver_shows_each_childs_proxy_occurrences(client, db_session):
    world = build_world(db_session)
    add(
        db_session,
        world,
        {"kind": "daily", "open_time": "00:00", "window_minutes": 1440},
        instrument="child_weekly_wellbeing",
        respondent="proxy",
    )
    child = enrol(db_session, world, "A-1", enrolled=utcnow(), zone="UTC", age_band="child")
    other = enrol(db_session, world, "A-2", enrolled=utcnow(), zone="UTC", age_band="child")
    carer = caregiver_for(db_session, child, other)
    _, token = make_device(db_session, carer)
    people = client.get("/api/v1/me/due", headers=bearer(token)).get_json()["people"]
    for person in people:
        keys = [(i["key"], i["status"], i["respondent"]) for i in person["instruments"]]
        # The diary is assigned to proxies without a schedule: always available.
        assert keys == [
            ("child_weekly_wellbeing", "open", "proxy"),
            ("daily_symptom_diary", "available", "proxy"),
            ("child_weekly_wellbeing", "upcoming", "proxy"),
        ]
    ids = {p["participant_id"]: p["instruments"][0]["occurrence_id"] for p in people}
    owners = dict(db_session.execute(sa.select(Occurrence.id, Occurrence.participant_id)).all())
    assert {owners[i] for i in ids.values()} == {child.id, other.id}
    assert all(owners[ids[pid]] == pid for pid in ids)


def test_a_bad_occurrence_id_in_the_api_is_a_named_422(client, db_session):
    world = build_world(db_session)
    add(db_session, world, {"kind": "daily", "open_time": "00:00", "window_minutes": 1440})
    adult = enrol(db_session, world, "A-1", enrolled=utcnow(), zone="UTC")
    _, token = make_device(db_session, adult)
    payload = {
        "id": str(uuid.uuid4()),
        "participant_id": adult.id,
        "instrument": "daily_symptom_diary",
        "version": "1.0.0",
        "respondent_type": "self",
        "language": "en",
        "started_at": utcnow().isoformat(),
        "finished_at": utcnow().isoformat(),
        "answers": {"fatigue": 6, "pain": 0, "sleep": "ok", "mood": "ok"},
    }
    for bad, where in ((424242, None), ("soon", "json")):
        response = client.post(
            "/api/v1/me/responses/", json={**payload, "occurrence_id": bad}, headers=bearer(token)
        )
        assert response.status_code == 422
        errors = response.get_json()["errors"]
        assert "occurrence_id" in (errors[where] if where else errors)


# ── OpenAPI ───────────────────────────────────────────────────────────────────────────────


def test_the_new_paths_are_documented_with_their_errors(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    base = "/api/v1/studies/{slug}"
    expected = {
        f"{base}/schedules/": {"get": {"200", "401", "403", "404", "422"}, "post": {"201", "401", "403", "404", "422"}},
        f"{base}/schedules/{{schedule_id}}": {"delete": {"200", "401", "403", "404", "409"}},
        f"{base}/participants/{{code}}/occurrences": {"get": {"200", "401", "403", "404"}},
    }  # fmt: skip
    for path, methods in expected.items():
        assert path in paths, path
        for method, statuses in methods.items():
            assert statuses <= set(paths[path][method]["responses"]), (path, method)


def test_due_items_document_the_added_fields(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    fields = schemas["DueInstrument"]["properties"]
    assert {"key", "version", "title", "language", "respondent"} <= set(fields)  # unchanged
    assert {"status", "upcoming", "occurrence_id", "opens_at", "closes_at"} <= set(fields)
    assert fields["status"]["enum"] == ["open", "upcoming", "available"]
