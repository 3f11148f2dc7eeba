"""Flask glue for participant and caregiver phones: which device this request comes from.

Phones authenticate with `Authorization: Bearer <device token>`, never cookies, so their
blueprints are CSRF-exempt (a browser does not attach the header to cross-site requests by
itself). The decision lives in app.participants.invitations.authenticate_device; this module only
reads the header and remembers the answer for the rest of the request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from app.db import utcnow
from app.errors import Unauthenticated
from app.extensions import db
from app.participants import invitations as participants
from app.participants.models import Device

F = TypeVar("F", bound=Callable[..., Any])

_NOT_SIGNED_IN = (
    "This phone is not signed in to the study, or its access was ended. "
    "Open your invitation link or enter your code again."
)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_device() -> Device:
    """The live device holding the request's bearer token, or Unauthenticated (401)."""
    device = g.get("device")
    if device is None:
        token = _bearer_token()
        now = utcnow()
        device = participants.authenticate_device(db.session(), token, now) if token else None
        if device is None:
            raise Unauthenticated(_NOT_SIGNED_IN, headers={"WWW-Authenticate": "Bearer"})
        if device.last_seen_at == now:
            # Keep the last-seen touch (at most once a minute) even if the view fails. Only
            # then: a commit would expire what was loaded and cost the view its reloads.
            db.session.commit()
        g.device = device
    return cast(Device, device)


def device_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        current_device()
        return view(*args, **kwargs)

    wrapped._chorus_auth = "device"  # type: ignore[attr-defined]  # read by app.api.declare_security
    return cast(F, wrapped)
