"""Study schedules in the database: the JSON ``spec`` ↔ ``app.scheduling.Schedule``, the reminder
policy, and adding, listing and retiring schedules. Plain functions over a session; callers
commit.

A spec is the readable JSON a study team writes (or the staff API receives)::

    {"kind": "daily", "open_time": "18:00", "close_time": "23:59"}
    {"kind": "weekly", "weekdays": ["sun"], "open_time": "09:00", "window_minutes": 2880}
    {"kind": "visits", "visits": [{"day": 0}, {"day": 28, "before": 3, "after": 3}]}

Every problem is reported under the path of the field at fault (``spec.visits[1].before``,
``reminder_gaps_minutes[0]``), all at once, and nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.library.models import InstrumentVersion
from app.participants.models import Participant, ParticipantStatus, StudyInstrument
from app.reminders import outbox
from app.reminders.models import Occurrence, OutboxMessage, StudySchedule
from app.scheduling import ReminderPolicy, Schedule, ScheduleError, Visit
from app.scheduling.model import DAY_NAMES, ISO_WEEKDAY, MAX_REMINDERS
from app.studies.models import Study

RESPONDENTS: Final = ("self", "proxy")
ENROLLMENT: Final = "enrollment"
# Other anchors name a participant's AnchorDate row ("surgery", "baseline_visit").
_ANCHOR = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# A follow-up more than a week after the previous reminder is almost certainly a typo in
# minutes (10080 = 7 days).
MAX_GAP_MINUTES: Final = 7 * 24 * 60
_SPEC_KEYS: Final = (
    "kind",
    "open_time",
    "close_time",
    "window_minutes",
    "weekdays",
    "visits",
    "start_day",
    "end_day",
    "end_date",
    "max_occurrences",
)
_VISIT_KEYS: Final = ("day", "before", "after")
# ScheduleError paths name Schedule's fields; the spec names a few of them differently.
_SPEC_FIELD = {"schedule.window": "spec.window_minutes"}


# ── spec JSON ↔ Schedule ──────────────────────────────────────────────────────────────────


class _Errors:
    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.found.setdefault(field, []).append(message)


def _int(value: object, field: str, errors: _Errors, *, minimum: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(field, f"Must be a whole number, got {value!r}.")
        return None
    if minimum is not None and value < minimum:
        errors.add(field, f"Must be at least {minimum}, got {value}.")
        return None
    return value


def _time(value: object, field: str, errors: _Errors) -> dt.time | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _TIME.match(value):
        errors.add(field, f"Use a 24-hour local time such as '18:00', got {value!r}.")
        return None
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def _weekdays(value: object, errors: _Errors) -> frozenset[int]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        errors.add(
            "spec.weekdays", f"Must be a list of days such as ['mon', 'thu'], got {value!r}."
        )
        return frozenset()
    days: set[int] = set()
    for index, day in enumerate(value):
        if not isinstance(day, str) or day not in ISO_WEEKDAY:
            errors.add(
                f"spec.weekdays[{index}]", f"Use one of {', '.join(DAY_NAMES)}, got {day!r}."
            )
        elif ISO_WEEKDAY[day] in days:
            errors.add(f"spec.weekdays[{index}]", f"'{day}' is listed twice.")
        else:
            days.add(ISO_WEEKDAY[day])
    return frozenset(days)


def _visits(value: object, errors: _Errors) -> tuple[Visit, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.add(
            "spec.visits", f"Must be a list such as [{{'day': 28, 'before': 3}}], got {value!r}."
        )
        return ()
    visits: list[Visit] = []
    for index, raw in enumerate(value):
        path = f"spec.visits[{index}]"
        if not isinstance(raw, Mapping):
            errors.add(path, f"Must be an object such as {{'day': 7, 'before': 2}}, got {raw!r}.")
            continue
        for unknown in sorted(set(raw) - set(_VISIT_KEYS)):
            errors.add(f"{path}.{unknown}", f"Unknown field; use {', '.join(_VISIT_KEYS)}.")
        if "day" not in raw:
            errors.add(f"{path}.day", "Missing: the day after the anchor (0 = the anchor date).")
            continue
        day = _int(raw["day"], f"{path}.day", errors)
        before = _int(raw.get("before", 0), f"{path}.before", errors, minimum=0)
        after = _int(raw.get("after", 0), f"{path}.after", errors, minimum=0)
        if day is not None and before is not None and after is not None:
            visits.append(Visit(day, before, after))
    return tuple(visits)


def schedule_from_spec(spec: object) -> Schedule:
    """The ``Schedule`` a spec describes, or ``Invalid`` naming every field at fault."""
    errors = _Errors()
    if not isinstance(spec, Mapping):
        raise Invalid(errors={"spec": [f"Must be an object, got {type(spec).__name__}."]})
    for unknown in sorted(set(spec) - set(_SPEC_KEYS)):
        errors.add(f"spec.{unknown}", f"Unknown field; use {', '.join(_SPEC_KEYS)}.")
    kind = spec.get("kind")
    if kind not in ("daily", "weekdays", "weekly", "visits"):
        errors.add("spec.kind", f"Use one of daily, weekdays, weekly, visits; got {kind!r}.")
    open_time = _time(spec.get("open_time", "00:00"), "spec.open_time", errors)
    close_time = _time(spec.get("close_time"), "spec.close_time", errors)
    window_minutes = _int(spec.get("window_minutes"), "spec.window_minutes", errors, minimum=1)
    weekdays = _weekdays(spec.get("weekdays"), errors)
    visits = _visits(spec.get("visits"), errors)
    start_day = _int(spec.get("start_day", 0), "spec.start_day", errors)
    end_day = _int(spec.get("end_day"), "spec.end_day", errors)
    max_occurrences = _int(spec.get("max_occurrences"), "spec.max_occurrences", errors, minimum=1)
    end_date: dt.date | None = None
    if spec.get("end_date") is not None:
        try:
            end_date = dt.date.fromisoformat(str(spec["end_date"]))
        except ValueError:
            errors.add(
                "spec.end_date", f"Use a date such as '2027-06-30', got {spec['end_date']!r}."
            )
    if errors.found:
        raise Invalid("The schedule is not valid.", errors=errors.found)
    assert open_time is not None and start_day is not None
    try:
        return Schedule(
            kind,  # type: ignore[arg-type]  # checked above
            open_time,
            dt.timedelta(minutes=window_minutes) if window_minutes is not None else None,
            close_time,
            weekdays,
            visits,
            start_day,
            end_day,
            end_date,
            max_occurrences,
        )
    except ScheduleError as error:
        field = _SPEC_FIELD.get(error.field, error.field.replace("schedule.", "spec.", 1))
        raise Invalid("The schedule is not valid.", errors={field: [error.problem]}) from None


def _hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


def spec_of(schedule: Schedule) -> dict[str, Any]:
    """The canonical JSON spec of ``schedule`` (what is stored; ``schedule_from_spec`` inverts
    it). Defaults are left out so a stored spec reads like the one a person wrote."""
    spec: dict[str, Any] = {"kind": schedule.kind, "open_time": _hhmm(schedule.open_time)}
    if schedule.close_time is not None:
        spec["close_time"] = _hhmm(schedule.close_time)
    if schedule.window is not None:
        spec["window_minutes"] = int(schedule.window.total_seconds() // 60)
    if schedule.weekdays:
        spec["weekdays"] = [DAY_NAMES[day - 1] for day in sorted(schedule.weekdays)]
    if schedule.visits:
        spec["visits"] = [
            {"day": v.day_offset, "before": v.before_days, "after": v.after_days}
            for v in schedule.visits
        ]
    if schedule.start_day:
        spec["start_day"] = schedule.start_day
    for name in ("end_day", "max_occurrences"):
        if getattr(schedule, name) is not None:
            spec[name] = getattr(schedule, name)
    if schedule.end_date is not None:
        spec["end_date"] = schedule.end_date.isoformat()
    return spec


def schedule_of(row: StudySchedule) -> Schedule:
    return schedule_from_spec(row.spec)


# ── Reminder policy ───────────────────────────────────────────────────────────────────────


def policy_from(max_count: object, gaps_minutes: object) -> ReminderPolicy:
    """The ``ReminderPolicy`` for a schedule's ``reminder_max_count`` and
    ``reminder_gaps_minutes``, or ``Invalid`` naming those fields."""
    errors = _Errors()
    count = _int(max_count, "reminder_max_count", errors, minimum=0)
    if count is not None and count > MAX_REMINDERS:
        errors.add("reminder_max_count", f"At most {MAX_REMINDERS}, got {count}.")
    gaps: list[dt.timedelta] = []
    if not isinstance(gaps_minutes, Sequence) or isinstance(gaps_minutes, str):
        errors.add("reminder_gaps_minutes", f"Must be a list of minutes, got {gaps_minutes!r}.")
    else:
        for index, gap in enumerate(gaps_minutes):
            field = f"reminder_gaps_minutes[{index}]"
            minutes = _int(gap, field, errors, minimum=1)
            if minutes is not None and minutes > MAX_GAP_MINUTES:
                errors.add(field, f"At most {MAX_GAP_MINUTES} minutes (7 days), got {minutes}.")
            elif minutes is not None:
                gaps.append(dt.timedelta(minutes=minutes))
    if errors.found:
        raise Invalid("The reminder policy is not valid.", errors=errors.found)
    assert count is not None
    try:
        return ReminderPolicy(tuple(gaps), count)
    except ScheduleError as error:
        field = {"policy.max_count": "reminder_max_count"}.get(error.field, "reminder_gaps_minutes")
        raise Invalid(
            "The reminder policy is not valid.", errors={field: [error.problem]}
        ) from None


def policy_of(row: StudySchedule) -> ReminderPolicy:
    return policy_from(row.reminder_max_count, list(row.reminder_gaps_minutes or ()))


# ── Adding, listing, retiring ─────────────────────────────────────────────────────────────


def _text(value: object, field: str, max_length: int, errors: _Errors) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(field, f"Must be text, got {value!r}.")
        return None
    value = value.strip()
    if len(value) > max_length or any(unicodedata.category(c).startswith("C") for c in value):
        errors.add(field, f"Use at most {max_length} characters, with no control characters.")
        return None
    return value or None


def _assigned_version(
    session: Session, study: Study, key: str, version: str, respondent: str, errors: _Errors
) -> InstrumentVersion | None:
    row = session.scalar(
        select(InstrumentVersion).where(
            InstrumentVersion.instrument_key == key, InstrumentVersion.version == version
        )
    )
    if row is None:
        errors.add("instrument", f"No published instrument {key} {version}.")
        return None
    assigned = session.scalar(
        select(StudyInstrument).where(
            StudyInstrument.study_id == study.id, StudyInstrument.instrument_version_id == row.id
        )
    )
    if assigned is None:
        errors.add("instrument", f"{row.label} is not assigned to study '{study.slug}'.")
        return None
    if assigned.respondents not in (respondent, "both"):
        errors.add(
            "respondent",
            f"Study '{study.slug}' asks {row.label} of {assigned.respondents} respondents, not {respondent}.",
        )
        return None
    return row


def add_schedule(
    session: Session,
    study: Study,
    *,
    name: str,
    instrument_key: str,
    instrument_version: str,
    respondent: str,
    spec: object,
    arm: str | None = None,
    anchor: str = ENROLLMENT,
    reminder_max_count: int = 1,
    reminder_gaps_minutes: Sequence[int] = (),
    participant: Participant | None = None,
    actor: str,
) -> StudySchedule:
    """Add a schedule; the planner then materialises it for every participant it applies to
    (their horizon is reset so the next tick picks them up, batch by batch). With
    `participant`, it applies to that participant of the study only (and takes no arm)."""
    errors = _Errors()
    clean_name = _text(name, "name", 80, errors)
    if clean_name is None and "name" not in errors.found:
        errors.add("name", "Give the schedule a name, e.g. 'Daily diary'.")
    clean_arm = _text(arm, "arm", 64, errors)
    if participant is not None and participant.study_id != study.id:
        errors.add("participant", f"Not a participant of study '{study.slug}'.")
    elif participant is not None and clean_arm is not None:
        errors.add("arm", "A schedule for one participant takes no arm.")
    if respondent not in RESPONDENTS:
        errors.add("respondent", f"Use one of: {', '.join(RESPONDENTS)}.")
    if not isinstance(anchor, str) or not (anchor == ENROLLMENT or _ANCHOR.match(anchor)):
        errors.add(
            "anchor",
            "Use 'enrollment' or the name of a participant date such as 'surgery' "
            "(lower-case letters, digits, '_').",
        )
    version = None
    if respondent in RESPONDENTS:
        version = _assigned_version(
            session, study, instrument_key, instrument_version, respondent, errors
        )
    schedule: Schedule | None = None
    for check in (
        lambda: schedule_from_spec(spec),
        lambda: policy_from(reminder_max_count, reminder_gaps_minutes),
    ):
        try:
            result = check()
        except Invalid as error:
            for field, messages in error.errors.items():
                for message in messages:
                    errors.add(field, message)
        else:
            if isinstance(result, Schedule):
                schedule = result
    if errors.found:
        raise Invalid("The schedule is not valid.", errors=errors.found)
    assert version is not None and schedule is not None and clean_name is not None
    row = StudySchedule(
        study_id=study.id,
        name=clean_name,
        arm=clean_arm,
        participant_id=participant.id if participant is not None else None,
        instrument_version_id=version.id,
        respondent=respondent,
        spec=spec_of(schedule),
        anchor=anchor,
        reminder_max_count=reminder_max_count,
        reminder_gaps_minutes=list(reminder_gaps_minutes),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    # Participants already planned past now would only get this schedule when their horizon
    # next runs low; a NULL horizon puts them at the front of the planner's queue instead.
    reset = (
        update(Participant)
        .where(
            Participant.study_id == study.id,
            Participant.status != ParticipantStatus.WITHDRAWN.value,
        )
        .values(occurrences_until=None)
        .execution_options(synchronize_session=False)
    )
    if clean_arm is not None:
        reset = reset.where(Participant.arm == clean_arm)
    if participant is not None:
        reset = reset.where(Participant.id == participant.id)
    session.execute(reset)
    audit.record(
        session,
        actor=actor,
        action="schedule.added",
        target=f"schedule:{row.id}",
        details={
            "study_id": study.id,
            "instrument_version_id": version.id,
            "respondent": respondent,
            "arm": clean_arm,
            **({"participant_id": participant.id} if participant is not None else {}),
        },
    )
    return row


def list_schedules(
    session: Session, study: Study, *, include_retired: bool = False
) -> list[StudySchedule]:
    statement = select(StudySchedule).where(StudySchedule.study_id == study.id)
    if not include_retired:
        statement = statement.where(StudySchedule.retired_at.is_(None))
    return list(session.scalars(statement.order_by(StudySchedule.id)))


def get_schedule(session: Session, study: Study, schedule_id: int) -> StudySchedule:
    row = session.get(StudySchedule, schedule_id)
    if row is None or row.study_id != study.id:
        raise NotFound(f"Study '{study.slug}' has no schedule {schedule_id}.")
    return row


def retire_schedule(
    session: Session,
    study: Study,
    schedule_id: int,
    *,
    actor: str,
    now: dt.datetime | None = None,
) -> StudySchedule:
    """Stop a schedule: occurrences not yet open are cancelled with their pending reminders.
    Occurrences already open stay answerable (a family may be part way through)."""
    now = now or utcnow()
    row = get_schedule(session, study, schedule_id)
    if row.retired_at is not None:
        raise Conflict(f"Schedule {schedule_id} was already retired.")
    row.retired_at = now
    # Subqueries, not id lists: a schedule may have an occurrence per participant per day.
    future = select(Occurrence.id).where(
        Occurrence.schedule_id == row.id,
        Occurrence.opens_at > now,
        Occurrence.completed_at.is_(None),
        Occurrence.cancelled_at.is_(None),
    )
    outbox.cancel_pending(
        session, OutboxMessage.occurrence_id.in_(future.scalar_subquery()), "schedule retired"
    )
    cancelled = session.execute(
        update(Occurrence)
        .where(
            Occurrence.schedule_id == row.id,
            Occurrence.opens_at > now,
            Occurrence.completed_at.is_(None),
            Occurrence.cancelled_at.is_(None),
        )
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    audit.record(
        session,
        actor=actor,
        action="schedule.retired",
        target=f"schedule:{row.id}",
        details={"study_id": study.id, "occurrences_cancelled": cancelled},
        now=now,
    )
    session.flush()
    return row


def language_warnings(session: Session, study: Study, row: StudySchedule) -> list[str]:
    """What staff are told on adding a schedule: readers who will get the questionnaire in
    another language than theirs (#11). Empty when every reader has their language."""
    from app.library.service import instrument_of
    from app.participants.languages import language_gaps

    version = row.instrument_version
    gaps = language_gaps(session, study, instrument_of(version), row.respondent)
    return [gap.message(version.label) for gap in gaps]
