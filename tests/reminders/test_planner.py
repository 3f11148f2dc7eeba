"""The planner on a real database: materialising occurrences and reminder rows, idempotent and
bounded; arms, age bands, caregivers and anchors; DST days; time-zone moves; timetable edits;
retiring a schedule; withdrawal."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.participants import service as participants
from app.participants.models import Participant
from app.reminders import planner, timetables
from app.reminders import study_schedules as schedules
from app.reminders.models import AnchorDate, Occurrence, OccurrenceState
from app.scheduling import occurrences_after_move
from tests.reminders.planning_world import (
    add,
    at,
    build_world,
    caregiver_for,
    enrol,
    occurrences,
    reminders_of,
)


def plan_all(session, now, **kw):
    total = 0
    while (done := planner.materialise(session, now, **kw)) > 0:
        session.commit()
        total += done
    session.commit()
    return total


def snapshot(session):
    session.expire_all()
    occ = {
        (o.schedule_id, o.participant_id, o.key, o.opens_at, o.closes_at, o.cancelled_at)
        for o in occurrences(session)
    }
    rem = {(r.dedupe_key, r.send_at, r.state) for r in reminders_of(session)}
    return occ, rem


# ── Materialising ─────────────────────────────────────────────────────────────────────────


def test_materialise_works_in_bounded_batches_and_twice_stores_nothing_new(db_session):
    world = build_world(db_session)
    add(db_session, world)  # 18:00-23:00 Paris, reminders at 18:00 and 20:00
    people = [enrol(db_session, world, f"A-{i}", enrolled=at("2027-03-01 08:00")) for i in range(5)]
    now = at("2027-03-01 12:00")
    assert [planner.materialise(db_session, now, batch=2) for _ in range(4)] == [2, 2, 1, 0]
    db_session.commit()
    first = snapshot(db_session)
    # 14 days: 1 to 14 March open at 17:00 UTC; the 15th opens after now + 14 days.
    for person in people:
        rows = occurrences(db_session, person)
        assert [o.key for o in rows] == [f"2027-03-{d:02d}" for d in range(1, 15)]
        assert rows[0].opens_at == at("2027-03-01 17:00")
        assert rows[0].closes_at == at("2027-03-01 22:00")
        assert person.occurrences_until is not None
    assert len(first[1]) == 5 * 14 * 2
    sent_times = sorted({r[1] for r in first[1] if r[0].startswith(f"rem:{rows[0].id}:")})
    assert sent_times == [at("2027-03-01 17:00"), at("2027-03-01 19:00")]

    # Forgetting every horizon and planning again, at once and later the same day: no new row.
    db_session.execute(sa.update(Participant).values(occurrences_until=None))
    db_session.commit()
    plan_all(db_session, now)
    assert snapshot(db_session) == first


def test_only_participants_near_their_horizon_are_planned_and_the_horizon_rolls(db_session):
    world = build_world(db_session)
    add(db_session, world)
    person = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    now = at("2027-03-01 12:00")
    plan_all(db_session, now)
    # Six days on, the horizon (15 March) is more than 7 days away: nothing to do.
    assert planner.materialise(db_session, now + dt.timedelta(days=6)) == 0
    later = now + dt.timedelta(days=8)
    assert planner.materialise(db_session, later) == 1
    db_session.commit()
    keys = [o.key for o in occurrences(db_session, person)]
    assert keys == [f"2027-03-{d:02d}" for d in range(1, 23)]  # no gap, no duplicate
    db_session.refresh(person)
    assert person.occurrences_until == later + planner.HORIZON


def test_first_planning_keeps_what_is_still_open_and_skips_what_is_over(db_session):
    world = build_world(db_session)
    add(db_session, world)  # 18:00-23:00 Paris
    add(
        db_session,
        world,
        {
            "kind": "visits",
            "visits": [{"day": 0, "after": 6}, {"day": 28, "before": 3, "after": 3}],
        },
        instrument="phq9",
    )
    person = enrol(db_session, world, "A-1", enrolled=at("2027-02-26 08:00"))
    plan_all(db_session, at("2027-03-01 21:00"))  # 22:00 in Paris: 1 March's diary is open
    rows = occurrences(db_session, person)
    diary = [o.key for o in rows if o.schedule_id == 1]
    assert diary == [f"2027-03-{d:02d}" for d in range(1, 16)]  # 26-28 Feb are over
    visits = {o.key: (o.opens_at, o.closes_at) for o in rows if o.schedule_id == 2}
    # Opened at enrolment (26 Feb, Paris midnight), open 7 days: still open.
    assert visits == {"visit:day+0": (at("2027-02-25 23:00"), at("2027-03-04 23:00"))}
    plan_all(db_session, at("2027-03-10 12:00"))
    visits = {o.key: (o.opens_at, o.closes_at) for o in occurrences(db_session, person) if o.schedule_id == 2}  # fmt: skip
    # Day 28 = 26 March, open from 23 March 00:00 to the end of 29 March, Paris time (DST
    # starts on the 28th, so it closes at 22:00 UTC), planned once inside the horizon.
    assert visits["visit:day+28"] == (at("2027-03-22 23:00"), at("2027-03-29 22:00"))


def test_arms_age_bands_and_respondents_decide_who_gets_a_schedule(db_session):
    world = build_world(db_session)
    add(db_session, world, arm="B")
    add(db_session, world, instrument="child_weekly_wellbeing", respondent="proxy")
    enrolled = at("2027-03-01 08:00")
    arm_a = enrol(db_session, world, "A-1", enrolled=enrolled, arm="A")
    arm_b = enrol(db_session, world, "A-2", enrolled=enrolled, arm="B")
    no_arm = enrol(db_session, world, "A-3", enrolled=enrolled)
    child_b = enrol(db_session, world, "A-4", enrolled=enrolled, arm="B", age_band="child")
    teen_b = enrol(db_session, world, "A-5", enrolled=enrolled, arm="B", age_band="adolescent")
    lonely_child = enrol(db_session, world, "A-6", enrolled=enrolled, age_band="child")
    caregiver_for(db_session, child_b, teen_b)
    plan_all(db_session, at("2027-03-01 12:00"))

    def schedules_of(person):
        return {o.schedule_id for o in occurrences(db_session, person)}

    assert schedules_of(arm_a) == set() and schedules_of(no_arm) == set()
    assert schedules_of(arm_b) == {1}
    assert schedules_of(child_b) == {2}  # a child answers nothing for themselves
    assert schedules_of(teen_b) == {1, 2}  # an adolescent answers, and is answered for
    assert schedules_of(lonely_child) == set()  # nobody to answer for them yet
    assert {o.respondent for o in occurrences(db_session, teen_b)} == {"self", "proxy"}


def test_proxy_occurrences_remind_each_linked_caregiver_in_their_own_time_zone(db_session):
    world = build_world(db_session)
    add(
        db_session,
        world,
        {"kind": "weekly", "weekdays": ["mon"], "open_time": "07:00", "window_minutes": 1440},
        instrument="child_weekly_wellbeing",
        respondent="proxy",
        reminders=1,
        gaps=(),
    )
    child = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 05:00"), age_band="child")
    london = caregiver_for(db_session, child, zone="Europe/London")
    tokyo = caregiver_for(db_session, child, zone="Asia/Tokyo")
    former = caregiver_for(db_session, child, zone="Europe/Paris")
    participants.unlink_caregiver(db_session, former, child, reason=None, actor="test")
    db_session.commit()
    plan_all(db_session, at("2027-03-01 05:30"))
    first = occurrences(db_session, child)[0]
    assert (first.key, first.opens_at) == ("2027-03-01", at("2027-03-01 06:00"))  # 07:00 Paris
    rows = reminders_of(db_session, occurrence_id=first.id)
    assert {(r.caregiver_id, r.participant_id) for r in rows} == {
        (london.id, None),
        (tokyo.id, None),
    }
    by_caregiver = {r.caregiver_id: r for r in rows}
    # Default quiet hours 21:00-08:00 in each caregiver's own zone: London may be reminded at
    # 08:00 GMT; in Tokyo it is already 15:00 when the questionnaire opens.
    assert by_caregiver[london.id].send_at == at("2027-03-01 08:00")
    assert by_caregiver[tokyo.id].send_at == at("2027-03-01 06:00")
    assert by_caregiver[london.id].dedupe_key == f"rem:{first.id}:c{london.id}:0"
    assert all(r.channel == "push" and r.kind == "reminder" for r in rows)


def test_schedules_anchored_on_another_date_wait_for_that_date(db_session):
    world = build_world(db_session)
    add(
        db_session,
        world,
        {"kind": "visits", "visits": [{"day": -1}, {"day": 7, "before": 2, "after": 2}]},
        instrument="phq9",
        anchor="surgery",
    )
    with_date = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    without = enrol(db_session, world, "A-2", enrolled=at("2027-03-01 08:00"))
    db_session.add(
        AnchorDate(participant_id=with_date.id, name="surgery", date=dt.date(2027, 3, 5))
    )
    db_session.commit()
    plan_all(db_session, at("2027-03-01 12:00"))
    assert occurrences(db_session, without) == []
    assert [(o.key, o.opens_at) for o in occurrences(db_session, with_date)] == [
        ("visit:day-1", at("2027-03-03 23:00")),
        ("visit:day+7", at("2027-03-09 23:00")),
    ]


# ── DST ───────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("zone", "dst_day", "before", "on", "after"),
    [
        # Paris springs forward on 28 March 2027 (02:00 → 03:00): 09:00 is 08:00 UTC, then 07:00.
        ("Europe/Paris", "2027-03-28", "2027-03-27 08:00", "2027-03-28 07:00", "2027-03-29 07:00"),
        # New York springs forward on 14 March 2027: 09:00 is 14:00 UTC, then 13:00.
        ("America/New_York", "2027-03-14", "2027-03-13 14:00", "2027-03-14 13:00", "2027-03-15 13:00"),
        # New York falls back on 7 November 2027: 09:00 is 13:00 UTC, then 14:00.
        ("America/New_York", "2027-11-07", "2027-11-06 13:00", "2027-11-07 14:00", "2027-11-08 14:00"),
    ],
)  # fmt: skip
def test_occurrences_keep_their_local_time_across_dst(db_session, zone, dst_day, before, on, after):
    world = build_world(db_session)
    add(db_session, world, {"kind": "daily", "open_time": "09:00", "window_minutes": 180})
    day = dt.date.fromisoformat(dst_day)
    person = enrol(db_session, world, "A-1", enrolled=at(f"{day - dt.timedelta(days=3)} 12:00"), zone=zone)  # fmt: skip
    plan_all(db_session, at(f"{day - dt.timedelta(days=2)} 00:00"))
    stored = {o.key: (o.opens_at, o.closes_at) for o in occurrences(db_session, person)}
    for key, opens in ((day - dt.timedelta(days=1), before), (day, on), (day + dt.timedelta(days=1), after)):  # fmt: skip
        # The window is three elapsed hours even on the DST day.
        assert stored[key.isoformat()] == (at(opens), at(opens) + dt.timedelta(hours=3))


def test_a_time_inside_the_spring_forward_gap_opens_at_the_transition(db_session):
    world = build_world(db_session)
    add(db_session, world, {"kind": "daily", "open_time": "02:30", "close_time": "06:00"})
    person = enrol(db_session, world, "A-1", enrolled=at("2027-03-25 12:00"))
    plan_all(db_session, at("2027-03-26 00:00"))
    stored = {o.key: (o.opens_at, o.closes_at) for o in occurrences(db_session, person)}
    assert stored["2027-03-27"] == (at("2027-03-27 01:30"), at("2027-03-27 05:00"))
    # 02:30 does not exist in Paris on the 28th: it opens at the transition, 03:00 CEST.
    assert stored["2027-03-28"] == (at("2027-03-28 01:00"), at("2027-03-28 04:00"))


# ── Re-planning: time-zone moves and timetable edits ──────────────────────────────────────


def test_a_time_zone_move_re_times_only_what_has_not_opened(db_session):
    world = build_world(db_session)
    row = add(db_session, world)  # 18:00-23:00 local
    person = enrol(db_session, world, "A-1", enrolled=at("2027-02-27 08:00"))
    start = at("2027-02-27 12:00")
    plan_all(db_session, start)
    moved_at = at("2027-03-01 18:30")  # 19:30 in Paris: 1 March is open
    before = {o.key: o for o in occurrences(db_session, person)}
    opened = {k: (o.opens_at, o.closes_at) for k, o in before.items() if o.opens_at <= moved_at}
    assert set(opened) == {"2027-02-27", "2027-02-28", "2027-03-01"}

    timetables.update_timetable(
        db_session, person, time_zone="America/New_York", actor="test", now=moved_at
    )
    db_session.commit()

    after = {o.key: o for o in occurrences(db_session, person)}
    for key, window in opened.items():
        assert (after[key].opens_at, after[key].closes_at) == window
    # 2 March onwards: 18:00 in New York (EST until 14 March, then EDT).
    assert (after["2027-03-02"].opens_at, after["2027-03-02"].closes_at) == (
        at("2027-03-02 23:00"),
        at("2027-03-03 04:00"),
    )
    assert max(after) == "2027-03-12"  # the planned horizon did not move
    # Exactly what the pure rule says for the move.
    expected = occurrences_after_move(
        schedules.schedule_of(row),
        dt.date(2027, 2, 27),
        "Europe/Paris",
        "America/New_York",
        moved_at,
        start + planner.HORIZON,
    )
    assert {w.key: (w.opens_at_utc, w.closes_at_utc) for w in expected} == {
        k: (o.opens_at, o.closes_at) for k, o in after.items() if k not in opened
    }
    # Reminders follow: 18:00 and 20:00 New York time for 2 March.
    times = [r.send_at for r in reminders_of(db_session, occurrence_id=after["2027-03-02"].id)]
    assert times == [at("2027-03-02 23:00"), at("2027-03-03 01:00")]


def test_timetable_edits_move_pause_and_bring_back_pending_reminders(db_session):
    world = build_world(db_session)
    add(db_session, world, reminders=2, gaps=(60,))  # 18:00-23:00 Paris
    person = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    now = at("2027-03-01 12:00")
    plan_all(db_session, now)
    first = occurrences(db_session, person)[0]

    def pending(occurrence):
        return [
            r.send_at
            for r in reminders_of(db_session, occurrence_id=occurrence.id)
            if r.state == "pending"
        ]

    assert pending(first) == [at("2027-03-01 17:00"), at("2027-03-01 18:00")]
    # Only 20:00-22:00 on Mondays (1 March 2027 is a Monday).
    timetables.update_timetable(
        db_session,
        person,
        windows={"mon": [{"start": "20:00", "end": "22:00"}]},
        quiet_hours=[],
        actor="test",
        now=now,
    )
    db_session.commit()
    assert pending(first) == [at("2027-03-01 19:00"), at("2027-03-01 20:00")]
    tuesday = occurrences(db_session, person)[1]
    assert pending(tuesday) == []  # no window on Tuesdays
    # A pause on the 1st cancels that day's reminders; lifting it brings them back.
    pause = timetables.add_pause(
        db_session,
        person,
        starts_on=dt.date(2027, 3, 1),
        ends_on=dt.date(2027, 3, 1),
        reason="away",
        actor="test",
        now=now,
    )
    db_session.commit()
    assert pending(first) == []
    assert {r.note for r in reminders_of(db_session, occurrence_id=first.id)} == {"replanned"}
    timetables.cancel_pause(db_session, person, pause.id, actor="test", now=now)
    db_session.commit()
    assert pending(first) == [at("2027-03-01 19:00"), at("2027-03-01 20:00")]
    # Rows are reconciled, never duplicated.
    assert len(reminders_of(db_session, occurrence_id=first.id)) == 2


def test_replanning_leaves_sent_rows_alone_and_drops_reminders_whose_time_passed(db_session):
    world = build_world(db_session)
    add(db_session, world, reminders=2, gaps=(60,))
    person = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    plan_all(db_session, at("2027-03-01 12:00"))
    first = occurrences(db_session, person)[0]
    sent, follow_up = reminders_of(db_session, occurrence_id=first.id)
    sent.state, sent.sent_at = "sent", at("2027-03-01 17:00")
    db_session.commit()
    # At 18:30 Paris, quiet hours from 19:45 still let the follow-up go at 19:00 Paris...
    timetables.update_timetable(
        db_session,
        person,
        quiet_hours=[{"start": "19:45", "end": "08:00"}],
        actor="test",
        now=at("2027-03-01 17:30"),
    )
    db_session.commit()
    db_session.refresh(sent)
    db_session.refresh(follow_up)
    assert (sent.state, sent.send_at) == ("sent", at("2027-03-01 17:00"))
    assert follow_up.state == "pending" and follow_up.send_at == at("2027-03-01 18:00")
    timetables.update_timetable(
        db_session,
        person,
        quiet_hours=[{"start": "18:30", "end": "08:00"}],
        actor="test",
        now=at("2027-03-01 17:30"),
    )
    db_session.commit()
    # ...quiet hours from 18:30 do not: it has no allowed time before the close.
    db_session.refresh(follow_up)
    assert (follow_up.state, follow_up.note) == ("cancelled", "replanned")


def test_linking_a_caregiver_plans_their_reminders_at_once(db_session):
    world = build_world(db_session)
    add(db_session, world, instrument="daily_symptom_diary", respondent="proxy")
    child = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"), age_band="child")
    first_carer = caregiver_for(db_session, child)
    plan_all(db_session, at("2027-03-01 12:00"))
    # link_caregiver re-plans the child itself: no scheduler run is needed.
    second_carer = caregiver_for(db_session, child, zone="Europe/Paris")
    first = occurrences(db_session, child)[0]
    recipients = {r.caregiver_id for r in reminders_of(db_session, occurrence_id=first.id)}
    assert recipients == {first_carer.id, second_carer.id}
    assert all(
        r.state == "pending"
        for r in reminders_of(db_session, occurrence_id=first.id)
        if r.caregiver_id == second_carer.id
    )


def test_unlinking_a_caregiver_cancels_their_waiting_reminders_at_once(db_session):
    world = build_world(db_session)
    add(db_session, world, instrument="daily_symptom_diary", respondent="proxy")
    child = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"), age_band="child")
    stays, leaves = caregiver_for(db_session, child), caregiver_for(db_session, child)
    plan_all(db_session, at("2027-03-01 12:00"))
    participants.unlink_caregiver(db_session, leaves, child, reason=None, actor="test")
    db_session.commit()
    states: dict[int | None, set[str]] = {}
    for r in reminders_of(db_session):
        states.setdefault(r.caregiver_id, set()).add(r.state)
    assert states[stays.id] == {"pending"}
    assert states[leaves.id] == {"cancelled"}
    # Linked again: their reminders come back.
    participants.link_caregiver(db_session, leaves, child, "parent", "test")
    db_session.commit()
    assert {r.state for r in reminders_of(db_session) if r.caregiver_id == leaves.id} == {"pending"}


def test_withdrawing_cancels_waiting_reminders_at_once(db_session):
    world = build_world(db_session)
    add(db_session, world)
    person = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    plan_all(db_session, at("2027-03-01 12:00"))
    assert {r.state for r in reminders_of(db_session)} == {"pending"}
    participants.withdraw(db_session, person, reason=None, actor="test", now=at("2027-03-01 13:00"))
    db_session.commit()
    assert {r.state for r in reminders_of(db_session)} == {"cancelled"}


# ── Retiring, withdrawing ─────────────────────────────────────────────────────────────────


def test_retiring_cancels_future_occurrences_and_their_reminders_only(db_session):
    world = build_world(db_session)
    row = add(db_session, world)
    keep = add(db_session, world, {"kind": "visits", "visits": [{"day": 2}]}, instrument="phq9")
    person = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    plan_all(db_session, at("2027-03-01 12:00"))
    now = at("2027-03-02 18:00")  # 19:00 Paris: 2 March is open
    schedules.retire_schedule(db_session, world.study, row.id, actor="test", now=now)
    db_session.commit()
    states = {o.key: o.state(now) for o in occurrences(db_session, person) if o.schedule_id == row.id}  # fmt: skip
    assert states["2027-03-01"] is OccurrenceState.MISSED
    assert states["2027-03-02"] is OccurrenceState.OPEN
    assert {states[f"2027-03-{d:02d}"] for d in range(3, 15)} == {OccurrenceState.CANCELLED}
    for occurrence in occurrences(db_session, person):
        rows = reminders_of(db_session, occurrence_id=occurrence.id)
        if occurrence.schedule_id == row.id and occurrence.opens_at > now:
            assert {(r.state, r.note) for r in rows} == {("cancelled", "schedule retired")}
        else:
            assert all(r.state == "pending" for r in rows)
    assert {o.schedule_id for o in occurrences(db_session, person) if o.cancelled_at is None} >= {keep.id}  # fmt: skip
    # The retired schedule is not planned any more.
    db_session.execute(sa.update(Participant).values(occurrences_until=None))
    db_session.commit()
    plan_all(db_session, at("2027-03-20 12:00"))
    assert max(o.key for o in occurrences(db_session, person) if o.schedule_id == row.id) == "2027-03-14"  # fmt: skip


def test_a_withdrawn_participant_is_cancelled_once_then_never_planned_again(db_session):
    world = build_world(db_session)
    add(db_session, world)
    person = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    plan_all(db_session, at("2027-03-01 12:00"))
    participants.withdraw(db_session, person, reason=None, actor="test", now=at("2027-03-02 10:00"))
    person.occurrences_until = None  # as if a schedule was added meanwhile
    db_session.commit()
    now = at("2027-03-02 12:00")
    assert planner.materialise(db_session, now) == 1
    db_session.commit()
    rows = occurrences(db_session, person)
    assert rows[0].state(now) is OccurrenceState.MISSED  # 1 March closed before withdrawal
    assert {o.state(now) for o in rows[1:]} == {OccurrenceState.CANCELLED}
    assert {r.state for r in reminders_of(db_session) if r.send_at > now} == {"cancelled"}
    db_session.refresh(person)
    assert person.occurrences_until == planner.PARKED
    assert planner.materialise(db_session, now + dt.timedelta(days=400)) == 0


def test_completion_cancels_only_that_occurrences_pending_reminders(db_session):
    world = build_world(db_session)
    add(db_session, world)
    person = enrol(db_session, world, "A-1", enrolled=at("2027-03-01 08:00"))
    plan_all(db_session, at("2027-03-01 12:00"))
    first, second = occurrences(db_session, person)[:2]
    assert planner.cancel_for_completion(db_session, first, at("2027-03-01 17:30")) == 2
    db_session.commit()
    assert {(r.state, r.note) for r in reminders_of(db_session, occurrence_id=first.id)} == {
        ("cancelled", "answered")
    }
    assert {r.state for r in reminders_of(db_session, occurrence_id=second.id)} == {"pending"}
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Occurrence)) == 14
