"""Translate every failure into one shape, in one place.

API paths get JSON `{code, status, message, errors}`; pages get a friendly HTML page with the
same message. The 500 handler rolls back the session and says nothing about the cause.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.errors import ChorusError, ErrorCode, code_for_status, problem
from app.extensions import db

log = logging.getLogger(__name__)


_JSON_PATHS = ("/api/", "/healthz", "/readyz")


def _wants_json() -> bool:
    return (
        request.path.startswith(_JSON_PATHS) or request.accept_mimetypes.best == "application/json"
    )


def respond(
    code: ErrorCode,
    message: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = problem(code, message, errors)
    if _wants_json():
        response = jsonify(body)
    else:
        response = Response(render_template("error.html", problem=body), mimetype="text/html")
    response.status_code = body["status"]
    response.headers.update(headers or {})
    return response


def handle_chorus_error(error: ChorusError) -> Response:
    db.session.rollback()
    return respond(error.code, error.message, error.errors, error.headers)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    code = code_for_status(status)
    errors: dict[str, Any] = {}
    message = None
    data = getattr(error, "data", None)
    if isinstance(data, dict) and "messages" in data:
        # webargs/marshmallow: {"json": {"field": ["message"]}}; 400 for an unreadable body
        errors = data["messages"]
        if status == 400 and errors.get("json") == ["Invalid JSON body."]:
            message = "The request body is not valid JSON."
    # Keep what the exception says about the answer itself: Allow on a 405, Retry-After.
    headers = {
        name: value
        for name, value in error.get_headers()
        if name.lower() in ("allow", "retry-after", "www-authenticate")
    }
    return respond(code, message, errors, headers)


def handle_csrf_error(error: CSRFError) -> Response:
    return respond(ErrorCode.CSRF_FAILED, errors={"csrf_token": [error.description]})


def handle_unexpected(error: Exception) -> Response:
    db.session.rollback()
    # The traceback goes to the log; request bodies never do (they may hold answers).
    log.exception("unhandled error on %s %s", request.method, request.url_rule or "unmatched")
    return respond(ErrorCode.INTERNAL_ERROR)


def register(app: Flask) -> None:
    app.register_error_handler(ChorusError, handle_chorus_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
