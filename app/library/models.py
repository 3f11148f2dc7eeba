"""A published instrument version. Rows are never updated: a change is a new version."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class InstrumentVersion(Base):
    __tablename__ = "instrument_versions"
    __table_args__ = (UniqueConstraint("instrument_key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_key: Mapped[str] = mapped_column(String(64))  # the file's `id`, e.g. "phq9"
    version: Mapped[str] = mapped_column(String(32))
    # sha256 over the loaded definition (not the YAML text): comments and layout may change,
    # a single changed word may not.
    content_hash: Mapped[str] = mapped_column(String(80))
    # The exact text that was published, so the version can be reloaded byte for byte even
    # after the file in instruments/ has moved on.
    source_text: Mapped[str] = mapped_column(Text)
    source_file: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(300))
    published_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(100))

    @property
    def label(self) -> str:
        return f"{self.instrument_key} {self.version}"
