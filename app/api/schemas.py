"""Schemas named after what they carry. Server-owned fields are dump_only."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE  # a misspelt field is an error, not silently ignored


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


class SiteSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)


class SiteCreateSchema(StrictSchema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class StudySummarySchema(ma.Schema):
    slug = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)


class StudyDetailSchema(StudySummarySchema):
    sites = ma.fields.List(
        ma.fields.Nested(SiteSchema),
        dump_only=True,
        metadata={"description": "Only the sites you may see"},
    )
