"""A staff member's own account (issue #13): an admin invites someone by e-mail (a real SMTP
server on 127.0.0.1) and the link lets them choose their first password once; a password
changes only with the current one; language and time zone are saved, audited, and times on
the staff pages are then shown in that zone with the zone named."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.audit.models import AuditEvent
from app.config import Settings
from tests.conftest import make_settings
from tests.factories import PASSWORD
from tests.support.smtp_server import SmtpTestServer
from tests.workspace.world import World, csrf_of, sign_in_page

BASE = "/staff/studies/fatigue"
NEW_PASSWORD = "a brand new staff password"


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, smtp_server: SmtpTestServer, request: pytest.FixtureRequest
) -> Settings:
    if "without_email" in request.node.name:
        return make_settings(database_url, tmp_path / "instance")
    return make_settings(
        database_url,
        tmp_path / "instance",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security="none",
        smtp_from="Chorus <no-reply@chorus.example.org>",
    )


def _actions(session: Session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def _invite(client: FlaskClient, email: str) -> str:
    sign_in_page(client, "admin@example.org")
    html = client.get(f"{BASE}/staff/").get_data(as_text=True)
    response = client.post(
        f"{BASE}/staff/",
        data={
            "csrf_token": csrf_of(html),
            "email": email,
            "display_name": "Noor",
            "role": "site_coordinator",
            "site": "LYON",
            "by_email": "y",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return response.get_data(as_text=True)


def test_an_invitation_by_email_lets_them_choose_their_password_once(
    client: FlaskClient, app: object, world: World, db_session: Session, smtp_server: SmtpTestServer
) -> None:
    html = _invite(client, "noor@example.org")
    assert "data-first-password" not in html and "data-invitation-link" not in html
    (mail,) = smtp_server.messages
    assert mail.rcpt_tos == ["noor@example.org"]
    body = mail.message.get_content()
    assert "Noor" in body and "Study fatigue" in body
    link = re.search(r"http://localhost(/staff/account/welcome/\S+)", body)
    assert link is not None, body
    path = link.group(1)

    newcomer = app.test_client()  # type: ignore[attr-defined]
    page = newcomer.get(path)
    assert page.status_code == 200 and "noor@example.org" in page.get_data(as_text=True)
    token = csrf_of(page.get_data(as_text=True))
    short = newcomer.post(
        path, data={"csrf_token": token, "new_password": "short", "confirm_password": "short"}
    )
    assert short.status_code == 422 and "at least 12 characters" in short.get_data(as_text=True)
    differ = newcomer.post(
        path,
        data={"csrf_token": token, "new_password": NEW_PASSWORD, "confirm_password": "other"},
    )
    assert differ.status_code == 422
    done = newcomer.post(
        path,
        data={"csrf_token": token, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/staff/")
    assert "Study fatigue" in newcomer.get("/staff/").get_data(as_text=True)  # signed in
    assert app.test_client().get(path).status_code == 404  # type: ignore[attr-defined]  # used
    sign_in_page(app.test_client(), "noor@example.org", NEW_PASSWORD)  # type: ignore[attr-defined]
    actions = _actions(db_session)
    assert "staff.invited" in actions and "staff.invitation_accepted" in actions
    assert app.test_client().get("/staff/account/welcome/made-up").status_code == 404  # type: ignore[attr-defined]


def test_an_invitation_without_email_set_up_shows_the_link_once(
    client: FlaskClient, world: World, smtp_server: SmtpTestServer
) -> None:
    html = _invite(client, "sam@example.org")
    assert "data-invitation-link" in html and "/staff/account/welcome/" in html
    assert "data-first-password" not in html
    assert smtp_server.messages == []


def test_changing_the_password_needs_the_current_one_and_is_audited(
    client: FlaskClient, app: object, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    elsewhere = app.test_client()  # type: ignore[attr-defined]
    sign_in_page(elsewhere, "coord_lyon@example.org")
    html = client.get("/staff/account/").get_data(as_text=True)
    token = csrf_of(html)

    def change(current: str, new: str, again: str) -> tuple[int, str]:
        response = client.post(
            "/staff/account/password",
            data={
                "csrf_token": token,
                "current_password": current,
                "new_password": new,
                "confirm_password": again,
            },
        )
        return response.status_code, response.get_data(as_text=True)

    status, page = change("not my password at all", NEW_PASSWORD, NEW_PASSWORD)
    assert status == 422 and "That is not your current password." in page
    assert NEW_PASSWORD not in page and "not my password at all" not in page
    status, page = change(PASSWORD, "too short", "too short")
    assert status == 422 and "at least 12 characters" in page
    status, page = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert status == 422 and "not the same" in page
    assert "staff.password_changed" not in _actions(db_session)
    assert elsewhere.get("/staff/account/").status_code == 200
    status, _page = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert status == 302
    assert client.get("/staff/account/").status_code == 200  # this browser stays signed in
    assert elsewhere.get("/staff/account/").status_code == 302  # the other one does not
    sign_in_page(app.test_client(), "coord_lyon@example.org", NEW_PASSWORD)  # type: ignore[attr-defined]
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.password_changed")
    ).one()
    assert event.actor == event.target == f"staff:{world.staff['coord_lyon'].id}"
    assert NEW_PASSWORD not in str(event.details)


def test_times_show_in_the_chosen_zone_with_its_name_and_language_is_saved(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "admin@example.org")
    before = client.get(f"{BASE}/audit/").get_data(as_text=True)
    assert 'title="UTC"' in before and "UTC</time>" in before
    token = csrf_of(client.get("/staff/account/").get_data(as_text=True))
    bad = client.post(
        "/staff/account/", data={"csrf_token": token, "language": "en", "time_zone": "Mars/Olympus"}
    )
    assert bad.status_code == 422 and "Choose a time zone" in bad.get_data(as_text=True)
    saved = client.post(
        "/staff/account/",
        data={"csrf_token": token, "language": "fr", "time_zone": "America/New_York"},
    )
    assert saved.status_code == 302
    db_session.expire_all()
    admin = db_session.get(StaffUser, world.staff["admin"].id)
    assert admin is not None
    assert (admin.time_zone, admin.language) == ("America/New_York", "fr")
    assert {"staff.time_zone_set", "staff.language_set"} <= set(_actions(db_session))

    html = client.get(f"{BASE}/audit/").get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "fuseau horaire America/New_York" in html  # the footer names the zone
    shown = re.findall(r'<time datetime="([^"]+)" title="America/New_York">([^<]+)</time>', html)
    assert len(shown) >= 5, html[:2000]
    for moment, text in shown:
        local = dt.datetime.fromisoformat(moment).astimezone(zoneinfo.ZoneInfo("America/New_York"))
        assert local.strftime("%H:%M") in text, (moment, text)
        assert local.tzname() in ("EST", "EDT") and text.endswith(local.tzname() or "")

    # Saved in the account, the language follows the person to a new browser.
    fresh = client.application.test_client()
    sign_in_page(fresh, "admin@example.org")
    assert '<html lang="fr">' in fresh.get("/staff/").get_data(as_text=True)
