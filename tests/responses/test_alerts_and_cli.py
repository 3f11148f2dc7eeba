"""Alerts reach the participant's site staff (and only them); the key-holder commands."""

import json

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.db import utcnow
from app.responses import service as responses
from app.studies.models import Role
from tests.factories import make_staff, sign_in
from tests.responses.conftest import HOLDER_PASSPHRASE, device_for, phq9


def _urgent_response(db_session, world):
    receipt = responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        phq9(world.adult.id, item9=3),
        now=utcnow(),
    )
    db_session.commit()
    return receipt


def test_site_staff_see_and_acknowledge_their_sites_alerts(client, db_session, world):
    _urgent_response(db_session, world)
    make_staff(
        db_session,
        "coord.a@example.org",
        study=world.study,
        role=Role.SITE_COORDINATOR,
        site_code="A",
    )
    signed = sign_in(client, "coord.a@example.org")
    listed = signed.client.get("/api/v1/studies/fatigue/alerts/").get_json()
    assert [(a["participant_code"], a["severity"], a["site_code"]) for a in listed] == [
        ("A-001", "urgent", "A")
    ]
    assert "phq9_9" not in json.dumps(listed)
    acknowledged = signed.post(f"/api/v1/studies/fatigue/alerts/{listed[0]['id']}/acknowledge")
    assert acknowledged.status_code == 200 and acknowledged.get_json()["acknowledged_at"]
    assert signed.client.get("/api/v1/studies/fatigue/alerts/").get_json() == []
    actions = db_session.scalars(sa.select(AuditEvent.action)).all()
    assert "alerts.listed" in actions and "alert.acknowledged" in actions


def test_another_sites_coordinator_sees_nothing_and_cannot_acknowledge(client, db_session, world):
    _urgent_response(db_session, world)
    make_staff(
        db_session,
        "coord.b@example.org",
        study=world.study,
        role=Role.SITE_COORDINATOR,
        site_code="B",
    )
    signed = sign_in(client, "coord.b@example.org")
    assert signed.client.get("/api/v1/studies/fatigue/alerts/").get_json() == []
    alert_id = db_session.scalar(sa.text("SELECT id FROM alerts"))
    assert signed.post(f"/api/v1/studies/fatigue/alerts/{alert_id}/acknowledge").status_code == 403


def test_patient_group_authors_do_not_see_alerts(client, db_session, world):
    make_staff(db_session, "author@example.org", study=world.study, role=Role.PATIENT_GROUP_AUTHOR)
    signed = sign_in(client, "author@example.org")
    assert signed.client.get("/api/v1/studies/fatigue/alerts/").status_code == 403


def test_cli_opens_a_response_with_the_holders_passphrase(app, db_session, world):
    receipt = _urgent_response(db_session, world)
    result = app.test_cli_runner().invoke(
        args=["responses", "open", "--response", receipt.response_id, "--holder", "dm@example.org"],
        input=HOLDER_PASSPHRASE + "\n",
    )
    assert result.exit_code == 0, result.output
    assert '"phq9_9": 3' in result.output
    assert HOLDER_PASSPHRASE not in result.output


def test_cli_wrong_passphrase_exits_1_and_the_attempt_is_audited(app, db_session, world):
    receipt = _urgent_response(db_session, world)
    result = app.test_cli_runner().invoke(
        args=["responses", "open", "--response", receipt.response_id, "--holder", "dm@example.org"],
        input="wrong passphrase here\n",
    )
    assert result.exit_code == 1
    assert "does not open this study's key" in result.output
    assert (
        db_session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq.desc())).first()
        == "study_key.unlock_failed"
    )


def test_cli_dump_writes_one_json_line_per_response(app, db_session, world):
    _urgent_response(db_session, world)
    _urgent_response(db_session, world)
    result = app.test_cli_runner().invoke(
        args=["responses", "dump", "--study", "fatigue"], input=world.recovery_key + "\n"
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and all(line["scores"]["total"]["value"] == 11 for line in lines)


def test_cli_add_holder_then_the_new_holder_opens(app, db_session, world):
    receipt = _urgent_response(db_session, world)
    make_staff(db_session, "dm2@example.org", study=world.study, role=Role.DATA_MANAGER)
    runner = app.test_cli_runner()
    added = runner.invoke(
        args=[
            "keys",
            "add-holder",
            "--study",
            "fatigue",
            "--email",
            "dm2@example.org",
            "--holder",
            "dm@example.org",
        ],
        input=f"{HOLDER_PASSPHRASE}\nsecond holder passphrase\nsecond holder passphrase\n",
    )
    assert added.exit_code == 0, added.output
    opened = runner.invoke(
        args=[
            "responses",
            "open",
            "--response",
            receipt.response_id,
            "--holder",
            "dm2@example.org",
        ],
        input="second holder passphrase\n",
    )
    assert opened.exit_code == 0, opened.output


def test_cli_study_create_prints_a_recovery_key_once(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["studies", "create", "--slug", "new-study", "--name", "New", "--site", "X=Site X"]
    )
    assert result.exit_code == 0, result.output
    assert "RECOVERY KEY" in result.output
    recovery = result.output.split("RECOVERY KEY")[1].split("\n")[2].strip()
    assert recovery.encode() not in b"".join(
        bytes(r)
        for r in db_session.execute(sa.text("SELECT wrapped_key FROM key_holder_wraps")).scalars()
    )
