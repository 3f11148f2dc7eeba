"""Tables behind reminders.

- ``StudySchedule``: which instrument a study asks, of whom, when (a ``app.scheduling.Schedule``
  stored as JSON in ``spec``) and how often to remind (``reminder_*``).
- ``AnchorDate``: a participant's named date that visit plans count from (``enrollment`` is
  implicit: the participant's enrolment date).
- ``Occurrence``: one due questionnaire for one participant, materialised over a rolling
  horizon (``Participant.occurrences_until``); UNIQUE on (schedule, participant, key) so
  re-planning is idempotent. A response completes it.
- ``Timetable`` / ``TimetablePause``: when the person who receives reminders (a participant
  answering for themselves, or a caregiver) may be reminded. The time zone is the person's own
  ``time_zone`` column.
- ``PushSubscription``: a Web Push subscription of one device.
- ``OutboxMessage``: one message to send (a reminder or an alert e-mail to staff), claimed by
  the scheduler tick; ``dedupe_key`` is UNIQUE so planning twice never queues twice.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow


class StudySchedule(Base):
    __tablename__ = "study_schedules"
    __table_args__ = (
        CheckConstraint("respondent IN ('self', 'proxy')", name="known_respondent"),
        CheckConstraint("reminder_max_count BETWEEN 0 AND 20", name="sane_reminder_count"),
        CheckConstraint("participant_id IS NULL OR arm IS NULL", name="one_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    arm: Mapped[str | None] = mapped_column(String(64), default=None)  # None: every arm
    # One participant only (added from their page, #13); None: everyone the arm rule allows.
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True, default=None
    )
    instrument_version_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_versions.id", ondelete="RESTRICT")
    )
    respondent: Mapped[str] = mapped_column(String(8))  # self: participant; proxy: caregiver
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # app.scheduling.Schedule as JSON
    anchor: Mapped[str] = mapped_column(String(40), default="enrollment")
    reminder_max_count: Mapped[int] = mapped_column(default=1)
    reminder_gaps_minutes: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    retired_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    instrument_version = relationship("InstrumentVersion")


class AnchorDate(Base):
    __tablename__ = "anchor_dates"
    __table_args__ = (UniqueConstraint("participant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(40))
    date: Mapped[dt.date]


class OccurrenceState(enum.StrEnum):
    UPCOMING = "upcoming"  # not open yet
    OPEN = "open"
    COMPLETED = "completed"  # answered while open
    LATE = "late"  # answered after it closed
    MISSED = "missed"  # closed with no answer
    CANCELLED = "cancelled"  # schedule retired, participant withdrawn, or re-planned away


class Occurrence(Base):
    __tablename__ = "occurrences"
    __table_args__ = (
        UniqueConstraint("schedule_id", "participant_id", "key"),
        CheckConstraint("respondent IN ('self', 'proxy')", name="known_respondent"),
        Index("ix_occurrences_participant_opens", "participant_id", "opens_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("study_schedules.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    respondent: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(64))  # stable: app.scheduling OccurrenceWindow.key
    opens_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime] = mapped_column(index=True)
    completed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    response_id: Mapped[str | None] = mapped_column(
        ForeignKey("responses.id", ondelete="SET NULL"), unique=True, default=None
    )
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    schedule = relationship("StudySchedule")
    participant = relationship("Participant")

    def state(self, now: dt.datetime) -> OccurrenceState:
        if self.cancelled_at is not None:
            return OccurrenceState.CANCELLED
        if self.completed_at is not None:
            late = self.completed_at >= self.closes_at
            return OccurrenceState.LATE if late else OccurrenceState.COMPLETED
        if now < self.opens_at:
            return OccurrenceState.UPCOMING
        return OccurrenceState.OPEN if now < self.closes_at else OccurrenceState.MISSED


class Timetable(Base):
    """Reminder windows and quiet hours of the person who receives reminders. ``windows`` is
    ``{"mon": [["18:00", "21:00"]], ...}`` or None (no restriction); ``quiet_hours`` is
    ``[["22:00", "07:00"]]``. Absent row: no restriction beyond default quiet hours."""

    __tablename__ = "timetables"
    __table_args__ = (
        CheckConstraint(
            "(participant_id IS NULL) <> (caregiver_id IS NULL)", name="exactly_one_person"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), unique=True
    )
    caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregivers.id", ondelete="CASCADE"), unique=True
    )
    windows: Mapped[dict[str, list[list[str]]] | None] = mapped_column(JSON, default=None)
    quiet_hours: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # Where e-mail reminders go when push is unavailable; given by the person, optional.
    reminder_email: Mapped[str | None] = mapped_column(String(254), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))

    pauses = relationship(
        "TimetablePause", back_populates="timetable", order_by="TimetablePause.starts_on"
    )


class TimetablePause(Base):
    """No reminders from ``starts_on`` to ``ends_on`` (local dates, inclusive); resumes by itself."""

    __tablename__ = "timetable_pauses"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    timetable_id: Mapped[int] = mapped_column(
        ForeignKey("timetables.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(String(200), default="")  # shown to site staff
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    timetable = relationship("Timetable", back_populates="pauses")


class PushSubscription(Base):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of endpoint
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    device = relationship("Device")


class OutboxKind(enum.StrEnum):
    REMINDER = "reminder"
    ALERT = "alert"


class OutboxState(enum.StrEnum):
    PENDING = "pending"  # waiting for send_at
    SENDING = "sending"  # claimed by a tick until claimed_until; re-claimable after
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt, or nowhere to send
    CANCELLED = "cancelled"  # no longer wanted (completed, closed, paused, withdrawn)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("kind IN ('reminder', 'alert')", name="known_kind"),
        CheckConstraint("channel IN ('push', 'email')", name="known_channel"),
        CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name="known_state"
        ),
        CheckConstraint(
            "(CASE WHEN participant_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN caregiver_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN staff_user_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="exactly_one_recipient",
        ),
        # The tick's claim query: due pending rows, and expired claims, by send time.
        Index("ix_outbox_state_send_at", "state", "send_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    occurrence_id: Mapped[int | None] = mapped_column(
        ForeignKey("occurrences.id", ondelete="CASCADE"), index=True, default=None
    )
    sequence: Mapped[int] = mapped_column(default=0)  # 0: first reminder, 1..: follow-ups
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True, default=None
    )
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), default=None
    )
    caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregivers.id", ondelete="CASCADE"), default=None
    )
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), default=None
    )
    send_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(12), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Why a row was cancelled or snoozed, for staff ("paused: hospital stay"); never answers.
    note: Mapped[str | None] = mapped_column(String(200), default=None)

    occurrence = relationship("Occurrence")
