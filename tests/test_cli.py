"""The `chorus` operator commands."""

import sqlalchemy as sa

from app.accounts.models import StaffUser
from app.studies.models import Membership, Study


def test_users_create_with_a_role(app, db_session):
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=["studies", "create", "--slug", "pain-2027", "--name", "Pain", "--site", "LYON=Lyon"]
    )
    assert made.exit_code == 0, made.output
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Coord@Example.org",
            "--name",
            "Coord",
            "--study",
            "pain-2027",
            "--site",
            "LYON",
            "--role",
            "site_coordinator",
        ],
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    user = db_session.scalar(sa.select(StaffUser))
    assert user.email == "coord@example.org"
    membership = db_session.scalar(sa.select(Membership))
    assert membership.role == "site_coordinator" and membership.site_id is not None


def test_staff_get_a_language_for_their_alert_emails(app, db_session):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["users", "create", "--email", "f@example.org", "--name", "F", "--language", "fr"],
        input="a long enough password\na long enough password\n",
    )
    assert created.exit_code == 0, created.output
    assert db_session.scalar(sa.select(StaffUser.language)) == "fr"
    changed = runner.invoke(
        args=["users", "set-language", "--email", "f@example.org", "--language", "ar"]
    )
    assert changed.exit_code == 0 and "in 'ar'" in changed.output
    db_session.expire_all()
    assert db_session.scalar(sa.select(StaffUser.language)) == "ar"
    refused = runner.invoke(
        args=["users", "set-language", "--email", "f@example.org", "--language", "Arabic"]
    )
    assert refused.exit_code == 1 and "language" in refused.output
    db_session.expire_all()
    assert db_session.scalar(sa.select(StaffUser.language)) == "ar"


def test_users_create_refuses_a_weak_password_and_changes_nothing(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--email", "a@example.org", "--name", "A"], input="short\nshort\n"
    )
    assert result.exit_code == 1
    assert "password: Use at least 12 characters." in result.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 0


def test_demo_creates_a_study_with_two_sites_and_every_role(app, db_session, client):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.chorus.test" in result.output
    study = db_session.scalar(sa.select(Study))
    assert [s.code for s in study.sites] == ["LEEDS", "LYON"]
    roles = set(db_session.scalars(sa.select(Membership.role)))
    assert roles == {"admin", "site_coordinator", "data_manager", "patient_group_author"}
    from app.demo import DEMO_PASSWORD
    from tests.factories import sign_in

    signed = sign_in(client, "coordinator.lyon@demo.chorus.test", DEMO_PASSWORD)
    sites = signed.client.get("/api/v1/studies/demo-fatigue").get_json()["sites"]
    assert [s["code"] for s in sites] == ["LYON"]
