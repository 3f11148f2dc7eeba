"""Reminder timetables for site staff: a participant's own, or that of a caregiver linked to them.

Staff session and CSRF as every staff endpoint. Reading needs VIEW_PARTICIPANTS, changing
needs MANAGE_PARTICIPANTS, at the participant's site (a caregiver is reached through a
participant they are linked to, so staff of another site cannot see or edit them). The checks
and the audit (every read as a staff view of participant data, every change) are in
app.workspace.timetables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import marshmallow as ma
from flask import Response
from flask.views import MethodView

from app.access import Permission
from app.accounts.models import StaffUser
from app.api import Blueprint, documented_errors
from app.api.schemas import (
    PauseCreateSchema,
    TimetablePauseSchema,
    TimetableSchema,
    TimetableUpdateSchema,
)
from app.auth import current_staff, staff_required
from app.extensions import db
from app.reminders import timetables
from app.reminders.models import TimetablePause
from app.studies.models import Study
from app.workspace import common
from app.workspace import timetables as workspace


class StaffTimetablePauseSchema(TimetablePauseSchema):
    created_at = ma.fields.DateTime(dump_only=True)
    created_by = ma.fields.String(dump_only=True)


class StaffTimetableSchema(TimetableSchema):
    pauses = ma.fields.List(ma.fields.Nested(StaffTimetablePauseSchema), dump_only=True)
    updated_by = ma.fields.String(dump_only=True, allow_none=True)


blp = Blueprint(
    "timetables",
    __name__,
    url_prefix="/api/v1/studies/<slug>/participants",
    description="Reminder timetables and pauses of participants and their caregivers (site staff)",
)


def _study(slug: str) -> tuple[StaffUser, Study]:
    user = current_staff()
    return user, common.study_for(db.session(), user, slug, Permission.VIEW_PARTICIPANTS)


_ERRORS = [
    (401, "Not signed in"),
    (403, "Outside your sites or role (or CSRF token missing)"),
    (404, "No such study, participant, or caregiver linked to them"),
]


_document = documented_errors(blp, *_ERRORS)


class _TimetableView(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    def _get(self, slug: str, code: str, caregiver_id: int | None) -> timetables.TimetableView:
        user, study = _study(slug)
        view = workspace.view(db.session(), user, study, code, caregiver_id)
        db.session.commit()
        return view

    def _put(
        self, payload: dict[str, Any], slug: str, code: str, caregiver_id: int | None
    ) -> timetables.TimetableView:
        user, study = _study(slug)
        view = workspace.update(
            db.session(),
            user,
            study,
            code,
            caregiver_id,
            **{key: payload[key] for key in TimetableUpdateSchema().fields if key in payload},
        )
        db.session.commit()
        return view


class _PausesView(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    def _post(
        self, payload: dict[str, Any], slug: str, code: str, caregiver_id: int | None
    ) -> TimetablePause:
        user, study = _study(slug)
        pause = workspace.add_pause(db.session(), user, study, code, caregiver_id, **payload)
        db.session.commit()
        return pause


class _PauseView(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    def _delete(self, slug: str, code: str, caregiver_id: int | None, pause_id: int) -> Response:
        user, study = _study(slug)
        workspace.cancel_pause(db.session(), user, study, code, caregiver_id, pause_id)
        db.session.commit()
        return Response(status=204)


_UPDATE_422 = (422, "A field is not valid; `errors` names it, e.g. windows.sat[0]; nothing changed")
_PAUSE_409 = (409, "Too many pauses planned already")
_PAUSE_422 = (422, "The end is before the start or already past, or the reason is too long")


@blp.route("/<code>/timetable")
class ParticipantTimetable(_TimetableView):
    @blp.response(200, StaffTimetableSchema)
    @_document()
    def get(self, slug: str, code: str) -> timetables.TimetableView:
        """The participant's own reminder timetable, with any pause covering today and its
        reason (the view is audited)."""
        return self._get(slug, code, None)

    @blp.arguments(TimetableUpdateSchema)
    @blp.response(200, StaffTimetableSchema)
    @_document(_UPDATE_422)
    def put(self, payload: dict[str, Any], slug: str, code: str) -> timetables.TimetableView:
        """Change the fields sent; others stay (audited)."""
        return self._put(payload, slug, code, None)


@blp.route("/<code>/timetable/pauses")
class ParticipantPauses(_PausesView):
    @blp.arguments(PauseCreateSchema)
    @blp.response(201, StaffTimetablePauseSchema)
    @_document(_PAUSE_409, _PAUSE_422)
    def post(self, payload: dict[str, Any], slug: str, code: str) -> TimetablePause:
        """Pause the participant's reminders between two local days (inclusive), with a reason
        the site team sees; they resume by themselves."""
        return self._post(payload, slug, code, None)


@blp.route("/<code>/timetable/pauses/<int:pause_id>")
class ParticipantPause(_PauseView):
    @blp.response(204)
    @_document()
    def delete(self, slug: str, code: str, pause_id: int) -> Response:
        """End or drop a pause; reminders resume."""
        return self._delete(slug, code, None, pause_id)


@blp.route("/<code>/caregivers/<int:caregiver_id>/timetable")
class CaregiverTimetable(_TimetableView):
    @blp.response(200, StaffTimetableSchema)
    @_document()
    def get(self, slug: str, code: str, caregiver_id: int) -> timetables.TimetableView:
        """The timetable of a caregiver linked to this participant (it covers all their
        children's reminders; the view is audited)."""
        return self._get(slug, code, caregiver_id)

    @blp.arguments(TimetableUpdateSchema)
    @blp.response(200, StaffTimetableSchema)
    @_document(_UPDATE_422)
    def put(
        self, payload: dict[str, Any], slug: str, code: str, caregiver_id: int
    ) -> timetables.TimetableView:
        return self._put(payload, slug, code, caregiver_id)


@blp.route("/<code>/caregivers/<int:caregiver_id>/timetable/pauses")
class CaregiverPauses(_PausesView):
    @blp.arguments(PauseCreateSchema)
    @blp.response(201, StaffTimetablePauseSchema)
    @_document(_PAUSE_409, _PAUSE_422)
    def post(
        self, payload: dict[str, Any], slug: str, code: str, caregiver_id: int
    ) -> TimetablePause:
        return self._post(payload, slug, code, caregiver_id)


@blp.route("/<code>/caregivers/<int:caregiver_id>/timetable/pauses/<int:pause_id>")
class CaregiverPause(_PauseView):
    @blp.response(204)
    @_document()
    def delete(self, slug: str, code: str, caregiver_id: int, pause_id: int) -> Response:
        return self._delete(slug, code, caregiver_id, pause_id)
