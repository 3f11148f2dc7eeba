"""The JSON API under /api/v1: one blueprint per resource, marshmallow in and out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Response
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from app.errors import ErrorCode


class ErrorSchema(ma.Schema):
    """The one error shape. `code` is from the stable catalogue in app/errors.py."""

    code = ma.fields.String(
        required=True,
        metadata={"description": "Stable error code", "enum": [str(c) for c in ErrorCode]},
    )
    status = ma.fields.Integer(required=True, metadata={"description": "HTTP status"})
    message = ma.fields.String(
        required=True, metadata={"description": "What went wrong, for people"}
    )
    errors = ma.fields.Dict(
        required=True,
        metadata={"description": "Field-level problems: location -> field -> messages"},
    )


class ChorusApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        from app.http_errors import handle_http_exception

        return handle_http_exception(error)


def documented_errors(blp: Any, *common: tuple[int, str]) -> Callable[..., Callable[[Any], Any]]:
    """A decorator factory documenting the error responses every endpoint of ``blp`` can give
    (``common``) plus an endpoint's own: ``_document = documented_errors(blp, (401, "…"))``,
    then ``@_document((409, "…"))`` on a view."""

    def document(*extra: tuple[int, str]) -> Callable[[Any], Any]:
        def decorate(view: Any) -> Any:
            for status, description in [*common, *extra]:
                view = blp.alt_response(status, description=description)(view)
            return view

        return decorate

    return document


def register_blueprints(api: Any) -> None:
    from app.api import auth, studies

    api.register_blueprint(auth.blp)
    api.register_blueprint(studies.blp)
    from app.api import invitations, me, participants

    api.register_blueprint(participants.blp)
    api.register_blueprint(me.blp)
    api.register_blueprint(invitations.blp)
    from app.api import schedules

    api.register_blueprint(schedules.blp)
    from app.api import alerts, responses

    api.register_blueprint(responses.blp)
    api.register_blueprint(alerts.blp)
    from app.api import me_settings, news, timetables

    api.register_blueprint(me_settings.blp)
    api.register_blueprint(timetables.blp)
    api.register_blueprint(news.blp)
    from app.api import exports

    api.register_blueprint(exports.blp)
