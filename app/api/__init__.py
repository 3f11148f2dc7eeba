"""The JSON API under /api/v1: one blueprint per resource, marshmallow in and out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Flask, Response
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from app.api.parsing import ChorusParser
from app.errors import ErrorCode

PARSER = ChorusParser()
# flask-smorest reads ARGUMENTS_PARSER when a view is decorated. Setting it on the library's
# class here -- this package is imported before any of its blueprint modules -- means a
# blueprint made with plain flask_smorest.Blueprint (another branch's new module) reads bodies
# the same way; app.api.Blueprint names the intent.
flask_smorest.Blueprint.ARGUMENTS_PARSER = PARSER


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """Every API blueprint: bodies read by ChorusParser (415 for a wrong content type, 422 for
    a missing body, no 500 on deep nesting, NUL or lone surrogates; app/api/parsing.py)."""

    ARGUMENTS_PARSER = PARSER


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

    def register_blueprint(self, blp: Any, **options: Any) -> None:
        if blp.ARGUMENTS_PARSER is not PARSER:
            # Its views would read bodies with webargs' defaults (issue #10).
            raise TypeError(f"API blueprint {blp.name!r} must read bodies with app.api.PARSER")
        super().register_blueprint(blp, **options)


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


_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_UNSAFE = {"post", "put", "patch", "delete"}


def declare_security(app: Flask, api: Any) -> None:
    """Give every operation of the OpenAPI document its `security` (issue #10), read from the
    views themselves (`staff_required` / `device_required` mark them), so the document cannot
    drift from what is enforced: phones send a bearer device token, staff a session cookie
    (plus the CSRF header on state-changing methods), and the rest nothing."""
    paths = api.spec._paths  # apispec keeps the document's paths here; no public setter exists
    for rule in app.url_map.iter_rules():
        path = _RULE_ARGUMENT.sub(r"{\1}", rule.rule)
        if path not in paths:
            continue
        kind = getattr(app.view_functions[rule.endpoint], "_chorus_auth", None)
        for method in rule.methods or ():
            operation = paths[path].get(method.lower())
            if operation is None:
                continue
            if kind == "device":
                operation["security"] = [{"deviceToken": []}]
            elif kind == "staff":
                needs_csrf = method.lower() in _UNSAFE
                operation["security"] = [
                    {"staffSession": [], "csrfToken": []} if needs_csrf else {"staffSession": []}
                ]
            else:
                operation["security"] = []
