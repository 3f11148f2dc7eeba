"""What the co-design pages show beside the co-design services' own results: people's names,
the published versions to start from, a draft's review steps and the instruments a study can
diff or get feedback on. Read-only; the callers have already passed the co-design access
check for the study (``app.codesign.service``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.codesign import service as codesign
from app.codesign.models import Draft, Transition
from app.library.models import InstrumentVersion
from app.studies.models import Study


def staff_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(wanted))
    )
    return {row.id: row.display_name for row in rows}


def published_versions(session: Session) -> list[InstrumentVersion]:
    """Every published version (the library is shared by all studies), newest key order."""
    return list(
        session.scalars(
            select(InstrumentVersion).order_by(
                InstrumentVersion.instrument_key, InstrumentVersion.id
            )
        )
    )


def transitions(session: Session, user: StaffUser, draft_id: int) -> list[Transition]:
    """The draft's review steps, oldest first (who moved it, when, with which note)."""
    codesign.get_draft(session, user, draft_id)  # the access check
    return list(
        session.scalars(
            select(Transition).where(Transition.draft_id == draft_id).order_by(Transition.id)
        )
    )


def instrument_keys(session: Session, study: Study) -> list[str]:
    """Instruments with a published version or a draft in this study, by name."""
    published = session.scalars(select(InstrumentVersion.instrument_key).distinct())
    drafted = session.scalars(
        select(Draft.instrument_key).where(Draft.study_id == study.id).distinct()
    )
    return sorted({*published, *drafted})
