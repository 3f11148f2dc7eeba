"""Push subscriptions: the browser's JSON is checked field by field, stored once per endpoint,
moved between devices, removed; and what is stored really reaches a push service."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from app.delivery import vapid
from app.delivery.webpush import PushDelivered, send_push
from app.delivery.webpush import PushSubscription as Target
from app.errors import Invalid
from app.reminders import push
from app.reminders.models import PushSubscription
from tests.factories import make_caregiver, make_device, make_participant, make_study
from tests.support.push_endpoint import PushEndpoint, b64url


@pytest.fixture
def phones(db_session):
    study = make_study(db_session)
    adult = make_participant(db_session, study, "P-001")
    child = make_participant(db_session, study, "P-002", age_band="child")
    caregiver = make_caregiver(db_session, child)
    adult_device, adult_token = make_device(db_session, adult)
    caregiver_device, caregiver_token = make_device(db_session, caregiver)
    return adult_device, adult_token, caregiver_device, caregiver_token


@pytest.fixture
def endpoint():
    with PushEndpoint() as service:
        yield service


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stored(session) -> list[PushSubscription]:
    session.expire_all()
    return list(session.scalars(sa.select(PushSubscription).order_by(PushSubscription.id)))


VALID = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/abc:def",
    "expirationTime": None,
    "keys": {
        # A real P-256 public key (the RFC 8291 example's user agent key).
        "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        "auth": "BTBZMqHH6r4Tts7J_aSIgg",
    },
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoint": None}, "endpoint"),
        ({"endpoint": "http://push.example.org/x"}, "endpoint"),
        ({"endpoint": "ftp://push.example.org/x"}, "endpoint"),
        ({"endpoint": "https://"}, "endpoint"),
        ({"endpoint": "https://user:pw@push.example.org/x"}, "endpoint"),
        ({"endpoint": "https://push.example.org/" + "x" * 2100}, "endpoint"),
        ({"keys": None}, "keys"),
        (
            {"keys": {"p256dh": VALID["keys"]["p256dh"][:-4], "auth": "BTBZMqHH6r4Tts7J_aSIgg"}},
            "keys.p256dh",
        ),
        # 65 bytes starting 0x04 but not a point on the curve.
        (
            {"keys": {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": "BTBZMqHH6r4Tts7J_aSIgg"}},
            "keys.p256dh",
        ),
        ({"keys": {"p256dh": "not base64!", "auth": "BTBZMqHH6r4Tts7J_aSIgg"}}, "keys.p256dh"),
        ({"keys": {"p256dh": VALID["keys"]["p256dh"], "auth": b64url(b"x" * 15)}}, "keys.auth"),
        ({"keys": {"p256dh": VALID["keys"]["p256dh"]}}, "keys.auth"),
        ({"expirationTime": "tomorrow"}, "expirationTime"),
    ],
)
def test_each_bad_field_is_named_and_nothing_is_stored(db_session, phones, change, field):
    device = phones[0]
    with pytest.raises(Invalid) as caught:
        push.subscribe(db_session, device, {**VALID, **change}, allow_local_http=True)
    assert list(caught.value.errors) == [field]
    db_session.rollback()
    assert stored(db_session) == []


def test_the_curve_check_accepts_real_keys_and_padding(phones, db_session, endpoint):
    for _ in range(5):
        sub = endpoint.subscribe().to_json()
        sub["keys"]["p256dh"] += "="  # some browsers pad
        push.check_subscription(sub, allow_local_http=True)


def test_plain_http_only_to_loopback_and_only_when_allowed(db_session, phones):
    device = phones[0]
    local = {**VALID, "endpoint": "http://127.0.0.1:8123/push/x"}
    with pytest.raises(Invalid):
        push.subscribe(db_session, device, local, allow_local_http=False)
    push.subscribe(db_session, device, local, allow_local_http=True)
    with pytest.raises(Invalid):
        push.subscribe(
            db_session,
            device,
            {**VALID, "endpoint": "http://10.0.0.1/push/x"},
            allow_local_http=True,
        )


def test_subscribe_is_idempotent_moves_between_devices_and_replaces_a_rotated_endpoint(
    db_session, phones
):
    adult_device, _, caregiver_device, _ = phones
    first = push.subscribe(db_session, adult_device, VALID)
    again = push.subscribe(db_session, adult_device, VALID)
    db_session.commit()
    assert first.id == again.id and len(stored(db_session)) == 1
    assert stored(db_session)[0].endpoint_hash == push.endpoint_hash(VALID["endpoint"])

    moved = push.subscribe(db_session, caregiver_device, VALID)
    db_session.commit()
    rows = stored(db_session)
    assert [(r.id, r.device_id) for r in rows] == [(first.id, caregiver_device.id)]
    assert moved.id == first.id
    assert push.subscription_of(db_session, adult_device) is None

    rotated = {**VALID, "endpoint": VALID["endpoint"] + "-new"}
    push.subscribe(db_session, caregiver_device, rotated)
    db_session.commit()
    assert [r.endpoint for r in stored(db_session)] == [rotated["endpoint"]]

    assert push.unsubscribe(db_session, caregiver_device) == 1
    assert push.unsubscribe(db_session, caregiver_device) == 0
    db_session.commit()
    assert stored(db_session) == []


def test_phone_api_subscribes_and_the_stored_subscription_receives_a_push(
    client, db_session, phones, endpoint, settings, monkeypatch
):
    monkeypatch.delenv(vapid.VAPID_ENV_VAR, raising=False)
    _, adult_token, _, _ = phones
    status = client.get("/api/v1/me/push", headers=bearer(adult_token))
    assert status.status_code == 200, status.get_json()
    key = status.get_json()["vapid_public_key"]
    assert status.get_json()["subscribed"] is False
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4
    # The key is the instance's, created once (outside production) and stable.
    keys = vapid.load_vapid_keys(
        subject="mailto:t@example.org", instance_path=settings.instance_path, environ={}
    )
    assert keys.application_server_key == key
    assert (
        client.get("/api/v1/me/push", headers=bearer(adult_token)).get_json()["vapid_public_key"]
        == key
    )

    browser = endpoint.subscribe()
    body = {**browser.to_json(), "expirationTime": None}
    for _ in range(2):
        response = client.put("/api/v1/me/push", json=body, headers=bearer(adult_token))
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {"vapid_public_key": key, "subscribed": True}
    assert client.get("/api/v1/me/push", headers=bearer(adult_token)).get_json()["subscribed"]
    (row,) = stored(db_session)

    outcome = send_push(
        Target(row.endpoint, row.p256dh, row.auth),
        {"title": "Chorus", "body": "A questionnaire is waiting"},
        keys,
        ttl=60,
        urgency="normal",
        timeout=10,
    )
    assert isinstance(outcome, PushDelivered)
    (delivered,) = endpoint.delivered()
    assert delivered.json() == {"title": "Chorus", "body": "A questionnaire is waiting"}

    assert client.delete("/api/v1/me/push", headers=bearer(adult_token)).status_code == 204
    assert client.delete("/api/v1/me/push", headers=bearer(adult_token)).status_code == 204
    assert stored(db_session) == []
    assert not client.get("/api/v1/me/push", headers=bearer(adult_token)).get_json()["subscribed"]


def test_phone_api_names_bad_fields_and_needs_a_device(client, db_session, phones):
    _, adult_token, _, _ = phones
    bad = {"endpoint": "http://push.example.org/x", "keys": {"p256dh": "AAAA", "auth": ""}}
    response = client.put("/api/v1/me/push", json=bad, headers=bearer(adult_token))
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"endpoint", "keys.p256dh", "keys.auth"}
    assert stored(db_session) == []
    for method in ("get", "put", "delete"):
        assert getattr(client, method)("/api/v1/me/push", json=VALID).status_code == 401


def test_production_without_a_key_answers_503_and_creates_none(
    db_session, phones, tmp_path, monkeypatch
):
    monkeypatch.delenv(vapid.VAPID_ENV_VAR, raising=False)
    from app import create_app
    from tests.conftest import make_settings

    _, adult_token, _, _ = phones
    url = str(db_session.get_bind().url.render_as_string(hide_password=False))
    production = make_settings(
        url, tmp_path / "prod", env="production", base_url="https://chorus.example.org"
    )
    app = create_app(production)
    try:
        response = app.test_client().get("/api/v1/me/push", headers=bearer(adult_token))
        assert response.status_code == 503
        assert response.get_json()["code"] == "service_unavailable"
        assert not (tmp_path / "prod" / vapid.VAPID_KEY_FILENAME).exists()
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
