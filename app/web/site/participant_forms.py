"""Forms of the participant page's schedule and reminder-window pages (#13). Field names match
app.workspace.participant_schedules' error keys, so a refusal lands beside its field."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)
from wtforms.widgets import CheckboxInput, ListWidget

from app.scheduling.model import DAY_NAMES
from app.workspace.participant_schedules import WINDOW_SLOTS

_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def day_names() -> dict[str, Any]:
    return {
        "mon": _l("Monday"),
        "tue": _l("Tuesday"),
        "wed": _l("Wednesday"),
        "thu": _l("Thursday"),
        "fri": _l("Friday"),
        "sat": _l("Saturday"),
        "sun": _l("Sunday"),
    }


def _weekday_choices() -> list[SelectChoice]:
    names = day_names()
    return [SelectChoice(day, names[day]) for day in DAY_NAMES]


def _time_field(label: Any, *, required: bool, default: str | None = None) -> StringField:
    checks: list[Any] = [DataRequired(_l("Enter a time"))] if required else [Optional()]
    checks.append(Regexp(_HHMM, message=_l("Use a 24-hour time such as 18:00")))
    return StringField(
        label,
        default=default,
        validators=checks,
        render_kw={"inputmode": "numeric", "autocomplete": "off", "size": 5},
    )


class ScheduleForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF has no hints: Any
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Give the schedule a name")), Length(max=80)],
        description=_l("For example: Weekly PHQ-9."),
    )
    instrument = SelectField(
        _l("Questionnaire"), coerce=int, validate_choice=False
    )  # the service says if the study does not ask it
    respondent = RadioField(
        _l("Who answers"),
        choices=[
            SelectChoice("self", _l("The participant")),
            SelectChoice("proxy", _l("Their caregivers")),
        ],
        default="self",
        validators=[InputRequired(_l("Choose who answers"))],
    )
    applies_to = RadioField(
        _l("Who gets it"), validators=[InputRequired(_l("Choose who gets the schedule"))]
    )
    kind = RadioField(
        _l("How often"),
        choices=[
            SelectChoice("daily", _l("Every day")),
            SelectChoice("weekdays", _l("On the days ticked below")),
            SelectChoice("weekly", _l("Once a week, on the day ticked below")),
        ],
        default="daily",
        validators=[InputRequired(_l("Choose how often"))],
    )
    weekdays = SelectMultipleField(
        _l("Days"),
        choices=_weekday_choices,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    open_time = _time_field(_l("Opens at"), required=True, default="18:00")
    close_time = _time_field(_l("Closes at (optional)"), required=False)
    window_hours = IntegerField(
        _l("Or stays open for (hours)"),
        validators=[Optional(), NumberRange(1, 24 * 7, _l("Enter 1 to 168 hours"))],
        description=_l("Give a closing time or a number of hours, not both."),
    )
    reminder_max_count = IntegerField(
        _l("Reminders"),
        default=1,
        validators=[
            InputRequired(_l("Enter a number of reminders")),
            NumberRange(0, 20, _l("Enter 0 to 20 reminders")),
        ],
        description=_l("Sent in the participant's reminder windows, outside quiet hours."),
    )
    reminder_gap_minutes = IntegerField(
        _l("Minutes between reminders (optional)"),
        validators=[Optional(), NumberRange(1, 7 * 24 * 60, _l("Enter 1 to 10080 minutes"))],
    )


def window_form(prefill: dict[str, Any] | None = None) -> FlaskForm:
    """A form with, per weekday, WINDOW_SLOTS rows of start, end and "runs past midnight"
    (fields `mon_1_start`, `mon_1_end`, `mon_1_overnight`, ...): from the request, or with
    `prefill` (the stored windows) and no request data."""

    class WindowForm(FlaskForm):  # type: ignore[misc]  # as ScheduleForm
        pass

    for day in DAY_NAMES:
        for slot in range(1, WINDOW_SLOTS + 1):
            prefix = f"{day}_{slot}"
            setattr(WindowForm, f"{prefix}_start", _time_field(_l("From"), required=False))
            setattr(WindowForm, f"{prefix}_end", _time_field(_l("Until"), required=False))
            setattr(WindowForm, f"{prefix}_overnight", BooleanField(_l("Runs past midnight")))
    return WindowForm() if prefill is None else WindowForm(formdata=None, data=prefill)
