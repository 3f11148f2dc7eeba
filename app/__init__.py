"""Chorus: patient-reported outcomes for rare-disease research.

`create_app()` builds the web application; nothing is created at import time.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Flask

from app.config import Settings


def create_app(settings: Settings | None = None, **flask_overrides: Any) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        instance_relative_config=False,
    )
    from app.extensions import init_settings

    init_settings(app, settings)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        # Bound parameters (idempotency keys, MACs, answers' metadata) never reach logs or
        # exception messages (issue #10).
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "hide_parameters": True},
        SESSION_COOKIE_NAME=settings.session_cookie_name,
        SESSION_COOKIE_SECURE=settings.cookies_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_absolute_hours),
        # The CSRF secret lives in the session, which already expires; a separate one-hour
        # token limit would only make staff lose forms they left open over lunch.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        API_TITLE="Chorus API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Patient-reported outcomes for rare-disease research."},
            "components": {
                "securitySchemes": {
                    "staffSession": {
                        "type": "apiKey",
                        "in": "cookie",
                        "name": settings.session_cookie_name,
                    },
                    "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
                    "deviceToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A phone's device token from POST /api/v1/invitations/redeem",
                    },
                }
            },
        },
    )
    app.config.update(flask_overrides)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    _configure_logging(settings)

    from app import http_errors, models  # noqa: F401 - registers every table
    from app.audit import service as audit

    audit.use_key(settings.audit_key)
    from app.responses import dedupe

    dedupe.use_secret(settings.secret_key)
    from app import request_guards
    from app.api.registry import api, register_blueprints
    from app.auth import load_staff_user
    from app.extensions import csrf, db, migrate
    from app.security import add_security_headers
    from app.web import health, pwa, staff

    request_guards.install_converters(app)
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(_migrations_path()), render_as_batch=True, compare_type=True
    )
    csrf.init_app(app)
    api.init_app(app)
    register_blueprints(api)
    from app.api import declare_security

    declare_security(app, api)
    app.register_blueprint(health.bp)
    app.register_blueprint(staff.bp)
    pwa.init_app(app)
    from app.web import site

    site.init_app(app)
    request_guards.install(app, settings.trusted_proxy_count)
    app.before_request(load_staff_user)
    from app.cli import register_commands

    register_commands(app)
    http_errors.register(app)
    add_security_headers(app, hsts=settings.is_production)
    return app


def _migrations_path() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parent / "migrations"


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
