"""Redeeming an invitation on a phone: the one participant endpoint without a credential.

CSRF-exempt (the phone has no session yet) and throttled per client address in the service.
"""

from __future__ import annotations

from typing import Any

from app.api import Blueprint
from app.api.participant_schemas import DeviceCredentialSchema, RedeemSchema
from app.auth import client_ip
from app.db import utcnow
from app.extensions import csrf, db, settings
from app.participants import invitations as participants

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
    """Exchange the link token or the typed code for this phone's bearer token (shown once)."""
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
    }
