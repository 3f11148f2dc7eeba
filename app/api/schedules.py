"""Study schedules (study-wide managers) and a participant's occurrences with adherence (site
staff). Staff session and CSRF as every staff endpoint. app.workspace.schedules checks scope
with app.access and audits adding and retiring a schedule and every view of a participant's
occurrences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from app.access import Permission
from app.accounts.models import StaffUser
from app.api import Blueprint
from app.api.schemas import StrictSchema
from app.auth import current_staff, staff_required
from app.db import utcnow
from app.extensions import db
from app.reminders import adherence
from app.reminders import study_schedules as schedule_service
from app.reminders.models import OccurrenceState, StudySchedule
from app.scheduling.model import MAX_REMINDERS
from app.studies.models import Study
from app.workspace import common
from app.workspace import schedules as workspace

blp = Blueprint(
    "schedules",
    __name__,
    url_prefix="/api/v1/studies/<slug>",
    description="Schedules of a study, and participants' occurrences and adherence (staff)",
)


class ScheduleCreateSchema(StrictSchema):
    """`spec` is checked field by field; errors name the path, e.g. `spec.visits[1].before`."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    instrument = ma.fields.String(
        required=True, metadata={"description": "Instrument key, e.g. daily_symptom_diary"}
    )
    version = ma.fields.String(required=True, metadata={"description": "e.g. 1.0.0"})
    respondent = ma.fields.String(
        required=True,
        validate=validate.OneOf(schedule_service.RESPONDENTS),
        metadata={"description": "self: the participant answers; proxy: their caregivers"},
    )
    arm = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=64),
        metadata={"description": "Only participants of this arm; null: every arm"},
    )
    anchor = ma.fields.String(
        load_default=schedule_service.ENROLLMENT,
        metadata={"description": "Day 0: 'enrollment' or a participant date name"},
    )
    spec = ma.fields.Dict(
        required=True,
        metadata={
            "description": "When it is due, in each participant's local time, e.g. "
            '{"kind": "daily", "open_time": "18:00", "close_time": "23:59"} or '
            '{"kind": "visits", "visits": [{"day": 0}, {"day": 28, "before": 3, "after": 3}]}'
        },
    )
    reminder_max_count = ma.fields.Integer(
        load_default=1, validate=validate.Range(min=0, max=MAX_REMINDERS)
    )
    reminder_gaps_minutes = ma.fields.List(
        ma.fields.Integer(),
        load_default=list,
        metadata={"description": "Minutes between reminders; the last gap repeats"},
    )


class ScheduleSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    instrument = ma.fields.Function(lambda s: s.instrument_version.instrument_key, dump_only=True)
    version = ma.fields.Function(lambda s: s.instrument_version.version, dump_only=True)
    respondent = ma.fields.String(dump_only=True)
    arm = ma.fields.String(dump_only=True, allow_none=True)
    anchor = ma.fields.String(dump_only=True)
    spec = ma.fields.Dict(dump_only=True)
    reminder_max_count = ma.fields.Integer(dump_only=True)
    reminder_gaps_minutes = ma.fields.List(ma.fields.Integer(), dump_only=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    created_by = ma.fields.String(dump_only=True)
    retired_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)


class ScheduleListQuerySchema(StrictSchema):
    include_retired = ma.fields.Boolean(load_default=False)


class OccurrenceSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    schedule_id = ma.fields.Integer(dump_only=True)
    schedule = ma.fields.String(dump_only=True)
    instrument = ma.fields.String(dump_only=True)
    version = ma.fields.String(dump_only=True)
    respondent = ma.fields.String(dump_only=True)
    key = ma.fields.String(dump_only=True)
    opens_at = ma.fields.AwareDateTime(dump_only=True)
    closes_at = ma.fields.AwareDateTime(dump_only=True)
    completed_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    cancelled_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    response_id = ma.fields.String(dump_only=True, allow_none=True)
    repeat_response_ids = ma.fields.List(
        ma.fields.String(),
        dump_only=True,
        metadata={
            "description": "Responses sent for this occurrence after it was answered: kept and "
            "flagged as repeats (the participant chose to answer again, or an old phone resent)"
        },
    )
    state = ma.fields.Function(
        lambda o: str(o.state),
        dump_only=True,
        metadata={"enum": [s.value for s in OccurrenceState]},
    )


class ScheduleAddedSchema(ScheduleSchema):
    language_warnings = ma.fields.List(
        ma.fields.String(),
        dump_only=True,
        metadata={
            "description": "Readers who will get this questionnaire in another language than "
            "their own, e.g. \"phq9 1.1.0 has no 'fr' text: 3 readers in 'fr' will get it in "
            "'en'.\" (the phone tells them too)"
        },
    )


class _AddedSchedule:
    """A new schedule with the warnings its creator should read."""

    def __init__(self, row: StudySchedule, language_warnings: list[str]) -> None:
        self._row = row
        self.language_warnings = language_warnings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


class AdherenceSchema(ma.Schema):
    counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        dump_only=True,
        metadata={"description": "Occurrences per state (every state, zeros included)"},
    )
    rate = ma.fields.Float(
        dump_only=True,
        allow_none=True,
        metadata={"description": "(completed + late) / (completed + late + missed)"},
    )
    on_time_rate = ma.fields.Float(dump_only=True, allow_none=True)


class ParticipantOccurrencesSchema(ma.Schema):
    participant_code = ma.fields.String(dump_only=True)
    occurrences = ma.fields.List(ma.fields.Nested(OccurrenceSchema), dump_only=True)
    adherence = ma.fields.Nested(AdherenceSchema, dump_only=True)


def _study(slug: str, permission: Permission) -> tuple[StaffUser, Study]:
    user = current_staff()
    return user, common.study_for(db.session(), user, slug, permission)


def _errors(*statuses: tuple[int, str]) -> Callable[[Any], Any]:
    def decorate(view: Any) -> Any:
        for status, description in [(401, "Not signed in"), *statuses]:
            view = blp.alt_response(status, description=description)(view)
        return view

    return decorate


@blp.route("/schedules/")
class Schedules(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(ScheduleListQuerySchema, location="query")
    @blp.response(200, ScheduleSchema(many=True))
    @_errors(
        (403, "Not a member of this study's staff"),
        (404, "No such study"),
        (422, "Unknown query parameter"),
    )
    def get(self, query: dict[str, Any], slug: str) -> list[StudySchedule]:
        """The study's schedules (live ones, or all with include_retired)."""
        user, study = _study(slug, Permission.VIEW_STUDY)
        return workspace.list_schedules(
            db.session(), user, study, include_retired=query["include_retired"]
        )

    @blp.arguments(ScheduleCreateSchema)
    @blp.response(201, ScheduleAddedSchema)
    @_errors(
        (403, "Needs a study-wide role that manages the study (or CSRF token missing)"),
        (404, "No such study"),
        (422, "A field is not valid (errors name it, e.g. spec.open_time)"),
    )
    def post(self, payload: dict[str, Any], slug: str) -> _AddedSchedule:
        """Add a schedule. Participants it applies to get its occurrences from the next
        planner run (their phones at once, on their next look at what is due)."""
        user, study = _study(slug, Permission.MANAGE_STUDY)
        row, warnings = workspace.add(
            db.session(),
            user,
            study,
            name=payload["name"],
            instrument_key=payload["instrument"],
            instrument_version=payload["version"],
            respondent=payload["respondent"],
            spec=payload["spec"],
            arm=payload["arm"],
            anchor=payload["anchor"],
            reminder_max_count=payload["reminder_max_count"],
            reminder_gaps_minutes=payload["reminder_gaps_minutes"],
        )
        db.session.commit()
        return _AddedSchedule(row, warnings)


@blp.route("/schedules/<int:schedule_id>")
class ScheduleDetail(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, ScheduleSchema)
    @_errors(
        (403, "Needs a study-wide role that manages the study (or CSRF token missing)"),
        (404, "No such study or schedule"),
        (409, "Already retired"),
    )
    def delete(self, slug: str, schedule_id: int) -> StudySchedule:
        """Retire a schedule: occurrences not yet open are cancelled with their reminders;
        open ones stay answerable. The schedule is kept for the record."""
        user, study = _study(slug, Permission.MANAGE_STUDY)
        row = workspace.retire(db.session(), user, study, schedule_id, utcnow())
        db.session.commit()
        return row


@blp.route("/participants/<code>/occurrences")
class ParticipantOccurrences(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, ParticipantOccurrencesSchema)
    @_errors((403, "Outside your sites or role"), (404, "No such study or participant"))
    def get(self, slug: str, code: str) -> adherence.ParticipantOccurrences:
        """A participant's occurrences (upcoming, open, completed, late, missed, cancelled)
        and adherence. States only, never answers; the view is audited."""
        user, study = _study(slug, Permission.VIEW_PARTICIPANTS)
        # Another site's participant answers as an unknown code does (issue #10).
        found = workspace.occurrences_of(db.session(), user, study, code, utcnow())
        db.session.commit()
        return found
