"""The outbox: claim due messages atomically, then record what happened to each.

A tick claims a batch in ONE statement and commits before anything is sent::

    UPDATE outbox SET state='sending', claimed_by=:worker, claimed_until=:now+lease,
                      attempts=attempts+1
    WHERE id IN (SELECT id FROM outbox
                 WHERE (state='pending' AND send_at <= :now)
                    OR (state='sending' AND claimed_until < :now)   -- a crashed worker's
                 ORDER BY send_at LIMIT :n
                 FOR UPDATE SKIP LOCKED)                              -- PostgreSQL only
    RETURNING *

On PostgreSQL ``SKIP LOCKED`` lets several schedulers claim disjoint batches without waiting on
each other. On SQLite the statement is atomic by itself (one writer at a time), and a single
scheduler is enforced anyway by :class:`SchedulerLock`.

Every later transition (:func:`mark_sent`, :func:`mark_retry`, :func:`mark_failed`,
:func:`cancel`, :func:`reschedule`, :func:`release`) is a conditional UPDATE that only applies
while the row is still held by the same claim (``claimed_by`` and ``attempts``), so a worker
whose lease ran out can never overwrite the outcome recorded by the worker that took over.

Delivery is **at least once** between a push service or mail relay accepting a message and our
commit of SENT: a crash in that window makes the next claim send it again. Push carries the same
``Topic`` (the push service replaces an undelivered copy) and the same ``tag`` (the phone shows
one notification); e-mail carries the same ``Message-ID``.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import logging
import os
import random
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy import ColumnElement, and_, inspect, or_, select, tuple_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import access
from app.access import Permission
from app.accounts.models import StaffUser
from app.db import insert_unique
from app.reminders.models import OutboxKind, OutboxMessage, OutboxState
from app.responses.models import Alert
from app.studies.models import Membership

log = logging.getLogger("chorus.outbox")

# Retry delays: 30 s, 1 min, 2 min, ... capped at one hour, each with jitter (below).
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)

_LAST_ERROR_MAX = 300  # OutboxMessage.last_error
_NOTE_MAX = 200  # OutboxMessage.note
_ADDRESS = re.compile(r"[^\s<>\"'@,;:]+@[^\s<>\"'@,;:]+")


def scrub(text: str, limit: int = _LAST_ERROR_MAX) -> str:
    """An error text safe to store and log: e-mail addresses (relays quote the recipient in
    their replies) replaced, one line, bounded."""
    return " ".join(_ADDRESS.sub("<address>", text).split())[:limit]


# ── Claiming ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ClaimToken:
    """Which claim a worker holds on a row. Kept outside the ORM state on purpose: after a
    commit SQLAlchemy reloads a row from the database, where a newer claim by another worker
    would be read back as if it were ours."""

    worker: str
    attempts: int
    until: dt.datetime | None = None


_tokens: weakref.WeakKeyDictionary[OutboxMessage, ClaimToken] = weakref.WeakKeyDictionary()


def token_of(row: OutboxMessage) -> ClaimToken:
    """The claim this process took on ``row`` (or, for a row it did not claim itself, the
    claim the database shows now)."""
    token = _tokens.get(row)
    if token is None:
        token = ClaimToken(str(row.claimed_by), row.attempts, row.claimed_until)
    return token


def due_condition(now: dt.datetime):  # type: ignore[no-untyped-def]  # SQLAlchemy expression
    """Pending and due, or claimed by a worker whose lease has run out (it crashed or hung)."""
    return or_(
        and_(OutboxMessage.state == OutboxState.PENDING.value, OutboxMessage.send_at <= now),
        and_(OutboxMessage.state == OutboxState.SENDING.value, OutboxMessage.claimed_until < now),
    )


def claim(
    session: Session, now: dt.datetime, *, worker: str, limit: int, lease: dt.timedelta
) -> list[OutboxMessage]:
    """Claim up to ``limit`` due rows for ``worker`` for ``lease`` and COMMIT, oldest first.

    Each claim counts as an attempt (``attempts + 1``), so a message that crashes every worker
    that picks it up still reaches ``max_attempts`` and stops. The caller must not send anything
    for a row before this function returned (the commit is what makes the claim visible).
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    if lease <= dt.timedelta(0):
        raise ValueError("lease must be positive")
    candidates = (
        select(OutboxMessage.id)
        .where(due_condition(now))
        .order_by(OutboxMessage.send_at, OutboxMessage.id)
        .limit(limit)
        # Rendered only on PostgreSQL; SQLite ignores it (its single writer makes this atomic).
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates))
        .values(
            state=OutboxState.SENDING.value,
            claimed_by=worker,
            claimed_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    rows = sorted(session.scalars(statement), key=lambda row: (row.send_at, row.id))
    for row in rows:
        _tokens[row] = ClaimToken(worker, row.attempts, row.claimed_until)
    # The rows hold what RETURNING gave us, exactly the state we commit: the commit keeps them
    # as they are instead of expiring them, so reading them costs no query -- and on SQLite
    # opens no write transaction. Anything else the session holds is expired as usual.
    session.flush()  # anything pending is written before the others are expired below
    claimed = {id(row) for row in rows}
    for other in list(session.identity_map.values()):
        if id(other) not in claimed:
            session.expire(other)
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire_on_commit
    return rows


# ── Transitions (each only while the caller still holds the claim) ─────────────────────────


def _pk(row: OutboxMessage) -> int:
    """The row's id without loading it (after a commit, ``row.id`` would cost a query)."""
    identity = inspect(row).identity
    return int(identity[0]) if identity else row.id


def _held(row: OutboxMessage):  # type: ignore[no-untyped-def]  # SQLAlchemy expression
    token = token_of(row)
    return and_(
        OutboxMessage.id == _pk(row),
        OutboxMessage.state == OutboxState.SENDING.value,
        OutboxMessage.claimed_by == token.worker,
        OutboxMessage.attempts == token.attempts,
    )


def _apply(session: Session, row: OutboxMessage, values: Mapping[str, object], what: str) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(_held(row))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # Our lease ran out and another worker claimed the row: its outcome stands.
        log.warning("outbox %s: claim lost before %s; left to the newer claim", _pk(row), what)
        return False
    for name, value in values.items():
        # Keep the in-memory row in step without a reload (and without a flush of our own).
        set_committed_value(row, name, value)
    _tokens.pop(row, None)
    return True


def mark_sent(
    session: Session, row: OutboxMessage, now: dt.datetime, *, channel: str | None = None
) -> bool:
    """Delivered (accepted by a push service or the mail relay). ``channel`` records the
    channel actually used when it differs from the planned one (e-mail fallback)."""
    values: dict[str, object] = {
        "state": OutboxState.SENT.value,
        "sent_at": now,
        "claimed_until": None,
        "last_error": None,
    }
    if channel is not None:
        values["channel"] = channel
    return _apply(session, row, values, "marking it sent")


def mark_sent_many(session: Session, rows: list[OutboxMessage], now: dt.datetime) -> int:
    """:func:`mark_sent` for many rows (on their planned channel) in one statement; returns
    how many were still held by our claim and are now SENT. The others were claimed by a newer
    worker after our lease ran out: its outcome stands, as with :func:`mark_sent`."""
    if not rows:
        return 0
    held = {(_pk(row), token_of(row).worker, token_of(row).attempts): row for row in rows}
    values: dict[str, object] = {
        "state": OutboxState.SENT.value,
        "sent_at": now,
        "claimed_until": None,
        "last_error": None,
    }
    applied = set(
        session.scalars(
            update(OutboxMessage)
            .where(
                tuple_(OutboxMessage.id, OutboxMessage.claimed_by, OutboxMessage.attempts).in_(
                    list(held)
                ),
                OutboxMessage.state == OutboxState.SENDING.value,
            )
            .values(**values)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
    )
    for (pk, _worker, _attempts), row in held.items():
        if pk not in applied:
            log.warning("outbox %s: claim lost before marking it sent; left to the newer claim", pk)
            continue
        for name, value in values.items():
            set_committed_value(row, name, value)
        _tokens.pop(row, None)
    return len(applied)


def backoff(attempts: int, rng: random.Random | None = None) -> dt.timedelta:
    """Delay before attempt ``attempts + 1``: exponential, capped, with "equal jitter" (half
    fixed, half random) so a push service outage does not bring every retry back at once."""
    exponent = min(max(attempts - 1, 0), 16)
    ceiling = min(BACKOFF_BASE * (2**exponent), BACKOFF_CAP)
    draw: float = (rng or random).random()
    half: dt.timedelta = ceiling / 2
    return half + half * draw


def mark_retry(
    session: Session,
    row: OutboxMessage,
    error: str,
    now: dt.datetime,
    *,
    max_attempts: int,
    at_least: dt.timedelta | None = None,
    rng: random.Random | None = None,
) -> bool:
    """A transient failure: back to PENDING with ``send_at`` pushed back by :func:`backoff`
    (at least ``at_least``, e.g. a push service's Retry-After) -- or FAILED when this was
    attempt ``max_attempts``."""
    attempts = token_of(row).attempts
    if attempts >= max_attempts:
        return mark_failed(session, row, f"gave up after {attempts} attempts: {error}", now)
    delay = backoff(attempts, rng)
    if at_least is not None:
        delay = max(delay, at_least)
    return _apply(
        session,
        row,
        {
            "state": OutboxState.PENDING.value,
            "send_at": now + delay,
            "claimed_until": None,
            "last_error": scrub(error),
        },
        "scheduling a retry",
    )


def mark_failed(session: Session, row: OutboxMessage, error: str, now: dt.datetime) -> bool:
    """Permanent failure (rejected, nowhere to send, or out of attempts); staff can see why."""
    return _apply(
        session,
        row,
        {"state": OutboxState.FAILED.value, "claimed_until": None, "last_error": scrub(error)},
        "marking it failed",
    )


def cancel(session: Session, row: OutboxMessage, why: str) -> bool:
    """No longer wanted (completed, closed, withdrawn, paused...). ``why`` is a short note for
    staff, never answers. Works on a claimed row (held by us) and on a pending one."""
    values = {
        "state": OutboxState.CANCELLED.value,
        "claimed_until": None,
        "note": scrub(why, _NOTE_MAX),
    }
    if row.state == OutboxState.PENDING.value:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.state == OutboxState.PENDING.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            for name, value in values.items():
                set_committed_value(row, name, value)
            return True
        return False
    return _apply(session, row, values, "cancelling it")


def cancel_pending(session: Session, which: ColumnElement[bool], note: str) -> int:
    """Cancel the PENDING rows ``which`` selects (retired schedule, withdrawn participant,
    answered occurrence, re-planned away...); returns how many. Rows a tick has claimed are
    left to the dispatcher, which re-checks at send time. With :func:`cancel` (one row, claimed
    or pending), the only places an outbox row becomes CANCELLED."""
    result = session.execute(
        update(OutboxMessage)
        .where(which, OutboxMessage.state == OutboxState.PENDING.value)
        .values(state=OutboxState.CANCELLED.value, note=note)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def reschedule(session: Session, row: OutboxMessage, send_at: dt.datetime, why: str) -> bool:
    """Not now, but later (the person's timetable forbids this moment): back to PENDING at
    ``send_at``. Not a failed attempt, so the claim's ``attempts + 1`` is given back."""
    return _apply(
        session,
        row,
        {
            "state": OutboxState.PENDING.value,
            "send_at": send_at,
            "claimed_until": None,
            "attempts": token_of(row).attempts - 1,
            "note": scrub(why, _NOTE_MAX),
        },
        "moving it",
    )


def release(session: Session, row: OutboxMessage) -> bool:
    """Give a claimed row back untouched (shutdown before it was sent, or too little lease
    left to send it safely): PENDING again at its old time, the attempt not counted."""
    return _apply(
        session,
        row,
        {
            "state": OutboxState.PENDING.value,
            "claimed_until": None,
            "attempts": token_of(row).attempts - 1,
        },
        "releasing it",
    )


# ── Alerts ─────────────────────────────────────────────────────────────────────────────────


def alert_recipients(session: Session, alert: Alert) -> list[StaffUser]:
    """Active staff who may see alerts at the alert's site (decided by app/access.py)."""
    users = session.scalars(
        select(StaffUser)
        .join(Membership, Membership.user_id == StaffUser.id)
        .where(
            Membership.study_id == alert.study_id,
            or_(Membership.site_id.is_(None), Membership.site_id == alert.site_id),
            StaffUser.is_active.is_(True),
        )
        .distinct()
        .order_by(StaffUser.id)
    )
    return [
        user
        for user in users
        if access.can(user.memberships, Permission.VIEW_ALERTS, alert.study_id, alert.site_id)
    ]


def enqueue_alert_emails(
    session: Session, alert: Alert, *, now: dt.datetime | None = None
) -> list[OutboxMessage]:
    """Queue one e-mail per staff recipient, in the caller's transaction (so an alert and its
    notices commit or roll back together). Idempotent: ``dedupe_key`` is
    ``alert:{alert_id}:{staff_user_id}`` and UNIQUE, so calling twice queues nothing new."""
    session.flush()  # the alert needs its id
    queued = []
    for user in alert_recipients(session, alert):
        row = OutboxMessage(
            dedupe_key=f"alert:{alert.id}:{user.id}",
            kind=OutboxKind.ALERT.value,
            channel="email",
            alert_id=alert.id,
            staff_user_id=user.id,
            send_at=now or alert.raised_at,
            state=OutboxState.PENDING.value,
        )
        if insert_unique(session, row):
            queued.append(row)
    return queued


# ── One scheduler per SQLite database ─────────────────────────────────────────────────────


class SchedulerBusy(RuntimeError):
    """Another scheduler holds the lock for this database."""


class SchedulerLock:
    """An exclusive ``flock`` on ``<database file>.scheduler.lock``, held for the process's life.

    Why an OS file lock rather than a lock row: the kernel drops it the moment the holder dies,
    even by SIGKILL, so a restarted scheduler never waits out a stale lease; and it sits next to
    the database file (not in an instance folder two deployments might not share), so it guards
    exactly the file SQLite itself locks. Needs a local filesystem, as SQLite does. PostgreSQL
    needs no lock: there, schedulers claim disjoint rows with ``FOR UPDATE SKIP LOCKED``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_database(cls, database_path: Path) -> SchedulerLock:
        return cls(database_path.with_name(database_path.name + ".scheduler.lock"))

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, blocking: bool = False) -> None:
        """Take the lock or raise :class:`SchedulerBusy` (``blocking`` waits instead)."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise SchedulerBusy(
                    f"another chorus scheduler is running on this database (it holds {self.path})"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SchedulerLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
