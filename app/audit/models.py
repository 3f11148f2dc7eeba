"""Audit events chained by hash, and the single-row head that serialises appends."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class AuditEvent(Base):
    """One thing that happened. Append-only: database triggers refuse UPDATE and DELETE.

    `hash` covers every other column plus the previous event's hash, so an edited, deleted
    or reordered event breaks the chain at that point (`chorus audit verify` names it).
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    occurred_at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    # Identifiers and counts only: never answers, names or e-mail bodies.
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # 1: plain SHA-256 (events written before migration 0005); 2: HMAC-SHA256 keyed by
    # CHORUS_AUDIT_KEY, which the database does not hold (app/audit/service.py).
    scheme: Mapped[int] = mapped_column(SmallInteger, server_default="1")


class AuditHead(Base):
    """The chain's tip. Appends start with an UPDATE of this one row, which takes a write lock
    on both engines, so concurrent appends from several processes queue instead of forking."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))
