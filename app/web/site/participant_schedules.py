"""From the participant page: add a schedule (for the participant, their arm or the whole study) and
edit the windows in which the participant's reminders may be sent (#13). The services in
app.workspace.participant_schedules check access and audit; views parse, call and render."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from app.db import utcnow
from app.participants.models import Participant
from app.reminders.timetables import TimetableView
from app.scheduling.model import DAY_NAMES
from app.web.site import forms
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.web.site.participant_forms import ScheduleForm, day_names, window_form
from app.workspace import common
from app.workspace import participant_schedules as workspace


def _applies_to_choices(person: Participant) -> list[SelectChoice]:
    choices = [SelectChoice("participant", _("Only %(code)s", code=person.code))]
    if person.arm:
        choices.append(SelectChoice("arm", _("Participants in study arm %(arm)s", arm=person.arm)))
    choices.append(SelectChoice("study", _("Every participant in the study")))
    return choices


@bp.route("/participants/<code>/schedules/new", methods=["GET", "POST"])
@signed_in
def add_participant_schedule(slug: str, code: str) -> Response | str | tuple[str, int]:
    """GET: the form; POST: add the schedule, then back to the participant's page, where their
    new questionnaires are already planned."""
    study = common.study_for(db_session(), staff(), slug)
    person = workspace.participant_for_schedules(db_session(), staff(), study, code)
    form = ScheduleForm()
    form.instrument.choices = [
        SelectChoice(c.version_id, c.label)
        for c in workspace.instrument_choices(db_session(), study)
    ]
    form.applies_to.choices = _applies_to_choices(person)
    if not form.applies_to.data:
        form.applies_to.data = form.applies_to.choices[0].value
    if form.validate_on_submit():
        wanted = workspace.ScheduleRequest(
            name=(form.name.data or "").strip(),
            instrument_version_id=form.instrument.data,
            respondent=form.respondent.data or "",
            applies_to=form.applies_to.data or "",
            kind=form.kind.data or "",
            weekdays=form.weekdays.data or [],
            open_time=(form.open_time.data or "").strip(),
            close_time=(form.close_time.data or "").strip(),
            window_hours=form.window_hours.data,
            reminder_max_count=form.reminder_max_count.data or 0,
            reminder_gap_minutes=form.reminder_gap_minutes.data,
        )
        with forms.saving(form, field="name") as change:
            row, warnings = workspace.add_schedule(
                db_session(), staff(), study, code, wanted, utcnow()
            )
        if change.saved:
            flash(_("Schedule %(name)s added.", name=row.name))
            for warning in warnings:
                flash(warning)
            return redirect(url_for("site.participant", slug=slug, code=code))
    status = 422 if form.errors or form.form_errors else 200
    return page("site/participant_schedule.html", study, participant=person, form=form), status


def _prefill(timetable: TimetableView) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for day, spans in (timetable.windows or {}).items():
        for index, span in enumerate(spans[: workspace.WINDOW_SLOTS], start=1):
            data[f"{day}_{index}_start"] = span["start"]
            data[f"{day}_{index}_end"] = span["end"]
            data[f"{day}_{index}_overnight"] = span["overnight"]
    return data


@bp.route("/participants/<code>/timetable/windows", methods=["GET", "POST"])
@signed_in
def reminder_windows(slug: str, code: str) -> Response | str | tuple[str, int]:
    """GET: the participant's reminder windows in a week table; POST: replace them."""
    study = common.study_for(db_session(), staff(), slug)
    person, timetable = workspace.participant_for_windows(db_session(), staff(), study, code)
    form = window_form() if request.method == "POST" else window_form(_prefill(timetable))
    if form.validate_on_submit():
        entries = [
            workspace.WindowEntry(
                day,
                slot,
                (form[f"{day}_{slot}_start"].data or "").strip(),
                (form[f"{day}_{slot}_end"].data or "").strip(),
                bool(form[f"{day}_{slot}_overnight"].data),
            )
            for day in DAY_NAMES
            for slot in range(1, workspace.WINDOW_SLOTS + 1)
        ]
        with forms.saving(form, field="mon_1_start") as change:
            workspace.set_reminder_windows(db_session(), staff(), study, code, entries)
        if change.saved:
            flash(_("Reminder windows saved."))
            return redirect(url_for("site.participant", slug=slug, code=code))
        person, timetable = workspace.participant_for_windows(db_session(), staff(), study, code)
    status = 422 if form.errors or form.form_errors else 200
    return page(
        "site/reminder_windows.html",
        study,
        participant=person,
        timetable=timetable,
        form=form,
        days=[(day, day_names()[day]) for day in DAY_NAMES],
        slots=range(1, workspace.WINDOW_SLOTS + 1),
        more_than_shown=any(
            len(spans) > workspace.WINDOW_SLOTS for spans in (timetable.windows or {}).values()
        ),
    ), status
