"""`chorus participants ...` and the demo's participants."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.db import utcnow
from app.participants import service as participants
from app.participants.models import Caregiver, CaregiverLink, Device, Participant
from tests.factories import make_device, make_participant, make_study

CODE = re.compile(r"code:? ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2})")
LINK = re.compile(r"link:? (http://\S+/app/#join=[\w-]+)")


def run(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["participants", *args])


def test_enroll_invite_list_pause_withdraw(app, db_session, tmp_path):
    make_study(db_session)
    made = run(
        app,
        "enroll",
        "--study", "fatigue",
        "--site", "A",
        "--code", "A-7",
        "--time-zone", "Europe/Paris",
        "--language", "fr",
        "--date-of-birth", "2016-02-29",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "Enrolled A-7" in made.output and "child" in made.output

    bad = run(
        app, "enroll", "--study", "fatigue", "--site", "A", "--code", "A-8",
        "--time-zone", "Paris", "--language", "fr", "--age-band", "adult",
    )  # fmt: skip
    assert bad.exit_code == 1 and "time_zone: Unknown time zone 'Paris'" in bad.output

    qr = tmp_path / "qr.svg"
    invited = run(app, "invite", "--study", "fatigue", "--participant", "A-7", "--qr", str(qr))
    assert invited.exit_code == 0, invited.output
    code = CODE.search(invited.output).group(1)
    assert LINK.search(invited.output)
    assert qr.read_text().lstrip().startswith("<?xml")
    device, _ = participants.redeem(
        db_session,
        code=code,
        device_label=None,
        client_ip="192.0.2.1",
        pepper="t" * 48,
        now=utcnow(),
    )
    db_session.commit()

    listed = run(app, "list", "--study", "fatigue")
    assert "A-7" in listed.output and "1 participant(s)" in listed.output
    assert run(app, "list", "--study", "fatigue", "--site", "B").output.endswith(
        "0 participant(s).\n"
    )

    paused = run(
        app, "pause", "--study", "fatigue", "--participant", "A-7", "--until", "2999-01-01"
    )
    assert paused.exit_code == 0 and "until 2999-01-01" in paused.output
    assert run(app, "resume", "--study", "fatigue", "--participant", "A-7").exit_code == 0
    withdrawn = run(app, "withdraw", "--study", "fatigue", "--participant", "A-7", "--reason", "x")
    assert withdrawn.exit_code == 0, withdrawn.output
    db_session.expire_all()
    assert db_session.get(Device, device.id).revoked_at is not None
    again = run(app, "withdraw", "--study", "fatigue", "--participant", "A-7")
    assert again.exit_code == 1 and "has withdrawn" in again.output
    missing = run(app, "pause", "--study", "fatigue", "--participant", "nobody")
    assert missing.exit_code == 2 and "no participant 'nobody'" in missing.output


def test_caregivers_and_revoke_device(app, db_session):
    one, two = make_study(db_session, "one"), make_study(db_session, "two")
    make_participant(db_session, one, "C-1", age_band="child")
    make_participant(db_session, two, "C-2", age_band="child")
    added = run(
        app, "add-caregiver", "--language", "en", "--time-zone", "Europe/London",
        "--study", "one", "--participant", "C-1",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    caregiver_id = db_session.scalar(sa.select(Caregiver.id))
    linked = run(
        app, "link-caregiver", "--caregiver", str(caregiver_id), "--study", "two",
        "--participant", "C-2", "--role", "other_caregiver",
    )  # fmt: skip
    assert linked.exit_code == 0, linked.output
    db_session.rollback()  # end the read snapshot taken above
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CaregiverLink)) == 2
    invited = run(app, "invite", "--caregiver", str(caregiver_id))
    assert invited.exit_code == 0 and CODE.search(invited.output)
    db_session.rollback()
    device, token = make_device(db_session, db_session.get(Caregiver, caregiver_id))
    revoked = run(app, "revoke-device", str(device.id), "--reason", "lost")
    assert revoked.exit_code == 0, revoked.output
    db_session.rollback()
    assert participants.authenticate_device(db_session, token, utcnow()) is None
    assert run(app, "invite").exit_code == 2


def test_demo_enrolls_participants_and_prints_invitations(app, db_session, client):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    codes = CODE.findall(result.output)
    links = LINK.findall(result.output)
    assert len(codes) == len(links) == 3
    assert "caregiver of Léa (LYON-0002) and Sam (LEEDS-0002)" in result.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Participant)) == 4
    # The printed caregiver code works and shows both children with proxy wording.
    response = client.post("/api/v1/invitations/redeem", json={"code": codes[-1]})
    assert response.status_code == 201, response.get_json()
    token = response.get_json()["device_token"]
    due = client.get("/api/v1/me/due", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [p["nickname"] for p in due["people"]] == ["Léa", "Sam"]
    assert {i["key"] for p in due["people"] for i in p["instruments"]} == {
        "daily_symptom_diary",
        "child_weekly_wellbeing",
    }
    adult = client.post(
        "/api/v1/invitations/redeem", json={"token": links[0].split("#join=")[1]}
    ).get_json()
    due = client.get(
        "/api/v1/me/due", headers={"Authorization": f"Bearer {adult['device_token']}"}
    ).get_json()
    # The demo schedules them: PHQ-9's first visit is open from enrolment; the diary is open
    # in the evening and upcoming otherwise, so the order depends on the time of day.
    shown = {i["key"]: i["status"] for i in due["people"][0]["instruments"]}
    assert shown.keys() == {"daily_symptom_diary", "phq9"} and shown["phq9"] == "open"
