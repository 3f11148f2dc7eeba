"""Helpers shared by the participant tests."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import Base
from app.library.models import InstrumentVersion
from app.library.service import publish_paths

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"


def stored_text(session: Session) -> str:
    """Every value in every table, as one string: for "this secret is nowhere" checks."""
    session.expire_all()
    parts = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(sa.select(table)):
            parts.extend(repr(value) for value in row)
    return "\n".join(parts)


def publish_library(session: Session) -> dict[str, InstrumentVersion]:
    publish_paths(session, [LIBRARY], actor="test")
    session.commit()
    return {row.instrument_key: row for row in session.scalars(sa.select(InstrumentVersion))}


def count(session: Session, model: type) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)
