"""Factories for tests: small, explicit, committed rows."""

from __future__ import annotations

from dataclasses import dataclass

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.accounts.models import StaffUser
from app.studies import service as studies
from app.studies.models import Role, Site, Study

PASSWORD = "correct horse battery staple"


def make_study(
    session: Session, slug: str = "fatigue", sites: tuple[str, ...] = ("A", "B")
) -> Study:
    study = studies.create_study(session, slug=slug, name=f"Study {slug}", actor="test")
    for code in sites:
        studies.add_site(session, study, code=code, name=f"Site {code}", actor="test")
    session.commit()
    return study


def site(study: Study, code: str) -> Site:
    return next(s for s in study.sites if s.code == code)


def make_staff(
    session: Session,
    email: str = "ana@example.org",
    *,
    study: Study | None = None,
    role: Role | None = None,
    site_code: str | None = None,
) -> StaffUser:
    user = accounts.create_user(
        session, email=email, display_name=email.split("@")[0], password=PASSWORD, actor="test"
    )
    if study is not None and role is not None:
        studies.grant(
            session,
            user,
            study,
            role,
            site=site(study, site_code) if site_code else None,
            actor="test",
        )
    session.commit()
    return user


@dataclass
class SignedIn:
    client: FlaskClient
    csrf: str

    def post(self, url: str, json: object | None = None, **kw: object):  # type: ignore[no-untyped-def]
        return self.client.post(url, json=json, headers={"X-CSRFToken": self.csrf}, **kw)


def csrf_token(client: FlaskClient) -> str:
    return str(client.get("/api/v1/auth/csrf").get_json()["csrf_token"])


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, **extra: str) -> SignedIn:
    response = client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password, **extra},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200, response.get_json()
    return SignedIn(client, response.get_json()["csrf_token"])


# ── Participants, caregivers, devices ─────────────────────────────────────────────────────

PEPPER = "t" * 48  # the SECRET_KEY tests/conftest.py gives the app


def make_participant(  # type: ignore[no-untyped-def]
    session: Session,
    study: Study,
    code: str = "P-001",
    *,
    site_code: str = "A",
    age_band: str = "adult",
    language: str = "en",
    **extra,
):
    from app.participants import service as participants

    participant = participants.enroll(
        session,
        study,
        site(study, site_code),
        code=code,
        time_zone=extra.pop("time_zone", "Europe/Paris"),
        language=language,
        age_band=age_band,
        actor="test",
        **extra,
    )
    session.commit()
    return participant


def make_caregiver(session: Session, *children, role: str = "parent", language: str = "en"):  # type: ignore[no-untyped-def]
    from app.participants import service as participants

    caregiver = participants.add_caregiver(
        session, language=language, time_zone="Europe/London", actor="test"
    )
    for child in children:
        participants.link_caregiver(session, caregiver, child, role, "test")
    session.commit()
    return caregiver


def make_device(session: Session, holder, label: str = "phone"):  # type: ignore[no-untyped-def]
    """Invite `holder` (participant or caregiver) and redeem at once: (device, bearer token)."""
    import datetime as dt

    from app.db import utcnow
    from app.participants import service as participants

    issued = participants.create_invitation(
        session,
        holder,
        valid_for=dt.timedelta(days=1),
        pepper=PEPPER,
        base_url="http://localhost",
        actor="test",
    )
    device, token = participants.redeem(
        session,
        token=participants.token_from_link(issued.link),
        device_label=label,
        client_ip="192.0.2.1",
        pepper=PEPPER,
        now=utcnow(),
    )
    session.commit()
    return device, token
