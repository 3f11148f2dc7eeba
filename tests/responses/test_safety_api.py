"""HTTP side of #11: safety contacts per study, site and language (who may set them, what is
refused, which text a phone gets); the rendered instrument carries the safety rules; a repeat
answer for an answered occurrence is kept and shown to staff as a repeat."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.db import utcnow
from app.studies.models import Role, Study
from tests.factories import make_device, make_staff, sign_in
from tests.reminders.planning_world import add, build_world, enrol

CONTACTS = "/api/v1/studies/fatigue/safety-contacts"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def phq9_body(participant_id: int, item9: int, occurrence_id: int) -> dict[str, object]:
    answers = {f"phq9_{i}": 0 for i in range(1, 9)} | {"phq9_9": item9}
    if item9:
        answers["phq9_difficulty"] = 1
    return {
        "id": str(uuid.uuid4()),
        "participant_id": participant_id,
        "instrument": "phq9",
        "version": "1.1.0",
        "respondent_type": "self",
        "language": "en",
        "started_at": utcnow().isoformat(),
        "finished_at": utcnow().isoformat(),
        "answers": answers,
        "occurrence_id": occurrence_id,
    }


def test_contacts_are_set_per_study_and_site_and_reach_the_phone_in_its_language(
    client, db_session
):
    world = build_world(db_session)
    admin = make_staff(db_session, "admin@x.org", study=world.study, role=Role.ADMIN)
    make_staff(
        db_session, "coord@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    adult = enrol(db_session, world, "A-1", enrolled=utcnow(), zone="UTC")
    adult.language = "fr"
    db_session.commit()
    _, token = make_device(db_session, adult)

    # A site coordinator may set their own site's contacts, not the study's.
    coordinator = sign_in(client, "coord@x.org")
    refused = coordinator.post(CONTACTS, json={"contacts": {"en": "x"}})
    assert refused.status_code == 405  # PUT only
    study_wide = client.put(
        CONTACTS, json={"contacts": {"en": "Call 111."}}, headers={"X-CSRFToken": coordinator.csrf}
    )
    assert study_wide.status_code == 403
    site_a = client.put(
        CONTACTS,
        json={"site": "A", "contacts": {"fr": "Infirmière du site A : 01 02 03 04 05."}},
        headers={"X-CSRFToken": coordinator.csrf},
    )
    assert site_a.status_code == 200, site_a.get_json()
    assert site_a.get_json()["sites"]["A"] == {"fr": "Infirmière du site A : 01 02 03 04 05."}
    client.post("/api/v1/auth/logout", headers={"X-CSRFToken": coordinator.csrf})

    signed = sign_in(client, admin.email)
    bad = client.put(
        CONTACTS,
        json={"contacts": {"French": "x", "en": "y" * 1001}},
        headers={"X-CSRFToken": signed.csrf},
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]["contacts"]) == {"French", "en"}
    db_session.expire_all()
    assert db_session.scalar(sa.select(Study.safety_contacts)) == {}
    ok = client.put(
        CONTACTS,
        json={"contacts": {"en": "Study line 0800 000 000.", "ar": "خط الدراسة 0800 000 000."}},
        headers={"X-CSRFToken": signed.csrf},
    )
    assert ok.status_code == 200
    assert ok.get_json()["study"] == {
        "en": "Study line 0800 000 000.",
        "ar": "خط الدراسة 0800 000 000.",
    }
    events = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "safety_contacts.updated")
    ).all()
    assert len(events) == 2 and "0800" not in str([e.details for e in events])

    # The French reader at site A gets the site's French contacts and the French message.
    rendered = client.get(
        f"/api/v1/me/instruments/phq9/1.1.0?for={adult.id}", headers=bearer(token)
    )
    body = rendered.get_json()
    assert body["language"] == "en"  # the PHQ-9 has no French text
    assert body["safety_contacts"] == "Infirmière du site A : 01 02 03 04 05."
    (rule,) = body["safety"]
    assert rule["id"] == "self_harm_thoughts" and rule["language"] == "fr"
    assert rule["message"].startswith("Merci de nous l'avoir dit.")
    assert rule["when"] == {"op": ">", "args": [{"var": "phq9_9"}, {"lit": 0.0}]}


def test_a_second_answer_to_an_answered_visit_is_kept_and_shown_to_staff_as_a_repeat(
    client, db_session
):
    world = build_world(db_session)
    make_staff(db_session, "admin@x.org", study=world.study, role=Role.ADMIN)
    add(db_session, world, {"kind": "daily", "open_time": "00:00", "window_minutes": 1440}, instrument="phq9")  # fmt: skip
    adult = enrol(db_session, world, "A-1", enrolled=utcnow(), zone="UTC")
    _, token = make_device(db_session, adult)
    due = client.get("/api/v1/me/due", headers=bearer(token)).get_json()
    visit = next(
        i for i in due["people"][0]["instruments"] if i["key"] == "phq9" and not i["upcoming"]
    )

    first = client.post("/api/v1/me/responses/", json=phq9_body(adult.id, 0, visit["occurrence_id"]), headers=bearer(token))  # fmt: skip
    assert first.status_code == 201 and first.get_json()["repeat_of"] is None
    again = client.post("/api/v1/me/responses/", json=phq9_body(adult.id, 2, visit["occurrence_id"]), headers=bearer(token))  # fmt: skip
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["repeat_of"] == first.get_json()["response_id"]
    assert again.get_json()["alerts_raised"] == 1  # a repeat still raises its alerts

    sign_in(client, "admin@x.org")
    seen = client.get("/api/v1/studies/fatigue/participants/A-1/occurrences").get_json()
    occurrence = next(o for o in seen["occurrences"] if o["id"] == visit["occurrence_id"])
    assert occurrence["response_id"] == first.get_json()["response_id"]
    assert occurrence["repeat_response_ids"] == [again.get_json()["response_id"]]
    alerts = client.get("/api/v1/studies/fatigue/alerts/").get_json()
    assert [(a["rule_id"], a["repeat"]) for a in alerts] == [("self_harm_thoughts", True)]
