"""Export history: who exported what, when, under which profile, with which checksum.

Progress lives on the row too (``responses_done`` out of ``responses_total``, counted once
per pass over the data), updated every few seconds while the ZIP streams, so any web worker
can show it.

An export that stops on an error ends "failed" with a ``failure`` code (never an error
message, which could quote data); the process running it refreshes ``heartbeat_at`` while it
lives, so one that crashed or was killed is found and marked "failed" ("abandoned") too.
"incomplete" is left for a download its receiver stopped reading."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class ExportRecord(Base):
    __tablename__ = "export_records"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'completed', 'incomplete', 'failed')",
            name="known_export_status",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="RESTRICT"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None
    )
    channel: Mapped[str] = mapped_column(String(16))  # api | cli | web
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    profile: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")
    responses: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    progress_done: Mapped[int] = mapped_column(default=0)
    zip_bytes: Mapped[int | None] = mapped_column(default=None)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    failure: Mapped[str | None] = mapped_column(String(32), default=None)  # service.FAILURES
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(default=None)
