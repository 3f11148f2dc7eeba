"""Study keys, key-holder wraps, sealed responses and alerts.

What is sealed: answers and scores. What stays clear: which participant, instrument version,
who answered, when, and alert flags -- what schedules, adherence and dashboards need.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import crypto
from app.db import Base, utcnow


class SealedPayload(TypeDecorator[bytes]):
    """A column that refuses anything but a sealed envelope: plaintext never reaches storage."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is not None:
            crypto.require_sealed(value)
        return value


class StudyKey(Base):
    __tablename__ = "study_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="RESTRICT"), index=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    wraps = relationship("KeyHolderWrap", back_populates="study_key")


class KeyHolderWrap(Base):
    """The study private key wrapped for one holder: a data manager's passphrase, or the
    recovery key printed once when the key was made."""

    __tablename__ = "key_holder_wraps"
    __table_args__ = (
        UniqueConstraint("study_key_id", "staff_user_id"),
        CheckConstraint("holder_kind IN ('staff', 'recovery')", name="known_holder_kind"),
        CheckConstraint(
            "(holder_kind = 'staff') = (staff_user_id IS NOT NULL)", name="staff_holder_named"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_key_id: Mapped[int] = mapped_column(
        ForeignKey("study_keys.id", ondelete="CASCADE"), index=True
    )
    holder_kind: Mapped[str] = mapped_column(String(16))
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE")
    )
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    study_key = relationship("StudyKey", back_populates="wraps")
    staff_user = relationship("StaffUser")


class Response(Base):
    """One submitted questionnaire.

    `idempotency_key` is a hash of the client's UUID, and `content_mac` an HMAC of the
    submitted content keyed by that UUID: together they recognise an identical resend, yet a
    stolen database cannot test guesses of the answers (the UUID itself is never stored).
    """

    __tablename__ = "responses"
    __table_args__ = (
        CheckConstraint(
            "respondent_type IN ('self', 'parent', 'other_caregiver', 'staff_assisted')",
            name="known_respondent_type",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # server-made UUID
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    content_mac: Mapped[str] = mapped_column(String(64))
    # 1: keyed by the client's UUID alone (rows from before migration 0005); 2: keyed by a
    # server secret and the UUID, so a guessable UUID does not let a database reader test
    # guesses of the answers (app/responses/service.py, issue #10).
    content_mac_scheme: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="RESTRICT"), index=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), index=True
    )
    instrument_version_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_versions.id", ondelete="RESTRICT")
    )
    respondent_type: Mapped[str] = mapped_column(String(20))
    answered_by_caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregivers.id", ondelete="SET NULL")
    )
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime]
    device_utc_offset_minutes: Mapped[int]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    study_key_id: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes] = mapped_column(SealedPayload)
    # Item ids the respondent flagged "hard to understand": feedback on the instrument's wording
    # for its authors (who hold no study key), not about the participant's health.
    hard_to_understand: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A second answer to a questionnaire occurrence someone had already answered: the response
    # that completed it. Kept and flagged for staff, never dropped (#11); None for the rest.
    repeat_of_response_id: Mapped[str | None] = mapped_column(
        ForeignKey("responses.id", ondelete="SET NULL"), index=True, default=None
    )

    participant = relationship("Participant")
    instrument_version = relationship("InstrumentVersion")


class Alert(Base):
    """A clinically urgent answer flagged for the participant's site. Rule and severity only:
    the answers stay sealed."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(
            "resolution_outcome IS NULL OR resolution_outcome IN "
            "('contacted', 'referred', 'no_action', 'other')",
            name="known_resolution_outcome",
        ),
        CheckConstraint(
            "(resolved_at IS NULL) = (resolution_outcome IS NULL)", name="resolution_complete"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="RESTRICT"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)  # the instrument's staff-facing text, no answers
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    # Resolved: closed, with what was done (#13). Acknowledged means someone is on it; a
    # resolved alert was acknowledged too (resolving an open alert acknowledges it), so "open"
    # stays "not acknowledged" for counts and for the alert e-mails still waiting to go.
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None
    )
    resolution_outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)
