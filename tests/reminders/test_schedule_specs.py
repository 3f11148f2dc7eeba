"""Schedule specs and reminder policies: JSON ↔ Schedule, and precise errors that change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.errors import Conflict, Invalid, NotFound
from app.reminders import study_schedules as schedules
from app.reminders.models import StudySchedule
from app.scheduling import ReminderPolicy, Schedule, Visit
from tests.factories import make_study
from tests.reminders.planning_world import add, build_world

# ── Pure: spec ↔ Schedule ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("spec", "schedule"),
    [
        (
            {"kind": "daily", "open_time": "18:00", "close_time": "23:59"},
            Schedule.daily(dt.time(18), close_time=dt.time(23, 59)),
        ),
        (
            {"kind": "weekdays", "open_time": "08:30", "window_minutes": 90, "weekdays": ["mon", "thu"]},
            Schedule.on_weekdays({1, 4}, dt.time(8, 30), window=dt.timedelta(minutes=90)),
        ),
        (
            {"kind": "weekly", "open_time": "09:00", "window_minutes": 2880, "weekdays": ["sun"], "max_occurrences": 12},
            Schedule.weekly(7, dt.time(9), window=dt.timedelta(days=2), max_occurrences=12),
        ),
        (
            {"kind": "visits", "open_time": "00:00", "visits": [{"day": 0, "before": 0, "after": 0}, {"day": 28, "before": 3, "after": 3}]},
            Schedule.visit_plan([Visit(0), Visit(28, 3, 3)]),
        ),
        (
            {"kind": "daily", "open_time": "07:00", "window_minutes": 60, "start_day": 1, "end_day": 30, "end_date": "2027-06-30"},
            Schedule.daily(dt.time(7), window=dt.timedelta(hours=1), start_day=1, end_day=30, end_date=dt.date(2027, 6, 30)),
        ),
    ],
)  # fmt: skip
def test_specs_round_trip(spec, schedule):
    assert schedules.schedule_from_spec(spec) == schedule
    assert schedules.spec_of(schedule) == spec
    assert schedules.schedule_from_spec(schedules.spec_of(schedule)) == schedule


def errors_of(spec):
    with pytest.raises(Invalid) as caught:
        schedules.schedule_from_spec(spec)
    return caught.value.errors


def test_every_bad_field_is_named_at_once():
    errors = errors_of(
        {
            "kind": "daily",
            "open_time": "6pm",
            "close_time": "25:00",
            "weekdays": ["mon", "funday"],
            "colour": "red",
            "max_occurrences": 0,
        }
    )
    assert set(errors) == {
        "spec.open_time",
        "spec.close_time",
        "spec.weekdays[1]",
        "spec.colour",
        "spec.max_occurrences",
    }
    assert "'6pm'" in errors["spec.open_time"][0]
    assert "funday" in errors["spec.weekdays[1]"][0]


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ("daily at six", "spec", "object"),
        ({"kind": "hourly"}, "spec.kind", "daily, weekdays, weekly, visits"),
        ({"kind": "daily", "open_time": "18:00"}, "spec.window_minutes", "exactly one"),
        ({"kind": "daily", "open_time": "18:00", "window_minutes": 60, "close_time": "19:00"}, "spec.window_minutes", "exactly one"),
        ({"kind": "daily", "open_time": "18:00", "window_minutes": 2000}, "spec.window_minutes", "at most"),
        ({"kind": "daily", "open_time": "18:00", "window_minutes": 0}, "spec.window_minutes", "at least 1"),
        ({"kind": "daily", "open_time": "18:00", "close_time": "18:00"}, "spec.close_time", "equals open_time"),
        ({"kind": "daily", "open_time": "18:00", "window_minutes": 60, "weekdays": ["mon"]}, "spec.weekdays", "every day"),
        ({"kind": "weekdays", "open_time": "18:00", "window_minutes": 60}, "spec.weekdays", "at least one"),
        ({"kind": "weekdays", "open_time": "18:00", "window_minutes": 60, "weekdays": ["mon", "mon"]}, "spec.weekdays[1]", "twice"),
        ({"kind": "weekly", "open_time": "18:00", "window_minutes": 60, "weekdays": ["mon", "tue"]}, "spec.weekdays", "one weekday"),
        ({"kind": "daily", "open_time": "18:00", "window_minutes": 60, "start_day": 5, "end_day": 2}, "spec.end_day", "before start_day"),
        ({"kind": "daily", "open_time": "18:00", "window_minutes": 60, "end_date": "30/06/2027"}, "spec.end_date", "2027-06-30"),
        ({"kind": "visits"}, "spec.visits", "at least one visit"),
        ({"kind": "visits", "visits": {"day": 1}}, "spec.visits", "list"),
        ({"kind": "visits", "visits": [{"day": 0}, {"day": 7, "before": -2}]}, "spec.visits[1].before", "at least 0"),
        ({"kind": "visits", "visits": [{"day": 0}, {"before": 2}]}, "spec.visits[1].day", "Missing"),
        ({"kind": "visits", "visits": [{"day": 0, "when": "soon"}]}, "spec.visits[0].when", "Unknown"),
        ({"kind": "visits", "visits": [{"day": 7}, {"day": 7, "after": 1}]}, "spec.visits[1]", "second visit on day 7"),
        ({"kind": "visits", "visits": [{"day": "7"}]}, "spec.visits[0].day", "whole number"),
        ({"kind": "visits", "window_minutes": 60, "visits": [{"day": 0}]}, "spec.window_minutes", "visits schedule"),
    ],
)  # fmt: skip
def test_a_bad_spec_names_its_field(spec, field, words):
    errors = errors_of(spec)
    assert field in errors, errors
    assert words in " ".join(errors[field])


@pytest.mark.parametrize(
    ("count", "gaps", "field", "words"),
    [
        (-1, [], "reminder_max_count", "at least 0"),
        (21, [60], "reminder_max_count", "At most 20"),
        (True, [], "reminder_max_count", "whole number"),
        (3, [], "reminder_gaps_minutes", "at least one follow-up gap"),
        (2, [60, 0], "reminder_gaps_minutes[1]", "at least 1"),
        (2, [20000], "reminder_gaps_minutes[0]", "7 days"),
        (2, "60", "reminder_gaps_minutes", "list of minutes"),
    ],
)
def test_a_bad_reminder_policy_names_its_field(count, gaps, field, words):
    with pytest.raises(Invalid) as caught:
        schedules.policy_from(count, gaps)
    assert words in " ".join(caught.value.errors[field]), caught.value.errors


def test_reminder_policy_from_minutes():
    assert schedules.policy_from(3, [120, 60]) == ReminderPolicy(
        (dt.timedelta(hours=2), dt.timedelta(hours=1)), 3
    )
    assert schedules.policy_from(0, []) == ReminderPolicy((), 0)


# ── Adding, listing, retiring (database) ──────────────────────────────────────────────────


def count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_add_stores_the_canonical_spec_and_audits(db_session):
    world = build_world(db_session)
    row = add(db_session, world, {"kind": "weekly", "weekdays": ["sun"], "open_time": "09:00", "window_minutes": 2880}, instrument="child_weekly_wellbeing", respondent="proxy", reminders=1, gaps=())  # fmt: skip
    assert row.spec == {"kind": "weekly", "open_time": "09:00", "window_minutes": 2880, "weekdays": ["sun"]}  # fmt: skip
    event = db_session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "schedule.added"))
    assert event.target == f"schedule:{row.id}" and event.details["respondent"] == "proxy"
    assert [s.id for s in schedules.list_schedules(db_session, world.study)] == [row.id]


def test_add_refuses_an_instrument_the_study_does_not_ask_of_that_respondent(db_session):
    world = build_world(db_session)
    before = count(db_session, StudySchedule), count(db_session, AuditEvent)
    cases = [
        (dict(instrument_key="phq9", instrument_version="1.1.0", respondent="proxy"), "respondent", "self respondents, not proxy"),
        (dict(instrument_key="gad7", instrument_version="1.0.0", respondent="self"), "instrument", "not assigned"),
        (dict(instrument_key="nope", instrument_version="1.0.0", respondent="self"), "instrument", "No published instrument"),
        (dict(instrument_key="phq9", instrument_version="1.1.0", respondent="carer"), "respondent", "Use one of"),
    ]  # fmt: skip
    for fields, field, words in cases:
        with pytest.raises(Invalid) as caught:
            schedules.add_schedule(
                db_session,
                world.study,
                name="x",
                spec={"kind": "visits", "visits": [{"day": 0}]},
                actor="test",
                **fields,
            )
        assert words in " ".join(caught.value.errors[field]), caught.value.errors
        db_session.rollback()
    assert (count(db_session, StudySchedule), count(db_session, AuditEvent)) == before


def test_add_reports_spec_policy_name_and_anchor_problems_together(db_session):
    world = build_world(db_session)
    with pytest.raises(Invalid) as caught:
        schedules.add_schedule(
            db_session,
            world.study,
            name="  ",
            instrument_key="phq9",
            instrument_version="1.1.0",
            respondent="self",
            spec={"kind": "visits", "visits": [{"day": 0, "before": "2"}]},
            anchor="Surgery Day",
            reminder_max_count=4,
            reminder_gaps_minutes=[],
            actor="test",
        )
    assert set(caught.value.errors) == {
        "name",
        "anchor",
        "spec.visits[0].before",
        "reminder_gaps_minutes",
    }
    db_session.rollback()
    assert count(db_session, StudySchedule) == 0


def test_retiring_twice_is_a_conflict_and_other_studies_schedules_are_not_found(db_session):
    world = build_world(db_session)
    other = make_study(db_session, "sleep")
    row = add(db_session, world)
    with pytest.raises(NotFound):
        schedules.retire_schedule(db_session, other, row.id, actor="test")
    db_session.rollback()
    schedules.retire_schedule(db_session, world.study, row.id, actor="test")
    db_session.commit()
    with pytest.raises(Conflict):
        schedules.retire_schedule(db_session, world.study, row.id, actor="test")
    db_session.rollback()
    assert schedules.list_schedules(db_session, world.study) == []
    assert [s.id for s in schedules.list_schedules(db_session, world.study, include_retired=True)] == [row.id]  # fmt: skip


# ── CLI ───────────────────────────────────────────────────────────────────────────────────


def test_cli_adds_lists_and_retires(runner, db_session):
    build_world(db_session)
    result = runner.invoke(
        args=[
            "schedules", "add", "--study", "fatigue", "--name", "Diary",
            "--instrument", "daily_symptom_diary", "--version", "1.0.0", "--respondent", "self",
            "--spec", '{"kind": "daily", "open_time": "18:00", "close_time": "23:00"}',
            "--reminders", "2", "--gap", "90",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Added schedule 1 (Diary)" in result.output
    listed = runner.invoke(args=["schedules", "list", "--study", "fatigue"])
    assert listed.exit_code == 0
    assert (
        "Diary  daily_symptom_diary 1.0.0  self" in listed.output and "gaps=[90]" in listed.output
    )
    assert runner.invoke(args=["schedules", "plan"]).exit_code == 0
    retired = runner.invoke(args=["schedules", "retire", "--study", "fatigue", "--id", "1"])
    assert retired.exit_code == 0 and "Retired schedule 1" in retired.output
    assert "No schedules." in runner.invoke(args=["schedules", "list", "--study", "fatigue"]).output
    assert (
        "retired" in runner.invoke(args=["schedules", "list", "--study", "fatigue", "--all"]).output
    )


def test_cli_names_the_bad_field_and_stores_nothing(runner, db_session):
    build_world(db_session)
    result = runner.invoke(
        args=[
            "schedules", "add", "--study", "fatigue", "--name", "Diary",
            "--instrument", "daily_symptom_diary", "--version", "1.0.0", "--respondent", "self",
            "--spec", '{"kind": "daily", "open_time": "6pm", "window_minutes": 60}',
        ]
    )  # fmt: skip
    assert result.exit_code == 1
    assert "spec.open_time" in result.output
    assert count(db_session, StudySchedule) == 0
    bad_json = runner.invoke(
        args=["schedules", "add", "--study", "fatigue", "--name", "D", "--instrument", "phq9",
              "--version", "1.1.0", "--respondent", "self", "--spec", "{nope"]
    )  # fmt: skip
    assert bad_json.exit_code == 2 and "not JSON" in bad_json.output
