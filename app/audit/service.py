"""Append to and verify the hash-chained audit log.

Appending happens inside the caller's transaction, so an action and its audit event commit
or roll back together: no action without its record, no record of an action that did not happen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent, AuditHead
from app.db import utcnow

GENESIS_HASH = "0" * 64


def _timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    target: str | None,
    reason: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "occurred_at": _timestamp(occurred_at),
            "actor": actor,
            "action": action,
            "target": target,
            "reason": reason,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event. `actor` is e.g. "staff:12", "cli", "system"; `details` holds ids only."""
    details = details or {}
    occurred_at = now or utcnow()  # microsecond precision: both engines store it exactly
    # Taking the head with an UPDATE ... RETURNING locks it for this transaction (a row lock
    # on PostgreSQL, the write lock on SQLite): concurrent appenders wait here, in order.
    seq, prev_hash = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_seq=AuditHead.last_seq + 1)
        .returning(AuditHead.last_seq, AuditHead.last_hash)
    ).one()
    digest = event_hash(
        seq=seq,
        occurred_at=occurred_at,
        actor=actor,
        action=action,
        target=target,
        reason=reason,
        details=details,
        prev_hash=prev_hash,
    )
    event = AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        actor=actor,
        action=action,
        target=target,
        reason=reason,
        details=details,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=digest))
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(session: Session) -> ChainReport:
    """Walk the chain in order; report the first event that was edited, removed or moved."""
    # Streamed (a server-side cursor on PostgreSQL) so memory stays flat on a long log.
    result = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    )
    try:
        return _walk(session, result.scalars())
    finally:
        result.close()


def _walk(session: Session, events: Iterable[AuditEvent]) -> ChainReport:
    expected_seq = 1
    running_hash = GENESIS_HASH
    checked = 0
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(
                False,
                checked,
                expected_seq,
                f"event {expected_seq} is missing (the next stored event is {event.seq}): deleted",
            )
        if event.prev_hash != running_hash:
            return ChainReport(
                False,
                checked,
                event.seq,
                f"event {event.seq} does not follow event {event.seq - 1}: deleted, replaced or reordered",
            )
        recomputed = event_hash(
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            target=event.target,
            reason=event.reason,
            details=event.details,
            prev_hash=event.prev_hash,
        )
        if recomputed != event.hash:
            return ChainReport(
                False, checked, event.seq, f"event {event.seq} was edited after it was written"
            )
        running_hash = event.hash
        expected_seq += 1
        checked += 1
    head = session.get(AuditHead, 1)
    if head is None:
        return ChainReport(False, checked, None, "the audit head row is missing")
    if head.last_seq != checked or head.last_hash != running_hash:
        return ChainReport(
            False,
            checked,
            checked + 1,
            f"the log ends at event {checked} but {head.last_seq} were written: events removed from the end",
        )
    return ChainReport(True, checked)
