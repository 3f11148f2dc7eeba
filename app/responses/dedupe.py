"""Recognising a resent response without letting the database confirm guesses of its answers.

A response's `idempotency_key` is a hash of the client's UUID; its `content_mac` fingerprints
what was sent, so an identical resend gets the original receipt and a changed one a 409. The
fingerprint was once keyed by the client's UUID alone (scheme 1): with a guessable UUID (all
zeros, sequential) a database reader recovered a diary's answers by trying candidates (issue
#10). Now (scheme 2) it is keyed by a server secret as well, which the database does not hold,
and only random (version 4) UUIDs are accepted for new responses. Rows stored under scheme 1
keep their fingerprint, so resends of answers sent before the upgrade still match.

The server secret is derived from SECRET_KEY (set by create_app, like the invitation pepper).
Rotating SECRET_KEY makes a resend of an answer sent before the rotation a 409 instead of its
receipt; the stored answer is unaffected.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Protocol

from app.errors import Invalid

SCHEME_UUID_KEYED = 1
SCHEME_SERVER_KEYED = 2

_server_key: bytes | None = None


class FingerprintSource(Protocol):
    @property
    def client_uuid(self) -> uuid.UUID: ...
    def fingerprint_material(self) -> bytes: ...


def use_secret(secret_key: str) -> None:
    """Derive the fingerprint key from the app's SECRET_KEY (create_app calls this)."""
    global _server_key
    _server_key = hmac.new(
        secret_key.encode(), b"chorus/response-dedupe-key/v1", hashlib.sha256
    ).digest()


def _key() -> bytes:
    if _server_key is None:
        raise RuntimeError("the response fingerprint key is not configured (create_app sets it)")
    return _server_key


def require_random_uuid(client_uuid: uuid.UUID) -> None:
    """New responses need a random (RFC 4122 version 4) UUID, as crypto.randomUUID() makes.
    The error names `id`, the field the phone sends it in."""
    if client_uuid.version != 4 or client_uuid.variant != uuid.RFC_4122:
        raise Invalid(
            errors={
                "id": [
                    "Use a random (version 4) UUID for each new response, e.g. from"
                    " crypto.randomUUID()."
                ]
            }
        )


def content_mac(submission: FingerprintSource, scheme: int = SCHEME_SERVER_KEYED) -> str:
    material = submission.fingerprint_material()
    if scheme == SCHEME_UUID_KEYED:
        return hmac.new(submission.client_uuid.bytes, material, hashlib.sha256).hexdigest()
    key = hmac.new(_key(), submission.client_uuid.bytes, hashlib.sha256).digest()
    return hmac.new(key, material, hashlib.sha256).hexdigest()


def same_content(stored_mac: str, stored_scheme: int, submission: FingerprintSource) -> bool:
    """Does a resend carry exactly what the stored response was sent with?"""
    return hmac.compare_digest(stored_mac, content_mac(submission, stored_scheme))
