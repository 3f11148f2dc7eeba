"""Pages of #13's second round: resolving an alert (outcome and note, beside acknowledging),
the alerts list's open / acknowledged / resolved groups and filter, adding a schedule from a
participant's page, and editing their reminder windows. Each through its service: audited,
scoped, and bad input answered beside its field, changing nothing."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.db import utcnow
from app.errors import Invalid
from app.library.models import InstrumentVersion
from app.reminders import due
from app.reminders import study_schedules as schedules
from app.reminders.models import Occurrence, StudySchedule, Timetable
from app.responses.models import Alert
from tests.workspace.world import World, csrf_of, published_version, sign_in_page

BASE = "/staff/studies/fatigue"


def _events(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# ── Alerts ─────────────────────────────────────────────────────────────────────────────────


def test_resolve_closes_the_alert_with_outcome_and_note_and_lists_it_as_resolved(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    alert_id = world.ids["LYON-0001:alert"]
    listed = client.get(f"{BASE}/alerts/").get_data(as_text=True)
    assert f'href="{BASE}/alerts/{alert_id}/resolve"' in listed
    form = client.get(f"{BASE}/alerts/{alert_id}/resolve")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "LYON-0001" in html and "LEEDS" not in html
    assert _events(db_session, "alert.viewed")

    refused = client.post(f"{BASE}/alerts/{alert_id}/resolve", data={"csrf_token": csrf_of(html)})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert '<a href="#outcome">' in body and '<a href="#note">' in body
    db_session.expire_all()
    assert db_session.get(Alert, alert_id).resolved_at is None  # type: ignore[union-attr]

    done = client.post(
        f"{BASE}/alerts/{alert_id}/resolve",
        data={"csrf_token": csrf_of(html), "outcome": "referred", "note": "Sent to the GP."},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"{BASE}/alerts/")
    assert client.get(f"{BASE}/alerts/count.json").get_json() == {"open": 0}
    db_session.expire_all()
    alert = db_session.get(Alert, alert_id)
    assert alert is not None and alert.resolved_at is not None
    assert alert.resolved_by == world.staff["coord_lyon"].id
    assert (alert.resolution_outcome, alert.resolution_note) == ("referred", "Sent to the GP.")
    (event,) = _events(db_session, "alert.resolved")
    assert event.reason == "Sent to the GP." and event.details["outcome"] == "referred"

    resolved = client.get(f"{BASE}/alerts/?status=resolved").get_data(as_text=True)
    assert "Recently resolved" in resolved and "Sent to the GP." in resolved
    assert "Referred to clinical care" in resolved and "coord_lyon" in resolved
    assert "Open alerts, most severe" not in resolved
    assert "No open alerts." in client.get(f"{BASE}/alerts/?status=open").get_data(as_text=True)
    page = client.get(f"{BASE}/participants/LYON-0001").get_data(as_text=True)
    assert "resolved: Referred to clinical care" in page

    again = client.post(
        f"{BASE}/alerts/{alert_id}/resolve",
        data={"csrf_token": csrf_of(html), "outcome": "other", "note": "Twice"},
    )
    assert again.status_code == 409
    db_session.expire_all()
    assert db_session.get(Alert, alert_id).resolution_note == "Sent to the GP."  # type: ignore[union-attr]


def test_acknowledged_alerts_are_listed_apart_with_who_handles_them(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "admin@example.org")
    html = client.get(f"{BASE}/alerts/").get_data(as_text=True)
    alert_id = world.ids["LEEDS-0001:alert"]
    client.post(
        f"{BASE}/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf_of(html), "note": ""}
    )
    handled = client.get(f"{BASE}/alerts/?status=acknowledged").get_data(as_text=True)
    assert "Acknowledged: being handled" in handled
    assert "LEEDS-0001" in handled and "admin" in handled and "LYON-0001" not in handled
    assert f"{BASE}/alerts/{alert_id}/resolve" in handled


def test_an_unknown_alert_filter_is_a_422_naming_the_choices(
    client: FlaskClient, world: World
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    response = client.get(f"{BASE}/alerts/?status=closed")
    assert response.status_code == 422
    assert "Choose open, acknowledged or resolved alerts" in response.get_data(as_text=True)


def test_a_coordinator_cannot_resolve_another_sites_alert(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    token = csrf_of(client.get(f"{BASE}/alerts/").get_data(as_text=True))
    alert_id = world.ids["LEEDS-0001:alert"]
    response = client.post(
        f"{BASE}/alerts/{alert_id}/resolve",
        data={"csrf_token": token, "outcome": "other", "note": "not mine"},
    )
    assert response.status_code == 403
    db_session.expire_all()
    assert db_session.get(Alert, alert_id).resolved_at is None  # type: ignore[union-attr]


# ── A schedule from the participant page ───────────────────────────────────────────────────


def _phq9_id(session: Session) -> int:
    return session.scalars(
        select(InstrumentVersion.id).where(InstrumentVersion.instrument_key == "phq9")
    ).one()


def test_admin_adds_a_weekly_schedule_for_the_participants_arm(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    world.participants["LYON-0001"].arm = "B"
    db_session.commit()
    sign_in_page(client, "admin@example.org")
    page = client.get(f"{BASE}/participants/LYON-0001").get_data(as_text=True)
    assert f'href="{BASE}/participants/LYON-0001/schedules/new"' in page
    html = client.get(f"{BASE}/participants/LYON-0001/schedules/new").get_data(as_text=True)
    assert "Participants in study arm B" in html
    done = client.post(
        f"{BASE}/participants/LYON-0001/schedules/new",
        data={
            "csrf_token": csrf_of(html),
            "name": "Monday PHQ-9",
            "instrument": str(_phq9_id(db_session)),
            "respondent": "self",
            "applies_to": "arm",
            "kind": "weekly",
            "weekdays": ["mon"],
            "open_time": "09:00",
            "window_hours": "48",
            "reminder_max_count": "2",
            "reminder_gap_minutes": "120",
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    db_session.expire_all()
    row = db_session.scalars(
        select(StudySchedule).where(StudySchedule.name == "Monday PHQ-9")
    ).one()
    assert row.arm == "B" and row.respondent == "self"
    assert row.spec == {
        "kind": "weekly",
        "open_time": "09:00",
        "window_minutes": 2880,
        "weekdays": ["mon"],
    }
    assert (row.reminder_max_count, row.reminder_gaps_minutes) == (2, [120])
    (event,) = [
        e for e in _events(db_session, "schedule.added") if e.target == f"schedule:{row.id}"
    ]
    assert event.actor == f"staff:{world.staff['admin'].id}"
    planned = db_session.scalar(
        select(func.count(Occurrence.id)).where(
            Occurrence.schedule_id == row.id,
            Occurrence.participant_id == world.participants["LYON-0001"].id,
        )
    )
    assert planned and planned > 0


def test_a_schedule_for_one_participant_is_planned_for_them_alone(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "admin@example.org")
    url = f"{BASE}/participants/LYON-0001/schedules/new"
    html = client.get(url).get_data(as_text=True)
    assert "Only LYON-0001" in html
    done = client.post(
        url,
        data={
            "csrf_token": csrf_of(html),
            "name": "Extra diary",
            "instrument": str(_phq9_id(db_session)),
            "respondent": "self",
            "applies_to": "participant",
            "kind": "daily",
            "open_time": "00:00",
            "window_hours": "24",
            "reminder_max_count": "0",
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    db_session.expire_all()
    row = db_session.scalars(select(StudySchedule).where(StudySchedule.name == "Extra diary")).one()
    lyon, leeds = world.participants["LYON-0001"], world.participants["LEEDS-0001"]
    assert (row.participant_id, row.arm) == (lyon.id, None)
    # Re-plan everyone: the planner gives the schedule to LYON-0001 only.
    for person in (lyon, leeds):
        person.occurrences_until = None
    db_session.commit()
    due.ensure_planned(db_session, [lyon, leeds], utcnow())
    db_session.commit()
    planned = dict(
        db_session.execute(
            select(Occurrence.participant_id, func.count(Occurrence.id))
            .where(Occurrence.schedule_id == row.id)
            .group_by(Occurrence.participant_id)
        ).all()
    )
    assert set(planned) == {lyon.id}
    listed = client.get(f"{BASE}/schedules/").get_data(as_text=True)
    assert "one participant only" in listed and "LYON-0001" not in listed


def test_a_schedule_for_one_participant_takes_no_arm_and_no_stranger(
    world: World, db_session: Session
) -> None:
    lyon, oslo = world.participants["LYON-0001"], world.participants["OSLO-0001"]
    common = {
        "name": "Diary",
        "instrument_key": "phq9",
        "instrument_version": published_version(db_session, "phq9"),
        "respondent": "self",
        "spec": {"kind": "daily", "open_time": "18:00", "close_time": "21:00"},
        "actor": "test",
    }
    with pytest.raises(Invalid) as both:
        schedules.add_schedule(db_session, world.study, arm="B", participant=lyon, **common)
    assert "arm" in both.value.errors
    with pytest.raises(Invalid) as stranger:
        schedules.add_schedule(db_session, world.study, participant=oslo, **common)
    assert "participant" in stranger.value.errors


def test_schedule_errors_land_beside_their_fields_and_add_nothing(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "admin@example.org")
    url = f"{BASE}/participants/LYON-0001/schedules/new"
    html = client.get(url).get_data(as_text=True)
    assert "Participants in study arm" not in html  # no arm: every participant only
    before = db_session.scalar(select(func.count(StudySchedule.id)))
    base = {
        "csrf_token": csrf_of(html),
        "name": "Diary",
        "instrument": str(_phq9_id(db_session)),
        "respondent": "self",
        "applies_to": "study",
        "open_time": "18:00",
        "reminder_max_count": "1",
    }
    both = client.post(
        url, data=base | {"kind": "daily", "close_time": "21:00", "window_hours": "3"}
    )
    assert both.status_code == 422
    assert 'id="window_hours-error"' in both.get_data(as_text=True)
    no_days = client.post(url, data=base | {"kind": "weekdays", "window_hours": "3"})
    assert no_days.status_code == 422
    assert 'id="weekdays-error"' in no_days.get_data(as_text=True)
    bad_time = client.post(url, data=base | {"kind": "daily", "open_time": "25:00"})
    assert bad_time.status_code == 422 and 'id="open_time-error"' in bad_time.get_data(as_text=True)
    unknown = client.post(
        url, data=base | {"kind": "daily", "window_hours": "3", "instrument": "999999"}
    )
    assert unknown.status_code == 422 and 'id="instrument-error"' in unknown.get_data(as_text=True)
    wrong_arm = client.post(
        url, data=base | {"kind": "daily", "window_hours": "3", "applies_to": "arm"}
    )
    assert wrong_arm.status_code == 422
    assert db_session.scalar(select(func.count(StudySchedule.id))) == before


def test_a_site_coordinator_adds_no_schedule(client: FlaskClient, world: World) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    page = client.get(f"{BASE}/participants/LYON-0001").get_data(as_text=True)
    assert "/schedules/new" not in page
    assert client.get(f"{BASE}/participants/LYON-0001/schedules/new").status_code == 403


# ── Reminder windows ───────────────────────────────────────────────────────────────────────


def _timetable(session: Session, world: World) -> Timetable:
    session.expire_all()
    return session.scalars(
        select(Timetable).where(Timetable.participant_id == world.participants["LYON-0001"].id)
    ).one()


def test_coordinator_sets_reminder_windows_and_sees_them_again(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    page = client.get(f"{BASE}/participants/LYON-0001").get_data(as_text=True)
    url = f"{BASE}/participants/LYON-0001/timetable/windows"
    assert f'href="{url}"' in page
    html = client.get(url).get_data(as_text=True)
    assert "Europe/Paris" in html and 'for="mon_1_start"' in html
    done = client.post(
        url,
        data={
            "csrf_token": csrf_of(html),
            "mon_1_start": "07:00",
            "mon_1_end": "08:30",
            "mon_2_start": "18:00",
            "mon_2_end": "21:00",
            "sat_2_start": "22:00",
            "sat_2_end": "01:00",
            "sat_2_overnight": "y",
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    assert _timetable(db_session, world).windows == {
        "mon": [["07:00", "08:30"], ["18:00", "21:00"]],
        "sat": [["22:00", "01:00", "overnight"]],
    }
    (event,) = _events(db_session, "timetable.updated")
    assert event.actor == f"staff:{world.staff['coord_lyon'].id}"
    assert event.details == {"fields": ["windows"]}
    again = client.get(url).get_data(as_text=True)
    assert 'value="18:00"' in again
    # Stored windows come back in order, from each day's first row.
    overnight = re.search(r'<input[^>]*id="sat_1_overnight"[^>]*>', again)
    assert overnight is not None and "checked" in overnight.group(0)

    cleared = client.post(url, data={"csrf_token": csrf_of(again)})
    assert cleared.status_code == 302
    assert _timetable(db_session, world).windows is None


def test_window_errors_land_beside_the_window_and_change_nothing(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    url = f"{BASE}/participants/LYON-0001/timetable/windows"
    token = csrf_of(client.get(url).get_data(as_text=True))
    before = _timetable(db_session, world).windows
    half = client.post(url, data={"csrf_token": token, "tue_1_start": "18:00"})
    assert half.status_code == 422 and 'id="tue_1_end-error"' in half.get_data(as_text=True)
    backwards = client.post(
        url,
        data={
            "csrf_token": token,
            "wed_1_start": "08:00",
            "wed_1_end": "09:00",
            "wed_2_start": "12:00",
            "wed_2_end": "09:00",
        },
    )
    body = backwards.get_data(as_text=True)
    assert backwards.status_code == 422 and 'id="wed_2_start-error"' in body
    assert 'id="wed_1_start-error"' not in body
    not_a_time = client.post(
        url, data={"csrf_token": token, "thu_1_start": "7pm", "thu_1_end": "21:00"}
    )
    assert not_a_time.status_code == 422
    assert 'id="thu_1_start-error"' in not_a_time.get_data(as_text=True)
    assert _timetable(db_session, world).windows == before


def test_another_sites_coordinator_cannot_edit_windows(client: FlaskClient, world: World) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    # Another site's code answers as an unknown one does (issue #10: no probing for codes).
    assert client.get(f"{BASE}/participants/LEEDS-0001/timetable/windows").status_code == 404
