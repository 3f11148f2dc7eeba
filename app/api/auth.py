"""Staff sign-in, sign-out, session and second-factor endpoints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask_wtf.csrf import generate_csrf
from marshmallow import validate

from app.accounts import service as accounts
from app.accounts.models import StaffUser
from app.api import Blueprint
from app.api.schemas import StrictSchema
from app.auth import (
    client_ip,
    current_staff,
    login_throttle_policy,
    sign_in,
    sign_out,
    staff_required,
)
from app.db import utcnow
from app.errors import ChorusError
from app.extensions import db


class LoginSchema(StrictSchema):
    email = ma.fields.String(required=True, validate=validate.Length(min=3, max=254))
    password = ma.fields.String(
        required=True, validate=validate.Length(min=1, max=1024), load_only=True
    )
    totp_code = ma.fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\s*\d{3}\s?\d{3}\s*$", error="Enter the 6-digit code."),
    )


class MembershipSchema(ma.Schema):
    study = ma.fields.Function(lambda m: m.study.slug, dump_only=True)
    site = ma.fields.Function(
        lambda m: m.site.code if m.site else None,
        dump_only=True,
        metadata={"description": "null means every site"},
    )
    role = ma.fields.String(dump_only=True)


class StaffSessionSchema(ma.Schema):
    """Who is signed in, and the CSRF token to send back in X-CSRFToken."""

    id = ma.fields.Integer(dump_only=True)
    email = ma.fields.String(dump_only=True)
    display_name = ma.fields.String(dump_only=True)
    totp_enabled = ma.fields.Boolean(dump_only=True)
    memberships = ma.fields.List(ma.fields.Nested(MembershipSchema), dump_only=True)
    csrf_token = ma.fields.String(dump_only=True)


class CsrfTokenSchema(ma.Schema):
    csrf_token = ma.fields.String(dump_only=True)


class TotpEnrolmentSchema(ma.Schema):
    otpauth_uri = ma.fields.String(
        dump_only=True, metadata={"description": "Show as a QR code to the authenticator app"}
    )


class TotpConfirmSchema(StrictSchema):
    code = ma.fields.String(
        required=True,
        validate=validate.Regexp(r"^\s*\d{3}\s?\d{3}\s*$", error="Enter the 6-digit code."),
    )


blp = Blueprint(
    "auth", __name__, url_prefix="/api/v1/auth", description="Staff sign-in and sessions"
)


def _session_view(user: StaffUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "totp_enabled": user.totp_enabled,
        "memberships": user.memberships,
        "csrf_token": generate_csrf(),
    }


@blp.get("/csrf")
@blp.response(200, CsrfTokenSchema)
def csrf_token() -> dict[str, str]:
    """A CSRF token for the sign-in request (send it as X-CSRFToken)."""
    return {"csrf_token": generate_csrf()}


@blp.post("/login")
@blp.arguments(LoginSchema)
@blp.response(200, StaffSessionSchema)
@blp.alt_response(
    401, description="Wrong e-mail or password, or the second factor is needed (code tells which)"
)
@blp.alt_response(403, description="CSRF token missing or wrong")
@blp.alt_response(422, description="A field is missing or malformed")
@blp.alt_response(429, description="Too many failed attempts; see Retry-After")
def login(payload: dict[str, Any]) -> dict[str, Any]:
    outcome = accounts.authenticate(
        db.session(),
        email=payload["email"],
        password=payload["password"],
        totp_code=payload.get("totp_code"),
        client_ip=client_ip(),
        policy=login_throttle_policy(),
        now=utcnow(),
    )
    if isinstance(outcome, ChorusError):
        db.session.commit()  # keep the failure count even though the request fails
        raise outcome
    sign_in(outcome)
    db.session.commit()
    return _session_view(outcome)


@blp.post("/logout")
@blp.response(204)
@blp.alt_response(403, description="CSRF token missing or wrong")
def logout() -> Response:
    sign_out()
    db.session.commit()
    return Response(status=204)


@blp.get("/session")
@blp.response(200, StaffSessionSchema)
@blp.alt_response(401, description="Not signed in, or the session expired")
@staff_required
def who_am_i() -> dict[str, Any]:
    return _session_view(current_staff())


@blp.post("/totp")
@blp.response(201, TotpEnrolmentSchema)
@blp.alt_response(401, description="Not signed in")
@staff_required
def begin_totp() -> dict[str, str]:
    """Start (or restart) setting up an authenticator app; confirm with a code to switch it on."""
    uri = accounts.begin_totp_enrolment(db.session(), current_staff())
    db.session.commit()
    return {"otpauth_uri": uri}


@blp.post("/totp/confirm")
@blp.arguments(TotpConfirmSchema)
@blp.response(204)
@blp.alt_response(401, description="Not signed in")
@blp.alt_response(422, description="Wrong code")
@staff_required
def confirm_totp(payload: dict[str, str]) -> Response:
    accounts.confirm_totp_enrolment(db.session(), current_staff(), payload["code"], utcnow())
    db.session.commit()
    return Response(status=204)
