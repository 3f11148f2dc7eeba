"""Timetables of the people who receive reminders: defaults, validation that names the field and
changes nothing, pauses, and the app.scheduling view the planner uses."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app import scheduling
from app.audit.models import AuditEvent
from app.errors import Conflict, Invalid, NotFound
from app.reminders import timetables
from app.reminders.models import Timetable, TimetablePause
from tests.factories import make_caregiver, make_participant, make_study

UTC = dt.UTC
NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def people(db_session):
    study = make_study(db_session)
    adult = make_participant(db_session, study, "P-001")
    child = make_participant(db_session, study, "P-002", age_band="child")
    caregiver = make_caregiver(db_session, child)
    return adult, child, caregiver


def audit_actions(session) -> list[str]:
    return list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_no_row_means_no_windows_and_default_quiet_hours_in_the_persons_zone(db_session, people):
    adult, _, caregiver = people
    table = timetables.scheduling_timetable(db_session, participant=adult)
    assert table.tz == "Europe/Paris"
    assert table.windows is None
    assert table.quiet_hours == (scheduling.QuietHours(dt.time(21), dt.time(8)),)
    assert table.pauses == ()
    assert timetables.scheduling_timetable(db_session, caregiver=caregiver).tz == "Europe/London"
    with pytest.raises(TypeError):
        timetables.scheduling_timetable(db_session, participant=adult, caregiver=caregiver)


def test_update_stores_windows_quiet_hours_and_zone_and_the_planner_view_follows(
    db_session, people
):
    adult, _, _ = people
    view = timetables.update_timetable(
        db_session,
        adult,
        time_zone="America/New_York",
        windows={
            "mon": [{"start": "18:00", "end": "21:00"}],
            "sat": [
                {"start": "09:00", "end": "12:00"},
                {"start": "22:00", "end": "01:00", "overnight": True},
            ],
        },
        quiet_hours=[{"start": "22:30", "end": "06:30"}],
        reminder_email="me@example.org",
        actor="participant:1",
        now=NOW,
    )
    db_session.commit()
    assert view.time_zone == "America/New_York"
    assert view.windows == {
        "mon": [{"start": "18:00", "end": "21:00", "overnight": False}],
        "sat": [
            {"start": "09:00", "end": "12:00", "overnight": False},
            {"start": "22:00", "end": "01:00", "overnight": True},
        ],
    }
    assert view.quiet_hours == [{"start": "22:30", "end": "06:30"}]
    assert view.reminder_email == "me@example.org"
    db_session.expire_all()
    table = timetables.scheduling_timetable(db_session, participant=adult)
    assert table.tz == "America/New_York"
    assert table.windows_on(6) == (
        scheduling.LocalWindow(dt.time(9), dt.time(12)),
        scheduling.LocalWindow(dt.time(22), dt.time(1), overnight=True),
    )
    assert table.windows_on(2) == ()
    assert table.quiet_hours == (scheduling.QuietHours(dt.time(22, 30), dt.time(6, 30)),)
    assert "timetable.updated" in audit_actions(db_session)


def test_fields_left_out_stay_and_none_clears_windows(db_session, people):
    adult, _, _ = people
    timetables.update_timetable(
        db_session, adult, windows={"mon": [{"start": "18:00", "end": "21:00"}]}, actor="t", now=NOW
    )
    view = timetables.update_timetable(
        db_session, adult, reminder_email="a@b.org", actor="t", now=NOW
    )
    assert view.windows is not None and view.quiet_hours == [{"start": "21:00", "end": "08:00"}]
    view = timetables.update_timetable(
        db_session, adult, windows=None, quiet_hours=[], actor="t", now=NOW
    )
    assert view.windows is None and view.quiet_hours == []
    assert timetables.scheduling_timetable(db_session, participant=adult).quiet_hours == ()


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone"),
        ({"time_zone": "localtime"}, "time_zone", "Unknown time zone"),
        (
            {"windows": {"mon": [{"start": "25:00", "end": "26:00"}]}},
            "windows.mon[0].start",
            "HH:MM",
        ),
        ({"windows": {"sat": [{"start": "22:00", "end": "01:00"}]}}, "windows.sat[0]", "overnight"),
        (
            {
                "windows": {
                    "sat": [{"start": "09:00", "end": "12:00"}, {"start": "12:00", "end": "09:00"}]
                }
            },
            "windows.sat[1]",
            "before start",
        ),
        (
            {"windows": {"sat": [{"start": "09:00", "end": "12:00", "overnight": True}]}},
            "windows.sat[0]",
            "overnight",
        ),
        ({"windows": {"sat": [{"start": "09:00", "end": "09:00"}]}}, "windows.sat[0]", "empty"),
        (
            {"windows": {"funday": [{"start": "09:00", "end": "12:00"}]}},
            "windows.funday",
            "Unknown day",
        ),
        ({"windows": {"mon": [{"start": "09:00"}]}}, "windows.mon[0].end", "HH:MM"),
        (
            {"windows": {"mon": [{"start": "09:00", "end": "10:00", "x": 1}]}},
            "windows.mon[0]",
            "Unknown field",
        ),
        (
            {"windows": {"mon": [{"start": "9:00", "end": "10:00"}]}},
            "windows.mon[0].start",
            "HH:MM",
        ),
        ({"quiet_hours": [{"start": "22:00", "end": "22:00"}]}, "quiet_hours[0]", "pause"),
        ({"quiet_hours": [{"start": "22:00", "end": "24:00"}]}, "quiet_hours[0].end", "HH:MM"),
        ({"reminder_email": "not-an-address"}, "reminder_email", "e-mail"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(db_session, people, changes, field, words):
    adult, _, _ = people
    timetables.update_timetable(
        db_session, adult, windows={"mon": [{"start": "18:00", "end": "21:00"}]}, actor="t", now=NOW
    )
    db_session.commit()
    before = timetables.get_timetable(db_session, adult, now=NOW)
    events = len(audit_actions(db_session))
    with pytest.raises(Invalid) as caught:
        timetables.update_timetable(
            db_session, adult, **{"reminder_email": "ok@example.org", **changes}, actor="t", now=NOW
        )
    assert field in caught.value.errors, caught.value.errors
    assert words in caught.value.errors[field][0]
    db_session.rollback()
    db_session.expire_all()
    assert timetables.get_timetable(db_session, adult, now=NOW) == before
    assert len(audit_actions(db_session)) == events


def test_all_problems_are_reported_at_once(db_session, people):
    adult, _, _ = people
    with pytest.raises(Invalid) as caught:
        timetables.update_timetable(
            db_session,
            adult,
            time_zone="Nowhere/Land",
            windows={
                "mon": [{"start": "21:00", "end": "18:00"}],
                "tue": [{"start": "x", "end": "y"}],
            },
            actor="t",
            now=NOW,
        )
    assert set(caught.value.errors) == {
        "time_zone",
        "windows.mon[0]",
        "windows.tue[0].start",
        "windows.tue[0].end",
    }
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Timetable)) == 0


def test_pauses_feed_the_planner_view_and_cancel_resumes(db_session, people):
    adult, _, caregiver = people
    pause = timetables.add_pause(
        db_session,
        caregiver,
        starts_on=dt.date(2027, 3, 10),
        ends_on=dt.date(2027, 3, 14),
        reason="  hospital   stay ",
        actor="caregiver:1",
        now=NOW,
    )
    db_session.commit()
    assert pause.reason == "hospital stay"
    table = timetables.scheduling_timetable(db_session, caregiver=caregiver)
    assert table.pauses == (
        scheduling.Pause(dt.date(2027, 3, 10), dt.date(2027, 3, 14), "hospital stay"),
    )
    assert not scheduling.is_allowed(table, dt.datetime(2027, 3, 12, 12, tzinfo=UTC))
    assert scheduling.is_allowed(table, dt.datetime(2027, 3, 15, 12, tzinfo=UTC))
    view = timetables.get_timetable(db_session, caregiver, now=NOW)
    assert view.active_pause is not None and view.paused_reason == "hospital stay"
    # The participant's own timetable is untouched by the caregiver's pause.
    assert timetables.scheduling_timetable(db_session, participant=adult).pauses == ()

    timetables.cancel_pause(db_session, caregiver, pause.id, actor="caregiver:1", now=NOW)
    timetables.cancel_pause(db_session, caregiver, pause.id, actor="caregiver:1", now=NOW)
    db_session.commit()
    assert timetables.scheduling_timetable(db_session, caregiver=caregiver).pauses == ()
    assert timetables.get_timetable(db_session, caregiver, now=NOW).active_pause is None
    actions = audit_actions(db_session)
    assert actions.count("timetable.pause_added") == 1
    assert actions.count("timetable.pause_cancelled") == 1


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "reason", "field"),
    [
        (dt.date(2027, 3, 14), dt.date(2027, 3, 10), None, "ends_on"),
        (dt.date(2027, 3, 1), dt.date(2027, 3, 9), None, "ends_on"),  # over before today
        (dt.date(2027, 3, 10), dt.date(2028, 3, 20), None, "ends_on"),
        (dt.date(2027, 3, 10), dt.date(2027, 3, 11), "x" * 201, "reason"),
        (dt.date(2027, 3, 10), dt.date(2027, 3, 11), "bad\x00", "reason"),
    ],
)
def test_bad_pauses_are_refused_and_store_nothing(
    db_session, people, starts_on, ends_on, reason, field
):
    adult, _, _ = people
    with pytest.raises(Invalid) as caught:
        timetables.add_pause(
            db_session,
            adult,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=reason,
            actor="t",
            now=NOW,
        )
    assert list(caught.value.errors) == [field]
    db_session.rollback()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(TimetablePause)) == 0


def test_a_pause_of_someone_else_is_not_found(db_session, people):
    adult, _, caregiver = people
    pause = timetables.add_pause(
        db_session,
        adult,
        starts_on=dt.date(2027, 3, 10),
        ends_on=dt.date(2027, 3, 11),
        reason=None,
        actor="t",
        now=NOW,
    )
    with pytest.raises(NotFound):
        timetables.cancel_pause(db_session, caregiver, pause.id, actor="t", now=NOW)
    with pytest.raises(NotFound):
        timetables.cancel_pause(db_session, adult, pause.id + 100, actor="t", now=NOW)


def test_open_pauses_are_capped(db_session, people):
    adult, _, _ = people
    for offset in range(timetables.MAX_OPEN_PAUSES):
        day = dt.date(2027, 4, 1) + dt.timedelta(days=offset)
        timetables.add_pause(
            db_session, adult, starts_on=day, ends_on=day, reason=None, actor="t", now=NOW
        )
    with pytest.raises(Conflict):
        timetables.add_pause(
            db_session,
            adult,
            starts_on=dt.date(2027, 6, 1),
            ends_on=dt.date(2027, 6, 1),
            reason=None,
            actor="t",
            now=NOW,
        )


def test_active_pauses_for_staff_lists_use_each_participants_local_day(db_session, people):
    adult, child, _ = people
    timetables.add_pause(
        db_session,
        adult,
        starts_on=dt.date(2027, 3, 11),
        ends_on=dt.date(2027, 3, 12),
        reason="holiday",
        actor="t",
        now=NOW,
    )
    db_session.commit()
    # 23:30 UTC on the 10th is already the 11th in Paris.
    late = dt.datetime(2027, 3, 10, 23, 30, tzinfo=UTC)
    found = timetables.active_pauses(db_session, [adult.id, child.id], now=late)
    assert {k: v.reason for k, v in found.items()} == {adult.id: "holiday"}
    assert timetables.active_pauses(db_session, [adult.id], now=NOW) == {}
