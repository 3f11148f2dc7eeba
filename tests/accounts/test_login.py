"""Staff sign-in over the JSON API and the HTML form: argon2, throttling, sessions, CSRF, TOTP."""

import datetime as dt

import pyotp
import pytest
from sqlalchemy import select, update

from app.accounts.models import LoginThrottle, StaffSession, StaffUser
from tests.factories import PASSWORD, csrf_token, make_staff, sign_in


def login(client, email, password=PASSWORD, **extra):
    return client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password, **extra},
        headers={"X-CSRFToken": csrf_token(client)},
    )


def test_passwords_are_stored_as_argon2id(db_session):
    user = make_staff(db_session)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_sign_in_returns_the_user_and_a_working_session(client, db_session):
    make_staff(db_session, "Ana@Example.org")
    response = login(client, "ana@example.org ")
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == "ana@example.org"
    assert "password" not in body and "password_hash" not in body
    assert client.get("/api/v1/auth/session").status_code == 200


def test_session_cookie_is_httponly_and_samesite(client, db_session):
    make_staff(db_session)
    response = login(client, "ana@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert cookie.startswith("__Host-chorus_session=")


def test_wrong_password_and_unknown_account_look_the_same(client, db_session):
    make_staff(db_session)
    wrong = login(client, "ana@example.org", "not the password at all")
    unknown = login(client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert wrong.get_json()["code"] == "invalid_credentials"


def test_lockout_after_repeated_failures_even_with_the_right_password(client, db_session, settings):
    make_staff(db_session)
    for _ in range(settings.login_max_failures):
        assert login(client, "ana@example.org", "wrong password here").status_code == 401
    locked = login(client, "ana@example.org")
    assert locked.status_code == 429
    assert locked.get_json()["code"] == "too_many_attempts"
    assert "Try again in 15 minutes" in locked.get_json()["message"]
    assert int(locked.headers["Retry-After"]) > 0


def test_lockout_message_does_not_reveal_whether_the_account_exists(client, db_session, settings):
    make_staff(db_session)
    for email in ("ana@example.org", "ghost@example.org"):
        for _ in range(settings.login_max_failures):
            login(client, email, "wrong password here")
    real, ghost = login(client, "ana@example.org"), login(client, "ghost@example.org")
    assert real.status_code == ghost.status_code == 429
    assert real.get_json() == ghost.get_json()


def test_lockout_ends_after_the_window(client, db_session, settings):
    make_staff(db_session)
    for _ in range(settings.login_max_failures):
        login(client, "ana@example.org", "wrong password here")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db_session.execute(update(LoginThrottle).values(locked_until=past))
    db_session.commit()
    assert login(client, "ana@example.org").status_code == 200


def test_throttle_table_holds_no_email_addresses(client, db_session):
    login(client, "someone@example.org", "wrong password here")
    keys = db_session.scalars(select(LoginThrottle.key)).all()
    assert keys and all("example.org" not in key for key in keys)


def test_sign_in_rotates_the_session(client, db_session):
    make_staff(db_session)
    make_staff(db_session, "ben@example.org")
    login(client, "ana@example.org")
    first_cookie = client.get_cookie("__Host-chorus_session").value
    first_rows = set(db_session.scalars(select(StaffSession.token_hash)))
    login(client, "ben@example.org")
    assert client.get_cookie("__Host-chorus_session").value != first_cookie
    second_rows = set(db_session.scalars(select(StaffSession.token_hash)))
    assert first_rows.isdisjoint(second_rows), "the earlier server session must be ended"
    assert client.get("/api/v1/auth/session").get_json()["email"] == "ben@example.org"


def test_a_copied_old_cookie_stops_working_after_logout(app, client, db_session):
    make_staff(db_session)
    signed = sign_in(client, "ana@example.org")
    stolen = client.get_cookie("__Host-chorus_session").value
    assert signed.post("/api/v1/auth/logout").status_code == 204
    other = app.test_client()
    other.set_cookie("__Host-chorus_session", stolen)
    assert other.get("/api/v1/auth/session").status_code == 401


@pytest.mark.parametrize("column", ["last_seen_at", "created_at"])
def test_idle_and_absolute_timeouts_end_the_session(client, db_session, settings, column):
    make_staff(db_session)
    sign_in(client, "ana@example.org")
    limit = (
        dt.timedelta(minutes=settings.session_idle_minutes)
        if column == "last_seen_at"
        else dt.timedelta(hours=settings.session_absolute_hours)
    )
    old = dt.datetime.now(dt.UTC) - limit - dt.timedelta(minutes=1)
    db_session.execute(update(StaffSession).values(**{column: old}))
    db_session.commit()
    response = client.get("/api/v1/auth/session")
    assert response.status_code == 401
    assert response.get_json()["code"] == "session_expired"
    assert db_session.scalar(select(StaffSession.token_hash)) is None


def test_activity_keeps_an_idle_session_alive(client, db_session, settings):
    make_staff(db_session)
    sign_in(client, "ana@example.org")
    almost = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=settings.session_idle_minutes - 1)
    db_session.execute(update(StaffSession).values(last_seen_at=almost))
    db_session.commit()
    assert client.get("/api/v1/auth/session").status_code == 200
    db_session.expire_all()
    assert db_session.scalar(select(StaffSession.last_seen_at)) > almost + dt.timedelta(seconds=30)


def test_login_without_csrf_token_is_refused(client, db_session):
    make_staff(db_session)
    response = client.post(
        "/api/v1/auth/login", json={"email": "ana@example.org", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert response.get_json()["code"] == "csrf_failed"
    assert db_session.scalar(select(StaffSession.token_hash)) is None


def test_state_change_with_a_foreign_csrf_token_is_refused(app, client, db_session):
    make_staff(db_session)
    sign_in(client, "ana@example.org")
    attacker_token = csrf_token(app.test_client())
    response = client.post("/api/v1/auth/logout", headers={"X-CSRFToken": attacker_token})
    assert response.status_code == 403
    assert client.get("/api/v1/auth/session").status_code == 200, "still signed in"


def test_html_form_sign_in_and_out(client, db_session):
    make_staff(db_session)
    page = client.get("/staff/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/staff/login", data={"email": "ana@example.org", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/")
    assert "Your studies" in client.get("/staff/").get_data(as_text=True)
    bad = client.post(
        "/staff/login",
        data={"email": "ana@example.org", "password": "nope nope nope", "csrf_token": token},
    )
    assert bad.status_code == 403, "the CSRF token rotated at sign-in"


def test_html_form_shows_a_friendly_error(client, db_session):
    make_staff(db_session)
    page = client.get("/staff/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/staff/login",
        data={"email": "ana@example.org", "password": "wrong wrong wrong", "csrf_token": token},
    )
    assert response.status_code == 401
    assert "do not match an account" in response.get_data(as_text=True)


def _enable_totp(client, db_session) -> pyotp.TOTP:
    signed = sign_in(client, "ana@example.org")
    uri = signed.post("/api/v1/auth/totp").get_json()["otpauth_uri"]
    totp = pyotp.parse_uri(uri)
    assert (
        signed.post(
            "/api/v1/auth/totp/confirm",
            json={"code": "000000" if totp.now() != "000000" else "111111"},
        ).status_code
        == 422
    )
    assert signed.post("/api/v1/auth/totp/confirm", json={"code": totp.now()}).status_code == 204
    signed.post("/api/v1/auth/logout")
    return totp


def test_totp_is_required_once_enabled(client, db_session):
    make_staff(db_session)
    totp = _enable_totp(client, db_session)
    without = login(client, "ana@example.org")
    assert without.status_code == 401 and without.get_json()["code"] == "second_factor_required"
    # the confirm step used the current code, so the next acceptable one is the next step's
    user = db_session.scalar(select(StaffUser))
    db_session.refresh(user)
    next_code = totp.at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))
    assert login(client, "ana@example.org", totp_code=next_code).status_code == 200


def test_a_totp_code_cannot_be_replayed(client, db_session):
    make_staff(db_session)
    totp = _enable_totp(client, db_session)
    used = totp.now()
    replay = login(client, "ana@example.org", totp_code=used)
    assert replay.status_code == 401, "the enrolment already used this step"
    assert replay.get_json()["code"] == "second_factor_required"
