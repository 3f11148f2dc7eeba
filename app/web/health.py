"""/healthz says the process is up; /readyz says it can reach its database."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ErrorCode
from app.extensions import db
from app.http_errors import respond

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("readiness check: database unreachable")
        return respond(ErrorCode.SERVICE_UNAVAILABLE, "The database cannot be reached.")
    return jsonify(status="ready")
