"""Who answers: pseudonymous participants, caregivers linked to children, invitations, devices.

No names are required anywhere; a participant is a study code. A date of birth given at
enrolment is reduced to an age band and not stored.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow


class AgeBand(enum.StrEnum):
    CHILD = "child"  # under 12: caregivers answer (proxy)
    ADOLESCENT = "adolescent"  # 12-17: self and/or proxy, as the study decides
    ADULT = "adult"  # 18+: self


class ParticipantStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    WITHDRAWN = "withdrawn"


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("study_id", "code"),
        CheckConstraint("age_band IN ('child', 'adolescent', 'adult')", name="known_age_band"),
        CheckConstraint("status IN ('active', 'paused', 'withdrawn')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="RESTRICT"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True)
    code: Mapped[str] = mapped_column(String(32))  # pseudonymous study code, e.g. "LYON-0042"
    time_zone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    age_band: Mapped[str] = mapped_column(String(16))
    arm: Mapped[str | None] = mapped_column(String(64), default=None)
    # Shown to caregivers so they always see whom they answer for; chosen by the family.
    nickname: Mapped[str | None] = mapped_column(String(40), default=None)
    colour: Mapped[str | None] = mapped_column(String(7), default=None)  # "#1f77b4"
    status: Mapped[str] = mapped_column(String(16), default=ParticipantStatus.ACTIVE.value)
    paused_until: Mapped[dt.date | None] = mapped_column(default=None)
    enrolled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Occurrences exist up to here; the scheduler extends the horizon of those nearing it.
    occurrences_until: Mapped[dt.datetime | None] = mapped_column(default=None, index=True)

    study = relationship("Study")
    site = relationship("Site")
    caregiver_links = relationship("CaregiverLink", back_populates="participant")


class Caregiver(Base):
    """A parent or other carer; one caregiver may be linked to several children, across studies."""

    __tablename__ = "caregivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(80), default=None)
    language: Mapped[str] = mapped_column(String(16))
    time_zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    links = relationship("CaregiverLink", back_populates="caregiver")


class CaregiverLink(Base):
    __tablename__ = "caregiver_links"
    __table_args__ = (
        UniqueConstraint("caregiver_id", "participant_id"),
        CheckConstraint(
            "caregiver_role IN ('parent', 'other_caregiver')", name="known_caregiver_role"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregivers.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    caregiver_role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    caregiver = relationship("Caregiver", back_populates="links")
    participant = relationship("Participant", back_populates="caregiver_links")


class Invitation(Base):
    """A single-use way onto a phone: a long link token and a short typable code, both hashed."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(
            "(participant_id IS NULL) <> (caregiver_id IS NULL)", name="exactly_one_invitee"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregivers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(100))
    # A caregiver's invitation: ids of the children the device redeemed from it may answer
    # for, fixed at issue to those the issuer manages (app.participants.caregivers, issue #10).
    # NULL for a participant's own invitation.
    reach: Mapped[list[int] | None] = mapped_column(JSON, default=None)


class Device(Base):
    """A phone signed in as a participant or a caregiver. The bearer token is stored hashed."""

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint(
            "(participant_id IS NULL) <> (caregiver_id IS NULL)", name="exactly_one_holder"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregivers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80), default="phone")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # A caregiver's phone: the children it may answer for, from its invitation (see
    # Invitation.reach). NULL for a participant's own phone.
    reach: Mapped[list[int] | None] = mapped_column(JSON, default=None)

    participant = relationship("Participant")
    caregiver = relationship("Caregiver")


class StudyInstrument(Base):
    """Which published instrument a study asks for, and from whom. Until schedules exist, an
    assigned instrument is always available ("due") to the people it is assigned to."""

    __tablename__ = "study_instruments"
    __table_args__ = (
        UniqueConstraint("study_id", "instrument_version_id"),
        CheckConstraint("respondents IN ('self', 'proxy', 'both')", name="known_respondents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    instrument_version_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_versions.id", ondelete="RESTRICT")
    )
    respondents: Mapped[str] = mapped_column(String(8))

    instrument_version = relationship("InstrumentVersion")
