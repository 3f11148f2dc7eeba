"""Server-side staff sessions with idle and absolute timeouts.

The browser holds a random token (inside Flask's signed cookie); the table holds only its
hash. Signing in always makes a new token, so a token planted before sign-in is worthless.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.accounts.models import StaffSession, StaffUser

# Refresh last_seen_at at most this often: a write per request would serialise SQLite.
_TOUCH_EVERY = dt.timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    idle: dt.timedelta
    absolute: dt.timedelta


def start(session: Session, user: StaffUser, now: dt.datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(token_hash=_hash(token), user_id=user.id, created_at=now, last_seen_at=now)
    )
    return token


def resume(
    session: Session, token: str, policy: SessionPolicy, now: dt.datetime
) -> tuple[StaffUser | None, bool]:
    """The signed-in user for `token`, and whether a session existed but has expired."""
    row = session.get(StaffSession, _hash(token))
    if row is None:
        return None, False
    expired = now - row.last_seen_at > policy.idle or now - row.created_at > policy.absolute
    if expired or not row.user.is_active:
        session.delete(row)
        return None, True
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
    return row.user, False


def end(session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _hash(token)))


def end_all_for_user(session: Session, user_id: int) -> None:
    session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
