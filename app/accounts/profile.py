"""A staff member's own account: time zone, password, and the e-mailed invitation that lets a
new member choose their first password. Plain functions over a SQLAlchemy session; every
change is audited (never with the password or the token).

The invitation link carries a token signed with the app's secret key (itsdangerous): the
user's id and a fingerprint of their current password hash, valid for ``INVITATION_DAYS``.
Choosing a password changes the hash, so a link works once; no token is stored.
"""

from __future__ import annotations

import functools
import hashlib
import zoneinfo

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from app.accounts import passwords, sessions
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.errors import Invalid, NotFound

INVITATION_DAYS = 7
_SALT = "chorus.staff-invitation"


@functools.cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def set_time_zone(session: Session, user: StaffUser, zone: str, *, actor: str) -> None:
    """The IANA zone the staff pages show this person's times in."""
    if zone not in time_zones():
        raise Invalid(errors={"time_zone": ["Choose a time zone such as Europe/Paris."]})
    if zone == user.time_zone:
        return
    user.time_zone = zone
    audit.record(
        session,
        actor=actor,
        action="staff.time_zone_set",
        target=f"staff:{user.id}",
        details={"time_zone": zone},
    )


def _check_new(password: str) -> None:
    try:
        passwords.check_strength(password)
    except passwords.WeakPassword as weak:
        raise Invalid(errors={"new_password": [str(weak)]}) from None


def change_password(
    session: Session, user: StaffUser, *, current: str, new: str, actor: str
) -> None:
    """Only with the current password; the new one must pass the length rules and differ.
    Every browser signed in as this person is signed out (the caller signs the current one
    in again)."""
    if not passwords.verify_password(user.password_hash, current):
        raise Invalid(errors={"current_password": ["That is not your current password."]})
    _check_new(new)
    if new == current:
        raise Invalid(errors={"new_password": ["Choose a password you have not used here."]})
    user.password_hash = passwords.hash_password(new)
    sessions.end_all_for_user(session, user.id)
    audit.record(session, actor=actor, action="staff.password_changed", target=f"staff:{user.id}")


def _fingerprint(user: StaffUser) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:24]


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def invitation_token(user: StaffUser, secret_key: str) -> str:
    return _serializer(secret_key).dumps({"u": user.id, "p": _fingerprint(user)})


def invited_user(session: Session, token: str, secret_key: str) -> StaffUser:
    """The account a still-valid, unused invitation names; NotFound otherwise (expired, used,
    tampered with: one answer, so a guess learns nothing)."""
    try:
        data = _serializer(secret_key).loads(token, max_age=INVITATION_DAYS * 86400)
    except (SignatureExpired, BadSignature):
        raise NotFound("This invitation link is not valid any more.") from None
    user = session.get(StaffUser, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.is_active or data.get("p") != _fingerprint(user):
        raise NotFound("This invitation link is not valid any more.")
    return user


def accept_invitation(session: Session, token: str, secret_key: str, password: str) -> StaffUser:
    """Set the invited member's first password; the link stops working."""
    user = invited_user(session, token, secret_key)
    _check_new(password)
    user.password_hash = passwords.hash_password(password)
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="staff.invitation_accepted",
        target=f"staff:{user.id}",
    )
    return user
