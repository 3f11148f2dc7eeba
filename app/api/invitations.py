"""Redeeming an invitation on a phone: the one participant endpoint without a credential.

CSRF-exempt (the phone has no session yet) and throttled per client address in the service.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.api import Blueprint
from app.api.me import due_of, me_of
from app.api.schemas import StrictSchema
from app.auth import client_ip
from app.db import utcnow
from app.extensions import csrf, db, settings
from app.participants import invitations as participants


class RedeemSchema(StrictSchema):
    """Send `token` (from the link's #join= fragment) or `code` (typed), not both."""

    token = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    code = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    device_label = ma.fields.String(load_default=None, validate=validate.Length(max=80))

    @ma.validates_schema
    def _one_secret(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("token") is None) == (data.get("code") is None):
            raise ma.ValidationError("Send the invitation code or the link token.", "code")


class DeviceCredentialSchema(ma.Schema):
    """Shown once. Send as `Authorization: Bearer <device_token>` on every /api/v1/me request."""

    device_token = ma.fields.String(dump_only=True)
    device_id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"enum": ["participant", "caregiver"]})
    me = ma.fields.Nested(
        "MeSchema",
        dump_only=True,
        metadata={"description": "What `GET /api/v1/me` answers with this token"},
    )
    due = ma.fields.Nested(
        "DueSchema",
        dump_only=True,
        metadata={"description": "What `GET /api/v1/me/due` answers with this token, now"},
    )


blp = Blueprint(
    "invitations",
    __name__,
    url_prefix="/api/v1/invitations",
    description="Turn an invitation into a device credential",
)
csrf.exempt(blp)


@blp.post("/redeem")
@blp.arguments(RedeemSchema)
@blp.response(201, DeviceCredentialSchema)
@blp.alt_response(
    401,
    description="The link or code does not work (unknown, expired, used or revoked: one answer)",
)
@blp.alt_response(422, description="Neither or both of token and code, or a malformed code")
@blp.alt_response(429, description="Too many failed attempts from this address; see Retry-After")
def redeem(payload: dict[str, Any]) -> dict[str, Any]:
    """Exchange the link token or the typed code for this phone's bearer token (shown once).

    The answer also carries what `GET /me` and `GET /me/due` would answer with that token
    (`me`, `due`), so a phone shows Today without two more round trips."""
    try:
        device, token = participants.redeem(
            db.session(),
            token=payload["token"],
            code=payload["code"],
            device_label=payload["device_label"],
            client_ip=client_ip(),
            pepper=settings().secret_key,
            now=utcnow(),
        )
    except participants.InvitationRefused:
        db.session.commit()  # keep the failure count although the request fails
        raise
    db.session.commit()
    return {
        "device_token": token,
        "device_id": device.id,
        "kind": "participant" if device.participant_id is not None else "caregiver",
        "me": me_of(device),
        "due": due_of(device),
    }
