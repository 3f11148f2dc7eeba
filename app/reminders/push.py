"""Web Push subscriptions of phones: validate the browser's PushSubscription, store one per device.

The PWA subscribes with the server's VAPID public key (``vapid_public_key``) and sends
``PushSubscription.toJSON()``: ``{"endpoint", "expirationTime", "keys": {"p256dh", "auth"}}``.
Checked here before storage (W3C Push API, RFC 8291): the endpoint is an https URL (plain http
only to 127.0.0.1/localhost outside production, for the local test push service), ``p256dh`` is
a base64url uncompressed P-256 point that lies on the curve, ``auth`` is 16 base64url bytes.

A subscription is keyed by the SHA-256 of its endpoint (UNIQUE), so subscribing again is an
idempotent upsert, and an endpoint seen on another device moves to this one (the same browser
signed in again). A device keeps one subscription: a new endpoint (the browser rotated it)
replaces the old. Plain functions over a session: no Flask; callers commit.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import crypto
from app.db import insert_unique
from app.delivery import vapid
from app.errors import ChorusError, ErrorCode, Invalid
from app.participants.models import Device
from app.reminders.models import PushSubscription

log = logging.getLogger(__name__)

MAX_ENDPOINT_LENGTH: Final = 2048
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def _b64url_bytes(value: object) -> bytes | None:
    if not isinstance(value, str) or not value or len(value) > 200:
        return None
    text = value.rstrip("=")
    if any(
        c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text
    ):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _check_endpoint(value: object, *, allow_local_http: bool, errors: dict[str, list[str]]) -> str:
    if not isinstance(value, str) or not value:
        errors["endpoint"] = ["Missing: the push service URL from the browser's subscription."]
        return ""
    if len(value) > MAX_ENDPOINT_LENGTH:
        errors["endpoint"] = [f"Longer than {MAX_ENDPOINT_LENGTH} characters."]
        return ""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        errors["endpoint"] = ["Not a URL."]
        return ""
    if any(c.isspace() for c in value) or not host or parts.username or parts.password:
        errors["endpoint"] = ["Not a push service URL (https://host/...)."]
    elif parts.scheme == "https":
        pass
    elif parts.scheme == "http" and allow_local_http and _is_local(host):
        pass  # the local push service the tests and development use
    else:
        errors["endpoint"] = ["A push service URL must start with https://."]
    return value


def _is_local(host: str) -> bool:
    if host in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_subscription(
    subscription: Mapping[str, Any], *, allow_local_http: bool
) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth) of a valid ``PushSubscription.toJSON()``, or ``Invalid``
    naming each bad field (``endpoint``, ``keys.p256dh``, ``keys.auth``)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(subscription, Mapping):
        raise Invalid(errors={"subscription": ["Send the browser's PushSubscription.toJSON()."]})
    endpoint = _check_endpoint(
        subscription.get("endpoint"), allow_local_http=allow_local_http, errors=errors
    )
    expiration = subscription.get("expirationTime")
    if expiration is not None and (
        isinstance(expiration, bool) or not isinstance(expiration, int | float)
    ):
        errors["expirationTime"] = ["A number of milliseconds, or null."]
    keys = subscription.get("keys")
    p256dh = auth = ""
    if not isinstance(keys, Mapping):
        errors["keys"] = ['Missing: {"p256dh": ..., "auth": ...} from the subscription.']
    else:
        point = _b64url_bytes(keys.get("p256dh"))
        if point is None or not crypto.is_p256_public_point(point):
            errors["keys.p256dh"] = ["Not a base64url P-256 public key (65 bytes, 0x04 || X || Y)."]
        else:
            p256dh = str(keys["p256dh"]).rstrip("=")
        secret = _b64url_bytes(keys.get("auth"))
        if secret is None or len(secret) != 16:
            errors["keys.auth"] = ["Not a base64url 16-byte authentication secret."]
        else:
            auth = str(keys["auth"]).rstrip("=")
    if errors:
        raise Invalid(errors=errors)
    return endpoint, p256dh, auth


def endpoint_hash(endpoint: str) -> str:
    return crypto.hash_token(endpoint)


def subscribe(
    session: Session,
    device: Device,
    subscription_json: Mapping[str, Any],
    *,
    allow_local_http: bool = False,
) -> PushSubscription:
    """Store this device's subscription (idempotent). The same endpoint on another device moves
    here; this device's other endpoints are dropped, as the browser holds one at a time."""
    endpoint, p256dh, auth = check_subscription(
        subscription_json, allow_local_http=allow_local_http
    )
    digest = endpoint_hash(endpoint)
    row = PushSubscription(
        device_id=device.id, endpoint=endpoint, endpoint_hash=digest, p256dh=p256dh, auth=auth
    )
    if not insert_unique(session, row):
        # The UNIQUE endpoint_hash decided: update the row that holds it.
        existing = session.scalar(
            select(PushSubscription).where(PushSubscription.endpoint_hash == digest)
        )
        assert existing is not None  # a concurrent unsubscribe would have to race this exactly
        if (existing.device_id, existing.p256dh, existing.auth) != (device.id, p256dh, auth):
            existing.device_id = device.id
            existing.p256dh = p256dh
            existing.auth = auth
            existing.last_success_at = None
        row = existing
    session.execute(
        delete(PushSubscription)
        .where(PushSubscription.device_id == device.id, PushSubscription.id != row.id)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return row


def unsubscribe(session: Session, device: Device) -> int:
    """Forget this device's subscription(s); how many were removed (0 is fine: idempotent)."""
    result = session.execute(
        delete(PushSubscription)
        .where(PushSubscription.device_id == device.id)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]


def subscription_of(session: Session, device: Device) -> PushSubscription | None:
    return session.scalar(
        select(PushSubscription)
        .where(PushSubscription.device_id == device.id)
        .order_by(PushSubscription.id.desc())
        .limit(1)
    )


class PushUnavailable(ChorusError):
    code = ErrorCode.SERVICE_UNAVAILABLE


def vapid_public_key(
    instance_path: Path,
    *,
    subject: str,
    create_if_missing: bool,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The base64url application server key the PWA subscribes with.

    ``CHORUS_VAPID_PRIVATE_KEY`` wins, else ``<instance>/vapid_private_key.pem``. Outside
    production a missing key file is created once (``ensure_vapid_keys``, safe when several
    processes start together); in production it never is, since a silently new key would
    orphan every browser's subscription: the operator sets the variable (or runs the scheduler,
    which owns the key) and until then this answers PushUnavailable (503).
    """
    try:
        return vapid.load_vapid_keys(
            subject=subject, instance_path=instance_path, environ=environ
        ).application_server_key
    except vapid.VapidConfigError as error:
        missing = not (instance_path / vapid.VAPID_KEY_FILENAME).exists()
        env = os.environ if environ is None else environ
        if create_if_missing and missing and not env.get(vapid.VAPID_ENV_VAR, "").strip():
            return vapid.ensure_vapid_keys(instance_path, subject=subject).application_server_key
        # The message names the source, never key material (app.delivery.vapid sees to that).
        log.warning("Web Push unavailable: %s", error)
        raise PushUnavailable("Push notifications are not set up on this server yet.") from error
