"""Co-design drafts in the database: parts with revisions, the history of every change,
comments, suggestions, approvals and review transitions. Published versions live in
``app.library`` and never here."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow


class DraftState(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    PUBLISHED = "published"


class SuggestionStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Draft(Base):
    """One instrument version being co-designed, for one study."""

    __tablename__ = "codesign_drafts"
    __table_args__ = (
        CheckConstraint(
            "state IN ('draft', 'in_review', 'changes_requested', 'approved', 'published')",
            name="known_state",
        ),
        # One draft per version in a study: two people starting the same version at once get
        # a clear refusal instead of two drafts that cannot both be published.
        UniqueConstraint("study_id", "instrument_key", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    instrument_key: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    # The published version this draft started from (None: a new instrument).
    base_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("instrument_versions.id", ondelete="RESTRICT")
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(20), default=DraftState.DRAFT.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("instrument_versions.id", ondelete="RESTRICT")
    )

    parts = relationship("DraftPart", back_populates="draft", cascade="all, delete-orphan")
    owner = relationship("StaffUser")
    base_version = relationship("InstrumentVersion", foreign_keys=[base_version_id])


class DraftPart(Base):
    """The instrument part (key ``@instrument``) or one item (key = the item id).

    ``revision`` goes up by one with every saved change: an edit names the revision it was made
    on, and a different one means someone else saved first (the edit is refused, not merged).
    """

    __tablename__ = "codesign_parts"
    __table_args__ = (UniqueConstraint("draft_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("codesign_drafts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    # field with language (e.g. "text.self.fr") -> fingerprint of the source text it translates
    translation_sources: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    revision: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )

    draft = relationship("Draft", back_populates="parts")


class DraftChange(Base):
    """One field changed, by whom (the suggestion's author when a suggestion was accepted)."""

    __tablename__ = "codesign_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(
        ForeignKey("codesign_drafts.id", ondelete="CASCADE"), index=True
    )
    part_key: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))  # "" for the whole part (added, removed)
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    applied_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    suggestion_id: Mapped[int | None] = mapped_column(
        ForeignKey("codesign_suggestions.id", ondelete="SET NULL")
    )
    revision: Mapped[int]  # the part's revision after the change
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Comment(Base):
    """On the instrument (no part), an item (part) or one field (part and path); replies
    point at the thread's first comment, which carries the resolved state."""

    __tablename__ = "codesign_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(
        ForeignKey("codesign_drafts.id", ondelete="CASCADE"), index=True
    )
    part_key: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(300))
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("codesign_comments.id", ondelete="CASCADE")
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )


class Suggestion(Base):
    """A proposed new value for one field; the draft's owner accepts or rejects it."""

    __tablename__ = "codesign_suggestions"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'accepted', 'rejected')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(
        ForeignKey("codesign_drafts.id", ondelete="CASCADE"), index=True
    )
    part_key: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)  # None: remove the field
    # The field's value when the suggestion was made: accepting it over a different value
    # would silently undo someone's later edit, so that is refused.
    base_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    note: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default=SuggestionStatus.OPEN.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    decision_note: Mapped[str | None] = mapped_column(Text)


class Approval(Base):
    """One person's approval of the draft's content as it was (by content hash)."""

    __tablename__ = "codesign_approvals"
    __table_args__ = (
        UniqueConstraint("draft_id", "user_id", "content_hash"),
        CheckConstraint("side IN ('patient_group', 'study_staff')", name="known_side"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("codesign_drafts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="RESTRICT"))
    side: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Transition(Base):
    """A move in the review workflow, with the note given (e.g. which changes are requested)."""

    __tablename__ = "codesign_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(
        ForeignKey("codesign_drafts.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CodesignSettings(Base):
    """Per-study co-design settings: the readability target (a school grade)."""

    __tablename__ = "codesign_settings"

    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    readability_target_grade: Mapped[float]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
