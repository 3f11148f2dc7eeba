"""Flask-WTF forms of the workspace (CSRF on each). Field names match the services' error keys,
so a service's Invalid lands beside the field it names (see `attach_errors`). Labels are lazy
gettext strings, translated when rendered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from babel import Locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from app.errors import ChorusError
from app.extensions import db
from app.participants.preferences import APP_LANGUAGES

# The participant app's languages (the one list), each named in itself: the letter is printed
# in one of them.
PARTICIPANT_LANGUAGES = [
    SelectChoice(code, (Locale.parse(code).get_display_name(code) or code).capitalize())
    for code in APP_LANGUAGES
]


def age_band_choices() -> list[SelectChoice]:
    return [
        SelectChoice("adult", _l("Adult (18 or over): answers for themselves")),
        SelectChoice("adolescent", _l("Adolescent (12 to 17)")),
        SelectChoice("child", _l("Child (under 12): caregivers answer")),
    ]


class EnrolForm(FlaskForm):
    code = StringField(
        _l("Participant code"),
        validators=[DataRequired(_l("Enter a participant code")), Length(max=32)],
        description=_l("Letters, digits, '-' or '_', for example LYON-0042. No names."),
    )
    site = SelectField(_l("Site"), validators=[DataRequired(_l("Choose a site"))])
    age_band = SelectField(_l("Age group"), choices=age_band_choices)
    language = SelectField(_l("Language"), choices=PARTICIPANT_LANGUAGES)
    time_zone = StringField(
        _l("Time zone"),
        default="Europe/Paris",
        validators=[DataRequired(_l("Enter a time zone"))],
        description=_l("An IANA name, for example Europe/Paris or Europe/London."),
    )
    arm = StringField(_l("Study arm (optional)"), validators=[Optional(), Length(max=64)])
    nickname = StringField(
        _l("Nickname shown to caregivers (optional)"), validators=[Optional(), Length(max=40)]
    )


class InviteForm(FlaskForm):
    valid_for_days = IntegerField(
        _l("Valid for (days)"),
        default=14,
        validators=[
            InputRequired(_l("Enter a number of days")),
            NumberRange(1, 60, _l("Enter a number of days from 1 to 60")),
        ],
    )


class PauseForm(FlaskForm):
    until = DateField(
        _l("Pause until (optional)"),
        validators=[Optional()],
        description=_l("Leave empty to pause until you resume."),
    )
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=500)])


class CaregiverForm(FlaskForm):
    display_name = StringField(
        _l("Name the family uses (optional)"), validators=[Optional(), Length(max=80)]
    )
    caregiver_role = SelectField(
        _l("Relationship"),
        choices=[
            SelectChoice("parent", _l("Parent")),
            SelectChoice("other_caregiver", _l("Other caregiver")),
        ],
    )
    language = SelectField(_l("Language"), choices=PARTICIPANT_LANGUAGES)
    time_zone = StringField(
        _l("Time zone"), default="Europe/Paris", validators=[DataRequired(_l("Enter a time zone"))]
    )


class TimetablePauseForm(FlaskForm):
    starts_on = DateField(_l("First day"), validators=[InputRequired(_l("Enter the first day"))])
    ends_on = DateField(_l("Last day"), validators=[InputRequired(_l("Enter the last day"))])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])


class AcknowledgeForm(FlaskForm):
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=500)])


def outcome_choices() -> list[SelectChoice]:
    return [
        SelectChoice("contacted", _l("Contacted the participant or their family")),
        SelectChoice("referred", _l("Referred to clinical care")),
        SelectChoice("no_action", _l("Reviewed: no action needed")),
        SelectChoice("other", _l("Something else (say what in the note)")),
    ]


class ResolveForm(FlaskForm):
    outcome = RadioField(
        _l("Outcome"),
        choices=outcome_choices,
        validators=[InputRequired(_l("Choose the outcome"))],
    )
    note = TextAreaField(
        _l("What was done"),
        validators=[DataRequired(_l("Say what was done")), Length(max=1000)],
        description=_l("Who did what and when, in your own words. No answers from the form."),
    )


class RotateKeyForm(FlaskForm):
    passphrase = PasswordField(
        _l("Your key passphrase"), validators=[DataRequired(_l("Enter your key passphrase"))]
    )


class EmptyForm(FlaskForm):
    """A button that changes something: CSRF token only."""


def attach_errors(form: FlaskForm, errors: dict[str, Any]) -> None:
    """Put a service's field errors beside their fields; others go to the summary."""
    for name, messages in errors.items():
        texts = messages if isinstance(messages, list) else [str(messages)]
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *texts]
        else:
            form.form_errors.extend(texts)


class Change:
    """What `saving` tells its caller: whether the service's change was committed."""

    saved = False


@contextmanager
def saving(form: FlaskForm, *, field: str) -> Iterator[Change]:
    """Runs the service call in its block as one change: commits it, or, when the service
    refuses the change (a ChorusError answering 409 or 422), rolls back and puts the reasons
    beside the fields they name (on `field` when they name none) so the page is shown again
    with them. Any other ChorusError (403, 404) goes on to the error handler.

        with forms.saving(form, field="code") as change:
            workspace.enrol(...)
        if change.saved:
            return redirect(...)
    """
    change = Change()
    try:
        yield change
    except ChorusError as error:
        if error.status not in (409, 422):
            raise  # a 403 or 404 is the page's answer, not a remark beside a field
        db.session.rollback()
        attach_errors(form, error.errors or {field: [error.message]})
        return
    db.session.commit()
    change.saved = True


class NewsForm(FlaskForm):
    site = SelectField(_l("Who sees it"))
    language = SelectField(
        _l("Language"),
        choices=PARTICIPANT_LANGUAGES,
        description=_l("Participants see news in their own language only."),
    )
    title = StringField(
        _l("Title"), validators=[DataRequired(_l("Enter a title")), Length(max=120)]
    )
    body = TextAreaField(
        _l("Message"), validators=[DataRequired(_l("Enter the message")), Length(max=5000)]
    )


class TotpForm(FlaskForm):
    code = StringField(
        _l("Code from the app"),
        validators=[DataRequired(_l("Enter the 6-digit code")), Length(max=8)],
        description=_l("The 6-digit code your authenticator app shows now."),
    )


def role_choices() -> list[SelectChoice]:
    return [
        SelectChoice("site_coordinator", _l("Site coordinator")),
        SelectChoice("data_manager", _l("Data manager")),
        SelectChoice("patient_group_author", _l("Patient-group author")),
        SelectChoice("admin", _l("Study admin")),
    ]


class StaffForm(FlaskForm):
    email = StringField(
        _l("E-mail"), validators=[DataRequired(_l("Enter an e-mail address")), Length(max=254)]
    )
    display_name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=role_choices)
    site = SelectField(_l("Where"))
    by_email = BooleanField(
        _l("E-mail a new account an invitation to choose their password"), default=True
    )


class AddHolderForm(FlaskForm):
    new_holder = SelectField(_l("New key holder"), coerce=int)
    passphrase = PasswordField(
        _l("Your passphrase, to open the key for them"),
        validators=[DataRequired(_l("Enter your key passphrase"))],
    )
    new_passphrase = PasswordField(
        _l("The new holder's passphrase"),
        validators=[DataRequired(_l("The new holder types their passphrase"))],
        description=_l("Typed by the new holder, at least 12 characters. Nobody else sees it."),
    )


class QuietHoursForm(FlaskForm):
    quiet_start = StringField(
        _l("No reminders from"),
        validators=[Optional(), Length(max=5)],
        description=_l("24-hour time, for example 22:00. Leave both empty for none."),
    )
    quiet_end = StringField(_l("Until"), validators=[Optional(), Length(max=5)])


# -- dataset exports (issue #14) --------------------------------------------------------------


def _at_least_one(form: FlaskForm, field: Any) -> None:
    # A function, not DataRequired: that would mark every checkbox of the group "required".
    if not field.data:
        raise ValidationError(_l("Choose at least one format"))


def format_choices() -> list[SelectChoice]:
    return [
        SelectChoice("csv", _l("CSV data files (wide and long)")),
        SelectChoice("spss", _l("SPSS: .sav file and .sps syntax")),
        SelectChoice("stata", _l("Stata: .dta file and .do syntax")),
        SelectChoice("r", _l("R: syntax that reads the CSV with labels")),
        SelectChoice("sas", _l("SAS: syntax with PROC FORMAT")),
        SelectChoice("fhir", _l("FHIR R4 bulk data (NDJSON)")),
        SelectChoice("odm", _l("CDISC ODM 1.3.2 (XML)")),
    ]


def profile_choices(identified: bool) -> list[SelectChoice]:
    """Roles that may only export de-identified data are offered nothing else."""
    choices = [
        SelectChoice(
            "shifted",
            _l("De-identified: pseudonyms, each participant's dates shifted, no free text"),
        ),
        SelectChoice("year", _l("De-identified: pseudonyms, dates kept to the year, no free text")),
    ]
    if identified:
        choices.insert(
            0, SelectChoice("none", _l("Identified: participant codes, exact dates, free text"))
        )
    return choices


def unlock_choices(holds_key: bool) -> list[SelectChoice]:
    choices = [SelectChoice("recovery", _l("The study's recovery key"))]
    if holds_key:
        choices.insert(0, SelectChoice("passphrase", _l("My key passphrase")))
    return choices


class ExportForm(FlaskForm):
    formats = SelectMultipleField(
        _l("Formats"),
        choices=format_choices,
        validators=[_at_least_one],
        description=_l("Every export holds the codebook and a manifest with checksums."),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    sites = SelectMultipleField(
        _l("Sites"),
        description=_l("None ticked: every site you may export."),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    instruments = SelectMultipleField(
        _l("Questionnaires"),
        description=_l("None ticked: every questionnaire of the study."),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    since = DateField(
        _l("Finished on or after (optional)"),
        validators=[Optional()],
        description=_l("UTC date, for example 2026-01-31."),
    )
    until = DateField(_l("Finished on or before (optional)"), validators=[Optional()])
    labels = RadioField(
        _l("Answers as"),
        choices=[
            SelectChoice("codes", _l("Codes")),
            SelectChoice("labels", _l("Labels")),
        ],
        default="codes",
    )
    language = SelectField(_l("Language of the labels"), default="")
    delimiter = RadioField(
        _l("Column separator"),
        choices=[
            SelectChoice(",", _l("Comma (,)")),
            SelectChoice(";", _l("Semicolon (;)")),
        ],
        default=",",
    )
    decimal = RadioField(
        _l("Decimal mark"),
        choices=[
            SelectChoice(".", _l("Point (.)")),
            SelectChoice(",", _l("Comma (,)")),
        ],
        default=".",
    )
    bom = BooleanField(_l("Start each CSV file with a byte order mark (for Excel)"))
    deidentify = RadioField(_l("De-identification"))
    unlock_with = RadioField(_l("Unlock with"))
    secret = PasswordField(
        _l("Passphrase or recovery key"),
        validators=[DataRequired(_l("Enter your key passphrase or the recovery key"))],
        description=_l("Used for this export only; never stored."),
        render_kw={"autocomplete": "off"},
    )
    # A random id the page's script sets before sending, to follow this export's progress.
    export_token = HiddenField(validators=[Optional(), Length(max=36)])

    def validate_delimiter(self, field: Any) -> None:
        if field.data and field.data == self.decimal.data:
            raise ValidationError(_l("The column separator must differ from the decimal mark"))


def _known_time_zone(form: FlaskForm, field: Any) -> None:
    from app.accounts.profile import time_zones

    if (field.data or "").strip() not in time_zones():
        raise ValidationError(_l("Choose a time zone such as Europe/Paris."))


def _long_enough(form: FlaskForm, field: Any) -> None:
    from app.accounts.passwords import MIN_PASSWORD_LENGTH

    if len(field.data or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(_l("Use at least %(count)s characters.", count=MIN_PASSWORD_LENGTH))


def _same_as_new(form: FlaskForm, field: Any) -> None:
    if field.data != form.new_password.data:
        raise ValidationError(_l("The two new passwords are not the same."))


STAFF_LANGUAGES = [SelectChoice("en", "English"), SelectChoice("fr", "Français")]


class PreferencesForm(FlaskForm):
    language = SelectField(_l("Language of the staff pages"), choices=STAFF_LANGUAGES)
    time_zone = StringField(
        _l("Time zone"),
        description=_l("Times on the staff pages are shown in it, for example Europe/Paris."),
        validators=[DataRequired(_l("Enter a time zone")), Length(max=64), _known_time_zone],
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Enter your current password"))]
    )
    new_password = PasswordField(
        _l("New password"),
        description=_l("At least 12 characters; a few words work well."),
        validators=[DataRequired(_l("Enter a new password")), _long_enough],
    )
    confirm_password = PasswordField(
        _l("New password again"),
        validators=[DataRequired(_l("Enter the new password again")), _same_as_new],
    )


class WelcomeForm(FlaskForm):
    new_password = PasswordField(
        _l("Choose a password"),
        description=_l("At least 12 characters; a few words work well."),
        validators=[DataRequired(_l("Enter a password")), _long_enough],
    )
    confirm_password = PasswordField(
        _l("The same password again"),
        validators=[DataRequired(_l("Enter the password again")), _same_as_new],
    )
