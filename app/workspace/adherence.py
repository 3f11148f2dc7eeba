"""The adherence dashboard: a participant x occurrence grid for one schedule and a range of
days (REDCap's record status dashboard), and completion per week and site.

The grid reads only a page of participants and a window of their occurrences through the
index on (participant_id, opens_at); the weekly completion reads the per-day rollup the
database keeps (app/reminders/rollup.py). Both stay fast at millions of occurrences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.orm import Session

from app.access import Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.errors import Invalid
from app.participants.models import Participant
from app.reminders.models import Occurrence, OccurrenceState, StudySchedule
from app.reminders.rollup import AdherenceDay
from app.studies import service as studies
from app.studies.models import Site, Study
from app.workspace import common

PAGE_SIZE = 50
HEADER = ["participant", "site", "schedule", "occurrence", "opens_at", "closes_at", "state"]
MAX_DAYS = 62
WEEKS = 6


@dataclass(frozen=True)
class GridQuery:
    schedule_id: int | None = None
    site: str = ""
    days: int = 14
    page: int = 1


@dataclass(frozen=True)
class Column:
    key: str
    opens_at: dt.datetime


@dataclass(frozen=True)
class GridRow:
    code: str
    site_code: str
    cells: list[OccurrenceState | None]  # one per column; None: not planned for this person


@dataclass(frozen=True)
class WeekSite:
    week_start: dt.date
    site_code: str
    answered: int
    late: int
    missed: int

    @property
    def due(self) -> int:
        return self.answered + self.missed

    @property
    def rate(self) -> float | None:
        return self.answered / self.due if self.due else None


@dataclass(frozen=True)
class Grid:
    schedules: list[StudySchedule]
    schedule: StudySchedule | None
    sites: list[Site]
    query: GridQuery
    columns: list[Column]
    rows: list[GridRow]
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _check(query: GridQuery) -> None:
    errors: dict[str, list[str]] = {}
    if not 1 <= query.days <= MAX_DAYS:
        errors["days"] = [f"Show between 1 and {MAX_DAYS} days."]
    if query.page < 1:
        errors["page"] = ["Pages start at 1."]
    if errors:
        raise Invalid(errors=errors)


def _participant_conditions(
    session: Session, user: StaffUser, study: Study, query: GridQuery
) -> list[object]:
    conditions: list[object] = [
        Participant.study_id == study.id,
        common.site_filter(user, study, Permission.VIEW_PARTICIPANTS, Participant.site_id),
    ]
    if query.site:
        site = studies.get_site_for(session, user, study, query.site, Permission.VIEW_PARTICIPANTS)
        conditions.append(Participant.site_id == site.id)
    return conditions


def _schedule(schedules: list[StudySchedule], wanted: int | None) -> StudySchedule | None:
    if wanted is None:
        return schedules[0] if schedules else None
    found = next((s for s in schedules if s.id == wanted), None)
    if found is None:
        raise Invalid(errors={"schedule": ["Choose one of the study's schedules."]})
    return found


def grid(
    session: Session, user: StaffUser, study: Study, query: GridQuery, now: dt.datetime
) -> Grid:
    common.study_for(session, user, study.slug, Permission.VIEW_PARTICIPANTS)
    _check(query)
    schedules = list(
        session.scalars(
            select(StudySchedule)
            .where(StudySchedule.study_id == study.id)
            .order_by(StudySchedule.id)
        )
    )
    schedule = _schedule(schedules, query.schedule_id)
    conditions = _participant_conditions(session, user, study, query)
    total = session.scalar(select(func.count(Participant.id)).where(*conditions)) or 0  # type: ignore[arg-type]
    people = session.execute(
        select(Participant.id, Participant.code, Site.code)
        .join(Site, Site.id == Participant.site_id)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(Participant.code)
        .limit(PAGE_SIZE)
        .offset((query.page - 1) * PAGE_SIZE)
    ).all()
    end = now + dt.timedelta(days=1)
    start = now - dt.timedelta(days=query.days)
    columns: list[Column] = []
    rows: list[GridRow] = []
    if schedule is not None and people:
        # Plain rows, not ORM objects: a page holds up to 50 x 62 cells. Occurrence.state reads
        # only the four timestamps, which the rows carry under the same names.
        occurrences = session.execute(
            select(
                Occurrence.participant_id,
                Occurrence.key,
                Occurrence.opens_at,
                Occurrence.closes_at,
                Occurrence.completed_at,
                Occurrence.cancelled_at,
            ).where(
                Occurrence.participant_id.in_([p[0] for p in people]),
                Occurrence.schedule_id == schedule.id,
                Occurrence.opens_at >= start,
                Occurrence.opens_at < end,
            )
        ).all()
        first_open: dict[str, dt.datetime] = {}
        cells: dict[tuple[int, str], OccurrenceState] = {}
        for occurrence in occurrences:
            if occurrence.key not in first_open or occurrence.opens_at < first_open[occurrence.key]:
                first_open[occurrence.key] = occurrence.opens_at
            cells[(occurrence.participant_id, occurrence.key)] = Occurrence.state(
                occurrence,  # type: ignore[arg-type]
                now,
            )
        columns = [Column(k, t) for k, t in sorted(first_open.items(), key=lambda kv: kv[1])]
        rows = [
            GridRow(code, site_code, [cells.get((pid, c.key)) for c in columns])
            for pid, code, site_code in people
        ]
    else:
        rows = [GridRow(code, site_code, []) for _pid, code, site_code in people]
    audit.record(
        session,
        actor=common.actor(user),
        action="adherence.viewed",
        target=f"study:{study.id}",
        details={
            "schedule_id": schedule.id if schedule else None,
            "participants": len(rows),
            "page": query.page,
        },
    )
    return Grid(
        schedules,
        schedule,
        common.sites_for(user, study, Permission.VIEW_PARTICIPANTS),
        query,
        columns,
        rows,
        total,
    )


@dataclass(frozen=True)
class Weekly:
    schedules: list[StudySchedule]
    schedule: StudySchedule | None
    sites: list[Site]
    query: GridQuery
    weeks: list[WeekSite]


def weekly(
    session: Session, user: StaffUser, study: Study, query: GridQuery, now: dt.datetime
) -> Weekly:
    """Completion per week and site for one schedule: counts only, naming nobody. Its own page
    (it was once a scan of every occurrence of six weeks; now it reads the daily rollup)."""
    common.study_for(session, user, study.slug, Permission.VIEW_PARTICIPANTS)
    schedules = list(
        session.scalars(
            select(StudySchedule)
            .where(StudySchedule.study_id == study.id)
            .order_by(StudySchedule.id)
        )
    )
    schedule = _schedule(schedules, query.schedule_id)
    return Weekly(
        schedules,
        schedule,
        common.sites_for(user, study, Permission.VIEW_PARTICIPANTS),
        query,
        weekly_completion(session, user, study, query, schedule, now) if schedule else [],
    )


def weekly_completion(
    session: Session,
    user: StaffUser,
    study: Study,
    query: GridQuery,
    schedule: StudySchedule,
    now: dt.datetime,
) -> list[WeekSite]:
    """Answered on time, late and missed per site for the last WEEKS weeks (by closing time,
    weeks starting Monday 00:00 UTC). Days that are over come from ``adherence_rollup`` (one
    row per site and day, kept by the database: see app/reminders/rollup.py), where missed is
    due minus answered (later days of this week count answers only); today, whose
    occurrences may still be open, is counted from the occurrences closing today."""
    this_monday = now.date() - dt.timedelta(days=now.weekday())
    mondays = [this_monday - dt.timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1)]
    today = now.date()
    in_scope = common.sites_for(user, study, Permission.VIEW_PARTICIPANTS)
    if query.site:
        chosen = studies.get_site_for(
            session, user, study, query.site, Permission.VIEW_PARTICIPANTS
        )
        in_scope = [s for s in in_scope if s.id == chosen.id]
    code_of = {s.id: s.code for s in in_scope}
    counts: dict[tuple[str, dt.date], list[int]] = {}  # (site, monday) -> answered, late, missed

    def add(site_id: int, day: dt.date, on_time: int, late: int, missed: int) -> None:
        if site_id not in code_of:
            return  # a site outside the viewer's scope
        monday = day - dt.timedelta(days=day.weekday())
        entry = counts.setdefault((code_of[site_id], monday), [0, 0, 0])
        entry[0] += on_time + late
        entry[1] += late
        entry[2] += missed

    for site_id, day, due, on_time, late in session.execute(
        select(
            AdherenceDay.site_id,
            AdherenceDay.day,
            AdherenceDay.due,
            AdherenceDay.on_time,
            AdherenceDay.late,
        ).where(
            AdherenceDay.schedule_id == schedule.id,
            AdherenceDay.site_id.in_(sorted(code_of)),
            AdherenceDay.day >= mondays[0],
            AdherenceDay.day < this_monday + dt.timedelta(weeks=1),
            AdherenceDay.day != today,
        )
    ):
        # Later this week: answered early counts, nothing has closed unanswered yet.
        add(site_id, day, on_time, late, due - on_time - late if day < today else 0)
    # Today's occurrences through the closes_at index, each with its participant's site; the
    # scope is applied to the per-site sums (a site filter in SQL made SQLite loop over sites).
    day_start = dt.datetime.combine(today, dt.time(0), tzinfo=dt.UTC)
    answered = Occurrence.completed_at.is_not(None)
    late_now = and_(answered, Occurrence.completed_at >= Occurrence.closes_at)
    missed_now = and_(Occurrence.completed_at.is_(None), Occurrence.closes_at < now)
    for site_id, on_time, late, missed in session.execute(
        select(
            Participant.site_id,
            func.sum(
                case((and_(answered, Occurrence.completed_at < Occurrence.closes_at), 1), else_=0)
            ).cast(Integer),
            func.sum(case((late_now, 1), else_=0)).cast(Integer),
            func.sum(case((missed_now, 1), else_=0)).cast(Integer),
        )
        .select_from(Occurrence)
        .join(Participant, Participant.id == Occurrence.participant_id)
        .where(
            Occurrence.schedule_id == schedule.id,
            Occurrence.cancelled_at.is_(None),
            Occurrence.closes_at >= day_start,
            Occurrence.closes_at < day_start + dt.timedelta(days=1),
        )
        .group_by(Participant.site_id)
    ):
        add(site_id, today, int(on_time or 0), int(late or 0), int(missed or 0))
    codes = sorted({code for code, _monday in counts})
    weekly: list[WeekSite] = []
    for monday in mondays:
        for code in codes:
            answered_count, late_count, missed_count = counts.get((code, monday), [0, 0, 0])
            weekly.append(WeekSite(monday, code, answered_count, late_count, missed_count))
    return weekly


def grid_csv_rows(
    session: Session, user: StaffUser, study: Study, query: GridQuery, now: dt.datetime
) -> list[list[str]]:
    """Every participant in scope (not one page) for the CSV download, header first; audited.
    At most MAX_DAYS days of one schedule: 10,000 participants x 62 days is 620,000 short rows,
    read in one indexed pass."""
    return list(_csv_rows(session, user, study, query, now))


def _csv_rows(
    session: Session, user: StaffUser, study: Study, query: GridQuery, now: dt.datetime
) -> Iterator[list[str]]:
    common.study_for(session, user, study.slug, Permission.VIEW_PARTICIPANTS)
    _check(query)
    schedules = list(
        session.scalars(select(StudySchedule).where(StudySchedule.study_id == study.id))
    )
    schedule = _schedule(sorted(schedules, key=lambda s: s.id), query.schedule_id)
    conditions = _participant_conditions(session, user, study, query)
    audit.record(
        session,
        actor=common.actor(user),
        action="adherence.downloaded",
        target=f"study:{study.id}",
        details={"schedule_id": schedule.id if schedule else None, "days": query.days},
    )
    start = now - dt.timedelta(days=query.days)
    end = now + dt.timedelta(days=1)
    if schedule is None:
        yield HEADER
        return
    # Plain values: the caller commits after the header, which expires loaded rows.
    schedule_id, schedule_name = schedule.id, schedule.name
    yield HEADER
    statement = (
        select(
            Participant.code,
            Site.code,
            Occurrence.key,
            Occurrence.opens_at,
            Occurrence.closes_at,
            Occurrence.completed_at,
            Occurrence.cancelled_at,
        )
        .join(Occurrence, Occurrence.participant_id == Participant.id)
        .join(Site, Site.id == Participant.site_id)
        .where(
            *conditions,  # type: ignore[arg-type]
            Occurrence.schedule_id == schedule_id,
            Occurrence.opens_at >= start,
            Occurrence.opens_at < end,
        )
        .order_by(Participant.code, Occurrence.opens_at)
    )
    for row in session.execute(statement):
        yield [
            row[0],
            row[1],
            schedule_name,
            row.key,
            row.opens_at.isoformat(),
            row.closes_at.isoformat(),
            Occurrence.state(row, now).value,  # type: ignore[arg-type]
        ]
