"""Count failed sign-ins per key and lock a key out for a while after too many.

Counts live in the database, so every web worker and node sees the same numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.accounts.models import LoginThrottle


def throttle_key(kind: str, value: str) -> str:
    # Hashed so the table holds no e-mail addresses or client IPs.
    return f"{kind}:" + hashlib.sha256(value.strip().lower().encode()).hexdigest()[:64]


def seconds_locked(session: Session, keys: list[str], now: dt.datetime) -> int:
    """How long the longest lock among `keys` still runs (0 when none is locked)."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    remaining = [
        (row.locked_until - now).total_seconds()
        for row in rows
        if row.locked_until is not None and row.locked_until > now
    ]
    return int(max(remaining, default=0)) + (1 if remaining else 0)


def record_failure(
    session: Session, key: str, *, limit: int, window: dt.timedelta, now: dt.datetime
) -> None:
    """Count one failure; lock the key for `window` once `limit` failures fall inside it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(LoginThrottle).values(key=key, failures=0, window_started_at=now)
    # The upsert keeps two simultaneous failures from both inserting (one would fail) or both
    # reading the same count (one would be lost).
    session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
    row = session.execute(
        select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    ).scalar_one()
    if now - row.window_started_at > window:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    if row.failures >= limit:
        row.locked_until = now + window
        row.failures, row.window_started_at = 0, now
    session.flush()


def clear(session: Session, key: str) -> None:
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)
