"""Flask-WTF forms of the co-design pages (CSRF on each). Field names match the co-design
services' error keys, so an ``Invalid`` lands beside its field (``forms.attach_errors``). The
draft editor's wording grid has one input per respondent and language; those are read from the
request by their field paths (``text.self.fr``), not declared here."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

# Languages a new instrument can start in (more are added as translations).
START_LANGUAGES = [
    SelectChoice("en", "English"),
    SelectChoice("fr", "Français"),
    SelectChoice("es", "Español"),
    SelectChoice("de", "Deutsch"),
]


def respondent_choices() -> list[SelectChoice]:
    return [
        SelectChoice("self", _l("Participants answer for themselves")),
        SelectChoice("proxy", _l("A caregiver answers for the participant")),
        SelectChoice("both", _l("Both")),
    ]


class NewDraftForm(FlaskForm):
    instrument_key = StringField(
        _l("Short name"),
        validators=[DataRequired(_l("Enter a short name")), Length(max=64)],
        description=_l("Lower-case letters, digits and _, for example fatigue_diary."),
    )
    title = StringField(
        _l("Title participants see"),
        validators=[DataRequired(_l("Enter a title")), Length(max=300)],
    )
    language = SelectField(_l("First language"), choices=START_LANGUAGES)
    respondents = SelectField(_l("Who answers"), choices=respondent_choices)


class FromPublishedForm(FlaskForm):
    version_id = SelectField(_l("Published version to start from"), coerce=int)
    version = StringField(
        _l("New version number (optional)"),
        validators=[Optional(), Length(max=32)],
        description=_l("Leave empty for the next one, for example 1.1.0 after 1.0.0."),
    )


class UploadForm(FlaskForm):
    file = FileField(
        _l("Instrument file"),
        validators=[FileRequired(_l("Choose a file"))],
        description=_l(
            "A Chorus YAML file (.yaml), an XLSForm (.xlsx) or a FHIR Questionnaire (.json)."
        ),
    )


class ItemForm(FlaskForm):
    revision = HiddenField()
    required = BooleanField(_l("An answer is required"))
    show_when = StringField(
        _l("Show this question only when (optional)"),
        validators=[Optional(), Length(max=2000)],
        description=_l("For example: pain >= 2. Leave empty to always show it."),
    )
    min = StringField(_l("Lowest number allowed (optional)"), validators=[Optional()])
    max = StringField(_l("Highest number allowed (optional)"), validators=[Optional()])


class AddItemForm(FlaskForm):
    id = StringField(
        _l("Short name of the new question"),
        validators=[DataRequired(_l("Enter a short name")), Length(max=64)],
        description=_l("Letters, digits and _, for example sleep_quality."),
    )
    type = SelectField(
        _l("Kind of question"),
        choices=[
            SelectChoice("yes_no", _l("Yes or no")),
            SelectChoice("rating_0_10", _l("A number from 0 to 10")),
            SelectChoice("text", _l("Free text")),
            SelectChoice("display", _l("Text to read, no answer")),
            SelectChoice("single_choice", _l("One answer from a list")),
            SelectChoice("multiple_choice", _l("Several answers from a list")),
        ],
    )
    text = StringField(
        _l("Question"), validators=[DataRequired(_l("Enter the question")), Length(max=2000)]
    )
    options = TextAreaField(
        _l("Answer options, one per line (for a list)"),
        validators=[Optional(), Length(max=4000)],
        description=_l("At least two. You can add scores and translations afterwards."),
    )
    choice_set = SelectField(_l("Or use a shared answer list"), default="")


class CommentForm(FlaskForm):
    body = TextAreaField(
        _l("Comment"), validators=[DataRequired(_l("Write a comment")), Length(max=5000)]
    )
    part_key = HiddenField()
    path = HiddenField()
    reply_to = HiddenField()


class SuggestForm(FlaskForm):
    path = SelectField(_l("Which text"))
    value = TextAreaField(
        _l("Suggested wording"),
        validators=[DataRequired(_l("Write the wording you suggest")), Length(max=4000)],
    )
    note = StringField(_l("Why (optional)"), validators=[Optional(), Length(max=2000)])


class NoteForm(FlaskForm):
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=2000)])


class RequestChangesForm(FlaskForm):
    note = TextAreaField(
        _l("What should change"),
        validators=[DataRequired(_l("Say what should change")), Length(max=2000)],
    )


class TranslationUploadForm(FlaskForm):
    file = FileField(
        _l("Translations file (.csv, .xlf or .xliff)"),
        validators=[FileRequired(_l("Choose a file"))],
    )


class SettingsForm(FlaskForm):
    """The instrument settings page: its texts and rules are read by their field paths."""

    revision = HiddenField()


class TargetForm(FlaskForm):
    grade = IntegerField(
        _l("Target school grade"),
        validators=[
            InputRequired(_l("Enter a school grade")),
            NumberRange(1, 16, _l("Enter a school grade from 1 to 16")),
        ],
        description=_l("Texts harder than this are flagged. Grade 8 suits most adults."),
    )


class MoveItemForm(FlaskForm):
    revision = HiddenField()
    destination = SelectField(
        _l("Where the question goes"),
        validators=[DataRequired(_l("Choose where the question goes"))],
        description=_l(
            "Participants see the pages in this order. A question that skip logic uses must "
            "stay before the questions that use it."
        ),
    )


class AddChoiceForm(FlaskForm):
    """One new answer option; its labels are read by their field paths (``label.fr``)."""

    revision = HiddenField()
    value = StringField(
        _l("Stored as"),
        validators=[DataRequired(_l("Enter how the answer is stored")), Length(max=64)],
        description=_l(
            "Letters, digits and _, for example often. Analyses see this; it never changes "
            "once answers are collected."
        ),
    )
    score = StringField(
        _l("Score (optional)"),
        validators=[Optional(), Length(max=20)],
        description=_l("A number used by the instrument's scores, for example 2."),
    )


class ChoiceSetForm(FlaskForm):
    """A shared answer list: labels and scores are read by their field paths."""

    revision = HiddenField()


class ChoiceOrderForm(FlaskForm):
    """Move an answer option up or down, or remove it: the revision it was seen at."""

    revision = HiddenField()
