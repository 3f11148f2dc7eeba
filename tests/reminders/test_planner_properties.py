"""Property, on the real database: whatever timetable a person sets (windows, quiet hours,
pauses, across DST), no planned reminder row is outside an allowed moment, before its
occurrence opens, at or after it closes, or still pending once it is answered -- after the
first planning and after every re-plan."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app import scheduling
from app.participants.models import Caregiver, Participant
from app.reminders import planner, timetables
from app.reminders.models import Occurrence, OutboxMessage
from tests.reminders.planning_world import add, at, build_world, caregiver_for, enrol

ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Around Paris's and New York's spring and autumn changes of 2027, and an ordinary week.
STARTS = [at("2027-03-10 06:00"), at("2027-03-25 06:00"), at("2027-10-28 06:00"), at("2027-06-01 06:00")]  # fmt: skip
SPECS = [
    {"kind": "daily", "open_time": "18:00", "close_time": "09:00"},
    {"kind": "daily", "open_time": "02:30", "window_minutes": 300},
    {"kind": "weekdays", "weekdays": ["mon", "sat"], "open_time": "07:15", "window_minutes": 1440},
    {"kind": "visits", "visits": [{"day": 1, "after": 2}, {"day": 6, "before": 1}]},
]
quarter = st.integers(0, 95).map(lambda q: f"{q // 4:02d}:{15 * (q % 4):02d}")


@st.composite
def window(draw: st.DrawFn) -> dict[str, object]:
    start, end = draw(quarter), draw(quarter)
    if start == end:
        end = "00:00" if start != "00:00" else "12:00"
    return {"start": start, "end": end, "overnight": end != "00:00" and end < start}


@st.composite
def timetable(draw: st.DrawFn) -> dict[str, object]:
    windows = None
    if draw(st.booleans()):
        windows = {
            day: draw(st.lists(window(), max_size=2))
            for day in draw(st.sets(st.sampled_from(DAYS), max_size=7))
        }
    quiet = [
        {"start": a, "end": b}
        for a, b in draw(st.lists(st.tuples(quarter, quarter), max_size=2))
        if a != b
    ]
    pauses = draw(st.lists(st.tuples(st.integers(0, 14), st.integers(0, 4)), max_size=2))
    return {"windows": windows, "quiet_hours": quiet, "pauses": pauses}


_codes = itertools.count()


def _apply(session, person, drawn, start: dt.datetime) -> None:
    timetables.update_timetable(
        session,
        person,
        windows=drawn["windows"],
        quiet_hours=drawn["quiet_hours"],
        actor="test",
        now=start,
    )
    today = start.date()
    for offset, length in drawn["pauses"]:
        first = today + dt.timedelta(days=offset)
        timetables.add_pause(
            session,
            person,
            starts_on=first,
            ends_on=first + dt.timedelta(days=length),
            reason="away",
            actor="test",
            now=start,
        )


def _check(session, now: dt.datetime, participant: Participant) -> int:
    """Every reminder still to send about ``participant`` obeys its recipient's timetable and
    its occurrence."""
    session.expire_all()
    checked = 0
    pending = (
        session.query(OutboxMessage)
        .join(Occurrence, Occurrence.id == OutboxMessage.occurrence_id)
        .filter(
            Occurrence.participant_id == participant.id,
            OutboxMessage.state == "pending",
            OutboxMessage.send_at >= now,
        )
    )
    for row in pending:
        occurrence = session.get(Occurrence, row.occurrence_id)
        person = (
            {"participant": session.get(Participant, row.participant_id)}
            if row.participant_id
            else {"caregiver": session.get(Caregiver, row.caregiver_id)}
        )
        timetable_now = timetables.scheduling_timetable(session, **person)
        assert occurrence.completed_at is None and occurrence.cancelled_at is None
        assert occurrence.opens_at <= row.send_at < occurrence.closes_at
        assert scheduling.is_allowed(timetable_now, row.send_at), (row.dedupe_key, row.send_at)
        checked += 1
    return checked


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    zone=st.sampled_from(ZONES),
    carer_zone=st.sampled_from(ZONES),
    spec=st.sampled_from(SPECS),
    start=st.sampled_from(STARTS),
)
def test_no_pending_reminder_outside_the_timetable_or_the_window(
    db_session, data, zone, carer_zone, spec, start
):
    # One database per backend for all examples: the study is built once, each example
    # enrols its own people and schedules (the planner only looks at one person's rows).
    db_session.rollback()  # a failed example must not leave the next one a broken transaction
    code = next(_codes)
    if "world" not in db_session.info:
        db_session.info["world"] = build_world(db_session)
    world = db_session.info["world"]
    add(db_session, world, spec, name=f"self {code}", reminders=3, gaps=(45, 180), arm=f"x{code}")
    add(db_session, world, spec, name=f"proxy {code}", respondent="proxy", reminders=2, gaps=(90,), arm=f"x{code}")  # fmt: skip
    teen = enrol(db_session, world, f"T-{code}", enrolled=start, zone=zone, age_band="adolescent", arm=f"x{code}")  # fmt: skip
    carer = caregiver_for(db_session, teen, zone=carer_zone)
    _apply(db_session, teen, data.draw(timetable(), label="teen timetable"), start)
    _apply(db_session, carer, data.draw(timetable(), label="carer timetable"), start)
    db_session.commit()

    planner.plan_participants(db_session, [teen], start)
    db_session.commit()
    event("rows planned", _check(db_session, start, teen) > 0)

    # A later change of mind re-plans both people; the rows still obey the new timetables.
    later = start + dt.timedelta(hours=data.draw(st.integers(1, 72), label="hours later"))
    timetables.update_timetable(
        db_session, teen, **_without_pauses(data.draw(timetable())), actor="test", now=later
    )
    timetables.update_timetable(
        db_session, carer, **_without_pauses(data.draw(timetable())), actor="test", now=later
    )
    db_session.commit()
    _check(db_session, later, teen)

    # Answering an open occurrence leaves none of its reminders pending.
    waiting = (
        db_session.query(Occurrence)
        .filter(Occurrence.participant_id == teen.id, Occurrence.opens_at <= later)
        .filter(Occurrence.closes_at > later)
        .all()
    )
    for occurrence in waiting:
        occurrence.completed_at = later
        planner.cancel_for_completion(db_session, occurrence, later)
    db_session.commit()
    _check(db_session, later, teen)


def _without_pauses(drawn: dict[str, object]) -> dict[str, object]:
    return {"windows": drawn["windows"], "quiet_hours": drawn["quiet_hours"]}
