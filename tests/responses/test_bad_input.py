"""Bad input is a clear 4xx naming what is wrong, never a 500 (issue #10, items 5-7).

Every test runs on SQLite and PostgreSQL. Each failed on the code before issue #10: ids past a
column's range, deep JSON, lone surrogates and NUL bytes were 500s; bodiless state-changing
requests ran on defaults; a wrong content type read as "missing data"; 405s had no Allow header.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

import pytest
import sqlalchemy as sa

from app.participants.models import Participant
from app.reminders.models import Timetable
from app.responses.models import Response
from app.studies.models import Role
from tests.factories import make_participant, make_staff, make_study, sign_in
from tests.responses.test_api import body

BEYOND = [2**31, 2**63, 10**30]
ME = "/api/v1/me"
STAFF = "/api/v1/studies/fatigue"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_raw(client, url: str, raw: str | bytes, token: str, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        url,
        data=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
    )


def stored(db_session, model) -> int:  # type: ignore[no-untyped-def]
    return int(db_session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


# ── Item 5: ids beyond the column range ──────────────────────────────────────────────────


@pytest.mark.parametrize("big", BEYOND)
def test_ids_beyond_range_in_phone_paths_are_404(client, world, big):
    token = world.adult_token
    assert (
        client.post(
            f"{ME}/occurrences/{big}/snooze", json={"minutes": 30}, headers=bearer(token)
        ).status_code
        == 404
    )
    assert client.delete(f"{ME}/timetable/pauses/{big}", headers=bearer(token)).status_code == 404


@pytest.mark.parametrize("big", BEYOND)
def test_ids_beyond_range_in_staff_paths_are_404(client, db_session, big):
    study = make_study(db_session)
    make_participant(db_session, study, "A-1")
    make_staff(db_session, "admin@x.org", study=study, role=Role.ADMIN)
    signed = sign_in(client, "admin@x.org")
    h = {"X-CSRFToken": signed.csrf}
    for response in (
        client.delete(f"{STAFF}/news/{big}", headers=h),
        client.delete(f"{STAFF}/schedules/{big}", headers=h),
        client.delete(f"{STAFF}/participants/A-1/timetable/pauses/{big}", headers=h),
        client.post(f"{STAFF}/participants/A-1/devices/{big}/revoke", json={}, headers=h),
        client.get(f"{STAFF}/participants/A-1/caregivers/{big}/timetable"),
        client.post(f"{STAFF}/alerts/{big}/acknowledge", json={}, headers=h),
    ):
        assert response.status_code == 404, (response.request.path, response.get_json())


@pytest.mark.parametrize("big", BEYOND)
def test_ids_beyond_range_in_bodies_and_queries_are_422_naming_the_field(
    client, db_session, world, big
):
    token = world.adult_token
    for field in ("participant_id", "occurrence_id"):
        response = client.post(
            f"{ME}/responses/",
            json={**body(world.adult.id), field: big},
            headers=bearer(token),
        )
        assert response.status_code == 422, response.get_json()
        assert field in response.get_json()["errors"]["json"]
    history = client.get(f"{ME}/history?for={big}", headers=bearer(token))
    assert history.status_code == 422 and "for" in history.get_json()["errors"]["query"]
    assert stored(db_session, Response) == 0


# ── Item 5: deep JSON, lone surrogates, NUL ──────────────────────────────────────────────


@pytest.mark.parametrize("depth", [40, 5_000, 200_000])
def test_deeply_nested_json_is_400(client, world, depth):
    nested = "[" * depth + "]" * depth
    raw = json.dumps(body(world.adult.id)).replace(
        '"answers": {', f'"deep": {nested}, "answers": {{'
    )
    response = post_raw(client, f"{ME}/responses/", raw, world.adult_token)
    assert response.status_code == 400
    assert "deep" in json.dumps(response.get_json()["errors"])


def test_lone_surrogate_in_a_text_answer_is_422_naming_it(client, db_session, world):
    raw = json.dumps(
        body(
            world.adult.id,
            answers={"fatigue": 6, "pain": 0, "sleep": "ok", "mood": "ok", "note": "x"},
        )
    )
    raw = raw.replace('"note": "x"', '"note": "ab\\ud800cd"')
    response = post_raw(client, f"{ME}/responses/", raw, world.adult_token)
    assert response.status_code == 422
    assert "answers.note" in response.get_json()["errors"]["json"]
    assert stored(db_session, Response) == 0


def test_nul_in_json_text_is_422_naming_it(client, db_session, world):
    response = client.post(
        f"{ME}/responses/",
        json=body(world.adult.id, language="en\u0000"),
        headers=bearer(world.adult_token),
    )
    assert response.status_code == 422
    assert "language" in response.get_json()["errors"]["json"]
    pause = client.post(
        f"{ME}/timetable/pauses",
        json={"starts_on": "2030-01-01", "ends_on": "2030-01-02", "reason": "a\u0000b"},
        headers=bearer(world.adult_token),
    )
    assert pause.status_code == 422 and "reason" in pause.get_json()["errors"]["json"]


def test_nul_in_path_query_or_form_is_400(client, db_session):
    study = make_study(db_session)
    make_staff(db_session, "admin@x.org", study=study, role=Role.ADMIN)
    sign_in(client, "admin@x.org")
    assert client.get(f"{STAFF}/participants/A%00-1").status_code == 400
    assert client.get(f"{STAFF}/participants/?site=A%00").status_code == 400
    login = client.post("/staff/login", data={"email": "a\x00@x.org", "password": "x"})
    assert login.status_code == 400


def test_sql_parameters_never_reach_logs_or_errors(app, caplog):
    """A failed INSERT's bound values (idempotency keys, MACs, times) stay out of the log."""
    from app.extensions import db

    marker = "secret-parameter-" + uuid.uuid4().hex
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        with pytest.raises(sa.exc.DBAPIError) as failure:
            db.session.execute(
                sa.text("INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :h)"),
                {"h": marker},
            )
        db.session.rollback()
        logging.getLogger("app.http_errors").exception("as the 500 handler logs it")
    assert marker not in str(failure.value)
    assert marker not in caplog.text


# ── Item 6: input refused ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("language", ["xx", "en-XX", "klingon", "zz"])
def test_language_must_be_one_of_the_instruments(client, db_session, world, language):
    response = client.post(
        f"{ME}/responses/",
        json=body(world.adult.id, language=language),
        headers=bearer(world.adult_token),
    )
    assert response.status_code == 422
    assert "language" in response.get_json()["errors"]
    assert stored(db_session, Response) == 0


@pytest.mark.parametrize(
    ("started", "finished"),
    [
        ("9999-01-01T10:00:00+00:00", "9999-01-01T10:05:00+00:00"),
        ("1970-01-01T10:00:00+00:00", "1970-01-01T10:05:00+00:00"),
    ],
)
def test_finished_at_must_be_plausible(client, db_session, world, started, finished):
    response = client.post(
        f"{ME}/responses/",
        json=body(world.adult.id, started_at=started, finished_at=finished),
        headers=bearer(world.adult_token),
    )
    assert response.status_code == 422
    assert "finished_at" in response.get_json()["errors"]
    assert stored(db_session, Response) == 0


def test_a_little_clock_skew_is_fine(client, world):
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)
    response = client.post(
        f"{ME}/responses/",
        json=body(
            world.adult.id,
            started_at=(soon - dt.timedelta(minutes=4)).isoformat(),
            finished_at=soon.isoformat(),
        ),
        headers=bearer(world.adult_token),
    )
    assert response.status_code == 201, response.get_json()


def test_bodiless_state_changing_requests_are_422_and_change_nothing(client, db_session):
    study = make_study(db_session)
    participant = make_participant(db_session, study, "A-1")
    make_staff(db_session, "admin@x.org", study=study, role=Role.ADMIN)
    signed = sign_in(client, "admin@x.org")
    h = {"X-CSRFToken": signed.csrf}
    base = f"{STAFF}/participants/A-1"
    for method, url, named in (
        ("post", f"{base}/withdraw", "_body"),
        ("post", f"{base}/invitations", "_body"),
        ("post", f"{base}/pause", "_body"),
        ("put", f"{base}/timetable", "_body"),
        ("post", f"{base}/timetable/pauses", "starts_on"),
    ):
        response = getattr(client, method)(url, headers=h)
        assert response.status_code == 422, (url, response.get_json())
        assert named in response.get_json()["errors"]["json"], (url, response.get_json())
    db_session.expire_all()
    assert db_session.get(Participant, participant.id).status == "active"
    assert stored(db_session, Timetable) == 0


def test_bodiless_phone_timetable_put_is_422(client, world):
    response = client.put(f"{ME}/timetable", headers=bearer(world.adult_token))
    assert response.status_code == 422 and "_body" in response.get_json()["errors"]["json"]


def test_wrong_content_type_is_415(client, db_session, world):
    response = client.post(
        f"{ME}/responses/",
        data=json.dumps(body(world.adult.id)),
        headers={**bearer(world.adult_token), "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert response.get_json()["code"] == "unsupported_media_type"
    form = client.put(f"{ME}/language", data={"language": "fr"}, headers=bearer(world.adult_token))
    assert form.status_code == 415
    assert stored(db_session, Response) == 0


# ── Item 7: 405 with Allow ────────────────────────────────────────────────────────────────


def test_405_says_which_methods_are_allowed(client):
    response = client.get("/api/v1/invitations/redeem")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json()["code"] == "method_not_allowed"
    put = client.put(f"{ME}/due")
    assert put.status_code == 405 and "GET" in put.headers["Allow"]


def test_openapi_declares_the_bearer_scheme_and_per_operation_security(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["deviceToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["deviceToken"]["description"],
    }
    paths = spec["paths"]
    assert paths["/api/v1/me/responses/"]["post"]["security"] == [{"deviceToken": []}]
    assert paths["/api/v1/invitations/redeem"]["post"]["security"] == []
    participants = paths["/api/v1/studies/{slug}/participants/"]
    assert participants["get"]["security"] == [{"staffSession": []}]
    assert participants["post"]["security"] == [{"staffSession": [], "csrfToken": []}]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                assert "security" in operation, (method, path)
