"""Append to and verify the keyed, hash-chained audit log.

Appending happens inside the caller's transaction, so an action and its audit event commit
or roll back together: no action without its record, no record of an action that did not happen.

Tamper evidence against a database writer (issue #10). Each event's `hash` is an HMAC-SHA256,
keyed by CHORUS_AUDIT_KEY (held by the app, never by the database), over the event and the
previous event's hash. What `verify` proves, and what it cannot:

* Keyed events (scheme 2): nobody without the key can edit, insert, reorder or remove an event
  in the middle and recompute the chain; the first bad event is named.
* Plain events (scheme 1) are those written before migration 0005, chained with the public
  SHA-256 as before. They may only open the log, and the migration closed them with a keyed
  `audit.keyed` seal naming the last one, so rewriting them (or rewriting the whole log with
  the public function) breaks the seal.
* Removing events from the *end* and rewinding the head, or emptying the log, leaves a chain
  that is consistent in itself; the key cannot show it. `chorus audit checkpoint` writes the
  keyed head (sequence, hash, time) outside the database -- to a log shipper, a file on
  another machine -- and `verify --checkpoint FILE` proves that nothing at or before each
  checkpoint was removed or changed. Events after the last checkpoint can still be cut off.
* A writer who also has the key (the application host itself) can forge anything after the
  last checkpoint; keep checkpoints where that host cannot rewrite them.

The HMAC uses the standard library (hmac, hashlib) here rather than app/crypto.py: it is the
same construct the invitation-code pepper uses, needs no third-party primitive, and keeping it
beside the canonical serialisation keeps the chain format reviewable in one file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent, AuditHead
from app.db import utcnow

GENESIS_HASH = "0" * 64
SCHEME_PLAIN = 1  # public SHA-256: events written before migration 0005
SCHEME_KEYED = 2  # HMAC-SHA256 keyed by CHORUS_AUDIT_KEY
SEAL_ACTION = "audit.keyed"  # the keyed event that closes the plain prefix
MIN_KEY_LENGTH = 32

_key: bytes | None = None


class AuditKeyMissing(RuntimeError):
    """Nothing can be appended or verified before the app has configured the chain key."""


def use_key(key: str | bytes) -> bytes | None:
    """Set the process's chain key (create_app does, from Settings.audit_key); returns the
    previous one. Process-wide like the password hasher: every app of one process shares it."""
    global _key
    raw = key.encode() if isinstance(key, str) else key
    if len(raw) < MIN_KEY_LENGTH:
        raise ValueError(f"the audit key must be at least {MIN_KEY_LENGTH} bytes")
    previous, _key = _key, raw
    return previous


def _current_key() -> bytes:
    if _key is None:
        raise AuditKeyMissing("the audit chain key is not configured (create_app sets it)")
    return _key


def _timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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
    scheme: int = SCHEME_PLAIN,
    key: bytes | None = None,
) -> str:
    """The chain value of one event: plain SHA-256 (scheme 1, public) or HMAC-SHA256 under
    `key` (scheme 2; the scheme is part of what is signed, so it cannot be swapped)."""
    fields: dict[str, Any] = {
        "seq": seq,
        "occurred_at": _timestamp(occurred_at),
        "actor": actor,
        "action": action,
        "target": target,
        "reason": reason,
        "details": details,
        "prev_hash": prev_hash,
    }
    if scheme == SCHEME_PLAIN:
        return hashlib.sha256(_canonical(fields)).hexdigest()
    if scheme != SCHEME_KEYED or key is None:
        raise ValueError(f"unknown audit scheme {scheme} (or no key for a keyed event)")
    return hmac.new(key, _canonical({**fields, "scheme": scheme}), hashlib.sha256).hexdigest()


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
        scheme=SCHEME_KEYED,
        key=_current_key(),
    )
    event = AuditEvent(
        scheme=SCHEME_KEYED,
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
    plain_events: int = 0  # written before the key existed; protected by the seal only
    checkpoints_checked: int = 0


@dataclass(frozen=True)
class Checkpoint:
    """The keyed head at a moment, kept outside the database (one JSON line)."""

    seq: int
    hash: str
    at: dt.datetime

    def to_line(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": _timestamp(self.at)})


class CheckpointUnreadable(ValueError):
    """A checkpoint file line that is not a checkpoint; the message names the line."""


def parse_checkpoints(lines: Iterable[str]) -> list[Checkpoint]:
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            seq, digest, at = data["seq"], data["hash"], data["at"]
            if not isinstance(seq, int) or seq < 0 or not isinstance(digest, str):
                raise ValueError
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError
            when = dt.datetime.fromisoformat(str(at).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            raise CheckpointUnreadable(
                f'line {number}: expected {{"seq": N, "hash": "<64 hex>", "at": "<time>"}}'
            ) from None
        found.append(Checkpoint(seq, digest, when))
    return found


def checkpoint(session: Session, report: ChainReport, now: dt.datetime | None = None) -> Checkpoint:
    """The last event `report` verified, to be stored outside the database (`chorus audit
    checkpoint`): events appended after the walk are left for the next checkpoint."""
    if not report.ok:
        raise ValueError("a broken chain gets no checkpoint")
    seq = report.events_checked
    event = session.get(AuditEvent, seq) if seq else None
    return Checkpoint(seq, event.hash if event is not None else GENESIS_HASH, now or utcnow())


def verify(session: Session, checkpoints: Sequence[Checkpoint] = ()) -> ChainReport:
    """Walk the chain in order; report the first event that was edited, removed or moved,
    and check every checkpoint against it (see the module docstring for what this proves)."""
    # Streamed (a server-side cursor on PostgreSQL) so memory stays flat on a long log.
    result = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    )
    try:
        report = _walk(session, result.scalars(), {c.seq: c for c in checkpoints})
    finally:
        result.close()
    return report


def _walk(
    session: Session, events: Iterable[AuditEvent], pinned: dict[int, Checkpoint]
) -> ChainReport:
    key = _current_key()
    expected_seq = 1
    running_hash = GENESIS_HASH
    checked = plain = pins = 0
    keyed_seen = False

    def bad(seq: int | None, problem: str) -> ChainReport:
        return ChainReport(False, checked, seq, problem, plain, pins)

    pin = pinned.get(0)
    if pin is not None:
        if pin.hash != GENESIS_HASH:
            return bad(None, "checkpoint at event 0 does not hold the genesis hash")
        pins += 1
    for event in events:
        if event.seq != expected_seq:
            return bad(
                expected_seq,
                f"event {expected_seq} is missing (the next stored event is {event.seq}): deleted",
            )
        if event.prev_hash != running_hash:
            return bad(
                event.seq,
                f"event {event.seq} does not follow event {event.seq - 1}: deleted, replaced or reordered",
            )
        if event.scheme == SCHEME_PLAIN and keyed_seen:
            return bad(
                event.seq,
                f"event {event.seq} carries the public hash after keyed events: rewritten",
            )
        opens_keyed = event.scheme == SCHEME_KEYED and not keyed_seen and plain > 0
        if opens_keyed and (
            event.action != SEAL_ACTION or event.details.get("plain_until") != plain
        ):
            return bad(
                event.seq,
                f"the {plain} plain-hash events before event {event.seq} are not sealed"
                " by the upgrade: rewritten with the public hash function",
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
            scheme=event.scheme if event.scheme == SCHEME_PLAIN else SCHEME_KEYED,
            key=key,
        )
        if event.scheme not in (SCHEME_PLAIN, SCHEME_KEYED) or not hmac.compare_digest(
            recomputed, event.hash
        ):
            return bad(event.seq, f"event {event.seq} was edited after it was written")
        if event.scheme == SCHEME_PLAIN:
            plain += 1
        else:
            keyed_seen = True
        running_hash = event.hash
        checked += 1
        pin = pinned.get(event.seq)
        if pin is not None:
            if pin.hash != event.hash:
                return bad(
                    event.seq,
                    f"event {event.seq} differs from the checkpoint of {_timestamp(pin.at)}:"
                    " the log was rewritten up to there",
                )
            pins += 1
        expected_seq += 1
    if plain and not keyed_seen:
        return bad(
            checked + 1,
            "the log holds only plain-hash events and no keyed seal: rewritten with the"
            " public hash function, or upgraded without migration 0005",
        )
    beyond = [c for c in pinned.values() if c.seq > checked]
    if beyond:
        last = max(beyond, key=lambda c: c.seq)
        return bad(
            checked + 1,
            f"the log ends at event {checked} but a checkpoint of {_timestamp(last.at)} saw"
            f" event {last.seq}: events removed from the end",
        )
    head = session.get(AuditHead, 1)
    if head is None:
        return bad(None, "the audit head row is missing")
    if head.last_seq != checked or head.last_hash != running_hash:
        return bad(
            checked + 1,
            f"the log ends at event {checked} but {head.last_seq} were written: events removed from the end",
        )
    return ChainReport(True, checked, plain_events=plain, checkpoints_checked=pins)
