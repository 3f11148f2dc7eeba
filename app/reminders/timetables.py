"""Reminder timetables of the people who receive reminders: read, edit, pause, snooze.

A timetable belongs to whoever *receives* reminders: a participant who answers for themselves,
or a caregiver (who receives them for all their children). Its time zone is the person's own
``time_zone`` column; windows and quiet hours live in a ``Timetable`` row, pauses in
``TimetablePause`` rows. Every value is validated by the pure ``app.scheduling`` types, and a
``ScheduleError`` becomes ``Invalid`` naming the input field (``windows.sat[0]``,
``quiet_hours[1]``, ``time_zone``), so bad input changes nothing.

Defaults (issue #6): a person who never set anything gets no window restriction and quiet
hours 21:00-08:00 in their own time zone (``DEFAULT_QUIET_HOURS``), so nobody is woken by a
reminder before they chose their hours. The first edit stores those defaults with the change;
clearing quiet hours is an explicit ``quiet_hours=[]``.

After every change the person's reminders are re-planned (``app.reminders.planner``), inside the
caller's transaction. Plain functions over a session: no Flask; callers commit.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import scheduling
from app.audit import service as audit
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.participants import people as participants
from app.participants.models import Caregiver, CaregiverLink, Participant, ParticipantStatus
from app.reminders import outbox, planner
from app.reminders.models import (
    Occurrence,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Timetable,
    TimetablePause,
)
from app.reminders.stored_timetables import (
    DEFAULT_QUIET_HOURS,
    Person,
    open_pauses,
    scheduling_timetable,
    timetable_row,
)
from app.scheduling import LocalWindow, QuietHours, ScheduleError
from app.scheduling.model import DAY_NAMES

MAX_WINDOWS_PER_DAY: Final = 6
MAX_QUIET_HOURS: Final = 4
MAX_PAUSE_DAYS: Final = 366
MAX_OPEN_PAUSES: Final = 20  # pauses not yet over; keeps a scripted client from piling them up
MAX_REASON_LENGTH: Final = 200  # TimetablePause.reason
SNOOZE_MINUTES: Final = (5, 720)

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class _Unchanged:
    """Marker for "leave this field as it is" (None means "clear it" where clearing exists)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = _Unchanged()


def _target(person: Person) -> str:
    kind = "participant" if isinstance(person, Participant) else "caregiver"
    return f"{kind}:{person.id}"


# ── Reading ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class TimetableView:
    """A timetable as people and staff see it (API shape: ``{"start", "end", "overnight"}``)."""

    time_zone: str
    windows: dict[str, list[dict[str, Any]]] | None
    quiet_hours: list[dict[str, str]]
    reminder_email: str | None
    pauses: list[TimetablePause]  # not cancelled, not yet over, soonest first
    active_pause: TimetablePause | None  # the one covering the person's local today
    updated_at: dt.datetime | None
    updated_by: str | None

    @property
    def paused_reason(self) -> str | None:
        if self.active_pause is None:
            return None
        return self.active_pause.reason or "paused"


def local_today(person: Person, now: dt.datetime | None = None) -> dt.date:
    zone = scheduling.Timetable(person.time_zone).zone
    return (now or utcnow()).astimezone(zone).date()


def _window_out(span: Sequence[str]) -> dict[str, Any]:
    return {"start": span[0], "end": span[1], "overnight": "overnight" in span[2:]}


def get_timetable(
    session: Session, person: Person, *, now: dt.datetime | None = None
) -> TimetableView:
    row = timetable_row(session, person)
    today = local_today(person, now)
    pauses = [p for p in open_pauses(row) if p.ends_on >= today]
    pauses.sort(key=lambda p: (p.starts_on, p.id))
    active = next((p for p in pauses if p.starts_on <= today), None)
    return TimetableView(
        time_zone=person.time_zone,
        windows=(
            {day: [_window_out(s) for s in spans] for day, spans in row.windows.items()}
            if row is not None and row.windows is not None
            else None
        ),
        quiet_hours=[
            {"start": start, "end": end}
            for start, end in (DEFAULT_QUIET_HOURS if row is None else row.quiet_hours)
        ],
        reminder_email=row.reminder_email if row is not None else None,
        pauses=pauses,
        active_pause=active,
        updated_at=row.updated_at if row is not None else None,
        updated_by=row.updated_by if row is not None else None,
    )


def active_pauses(
    session: Session, participant_ids: Sequence[int], now: dt.datetime | None = None
) -> dict[int, TimetablePause]:
    """For staff lists: the pause covering each participant's local today, by participant id
    (only participants with their own timetable; a caregiver's pause is on the caregiver)."""
    if not participant_ids:
        return {}
    rows = session.execute(
        select(TimetablePause, Participant)
        .join(Timetable, Timetable.id == TimetablePause.timetable_id)
        .join(Participant, Participant.id == Timetable.participant_id)
        .where(Participant.id.in_(participant_ids), TimetablePause.cancelled_at.is_(None))
        .order_by(TimetablePause.starts_on, TimetablePause.id)
    ).all()
    found: dict[int, TimetablePause] = {}
    for pause, participant in rows:
        today = local_today(participant, now)
        if pause.starts_on <= today <= pause.ends_on:
            found.setdefault(participant.id, pause)
    return found


# ── Editing ───────────────────────────────────────────────────────────────────────────────


def _parse_time(value: object, path: str, errors: dict[str, list[str]]) -> dt.time | None:
    if not isinstance(value, str) or not _HHMM.match(value):
        errors[path] = [f"Use a 24-hour time HH:MM from 00:00 to 23:59, got {value!r}."]
        return None
    return dt.time.fromisoformat(value)


def _problem(error: ScheduleError) -> str:
    text = error.problem
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _span(value: object, path: str, errors: dict[str, list[str]]) -> Mapping[str, Any] | None:
    if not isinstance(value, Mapping):
        errors[path] = ['Give {"start": "HH:MM", "end": "HH:MM"}.']
        return None
    unknown = set(value) - {"start", "end", "overnight"}
    if unknown:
        errors[path] = [f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}."]
        return None
    return value


def _check_windows(
    windows: object, errors: dict[str, list[str]]
) -> dict[str, list[list[str]]] | None:
    """API windows → stored form, adding one error per bad entry to ``errors``."""
    if windows is None:
        return None
    if not isinstance(windows, Mapping):
        errors["windows"] = ['Give {"mon": [{"start": "18:00", "end": "21:00"}], ...} or null.']
        return None
    stored: dict[str, list[list[str]]] = {}
    for day, spans in windows.items():
        if day not in DAY_NAMES:
            errors[f"windows.{day}"] = [f"Unknown day; use one of {', '.join(DAY_NAMES)}."]
            continue
        if not isinstance(spans, Sequence) or isinstance(spans, str):
            errors[f"windows.{day}"] = ["Give a list of windows (it may be empty)."]
            continue
        if len(spans) > MAX_WINDOWS_PER_DAY:
            errors[f"windows.{day}"] = [f"At most {MAX_WINDOWS_PER_DAY} windows a day."]
            continue
        day_spans: list[list[str]] = []
        for index, value in enumerate(spans):
            path = f"windows.{day}[{index}]"
            span = _span(value, path, errors)
            if span is None:
                continue
            start = _parse_time(span.get("start"), f"{path}.start", errors)
            end = _parse_time(span.get("end"), f"{path}.end", errors)
            overnight = span.get("overnight", False)
            if not isinstance(overnight, bool):
                errors[f"{path}.overnight"] = ["Use true or false."]
                continue
            if start is None or end is None:
                continue
            try:
                # One window at a time, so the error can carry its index.
                scheduling.Timetable("UTC", windows={day: [LocalWindow(start, end, overnight)]})
            except ScheduleError as error:
                errors[path] = [_problem(error)]
                continue
            day_spans.append([span["start"], span["end"], *(["overnight"] if overnight else [])])
        stored[day] = day_spans
    return stored


def _check_quiet_hours(value: object, errors: dict[str, list[str]]) -> list[list[str]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        errors["quiet_hours"] = ['Give a list like [{"start": "22:00", "end": "07:00"}].']
        return []
    if len(value) > MAX_QUIET_HOURS:
        errors["quiet_hours"] = [f"At most {MAX_QUIET_HOURS} quiet-hour spans."]
        return []
    stored: list[list[str]] = []
    for index, item in enumerate(value):
        path = f"quiet_hours[{index}]"
        span = _span(item, path, errors)
        if span is None:
            continue
        if "overnight" in span:
            errors[f"{path}.overnight"] = [
                "Quiet hours cross midnight by themselves when the end is before the start."
            ]
            continue
        start = _parse_time(span.get("start"), f"{path}.start", errors)
        end = _parse_time(span.get("end"), f"{path}.end", errors)
        if start is None or end is None:
            continue
        try:
            scheduling.Timetable("UTC", quiet_hours=(QuietHours(start, end),))
        except ScheduleError as error:
            errors[path] = [_problem(error)]
            continue
        stored.append([span["start"], span["end"]])
    return stored


def _check_email(value: str | None, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > 254 or not _EMAIL.match(value):
        errors["reminder_email"] = [f"Not an e-mail address: {value!r}."]
        return None
    return value


def _check_zone(value: str, errors: dict[str, list[str]]) -> str:
    try:
        participants.check_time_zone(value)
        scheduling.Timetable(value)
    except Invalid as error:
        errors.update(error.errors)
    except ScheduleError as error:
        errors["time_zone"] = [_problem(error)]
    return value


def require_may_change(session: Session, person: Person, actor: str) -> None:
    """Staff change a timetable only if they manage everyone whose reminders it governs: a
    participant's own, or every child of a caregiver (whose one timetable covers them all,
    across sites and studies; issue #10). Other actors -- the person themselves on their
    phone, an operator's CLI -- are not scoped by staff memberships."""
    if isinstance(person, Participant):
        participants.require_may_manage(session, actor, person)
        return
    if participants.unmanaged_children(session, actor, person):
        raise Forbidden(
            "This caregiver also receives reminders for participants you do not manage, so"
            " their timetable is changed on their phone or by staff who manage every one of"
            " those participants."
        )


def _ensure_row(session: Session, person: Person, actor: str, now: dt.datetime) -> Timetable:
    row = timetable_row(session, person)
    if row is None:
        row = Timetable(
            participant_id=person.id if isinstance(person, Participant) else None,
            caregiver_id=person.id if isinstance(person, Caregiver) else None,
            windows=None,
            quiet_hours=[list(pair) for pair in DEFAULT_QUIET_HOURS],
            updated_at=now,
            updated_by=actor,
        )
        session.add(row)
        session.flush()
    return row


def _replan(session: Session, person: Person, now: dt.datetime) -> None:
    """Re-plan the person's pending reminders inside the caller's transaction."""
    if isinstance(person, Participant):
        planner.replan_person(session, participant=person, now=now)
    else:
        planner.replan_person(session, caregiver=person, now=now)


def update_timetable(
    session: Session,
    person: Person,
    *,
    time_zone: str | _Unchanged = UNCHANGED,
    windows: Mapping[str, Sequence[Mapping[str, Any]]] | None | _Unchanged = UNCHANGED,
    quiet_hours: Sequence[Mapping[str, Any]] | _Unchanged = UNCHANGED,
    reminder_email: str | None | _Unchanged = UNCHANGED,
    actor: str,
    now: dt.datetime | None = None,
) -> TimetableView:
    """Change any of the fields given (``UNCHANGED`` leaves one alone).

    ``windows``: ``{"mon": [{"start": "18:00", "end": "21:00", "overnight": false}], ...}``; a
    day left out has no window; ``None`` removes every window restriction. ``quiet_hours``:
    ``[{"start": "22:00", "end": "07:00"}]`` (crossing midnight when end <= start). A time zone
    change is stored on the person. All fields are checked before anything changes; every
    problem is reported at once, keyed by its path.
    """
    require_may_change(session, person, actor)
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    new_zone = _check_zone(time_zone, errors) if isinstance(time_zone, str) else None
    new_windows = None if isinstance(windows, _Unchanged) else _check_windows(windows, errors)
    new_quiet = (
        None if isinstance(quiet_hours, _Unchanged) else _check_quiet_hours(quiet_hours, errors)
    )
    new_email = (
        None if isinstance(reminder_email, _Unchanged) else _check_email(reminder_email, errors)
    )
    if errors:
        raise Invalid(errors=errors)

    row = _ensure_row(session, person, actor, now)
    changed: list[str] = []
    if new_zone is not None and new_zone != person.time_zone:
        person.time_zone = new_zone
        changed.append("time_zone")
    if not isinstance(windows, _Unchanged) and new_windows != row.windows:
        row.windows = new_windows
        changed.append("windows")
    if new_quiet is not None and new_quiet != row.quiet_hours:
        row.quiet_hours = new_quiet
        changed.append("quiet_hours")
    if not isinstance(reminder_email, _Unchanged) and new_email != row.reminder_email:
        row.reminder_email = new_email
        changed.append("reminder_email")
    if changed:
        row.updated_at = now
        row.updated_by = actor
        audit.record(
            session,
            actor=actor,
            action="timetable.updated",
            target=_target(person),
            details={"fields": changed},
            now=now,
        )
        session.flush()
        _replan(session, person, now)
    return get_timetable(session, person, now=now)


def _check_reason(reason: str | None, errors: dict[str, list[str]]) -> str:
    if reason is None:
        return ""
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON_LENGTH or any(
        unicodedata.category(c).startswith("C") for c in reason
    ):
        errors["reason"] = [
            f"Use at most {MAX_REASON_LENGTH} characters, with no control characters."
        ]
    return reason


def add_pause(
    session: Session,
    person: Person,
    *,
    starts_on: dt.date,
    ends_on: dt.date,
    reason: str | None,
    actor: str,
    now: dt.datetime | None = None,
) -> TimetablePause:
    """No reminders from ``starts_on`` to ``ends_on`` (local dates, inclusive); reminders
    resume by themselves the day after. The reason ("hospital stay") is shown to site staff."""
    require_may_change(session, person, actor)
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    today = local_today(person, now)
    if ends_on < starts_on:
        errors["ends_on"] = [f"The pause ends ({ends_on}) before it starts ({starts_on})."]
    elif ends_on < today:
        errors["ends_on"] = [f"The pause must end today ({today}) or later."]
    elif (ends_on - starts_on).days + 1 > MAX_PAUSE_DAYS:
        errors["ends_on"] = [f"A pause lasts at most {MAX_PAUSE_DAYS} days."]
    reason = _check_reason(reason, errors)
    if errors:
        raise Invalid(errors=errors)
    row = _ensure_row(session, person, actor, now)
    if sum(1 for p in open_pauses(row) if p.ends_on >= today) >= MAX_OPEN_PAUSES:
        raise Conflict(f"At most {MAX_OPEN_PAUSES} pauses can be planned at once.")
    pause = TimetablePause(
        timetable_id=row.id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
        created_at=now,
        created_by=actor,
    )
    session.add(pause)
    session.flush()
    session.refresh(row, ["pauses"])
    audit.record(
        session,
        actor=actor,
        action="timetable.pause_added",
        target=_target(person),
        details={
            "pause_id": pause.id,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
        },
        now=now,
    )
    _replan(session, person, now)
    return pause


def cancel_pause(
    session: Session,
    person: Person,
    pause_id: int,
    *,
    actor: str,
    now: dt.datetime | None = None,
) -> TimetablePause:
    """End a pause early (or drop a planned one); reminders resume. Cancelling twice is a no-op.
    A pause of someone else's timetable is NotFound, as an unknown one is."""
    require_may_change(session, person, actor)
    now = now or utcnow()
    row = timetable_row(session, person)
    pause = session.get(TimetablePause, pause_id)
    if row is None or pause is None or pause.timetable_id != row.id:
        raise NotFound("No such pause in this timetable.")
    if pause.cancelled_at is not None:
        return pause
    pause.cancelled_at = now
    audit.record(
        session,
        actor=actor,
        action="timetable.pause_cancelled",
        target=_target(person),
        details={"pause_id": pause.id},
        now=now,
    )
    session.flush()
    session.refresh(row, ["pauses"])
    _replan(session, person, now)
    return pause


# ── Snooze ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Snoozed:
    occurrence_id: int
    send_at: dt.datetime | None  # None: no allowed moment before it closes; reminder dropped
    moved: int  # outbox rows moved (one per channel of that reminder)


def _may_receive_for(session: Session, person: Person, occurrence: Occurrence) -> bool:
    if isinstance(person, Participant):
        return occurrence.participant_id == person.id
    link = session.scalar(
        select(CaregiverLink)
        .join(Participant, Participant.id == CaregiverLink.participant_id)
        .where(
            CaregiverLink.caregiver_id == person.id,
            CaregiverLink.participant_id == occurrence.participant_id,
            CaregiverLink.ended_at.is_(None),
            Participant.status != ParticipantStatus.WITHDRAWN.value,
        )
    )
    return link is not None


def snooze(
    session: Session,
    device_person: Person,
    occurrence_id: int,
    minutes: int,
    *,
    now: dt.datetime | None = None,
) -> Snoozed:
    """ "Remind me later": the recipient's next pending reminder for this occurrence moves to
    the first allowed instant (their windows, quiet hours, pauses) at or after now + minutes,
    never at or past the occurrence's close. With no such instant the reminder is cancelled
    (note says why). The move is recorded in the outbox row's ``note`` so re-planning can
    tell a snoozed row from a planned one.

    Every channel of that reminder (push and e-mail rows of the same sequence) moves together.
    """
    now = now or utcnow()
    low, high = SNOOZE_MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not low <= minutes <= high:
        raise Invalid(errors={"minutes": [f"Snooze for {low} to {high} minutes."]})
    occurrence = session.get(Occurrence, occurrence_id)
    if occurrence is None or not _may_receive_for(session, device_person, occurrence):
        raise NotFound("No such questionnaire for this phone.")
    if occurrence.cancelled_at is not None or occurrence.completed_at is not None:
        raise Conflict("This questionnaire is no longer waiting for an answer.")
    if now >= occurrence.closes_at:
        raise Conflict("This questionnaire has closed.")
    recipient = (
        OutboxMessage.participant_id == device_person.id
        if isinstance(device_person, Participant)
        else OutboxMessage.caregiver_id == device_person.id
    )
    pending = select(OutboxMessage).where(
        OutboxMessage.occurrence_id == occurrence.id,
        OutboxMessage.kind == OutboxKind.REMINDER.value,
        OutboxMessage.state == OutboxState.PENDING.value,
        recipient,
    )
    first = session.scalar(pending.order_by(OutboxMessage.send_at, OutboxMessage.id).limit(1))
    if first is None:
        raise Conflict("No reminder is waiting for this questionnaire.")
    rows = list(
        session.scalars(pending.where(OutboxMessage.sequence == first.sequence).with_for_update())
    )
    timetable = scheduling_timetable(
        session,
        participant=device_person if isinstance(device_person, Participant) else None,
        caregiver=device_person if isinstance(device_person, Caregiver) else None,
    )
    wanted = now + dt.timedelta(minutes=minutes)
    send_at = scheduling.next_allowed_instant(timetable, wanted, occurrence.closes_at)
    for row in rows:
        if send_at is None:
            outbox.cancel(session, row, "snoozed: no allowed time before the questionnaire closes")
        else:
            row.send_at = send_at
            row.note = f"snoozed until {send_at.isoformat()}"
    session.flush()
    return Snoozed(occurrence.id, send_at, len(rows))
