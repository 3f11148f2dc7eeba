"""The workspace pages do what a coordinator and a data manager need, through the services:
field errors beside their fields, the invitation with QR and letter, the withdrawal confirm
step, pauses, alert triage with a note, the grid and its CSV, key rotation, and every view of
participant data audited."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.access import Permission
from app.audit.models import AuditEvent
from app.participants.models import Invitation, Participant
from app.responses.models import Alert, StudyKey
from tests.workspace.world import PASSPHRASE, World, csrf_of, sign_in_page

BASE = "/staff/studies/fatigue"


def actions(session: Session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_enrol_shows_each_error_beside_its_field_and_changes_nothing(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    token = csrf_of(client.get(f"{BASE}/participants/new").get_data(as_text=True))
    before = db_session.scalar(select(func.count(Participant.id)))
    response = client.post(
        f"{BASE}/participants/new",
        data={
            "csrf_token": token,
            "code": "bad code!",
            "site": "LYON",
            "age_band": "adult",
            "language": "fr",
            "time_zone": "Mars/Olympus",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'class="error-summary"' in html
    assert '<a href="#code">' in html and '<a href="#time_zone">' in html
    assert 'id="time_zone-error"' in html and "Mars/Olympus" in html
    assert 'aria-invalid="true"' in html
    assert db_session.scalar(select(func.count(Participant.id))) == before


def test_coordinator_cannot_enrol_at_another_site(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    page = client.get(f"{BASE}/participants/new").get_data(as_text=True)
    assert "LEEDS" not in page
    response = client.post(
        f"{BASE}/participants/new",
        data={
            "csrf_token": csrf_of(page),
            "code": "LEEDS-0099",
            "site": "LEEDS",
            "age_band": "adult",
            "language": "en",
            "time_zone": "Europe/London",
        },
    )
    assert response.status_code in (403, 422)
    assert db_session.scalar(select(Participant.id).where(Participant.code == "LEEDS-0099")) is None


def test_enrol_then_invite_gives_link_code_qr_and_a_letter_in_their_language(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    token = csrf_of(client.get(f"{BASE}/participants/new").get_data(as_text=True))
    enrolled = client.post(
        f"{BASE}/participants/new",
        data={
            "csrf_token": token,
            "code": "LYON-0042",
            "site": "LYON",
            "age_band": "adult",
            "language": "fr",
            "time_zone": "Europe/Paris",
        },
    )
    assert enrolled.status_code == 302
    assert enrolled.headers["Location"].endswith("/participants/LYON-0042/invite")
    form = client.get(enrolled.headers["Location"]).get_data(as_text=True)
    shown = client.post(
        f"{BASE}/participants/LYON-0042/invite",
        data={"csrf_token": csrf_of(form), "valid_for_days": "14"},
    )
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in html
    assert '<article class="letter" lang="fr"' in html
    assert "Votre invitation" in html and "Scannez ce QR code" in html
    assert "/app/#join=" in html
    assert shown.headers["Cache-Control"] == "no-store"
    assert db_session.scalar(select(func.count(Invitation.id))) >= 1
    assert "invitation.created" in actions(db_session)


def test_withdraw_needs_the_confirm_page_and_says_it_cannot_be_undone(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    confirm = client.get(f"{BASE}/participants/LYON-0001/withdraw")
    html = confirm.get_data(as_text=True)
    assert "This cannot be undone." in html
    db_session.expire_all()
    assert db_session.get(Participant, world.participants["LYON-0001"].id).status == "active"
    done = client.post(
        f"{BASE}/participants/LYON-0001/withdraw",
        data={"csrf_token": csrf_of(html), "reason": "moved away"},
    )
    assert done.status_code == 302
    db_session.expire_all()
    assert db_session.get(Participant, world.participants["LYON-0001"].id).status == "withdrawn"


def test_pause_with_a_past_date_is_refused_beside_the_field(
    client: FlaskClient, world: World
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    html = client.get(f"{BASE}/participants/LYON-0001/pause").get_data(as_text=True)
    response = client.post(
        f"{BASE}/participants/LYON-0001/pause",
        data={"csrf_token": csrf_of(html), "until": "2000-01-01", "reason": "x"},
    )
    assert response.status_code == 422
    assert 'id="until-error"' in response.get_data(as_text=True)


def test_participant_page_is_audited_and_shows_metadata_never_answers(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "dm@example.org")
    html = client.get(f"{BASE}/participants/LEEDS-0001").get_data(as_text=True)
    assert "phq9 1.1.0" in html  # the response's instrument, from metadata
    assert "phq9_9" not in html  # no item ids, no answers
    assert "participant.viewed" in actions(db_session)


def test_list_searches_sorts_and_pages(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "admin@example.org")
    html = client.get(f"{BASE}/participants/?q=leeds").get_data(as_text=True)
    assert "LEEDS-0001" in html and "LYON-0001" not in html
    ordered = client.get(f"{BASE}/participants/?sort=code&dir=desc").get_data(as_text=True)
    assert ordered.index("LYON-0001") < ordered.index("LEEDS-0001")
    assert 'aria-sort="descending"' in ordered
    bad = client.get(f"{BASE}/participants/?sort=secret")
    assert bad.status_code == 422 and "Sort by one of" in bad.get_data(as_text=True)
    assert "participants.listed" in actions(db_session)


def test_acknowledge_with_a_note_is_audited_and_the_count_drops(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    assert client.get(f"{BASE}/alerts/count.json").get_json() == {"open": 1}
    html = client.get(f"{BASE}/alerts/").get_data(as_text=True)
    assert "LEEDS" not in html
    alert_id = world.ids["LYON-0001:alert"]
    done = client.post(
        f"{BASE}/alerts/{alert_id}/acknowledge",
        data={"csrf_token": csrf_of(html), "note": "called the participant"},
    )
    assert done.status_code == 302
    assert client.get(f"{BASE}/alerts/count.json").get_json() == {"open": 0}
    db_session.expire_all()
    assert db_session.get(Alert, alert_id).acknowledged_at is not None
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "alert.acknowledged")
    ).one()
    assert event.reason == "called the participant"


def test_grid_and_its_csv_show_only_your_sites(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    html = client.get(f"{BASE}/adherence/?days=7").get_data(as_text=True)
    assert "LYON-0001" in html and "state-open" in html
    assert "<caption" in html and 'scope="col"' in html
    download = client.get(f"{BASE}/adherence.csv?days=7")
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert rows[0][:2] == ["participant", "site"]
    assert {row[1] for row in rows[1:]} == {"LYON"}
    assert "adherence.downloaded" in actions(db_session)
    bad = client.get(f"{BASE}/adherence/?days=500")
    assert bad.status_code == 422
    weekly = client.get(f"{BASE}/adherence/weekly").get_data(as_text=True)
    assert '<svg role="img"' in weekly and "<caption>" in weekly
    assert "LYON" in weekly and "LEEDS" not in weekly


def test_data_manager_rotates_the_key_with_their_passphrase(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "dm@example.org")
    html = client.get(f"{BASE}/keys/").get_data(as_text=True)
    wrong = client.post(
        f"{BASE}/keys/", data={"csrf_token": csrf_of(html), "passphrase": "not the passphrase"}
    )
    assert wrong.status_code == 422
    assert "not the passphrase" not in wrong.get_data(as_text=True)
    assert "study_key.unlock_failed" in actions(db_session)
    rotated = client.post(
        f"{BASE}/keys/", data={"csrf_token": csrf_of(html), "passphrase": PASSPHRASE}
    )
    page = rotated.get_data(as_text=True)
    assert rotated.status_code == 200 and "data-recovery-key" in page
    assert PASSPHRASE not in page
    db_session.expire_all()
    keys = db_session.scalars(
        select(StudyKey).where(StudyKey.study_id == world.study.id).order_by(StudyKey.id)
    ).all()
    assert len(keys) == 2 and keys[0].retired_at is not None and keys[1].retired_at is None


def test_news_preview_shows_it_as_participants_will_and_saves_nothing(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    from app.news.models import NewsPost

    sign_in_page(client, "coord_lyon@example.org")
    html = client.get(f"{BASE}/news/").get_data(as_text=True)
    assert "News for LYON" in html and "News for LEEDS" not in html
    before = db_session.scalar(select(func.count(NewsPost.id)))
    form = {
        "csrf_token": csrf_of(html),
        "site": "LYON",
        "language": "fr",
        "title": "Nouvelle visite",
        "body": "Bonjour.\nÀ bientôt.",
    }
    preview = client.post(f"{BASE}/news/", data={**form, "action": "preview"})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and '<article class="letter" lang="fr">' in page
    assert "<p>À bientôt.</p>" in page
    assert db_session.scalar(select(func.count(NewsPost.id))) == before
    posted = client.post(f"{BASE}/news/", data={**form, "action": "post"})
    assert posted.status_code == 302
    assert db_session.scalar(select(func.count(NewsPost.id))) == before + 1
    empty = client.post(f"{BASE}/news/", data={**form, "title": "", "action": "post"})
    assert empty.status_code == 422 and '<a href="#title">' in empty.get_data(as_text=True)


def test_retiring_a_schedule_goes_through_a_confirm_page(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    from app.reminders.models import StudySchedule

    sign_in_page(client, "admin@example.org")
    schedule_id = world.ids["LYON-0001:schedule"]
    confirm = client.get(f"{BASE}/schedules/{schedule_id}/retire").get_data(as_text=True)
    assert "This cannot be undone." in confirm
    done = client.post(
        f"{BASE}/schedules/{schedule_id}/retire", data={"csrf_token": csrf_of(confirm)}
    )
    assert done.status_code == 302
    db_session.expire_all()
    assert db_session.get(StudySchedule, schedule_id).retired_at is not None


def test_audit_viewer_shows_this_study_and_the_chain_status(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "admin@example.org")
    html = client.get(f"{BASE}/audit/?action=participant.").get_data(as_text=True)
    assert "The chain is intact" in html
    assert "participant.enrolled" in html
    other = world.participants["OSLO-0001"].id
    assert f"participant:{other}<" not in html
    assert "audit.viewed" in actions(db_session)
    sign_in_page(client, "dm_lyon@example.org")
    assert client.get(f"{BASE}/audit/").status_code == 403


def test_staff_set_up_their_authenticator_app(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    import pyotp

    from app.accounts.models import StaffUser

    sign_in_page(client, "coord_lyon@example.org")
    html = client.get("/staff/account/authenticator").get_data(as_text=True)
    started = client.post(
        "/staff/account/authenticator", data={"csrf_token": csrf_of(html), "start": "1"}
    )
    page = started.get_data(as_text=True)
    assert 'alt="QR code for your authenticator app"' in page
    secret = page.split('<code class="breakable">')[1].split("<")[0]
    wrong = client.post(
        "/staff/account/authenticator", data={"csrf_token": csrf_of(page), "code": "000000"}
    )
    assert wrong.status_code == 422 and 'id="code-error"' in wrong.get_data(as_text=True)
    right = client.post(
        "/staff/account/authenticator",
        data={"csrf_token": csrf_of(page), "code": pyotp.TOTP(secret).now()},
    )
    assert right.status_code == 302
    db_session.expire_all()
    user = db_session.get(StaffUser, world.staff["coord_lyon"].id)
    assert user.totp_enabled


def test_admin_adds_staff_with_a_first_password_and_ends_a_role(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    from app.studies.models import Membership

    sign_in_page(client, "admin@example.org")
    html = client.get(f"{BASE}/staff/").get_data(as_text=True)
    added = client.post(
        f"{BASE}/staff/",
        data={
            "csrf_token": csrf_of(html),
            "email": "new.coordinator@example.org",
            "display_name": "New Coordinator",
            "role": "site_coordinator",
            "site": "LEEDS",
        },
    )
    page = added.get_data(as_text=True)
    assert added.status_code == 200 and "data-first-password" in page
    first = page.split("<code data-first-password>")[1].split("<")[0]
    fresh = client.application.test_client()
    sign_in_page(fresh, "new.coordinator@example.org", password=first)
    assert fresh.get(f"{BASE}/participants/LEEDS-0001").status_code == 200
    assert fresh.get(f"{BASE}/participants/LYON-0001").status_code == 404
    membership = db_session.scalars(
        select(Membership).where(Membership.user_id == world.staff["coord_lyon"].id)
    ).one()
    ended = client.post(f"{BASE}/staff/{membership.id}/end", data={"csrf_token": csrf_of(page)})
    assert ended.status_code == 302
    assert "membership.ended" in actions(db_session)
    bad = client.post(
        f"{BASE}/staff/",
        data={"csrf_token": csrf_of(page), "email": "no-at-sign", "role": "admin", "site": ""},
    )
    assert bad.status_code == 422 and '<a href="#email">' in bad.get_data(as_text=True)


def test_a_holder_adds_another_data_manager_then_removes_them(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    from app.responses import keys
    from app.studies import service as studies
    from app.studies.models import Role
    from tests.factories import make_staff

    second = make_staff(db_session, "dm2@example.org", study=world.study, role=Role.DATA_MANAGER)
    sign_in_page(client, "dm@example.org")
    html = client.get(f"{BASE}/keys/").get_data(as_text=True)
    assert 'id="holder-passphrase"' in html and 'id="passphrase"' in html
    added = client.post(
        f"{BASE}/keys/holders",
        data={
            "csrf_token": csrf_of(html),
            "holder-new_holder": str(second.id),
            "holder-passphrase": PASSPHRASE,
            "holder-new_passphrase": "the second holder's own passphrase",
        },
    )
    assert added.status_code == 302, added.get_data(as_text=True)[:2000]
    study = studies.get_study_for(
        db_session, world.staff["dm"], "fatigue", Permission.HOLD_STUDY_KEY
    )
    opened = keys.unlock(
        db_session,
        study,
        keys.HolderCredential("staff", "the second holder's own passphrase", second),
        purpose="test",
    )
    assert opened
    db_session.rollback()
    removed = client.post(
        f"{BASE}/keys/holders/{second.id}/remove", data={"csrf_token": csrf_of(html)}
    )
    assert removed.status_code == 302
    assert "study_key.holder_removed" in actions(db_session)


def test_caregiver_invitation_letter_is_in_the_caregivers_language(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    caregiver_id = world.ids["LYON-0001:caregiver"]
    url = f"{BASE}/participants/LYON-0001/caregivers/{caregiver_id}/invite"
    form = client.get(url).get_data(as_text=True)
    shown = client.post(url, data={"csrf_token": csrf_of(form), "valid_for_days": "7"})
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and '<article class="letter" lang="en"' in html
    assert 'src="data:image/svg+xml;base64,' in html
    other = world.ids["LEEDS-0001:caregiver"]
    wrong = client.get(f"{BASE}/participants/LYON-0001/caregivers/{other}/invite")
    assert wrong.status_code == 404


def test_staff_edit_quiet_hours_with_errors_beside_the_fields(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    url = f"{BASE}/participants/LYON-0001/timetable/quiet-hours"
    sign_in_page(client, "coord_lyon@example.org")
    html = client.get(f"{BASE}/participants/LYON-0001").get_data(as_text=True)
    bad = client.post(
        url, data={"csrf_token": csrf_of(html), "quiet_start": "25:99", "quiet_end": "07:00"}
    )
    assert bad.status_code == 422 and 'id="quiet_start-error"' in bad.get_data(as_text=True)
    good = client.post(
        url, data={"csrf_token": csrf_of(html), "quiet_start": "21:30", "quiet_end": "08:00"}
    )
    assert good.status_code == 302
    page = client.get(f"{BASE}/participants/LYON-0001").get_data(as_text=True)
    assert "21:30\u201308:00" in page
    assert "timetable.updated" in actions(db_session)
