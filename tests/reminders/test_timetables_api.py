"""Timetables through the API: a phone edits its holder's own timetable only; staff edit a
participant's or a linked caregiver's within their sites, and every staff read and write is
audited. Bad input is a 422 naming the field, and nothing changes."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.participants.models import Caregiver, Participant
from app.reminders.models import Timetable, TimetablePause
from app.studies.models import Role
from tests.factories import (
    make_caregiver,
    make_device,
    make_participant,
    make_staff,
    make_study,
    sign_in,
)

ME = "/api/v1/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def staff_url(code: str, rest: str = "timetable", slug: str = "fatigue") -> str:
    return f"/api/v1/studies/{slug}/participants/{code}/{rest}"


@pytest.fixture
def family(db_session):
    study = make_study(db_session)
    adult = make_participant(db_session, study, "A-001")
    child = make_participant(db_session, study, "A-002", age_band="child")
    other_child = make_participant(db_session, study, "B-003", age_band="child", site_code="B")
    caregiver = make_caregiver(db_session, child, other_child)
    _, adult_token = make_device(db_session, adult)
    _, caregiver_token = make_device(db_session, caregiver)
    return study, adult, child, other_child, caregiver, adult_token, caregiver_token


def actions(session) -> list[str]:
    return list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def tomorrow() -> str:
    """A day after today in UTC: at or after the local today of any zone the tests use."""
    return (_utc_today() + dt.timedelta(days=2)).isoformat()


def yesterday() -> str:
    """Before the local today of any zone: a pause from here to tomorrow() covers today."""
    return (_utc_today() - dt.timedelta(days=1)).isoformat()


def test_phone_reads_defaults_then_puts_a_timetable(client, family):
    *_, adult_token, _ = family
    got = client.get(f"{ME}/timetable", headers=bearer(adult_token)).get_json()
    assert got["time_zone"] == "Europe/Paris"
    assert got["windows"] is None
    assert got["quiet_hours"] == [{"start": "21:00", "end": "08:00"}]
    assert got["pauses"] == [] and got["paused_reason"] is None

    body = {
        "time_zone": "Europe/Berlin",
        "windows": {
            "mon": [{"start": "18:00", "end": "21:00"}],
            "sat": [{"start": "09:00", "end": "12:00"}],
            "sun": [{"start": "22:00", "end": "01:00", "overnight": True}],
        },
        "quiet_hours": [{"start": "23:00", "end": "07:00"}],
        "reminder_email": "me@example.org",
    }
    put = client.put(f"{ME}/timetable", json=body, headers=bearer(adult_token))
    assert put.status_code == 200, put.get_json()
    saved = put.get_json()
    assert saved["time_zone"] == "Europe/Berlin"
    assert saved["windows"]["mon"] == [{"start": "18:00", "end": "21:00", "overnight": False}]
    assert saved["windows"]["sun"] == [{"start": "22:00", "end": "01:00", "overnight": True}]
    assert saved["reminder_email"] == "me@example.org"
    assert client.get(f"{ME}/timetable", headers=bearer(adult_token)).get_json() == saved
    me = client.get(ME, headers=bearer(adult_token)).get_json()
    assert me["time_zone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Europe/Nowhere"}, "time_zone"),
        ({"windows": {"mon": [{"start": "25:00", "end": "26:00"}]}}, "windows.mon[0].start"),
        ({"windows": {"sat": [{"start": "22:00", "end": "01:00"}]}}, "windows.sat[0]"),
        ({"windows": {"sat": [{"start": "12:00", "end": "09:00"}]}}, "windows.sat[0]"),
        ({"windows": {"someday": [{"start": "09:00", "end": "12:00"}]}}, "windows.someday"),
        ({"quiet_hours": [{"start": "07:00", "end": "07:00"}]}, "quiet_hours[0]"),
    ],
)
def test_phone_put_with_a_bad_field_is_422_naming_it_and_changes_nothing(
    client, db_session, family, body, field
):
    *_, adult_token, _ = family
    before = client.get(f"{ME}/timetable", headers=bearer(adult_token)).get_json()
    response = client.put(
        f"{ME}/timetable",
        json={"reminder_email": "x@example.org", **body},
        headers=bearer(adult_token),
    )
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "validation_failed" and field in problem["errors"], problem
    assert client.get(f"{ME}/timetable", headers=bearer(adult_token)).get_json() == before
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Timetable)) == 0


def test_unknown_and_missing_members_are_refused_by_the_schema(client, family):
    *_, adult_token, _ = family
    for body in ({"windowz": {}}, {"windows": {"mon": [{"start": "09:00"}]}}):
        response = client.put(f"{ME}/timetable", json=body, headers=bearer(adult_token))
        assert response.status_code == 422, body


def test_a_caregiver_phone_edits_the_caregivers_timetable_only(client, db_session, family):
    _study, adult, _child, _other, caregiver, _adult_token, caregiver_token = family
    body = {"windows": {"tue": [{"start": "19:00", "end": "20:00"}]}}
    assert (
        client.put(f"{ME}/timetable", json=body, headers=bearer(caregiver_token)).status_code == 200
    )
    rows = list(db_session.scalars(sa.select(Timetable)))
    assert [(r.caregiver_id, r.participant_id) for r in rows] == [(caregiver.id, None)]

    pause = client.post(
        f"{ME}/timetable/pauses",
        json={"starts_on": yesterday(), "ends_on": tomorrow(), "reason": "holiday"},
        headers=bearer(caregiver_token),
    )
    assert pause.status_code == 201, pause.get_json()
    pause_id = pause.get_json()["id"]
    got = client.get(f"{ME}/timetable", headers=bearer(caregiver_token)).get_json()
    assert got["paused_reason"] == "holiday" and got["paused_until"] == tomorrow()
    # The adult's phone cannot cancel the caregiver's pause; it is simply not theirs.
    assert (
        client.delete(f"{ME}/timetable/pauses/{pause_id}", headers=bearer(_adult_token)).status_code
        == 404
    )
    assert db_session.get(TimetablePause, pause_id).cancelled_at is None
    assert (
        client.delete(
            f"{ME}/timetable/pauses/{pause_id}", headers=bearer(caregiver_token)
        ).status_code
        == 204
    )
    db_session.expire_all()
    assert db_session.get(TimetablePause, pause_id).cancelled_at is not None
    assert (
        client.get(f"{ME}/timetable", headers=bearer(caregiver_token)).get_json()["paused_reason"]
        is None
    )
    assert db_session.get(Participant, adult.id).time_zone == "Europe/Paris"


def test_bad_pause_is_422_and_stores_nothing(client, db_session, family):
    *_, adult_token, _ = family
    response = client.post(
        f"{ME}/timetable/pauses",
        json={"starts_on": tomorrow(), "ends_on": yesterday()},
        headers=bearer(adult_token),
    )
    assert response.status_code == 422 and "ends_on" in response.get_json()["errors"]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(TimetablePause)) == 0


def test_language_is_one_of_the_apps(client, db_session, family):
    _study, adult, *_rest, adult_token, caregiver_token = family
    assert client.put(
        f"{ME}/language", json={"language": "fr"}, headers=bearer(adult_token)
    ).get_json() == {"language": "fr"}
    refused = client.put(f"{ME}/language", json={"language": "xx"}, headers=bearer(adult_token))
    assert refused.status_code == 422 and "language" in refused.get_json()["errors"]
    db_session.expire_all()
    assert db_session.get(Participant, adult.id).language == "fr"
    assert (
        client.put(
            f"{ME}/language", json={"language": "ar"}, headers=bearer(caregiver_token)
        ).status_code
        == 200
    )
    assert client.get(ME, headers=bearer(caregiver_token)).get_json()["language"] == "ar"


def test_phone_endpoints_need_a_device_token(client):
    for method, path in [
        ("get", "/timetable"),
        ("put", "/timetable"),
        ("post", "/timetable/pauses"),
        ("delete", "/timetable/pauses/1"),
        ("put", "/language"),
        ("post", "/occurrences/1/snooze"),
        ("get", "/history"),
        ("get", "/news"),
    ]:
        response = getattr(client, method)(f"{ME}{path}", json={})
        assert response.status_code == 401, (method, path)


# ── Staff ─────────────────────────────────────────────────────────────────────────────────


def test_staff_edit_a_participants_timetable_and_every_read_and_write_is_audited(
    client, db_session, family
):
    study, adult, *_ = family
    make_staff(db_session, "coord@a.org", study=study, role=Role.SITE_COORDINATOR, site_code="A")
    signed = sign_in(client, "coord@a.org")
    headers = {"X-CSRFToken": signed.csrf}
    put = client.put(
        staff_url("A-001"),
        json={"windows": {"wed": [{"start": "10:00", "end": "11:00"}]}},
        headers=headers,
    )
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["updated_by"].startswith("staff:")
    pause = signed.post(
        staff_url("A-001", "timetable/pauses"),
        json={
            "starts_on": yesterday(),
            "ends_on": tomorrow(),
            "reason": "hospital stay",
        },
    )
    assert pause.status_code == 201
    assert pause.get_json()["created_by"].startswith("staff:")
    got = client.get(staff_url("A-001")).get_json()
    assert got["paused_reason"] == "hospital stay"
    assert (
        client.delete(
            staff_url("A-001", f"timetable/pauses/{pause.get_json()['id']}"), headers=headers
        ).status_code
        == 204
    )
    events = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action.like("timetable.%")).order_by(AuditEvent.seq)
    ).all()
    assert [e.action for e in events] == [
        "timetable.updated",
        "timetable.pause_added",
        "timetable.viewed",
        "timetable.pause_cancelled",
    ]
    assert {e.target for e in events} == {f"participant:{adult.id}"}
    assert all(e.actor.startswith("staff:") for e in events)


def test_staff_writes_need_csrf_and_a_managing_role(client, db_session, family):
    study, *_ = family
    make_staff(db_session, "dm@x.org", study=study, role=Role.DATA_MANAGER)
    signed = sign_in(client, "dm@x.org")
    assert client.get(staff_url("A-001")).status_code == 200  # data managers may view
    body = {"quiet_hours": []}
    assert client.put(staff_url("A-001"), json=body).status_code == 403  # no CSRF token
    refused = client.put(staff_url("A-001"), json=body, headers={"X-CSRFToken": signed.csrf})
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Timetable)) == 0


def test_staff_of_another_site_or_study_cannot_see_or_edit(client, db_session, family):
    study, _adult, _child, _other, caregiver, *_ = family
    make_study(db_session, "sleep")
    make_staff(db_session, "coord@b.org", study=study, role=Role.SITE_COORDINATOR, site_code="B")
    signed = sign_in(client, "coord@b.org")
    headers = {"X-CSRFToken": signed.csrf}
    # Another site's participant is answered as an unknown one (issue #10).
    assert client.get(staff_url("A-001")).status_code == 404
    assert (
        client.put(staff_url("A-001"), json={"quiet_hours": []}, headers=headers).status_code == 404
    )
    # The caregiver reached through a site-A child: refused; through their site-B child: fine.
    assert client.get(staff_url("A-002", f"caregivers/{caregiver.id}/timetable")).status_code == 404
    assert client.get(staff_url("B-003", f"caregivers/{caregiver.id}/timetable")).status_code == 200
    # A caregiver not linked to that participant is not found.
    assert client.get(staff_url("B-003", "caregivers/999/timetable")).status_code == 404
    # Another study is not found at all.
    assert client.get(staff_url("A-001", slug="sleep")).status_code == 404
    assert "timetable.updated" not in actions(db_session)


def test_staff_of_one_site_cannot_change_a_caregiver_shared_with_another(
    client, db_session, family
):
    """The caregiver's one timetable also governs their site-A child's reminders (issue #10)."""
    study, _adult, _child, _other, caregiver, *_rest = family
    make_staff(db_session, "coord@b.org", study=study, role=Role.SITE_COORDINATOR, site_code="B")
    signed = sign_in(client, "coord@b.org")
    headers = {"X-CSRFToken": signed.csrf}
    url = staff_url("B-003", f"caregivers/{caregiver.id}/timetable")
    assert client.get(url).status_code == 200
    put = client.put(url, json={"time_zone": "Europe/Madrid"}, headers=headers)
    assert put.status_code == 403 and "do not manage" in put.get_json()["message"]
    added = signed.post(url + "/pauses", json={"starts_on": tomorrow(), "ends_on": tomorrow()})
    assert added.status_code == 403
    db_session.expire_all()
    assert db_session.get(Caregiver, caregiver.id).time_zone == "Europe/London"
    assert db_session.scalar(sa.select(sa.func.count()).select_from(TimetablePause)) == 0
    assert "timetable.updated" not in actions(db_session)


def test_staff_edit_a_linked_caregivers_timetable(client, db_session, family):
    study, _adult, _child, _other, caregiver, *_rest, caregiver_token = family
    make_staff(db_session, "lead@x.org", study=study, role=Role.SITE_COORDINATOR)
    signed = sign_in(client, "lead@x.org")
    headers = {"X-CSRFToken": signed.csrf}
    url = staff_url("B-003", f"caregivers/{caregiver.id}/timetable")
    put = client.put(url, json={"time_zone": "Europe/Madrid"}, headers=headers)
    assert put.status_code == 200, put.get_json()
    db_session.expire_all()
    assert db_session.get(Caregiver, caregiver.id).time_zone == "Europe/Madrid"
    assert (
        client.get(f"{ME}/timetable", headers=bearer(caregiver_token)).get_json()["time_zone"]
        == "Europe/Madrid"
    )
    added = signed.post(url + "/pauses", json={"starts_on": tomorrow(), "ends_on": tomorrow()})
    assert added.status_code == 201
    assert (
        client.delete(f"{url}/pauses/{added.get_json()['id']}", headers=headers).status_code == 204
    )
    bad = client.put(
        url, json={"windows": {"mon": [{"start": "21:00", "end": "18:00"}]}}, headers=headers
    )
    assert bad.status_code == 422 and "windows.mon[0]" in bad.get_json()["errors"]


def test_every_path_is_documented_with_its_errors(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    base = "/api/v1/studies/{slug}/participants/{code}"
    staff = {"401", "403", "404"}
    expected = {
        f"{ME}/timetable": {"get": {"200", "401"}, "put": {"200", "401", "422"}},
        f"{ME}/timetable/pauses": {"post": {"201", "401", "409", "422"}},
        f"{ME}/timetable/pauses/{{pause_id}}": {"delete": {"204", "401", "404"}},
        f"{ME}/language": {"put": {"200", "401", "422"}},
        f"{ME}/push": {
            "get": {"200", "401", "503"},
            "put": {"200", "401", "422", "503"},
            "delete": {"204", "401"},
        },
        f"{ME}/occurrences/{{occurrence_id}}/snooze": {"post": {"200", "401", "404", "409", "422"}},
        f"{ME}/history": {"get": {"200", "401", "403", "422"}},
        f"{ME}/news": {"get": {"200", "401"}},
        f"{base}/timetable": {"get": staff, "put": staff | {"422"}},
        f"{base}/timetable/pauses": {"post": staff | {"409", "422"}},
        f"{base}/timetable/pauses/{{pause_id}}": {"delete": staff | {"204"}},
        f"{base}/caregivers/{{caregiver_id}}/timetable": {"get": staff, "put": staff | {"422"}},
        f"{base}/caregivers/{{caregiver_id}}/timetable/pauses": {"post": staff | {"409", "422"}},
        f"{base}/caregivers/{{caregiver_id}}/timetable/pauses/{{pause_id}}": {"delete": staff},
        "/api/v1/studies/{slug}/news/": {
            "get": staff | {"200"},
            "post": staff | {"201", "422"},
        },
        "/api/v1/studies/{slug}/news/{post_id}": {"delete": staff | {"204"}},
    }
    for path, methods in expected.items():
        assert path in paths, path
        for method, statuses in methods.items():
            assert statuses <= set(paths[path][method]["responses"]), (path, method)


def test_staff_participant_list_shows_who_is_paused_and_why(client, db_session, family):
    study, *_ = family
    make_staff(db_session, "coord@a.org", study=study, role=Role.SITE_COORDINATOR, site_code="A")
    signed = sign_in(client, "coord@a.org")
    paused = signed.post(
        staff_url("A-001", "timetable/pauses"),
        json={"starts_on": yesterday(), "ends_on": tomorrow(), "reason": "hospital stay"},
    )
    assert paused.status_code == 201
    listed = client.get("/api/v1/studies/fatigue/participants/")
    assert listed.status_code == 200
    by_code = {row["code"]: row for row in listed.get_json()}
    assert by_code["A-001"]["reminder_pause"] == {
        "starts_on": yesterday(),
        "ends_on": tomorrow(),
        "reason": "hospital stay",
    }
    assert by_code["A-002"]["reminder_pause"] is None
