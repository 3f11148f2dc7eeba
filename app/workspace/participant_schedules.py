"""From a participant's page: add a schedule for them alone, their arm or the whole study, and
edit the windows in which their reminders may be sent (#13).

Both reuse the domain services the API uses (app.reminders.study_schedules, app.reminders.timetables),
which validate and audit; this module checks who may do it and renames the domain's error
paths (``spec.open_time``, ``windows.mon[0].start``) to the page's form fields, so each message
lands beside its field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import access
from app.access import Permission
from app.accounts.models import StaffUser
from app.errors import Invalid
from app.library.models import InstrumentVersion
from app.participants.models import Participant, StudyInstrument
from app.reminders import due, timetables
from app.reminders import study_schedules as schedules
from app.reminders.models import StudySchedule
from app.scheduling.model import DAY_NAMES
from app.studies.models import Study
from app.workspace import common
from app.workspace.participants import get_participant

# "participant": this participant only; "arm": everyone in their arm; "study": everyone.
APPLIES_TO: Final = ("participant", "arm", "study")
WINDOW_SLOTS: Final = 2  # windows per weekday on the page (the service allows more)


# ── Adding a schedule ─────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class InstrumentChoice:
    version_id: int
    label: str
    respondents: str  # self, proxy or both


def participant_for_schedules(
    session: Session, user: StaffUser, study: Study, code: str
) -> Participant:
    """The participant, for a study-wide manager only: a schedule applies to every site."""
    participant = get_participant(session, user, study, code, Permission.VIEW_PARTICIPANTS)
    access.require(user.memberships, Permission.MANAGE_STUDY, study.id)
    return participant


def instrument_choices(session: Session, study: Study) -> list[InstrumentChoice]:
    rows = session.execute(
        select(InstrumentVersion, StudyInstrument.respondents)
        .join(StudyInstrument, StudyInstrument.instrument_version_id == InstrumentVersion.id)
        .where(StudyInstrument.study_id == study.id)
        .order_by(InstrumentVersion.instrument_key, InstrumentVersion.version)
    ).all()
    return [
        InstrumentChoice(version.id, version.label, respondents) for version, respondents in rows
    ]


@dataclass(frozen=True)
class ScheduleRequest:
    name: str
    instrument_version_id: int | None
    respondent: str
    applies_to: str  # one of APPLIES_TO
    kind: str  # daily, weekdays or weekly
    weekdays: Sequence[str]
    open_time: str
    close_time: str  # "" when the window is given in hours
    window_hours: int | None
    reminder_max_count: int
    reminder_gap_minutes: int | None


# Domain error paths -> the page's fields (the first matching prefix wins).
_SCHEDULE_FIELDS: Final = (
    ("spec.open_time", "open_time"),
    ("spec.close_time", "close_time"),
    ("spec.window_minutes", "window_hours"),
    ("spec.weekdays", "weekdays"),
    ("spec.kind", "kind"),
    ("spec", "open_time"),
    ("reminder_gaps_minutes", "reminder_gap_minutes"),
    ("reminder_max_count", "reminder_max_count"),
    ("arm", "applies_to"),
    ("participant", "applies_to"),
)


def _renamed(errors: dict[str, list[str]], table: Sequence[tuple[str, str]]) -> dict[str, Any]:
    found: dict[str, list[str]] = {}
    for path, messages in errors.items():
        field = next((name for prefix, name in table if path.startswith(prefix)), path)
        found.setdefault(field, []).extend(messages)
    return found


def add_schedule(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    request: ScheduleRequest,
    now: dt.datetime,
) -> tuple[StudySchedule, list[str]]:
    """Add the schedule (audited by app.reminders.study_schedules) and plan this participant's
    questionnaires at once, so the page shows them; others get theirs from the scheduler.
    Returns the schedule and its language warnings."""
    participant = participant_for_schedules(session, user, study, code)
    errors: dict[str, list[str]] = {}
    choice = next(
        (
            c
            for c in instrument_choices(session, study)
            if c.version_id == request.instrument_version_id
        ),
        None,
    )
    if choice is None:
        errors["instrument"] = ["Choose a questionnaire the study asks."]
    if request.applies_to not in APPLIES_TO:
        errors["applies_to"] = ["Choose who gets the schedule."]
    elif request.applies_to == "arm" and not participant.arm:
        errors["applies_to"] = ["This participant is in no study arm; choose every participant."]
    if errors:
        raise Invalid("The schedule is not valid.", errors=errors)
    assert choice is not None
    version = session.get(InstrumentVersion, choice.version_id)
    assert version is not None
    spec: dict[str, Any] = {"kind": request.kind, "open_time": request.open_time}
    if request.weekdays or request.kind != "daily":
        spec["weekdays"] = list(request.weekdays)  # the domain says which kinds take days
    if request.close_time:
        spec["close_time"] = request.close_time
    if request.window_hours is not None:
        spec["window_minutes"] = request.window_hours * 60
    gaps = [request.reminder_gap_minutes] if request.reminder_gap_minutes is not None else []
    try:
        row = schedules.add_schedule(
            session,
            study,
            name=request.name,
            instrument_key=version.instrument_key,
            instrument_version=version.version,
            respondent=request.respondent,
            spec=spec,
            arm=participant.arm if request.applies_to == "arm" else None,
            participant=participant if request.applies_to == "participant" else None,
            reminder_max_count=request.reminder_max_count,
            reminder_gaps_minutes=gaps,
            actor=common.actor(user),
        )
    except Invalid as error:
        errors = _renamed(error.errors, _SCHEDULE_FIELDS)
        raise Invalid("The schedule is not valid.", errors=errors) from None
    session.refresh(participant)  # add_schedule reset the planning horizon in SQL
    due.ensure_planned(session, [participant], now)
    return row, schedules.language_warnings(session, study, row)


# ── Reminder windows ──────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class WindowEntry:
    """One window as typed on the page: `slot` is its row for that day (1-based)."""

    day: str
    slot: int
    start: str
    end: str
    overnight: bool = False

    @property
    def field(self) -> str:
        return f"{self.day}_{self.slot}"


def participant_for_windows(
    session: Session, user: StaffUser, study: Study, code: str
) -> tuple[Participant, timetables.TimetableView]:
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    return participant, timetables.get_timetable(session, participant)


_WINDOW_PATH = re.compile(r"^windows\.(\w+)\[(\d+)\](?:\.(start|end|overnight))?$")


def set_reminder_windows(
    session: Session, user: StaffUser, study: Study, code: str, entries: Sequence[WindowEntry]
) -> timetables.TimetableView:
    """Replace the participant's reminder windows with `entries`; none at all removes every
    restriction (reminders at any time outside quiet hours). A day with no entry gets no
    reminders while others have windows. The timetable service checks, audits and re-plans."""
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    errors: dict[str, list[str]] = {}
    windows: dict[str, list[dict[str, Any]]] = {}
    slots: dict[tuple[str, int], str] = {}  # (day, index in the service's list) -> field
    for entry in sorted(entries, key=lambda e: (DAY_NAMES.index(e.day), e.slot)):
        if not entry.start and not entry.end:
            continue
        if not entry.start:
            errors[f"{entry.field}_start"] = ["Enter the time this window starts."]
            continue
        if not entry.end:
            errors[f"{entry.field}_end"] = ["Enter the time this window ends."]
            continue
        day = windows.setdefault(entry.day, [])
        slots[(entry.day, len(day))] = entry.field
        day.append({"start": entry.start, "end": entry.end, "overnight": entry.overnight})
    if errors:
        raise Invalid("The reminder windows are not valid.", errors=errors)
    try:
        return timetables.update_timetable(
            session, participant, windows=windows or None, actor=common.actor(user)
        )
    except Invalid as error:
        found: dict[str, list[str]] = {}
        for path, messages in error.errors.items():
            match = _WINDOW_PATH.match(path)
            field = slots.get((match[1], int(match[2]))) if match else None
            if field is None:
                found.setdefault("windows", []).extend(messages)
                continue
            part = match[3] if match and match[3] in ("end", "overnight") else "start"
            found.setdefault(f"{field}_{part}", []).extend(messages)
        raise Invalid("The reminder windows are not valid.", errors=found) from None
