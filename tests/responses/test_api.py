"""POST /api/v1/me/responses: the path a phone's answers take."""

import uuid

import sqlalchemy as sa

from app.responses.models import Response


def body(participant_id, **overrides):
    payload = {
        "id": str(uuid.uuid4()),
        "participant_id": participant_id,
        "instrument": "daily_symptom_diary",
        "version": "1.0.0",
        "respondent_type": "self",
        "language": "en",
        "started_at": "2026-11-20T18:00:00+01:00",
        "finished_at": "2026-11-20T18:04:30+01:00",
        "answers": {"fatigue": 6, "pain": 3, "pain_where": ["head"], "sleep": "ok", "mood": "ok"},
    }
    payload.update(overrides)
    return payload


def post(client, token, payload):
    return client.post(
        "/api/v1/me/responses/", json=payload, headers={"Authorization": f"Bearer {token}"}
    )


def test_submit_then_resend_returns_the_same_receipt(client, db_session, world):
    payload = body(world.adult.id)
    first = post(client, world.adult_token, payload)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["id"] == payload["id"]
    again = post(client, world.adult_token, payload)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Response)) == 1


def test_same_id_with_other_answers_is_409(client, world):
    payload = body(world.adult.id)
    post(client, world.adult_token, payload)
    changed = {**payload, "answers": {**payload["answers"], "fatigue": 1}}
    response = post(client, world.adult_token, changed)
    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"


def test_errors_name_the_item(client, world):
    response = post(
        client,
        world.adult_token,
        body(world.adult.id, answers={"fatigue": 42, "sleep": "ok", "mood": "ok"}),
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]["answers"]
    assert "fatigue" in errors and "pain" in errors


def test_timestamps_must_carry_the_phones_offset(client, world):
    response = post(
        client, world.adult_token, body(world.adult.id, finished_at="2026-11-20T18:04:30")
    )
    assert response.status_code == 422
    assert "finished_at" in response.get_json()["errors"]["json"]


def test_caregiver_submits_for_their_child_and_not_for_others(client, db_session, world):
    ok = post(client, world.caregiver_token, body(world.child.id, respondent_type="parent"))
    assert ok.status_code == 201, ok.get_json()
    row = db_session.get(Response, ok.get_json()["response_id"])
    assert (row.participant_id, row.respondent_type) == (world.child.id, "parent")
    refused = post(
        client, world.caregiver_token, body(world.unlinked_child.id, respondent_type="parent")
    )
    assert refused.status_code == 403


def test_no_or_revoked_credential_is_401(client, db_session, world):
    assert client.post("/api/v1/me/responses/", json=body(world.adult.id)).status_code == 401
    assert client.delete(
        "/api/v1/me/device", headers={"Authorization": f"Bearer {world.adult_token}"}
    ).status_code in (200, 204)
    response = post(client, world.adult_token, body(world.adult.id))
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthenticated"


def test_submission_is_in_the_openapi_document_with_its_errors(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    responses = spec["paths"]["/api/v1/me/responses/"]["post"]["responses"]
    assert {"201", "401", "403", "404", "409", "422"} <= set(responses)
