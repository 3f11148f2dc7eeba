"""News posts: lay summaries of the study's progress, shown in the participant app."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow


class NewsPost(Base):
    __tablename__ = "news_posts"
    __table_args__ = (Index("ix_news_posts_study_posted", "study_id", "posted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(  # None: for the whole study
        ForeignKey("sites.id", ondelete="CASCADE"), default=None
    )
    language: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    posted_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None
    )
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    study = relationship("Study")
    site = relationship("Site")
