"""The staff participant API, the public redeem endpoint and the phone's /api/v1/me API."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from app.accounts.models import StaffUser
from app.audit.models import AuditEvent
from app.participants import service as participants
from app.participants.models import Participant
from app.studies import service as studies
from app.studies.models import Role
from tests.factories import (
    PEPPER,
    make_caregiver,
    make_device,
    make_participant,
    make_staff,
    make_study,
    sign_in,
)
from tests.participants.helpers import count, publish_library

ENROL = {"site": "A", "code": "A-001", "time_zone": "Europe/Paris", "language": "fr"}


def url(slug: str = "fatigue", rest: str = "") -> str:
    return f"/api/v1/studies/{slug}/participants/{rest}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_admin(client, db_session, slug="fatigue"):  # type: ignore[no-untyped-def]
    study = make_study(db_session, slug)
    make_staff(db_session, f"admin@{slug}.org", study=study, role=Role.ADMIN)
    return study, sign_in(client, f"admin@{slug}.org")


def redeem(client, ip: str = "192.0.2.50", **body):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/invitations/redeem", json=body, environ_base={"REMOTE_ADDR": ip})


# ── Staff: enrol, list, view ──────────────────────────────────────────────────────────────


def test_enrol_then_duplicate_code_is_409_and_nothing_changes(client, db_session):
    _study, signed = signed_admin(client, db_session)
    made = signed.post(url(), json={**ENROL, "date_of_birth": "2015-04-01", "nickname": "Léa"})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["age_band"] == "child" and body["site"] == "A"
    assert "date_of_birth" not in body
    events = count(db_session, AuditEvent)
    again = signed.post(url(), json={**ENROL, "site": "B", "age_band": "adult"})
    assert again.status_code == 409 and again.get_json()["code"] == "conflict"
    assert count(db_session, Participant) == 1
    assert count(db_session, AuditEvent) == events
    assert "2015-04-01" not in repr(db_session.execute(sa.select(Participant.__table__)).all())


def test_invalid_time_zone_and_language_are_422_naming_the_fields(client, db_session):
    _study, signed = signed_admin(client, db_session)
    response = signed.post(
        url(),
        json={**ENROL, "time_zone": "Mars/Olympus", "language": "Klingon", "age_band": "adult"},
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "Europe/Paris" in errors["time_zone"][0] and "language" in errors
    misspelt = signed.post(url(), json={**ENROL, "age_band": "adult", "timezone": "UTC"})
    assert misspelt.status_code == 422 and "timezone" in misspelt.get_json()["errors"]["json"]
    assert count(db_session, Participant) == 0


def test_staff_requests_need_csrf(client, db_session):
    _study, signed = signed_admin(client, db_session)
    response = signed.client.post(url(), json={**ENROL, "age_band": "adult"})
    assert response.status_code == 403 and response.get_json()["code"] == "csrf_failed"


def test_site_a_coordinator_cannot_enrol_list_view_or_invite_at_site_b(client, db_session):
    study = make_study(db_session)
    make_participant(db_session, study, "A-1", site_code="A")
    b = make_participant(db_session, study, "B-1", site_code="B")
    make_staff(db_session, "coord@a.org", study=study, role=Role.SITE_COORDINATOR, site_code="A")
    signed = sign_in(client, "coord@a.org")

    enrol_b = signed.post(url(), json={**ENROL, "site": "B", "code": "B-2", "age_band": "adult"})
    assert enrol_b.status_code == 403
    listed = signed.client.get(url()).get_json()
    assert [p["code"] for p in listed] == ["A-1"]
    assert signed.client.get(url(rest="?site=B")).status_code == 403
    # Another site's participant answers as an unknown code does (issue #10: codes of other
    # sites cannot be listed by probing).
    for response in (
        signed.client.get(url(rest="B-1")),
        signed.post(url(rest="B-1/invitations"), json={}),
        signed.post(url(rest="B-1/withdraw"), json={}),
        signed.client.get(url(rest="B-1/devices")),
    ):
        unknown = signed.client.get(url(rest="B-9"))
        assert response.status_code == unknown.status_code == 404
        assert response.get_json()["message"].replace("B-1", "B-9") == unknown.get_json()["message"]
    # Site A works.
    assert signed.post(url(), json={**ENROL, "code": "A-2", "age_band": "adult"}).status_code == 201
    assert signed.post(url(rest="A-1/invitations"), json={}).status_code == 201
    db_session.expire_all()
    assert db_session.get(Participant, b.id).status == "active"


def test_data_manager_may_view_but_not_enrol(client, db_session):
    study = make_study(db_session)
    make_staff(db_session, "dm@x.org", study=study, role=Role.DATA_MANAGER)
    signed = sign_in(client, "dm@x.org")
    assert signed.client.get(url()).status_code == 200
    assert signed.post(url(), json={**ENROL, "age_band": "adult"}).status_code == 403


def test_viewing_a_participant_is_audited(client, db_session):
    study, signed = signed_admin(client, db_session)
    p = make_participant(db_session, study, "A-9")
    assert signed.client.get(url(rest="A-9")).get_json()["code"] == "A-9"
    event = db_session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "participant.viewed")
    )
    assert event.target == f"participant:{p.id}" and event.actor.startswith("staff:")
    assert signed.client.get(url(rest="nobody")).status_code == 404


def test_listing_devices_and_caregivers_is_audited(client, db_session):
    study, signed = signed_admin(client, db_session)
    p = make_participant(db_session, study, "A-9")
    assert signed.client.get(url(rest="A-9/devices")).status_code == 200
    assert signed.client.get(url(rest="A-9/caregivers")).status_code == 200
    events = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action.like("participant.%_viewed"))
    ).all()
    assert sorted(e.action for e in events) == [
        "participant.caregivers_viewed",
        "participant.devices_viewed",
    ]
    assert {e.target for e in events} == {f"participant:{p.id}"}


def test_pause_resume_withdraw(client, db_session):
    study, signed = signed_admin(client, db_session)
    make_participant(db_session, study, "A-1")
    paused = signed.post(url(rest="A-1/pause"), json={"until": "2999-01-14", "reason": "hospital"})
    assert paused.get_json()["status"] == "paused"
    assert paused.get_json()["paused_until"] == "2999-01-14"
    assert signed.post(url(rest="A-1/resume")).get_json()["status"] == "active"
    assert signed.post(url(rest="A-1/pause"), json={"until": "2000-01-01"}).status_code == 422
    assert signed.post(url(rest="A-1/withdraw"), json={"reason": "x"}).get_json()["status"] == (
        "withdrawn"
    )
    assert signed.post(url(rest="A-1/withdraw"), json={}).status_code == 409
    assert signed.post(url(rest="A-1/invitations"), json={}).status_code == 409


# ── Invitations, redeem, devices ──────────────────────────────────────────────────────────


def test_invite_redeem_and_single_use(client, db_session):
    study, signed = signed_admin(client, db_session)
    make_participant(db_session, study, "A-1")
    issued = signed.post(url(rest="A-1/invitations"), json={"valid_for_days": 3})
    assert issued.status_code == 201
    invitation = issued.get_json()
    assert re.fullmatch(r"http://127\.0\.0\.1:5000/app/#join=[\w-]{43}", invitation["link"])
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}", invitation["code"])

    phone = client.application.test_client()
    first = redeem(phone, code=invitation["code"], device_label="Léa's phone")
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["kind"] == "participant"
    token = first.get_json()["device_token"]
    me = phone.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["kind"] == "participant" and me["language"] == "en"
    assert [(p["respondent"], p["answered_by"]) for p in me["people"]] == [("self", "self")]

    second = redeem(phone, token=participants.token_from_link(invitation["link"]))
    assert second.status_code == 401 and second.get_json()["code"] == "invalid_credentials"
    unknown = redeem(phone, code="ZZZZ-ZZZZ-ZZ")
    assert unknown.get_json()["message"] == second.get_json()["message"]
    assert redeem(phone, code="x").status_code == 422
    assert redeem(phone).status_code == 422


def test_code_guessing_is_throttled_per_address(client, db_session):
    study, signed = signed_admin(client, db_session)
    make_participant(db_session, study, "A-1")
    code = signed.post(url(rest="A-1/invitations"), json={}).get_json()["code"]
    limit = participants.RedeemThrottle().max_failures
    messages = {
        redeem(client, ip="203.0.113.5", code=f"{n:04d}-0000-00").get_json()["message"]
        for n in range(limit)
    }
    assert len(messages) == 1
    locked = redeem(client, ip="203.0.113.5", code=code)
    assert locked.status_code == 429 and locked.get_json()["code"] == "too_many_attempts"
    assert int(locked.headers["Retry-After"]) > 0
    assert redeem(client, ip="203.0.113.6", code=code).status_code == 201


def test_device_revocation_by_the_holder_takes_effect_at_once(client, db_session):
    study = make_study(db_session)
    _device, token = make_device(db_session, make_participant(db_session, study))
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.delete("/api/v1/me/device", headers=bearer(token)).status_code == 204
    after = client.get("/api/v1/me", headers=bearer(token))
    assert after.status_code == 401 and after.get_json()["code"] == "unauthenticated"
    assert after.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_device_revocation_by_staff_takes_effect_at_once(client, db_session):
    study, signed = signed_admin(client, db_session)
    device, token = make_device(db_session, make_participant(db_session, study, "A-1"))
    phone = client.application.test_client()
    assert phone.get("/api/v1/me", headers=bearer(token)).status_code == 200
    devices = signed.client.get(url(rest="A-1/devices")).get_json()
    assert [d["id"] for d in devices] == [device.id] and devices[0]["revoked_at"] is None
    revoked = signed.post(url(rest=f"A-1/devices/{device.id}/revoke"), json={"reason": "lost"})
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert phone.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert signed.post(url(rest="A-1/devices/999/revoke"), json={}).status_code == 404


def test_qr_code_of_an_invitation_link(client, db_session):
    study, signed = signed_admin(client, db_session)
    make_participant(db_session, study, "A-1")
    make_participant(db_session, study, "A-2")
    link = signed.post(url(rest="A-1/invitations"), json={}).get_json()["link"]
    qr = signed.post(url(rest="A-1/invitations/qr"), json={"link": link})
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert b"<svg" in qr.data
    assert signed.post(url(rest="A-2/invitations/qr"), json={"link": link}).status_code == 422
    assert signed.post(url(rest="A-1/invitations/qr"), json={"link": "nope"}).status_code == 422


# ── Caregivers ────────────────────────────────────────────────────────────────────────────


def test_caregiver_across_two_studies_sees_exactly_their_children_as_proxy(client, db_session):
    one = make_study(db_session, "one")
    two = make_study(db_session, "two")
    make_staff(db_session, "admin@both.org", study=one, role=Role.ADMIN)
    user = db_session.scalar(sa.select(StaffUser))
    studies.grant(db_session, user, two, Role.ADMIN, site=None, actor="test")
    db_session.commit()
    make_participant(db_session, one, "K-1", age_band="child", nickname="Léa", colour="#ff0000")
    make_participant(db_session, two, "K-2", age_band="child", nickname="Sam")
    make_participant(db_session, one, "K-3", age_band="child")
    signed = sign_in(client, "admin@both.org")

    made = signed.post(
        url("one", "K-1/caregivers"),
        json={"language": "fr", "time_zone": "Europe/Paris", "caregiver_role": "parent"},
    )
    assert made.status_code == 201, made.get_json()
    caregiver_id = made.get_json()["caregiver_id"]
    linked = signed.client.put(
        url("two", f"K-2/caregivers/{caregiver_id}"),
        json={"caregiver_role": "other_caregiver"},
        headers={"X-CSRFToken": signed.csrf},
    )
    assert linked.status_code == 201, linked.get_json()
    again = signed.client.put(
        url("two", f"K-2/caregivers/{caregiver_id}"),
        json={"caregiver_role": "parent"},
        headers={"X-CSRFToken": signed.csrf},
    )
    assert again.status_code == 409
    listed = signed.client.get(url("two", "K-2/caregivers")).get_json()
    assert [c["caregiver_id"] for c in listed] == [caregiver_id]

    invitation = signed.post(url("one", f"K-1/caregivers/{caregiver_id}/invitations"), json={})
    assert invitation.status_code == 201
    assert (
        signed.post(url("one", f"K-3/caregivers/{caregiver_id}/invitations"), json={}).status_code
        == 404
    )
    phone = client.application.test_client()
    credential = redeem(phone, code=invitation.get_json()["code"]).get_json()
    assert credential["kind"] == "caregiver"
    me = phone.get("/api/v1/me", headers=bearer(credential["device_token"])).get_json()
    assert me["kind"] == "caregiver" and me["language"] == "fr"
    assert [
        (p["study"], p["nickname"], p["respondent"], p["caregiver_role"], p["answered_by"])
        for p in me["people"]
    ] == [
        ("one", "Léa", "proxy", "parent", "parent"),
        ("two", "Sam", "proxy", "other_caregiver", "other_caregiver"),
    ]
    assert me["people"][0]["colour"] == "#ff0000"

    # Ending a link removes the child from the phone at once.
    ended = signed.client.delete(
        url("two", f"K-2/caregivers/{caregiver_id}"), headers={"X-CSRFToken": signed.csrf}
    )
    assert ended.status_code == 204
    me = phone.get("/api/v1/me", headers=bearer(credential["device_token"])).get_json()
    assert [p["nickname"] for p in me["people"]] == ["Léa"]


def test_linking_a_caregiver_you_cannot_reach_is_404(client, db_session):
    study = make_study(db_session)
    other = make_study(db_session, "other")
    stranger = make_caregiver(
        db_session, make_participant(db_session, other, "O-1", age_band="child")
    )
    make_participant(db_session, study, "A-1", age_band="child")
    make_staff(db_session, "coord@a.org", study=study, role=Role.SITE_COORDINATOR, site_code="A")
    signed = sign_in(client, "coord@a.org")
    for caregiver_id in (stranger.id, 9999):
        response = signed.client.put(
            url(rest=f"A-1/caregivers/{caregiver_id}"),
            json={"caregiver_role": "parent"},
            headers={"X-CSRFToken": signed.csrf},
        )
        assert response.status_code == 404


# ── What is due, and the rendered instruments ─────────────────────────────────────────────


def _assigned_study(db_session):  # type: ignore[no-untyped-def]
    study = make_study(db_session)
    versions = publish_library(db_session)
    participants.assign_instrument(db_session, study, versions["daily_symptom_diary"], "both", "t")
    participants.assign_instrument(db_session, study, versions["phq9"], "self", "t")
    participants.assign_instrument(
        db_session, study, versions["child_weekly_wellbeing"], "proxy", "t"
    )
    db_session.commit()
    return study


def test_due_lists_assigned_instruments_by_respondent_and_language(client, db_session):
    study = _assigned_study(db_session)
    adult = make_participant(db_session, study, "A-1", language="fr")
    child = make_participant(db_session, study, "A-2", age_band="child")
    _, adult_token = make_device(db_session, adult)
    _, carer_token = make_device(db_session, make_caregiver(db_session, child, language="de"))

    due = client.get("/api/v1/me/due", headers=bearer(adult_token)).get_json()["people"]
    assert [(i["key"], i["title"], i["respondent"]) for i in due[0]["instruments"]] == [
        ("daily_symptom_diary", "Journal quotidien des symptômes", "self"),
        ("phq9", due[0]["instruments"][1]["title"], "self"),
    ]
    due = client.get("/api/v1/me/due", headers=bearer(carer_token)).get_json()["people"]
    assert due[0]["participant_id"] == child.id
    assert [i["key"] for i in due[0]["instruments"]] == [
        "daily_symptom_diary",
        "child_weekly_wellbeing",
    ]
    assert due[0]["instruments"][0]["title"] == "Tägliches Symptomtagebuch"


def test_redeem_answer_carries_what_me_and_due_answer(client, db_session):
    # The phone draws Today from the redeem answer alone (no GET /me, /me/due first): it must
    # be exactly what those two would say with the new token, for a participant and a carer.
    study = _assigned_study(db_session)
    adult = make_participant(db_session, study, "A-1", language="fr")
    child = make_participant(db_session, study, "A-2", age_band="child", nickname="Léa")
    carer = make_caregiver(db_session, child, language="de")
    for holder, kind in ((adult, "participant"), (carer, "caregiver")):
        issued = participants.create_invitation(
            db_session,
            holder,
            valid_for=dt.timedelta(days=1),
            pepper=PEPPER,
            base_url="http://localhost",
            actor="t",
        )
        db_session.commit()
        answer = redeem(client, code=issued.code)
        assert answer.status_code == 201, answer.get_json()
        body = answer.get_json()
        assert body["kind"] == kind
        headers = bearer(body["device_token"])
        assert body["me"] == client.get("/api/v1/me", headers=headers).get_json()
        assert body["due"] == client.get("/api/v1/me/due", headers=headers).get_json()
        assert body["me"]["device_id"] == body["device_id"]
        assert body["due"]["people"][0]["instruments"], "an assigned instrument is due"


def test_rendered_instrument_for_a_linked_child_uses_proxy_wording(client, db_session):
    study = _assigned_study(db_session)
    child = make_participant(db_session, study, "A-2", age_band="child")
    stranger = make_participant(db_session, study, "A-3", age_band="child")
    make_caregiver(db_session, stranger)
    _, token = make_device(db_session, make_caregiver(db_session, child))
    path = "/api/v1/me/instruments/daily_symptom_diary/1.0.0"
    rendered = client.get(f"{path}?for={child.id}", headers=bearer(token))
    assert rendered.status_code == 200, rendered.get_json()
    body = rendered.get_json()
    assert (body["respondent"], body["answered_by"], body["participant_id"]) == (
        "proxy",
        "parent",
        child.id,
    )
    assert body["pages"] and body["language"] == "en"
    refused = client.get(f"{path}?for={stranger.id}", headers=bearer(token))
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    phq9 = client.get(f"/api/v1/me/instruments/phq9/1.1.0?for={child.id}", headers=bearer(token))
    assert phq9.status_code == 404
    missing = client.get(f"/api/v1/me/instruments/nope/9?for={child.id}", headers=bearer(token))
    assert missing.status_code == 404
    assert client.get(path, headers=bearer(token)).status_code == 422
    assert client.get(f"{path}?for={child.id}").status_code == 401


# ── OpenAPI ───────────────────────────────────────────────────────────────────────────────


def test_every_new_path_is_documented_with_its_error_responses(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    base = "/api/v1/studies/{slug}/participants"
    expected = {
        f"{base}/": {"get": {"401", "403", "404"}, "post": {"401", "403", "404", "409", "422"}},
        f"{base}/{{code}}": {"get": {"401", "403", "404"}},
        f"{base}/{{code}}/invitations": {"post": {"401", "403", "404", "409", "422"}},
        f"{base}/{{code}}/invitations/qr": {"post": {"401", "403", "404", "422"}},
        f"{base}/{{code}}/pause": {"post": {"401", "403", "404", "409", "422"}},
        f"{base}/{{code}}/resume": {"post": {"401", "403", "404", "409"}},
        f"{base}/{{code}}/withdraw": {"post": {"401", "403", "404", "409"}},
        f"{base}/{{code}}/devices": {"get": {"401", "403", "404"}},
        f"{base}/{{code}}/devices/{{device_id}}/revoke": {"post": {"401", "403", "404"}},
        f"{base}/{{code}}/caregivers": {"get": {"401", "404"}, "post": {"401", "409", "422"}},
        f"{base}/{{code}}/caregivers/{{caregiver_id}}": {
            "put": {"401", "403", "404", "409", "422"},
            "delete": {"401", "403", "404"},
        },
        f"{base}/{{code}}/caregivers/{{caregiver_id}}/invitations": {"post": {"401", "404"}},
        "/api/v1/invitations/redeem": {"post": {"201", "401", "422", "429"}},
        "/api/v1/me": {"get": {"200", "401"}},
        "/api/v1/me/due": {"get": {"200", "401"}},
        "/api/v1/me/instruments/{key}/{version}": {"get": {"200", "401", "403", "404", "422"}},
        "/api/v1/me/device": {"delete": {"204", "401"}},
    }
    for path, methods in expected.items():
        assert path in paths, path
        for method, statuses in methods.items():
            assert statuses <= set(paths[path][method]["responses"]), (path, method)
    qr = paths[f"{base}/{{code}}/invitations/qr"]["post"]["responses"]["200"]
    assert "image/svg+xml" in qr["content"]
