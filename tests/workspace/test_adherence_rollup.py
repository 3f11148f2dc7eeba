"""The adherence rollup (app/reminders/rollup.py) is kept by the database on every change of
an occurrence, whoever makes it, and the weekly completion read from it counts exactly what a
scan of the occurrences counts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.db import utcnow
from app.participants.models import Participant
from app.reminders import rollup
from app.reminders.models import Occurrence, OccurrenceState
from app.workspace import adherence
from tests.factories import make_participant, site
from tests.workspace.world import World


def _same(session: Session) -> dict[rollup.Key, tuple[int, int, int]]:
    session.expire_all()
    stored, expected = rollup.stored(session), rollup.recount(session)
    assert stored == expected
    return stored


def _occurrence(
    session: Session, world: World, code: str, days_ago: int, **values: object
) -> Occurrence:
    person = world.participants[code]
    opens = utcnow().replace(microsecond=0) - dt.timedelta(days=days_ago)
    row = Occurrence(
        schedule_id=world.ids[f"{code}:schedule"],
        participant_id=person.id,
        respondent="self",
        key=f"extra-{days_ago}-{len(values)}",
        opens_at=opens,
        closes_at=opens + dt.timedelta(hours=12),
        **values,
    )
    session.add(row)
    session.commit()
    return row


def test_the_rollup_follows_every_change_of_an_occurrence(
    db_session: Session, world: World
) -> None:
    # Planning, a submission that completed an occurrence: counted by the triggers.
    assert _same(db_session)
    fresh = _occurrence(db_session, world, "LYON-0001", 20)
    late = _occurrence(db_session, world, "LYON-0001", 21)
    gone = _occurrence(db_session, world, "LEEDS-0001", 22)
    before = _same(db_session)
    fresh.completed_at = fresh.opens_at + dt.timedelta(hours=1)  # on time, through the ORM
    db_session.commit()
    after = _same(db_session)
    assert sum(v[1] for v in after.values()) == sum(v[1] for v in before.values()) + 1
    db_session.execute(  # late, as a bulk UPDATE
        update(Occurrence)
        .where(Occurrence.id == late.id)
        .values(completed_at=late.closes_at + dt.timedelta(hours=2))
    )
    db_session.commit()
    assert sum(v[2] for v in _same(db_session).values()) >= 1
    fresh.closes_at = fresh.closes_at + dt.timedelta(days=3)  # re-planned to another day
    db_session.commit()
    _same(db_session)
    db_session.execute(
        update(Occurrence)
        .where(Occurrence.id.in_([late.id, gone.id]))
        .values(cancelled_at=utcnow())
    )
    db_session.commit()
    _same(db_session)
    db_session.execute(update(Occurrence).where(Occurrence.id == gone.id).values(cancelled_at=None))
    db_session.execute(delete(Occurrence).where(Occurrence.id == fresh.id))
    db_session.commit()
    _same(db_session)
    # A participant moved to another site takes their counts along.
    leeds = world.participants["LEEDS-0001"]
    db_session.execute(
        update(Participant)
        .where(Participant.id == leeds.id)
        .values(site_id=site(world.study, "LYON").id)
    )
    db_session.commit()
    moved = _same(db_session)
    assert site(world.study, "LEEDS").id not in {key[1] for key in moved}
    # A participant deleted (their occurrences by cascade) takes their counts away.
    extra = make_participant(db_session, world.study, "LYON-0002", site_code="LYON")
    db_session.add(
        Occurrence(
            schedule_id=world.ids["LYON-0001:schedule"],
            participant_id=extra.id,
            respondent="self",
            key="only",
            opens_at=utcnow() - dt.timedelta(days=2),
            closes_at=utcnow() - dt.timedelta(days=1),
            completed_at=utcnow() - dt.timedelta(days=1, hours=3),
        )
    )
    db_session.commit()
    with_extra = _same(db_session)
    db_session.execute(text("DELETE FROM participants WHERE id = :id"), {"id": extra.id})
    db_session.commit()
    assert _same(db_session) != with_extra


def _scanned(
    session: Session, world: World, now: dt.datetime
) -> dict[tuple[dt.date, str], tuple[int, int, int]]:
    """Weekly completion the slow way: every occurrence of the last six weeks, by state."""
    monday = now.date() - dt.timedelta(days=now.weekday() + 7 * (adherence.WEEKS - 1))
    counts: dict[tuple[dt.date, str], list[int]] = {}
    rows = session.execute(
        select(Occurrence, Participant.site_id)
        .join(Participant, Participant.id == Occurrence.participant_id)
        .where(
            Occurrence.schedule_id == world.ids["LYON-0001:schedule"],
            Occurrence.closes_at >= dt.datetime.combine(monday, dt.time(0), tzinfo=dt.UTC),
        )
    ).all()
    codes = {s.id: s.code for s in world.study.sites}
    for occurrence, site_id in rows:
        state = occurrence.state(now)
        day = occurrence.closes_at.date()
        week = day - dt.timedelta(days=day.weekday())
        if week > now.date():
            continue  # next week's
        entry = counts.setdefault((week, codes[site_id]), [0, 0, 0])
        if state in (OccurrenceState.COMPLETED, OccurrenceState.LATE):
            entry[0] += 1
        if state is OccurrenceState.LATE:
            entry[1] += 1
        if state is OccurrenceState.MISSED:
            entry[2] += 1
    return {key: (v[0], v[1], v[2]) for key, v in counts.items()}


def test_weekly_completion_counts_what_a_scan_of_the_occurrences_counts(
    db_session: Session, world: World
) -> None:
    now = utcnow()
    for days_ago in range(1, 45, 3):
        _occurrence(db_session, world, "LYON-0001", days_ago)
        _occurrence(
            db_session,
            world,
            "LEEDS-0001",
            days_ago,
            completed_at=now - dt.timedelta(days=days_ago, hours=-1),
        )
        _occurrence(
            db_session,
            world,
            "LYON-0001",
            days_ago + 1,
            completed_at=now - dt.timedelta(days=days_ago - 1),
        )
    # Today: one closed unanswered (missed), one still open (not counted), one answered.
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for offset, hours, done in (("a", 0, None), ("b", 23, None), ("c", 0, start)):
        db_session.add(
            Occurrence(
                schedule_id=world.ids["LYON-0001:schedule"],
                participant_id=world.participants["LYON-0001"].id,
                respondent="self",
                key=f"today-{offset}",
                opens_at=start - dt.timedelta(hours=1),
                closes_at=start + dt.timedelta(hours=hours, minutes=59 * (hours == 23))
                if hours
                else min(now, start + dt.timedelta(seconds=1)),
                completed_at=done,
            )
        )
    db_session.commit()
    admin = db_session.merge(world.staff["admin"])
    study = db_session.merge(world.study)
    schedule = db_session.get(adherence.StudySchedule, world.ids["LYON-0001:schedule"])
    assert schedule is not None
    weekly = adherence.weekly_completion(
        db_session, admin, study, adherence.GridQuery(), schedule, now
    )
    got = {
        (w.week_start, w.site_code): (w.answered, w.late, w.missed)
        for w in weekly
        if (w.answered, w.late, w.missed) != (0, 0, 0)
    }
    assert got == _scanned(db_session, world, now)
    assert sum(v[1] for v in got.values()) > 0 and sum(v[2] for v in got.values()) > 0
    coordinator = db_session.merge(world.staff["coord_lyon"])
    lyon_only = adherence.weekly_completion(
        db_session, coordinator, study, adherence.GridQuery(), schedule, now
    )
    assert {w.site_code for w in lyon_only} == {"LYON"}


def test_the_migration_counts_the_occurrences_already_there(
    app: object, db_session: Session, world: World
) -> None:
    from flask_migrate import downgrade, upgrade

    admin_id = world.staff["admin"].id
    counted = _same(db_session)
    assert counted
    db_session.close()
    with app.app_context():  # type: ignore[attr-defined]
        downgrade(revision="0008")
        upgrade()
    assert _same(db_session) == counted
    staff = db_session.get(StaffUser, admin_id)
    assert staff is not None and staff.time_zone == "UTC"
