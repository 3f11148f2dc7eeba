"""Which readers of a study would get a questionnaire in another language than their own (#11).

A French or Arabic participant (or a caregiver, who reads a child's questionnaire) gets an
instrument in its default language when it has no text in theirs. Staff are told when they
schedule it, with who is affected, so they can find a translation or warn the families; the
phone says so too. Plain functions over a session.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.instruments.model import Instrument
from app.participants.models import Caregiver, CaregiverLink, Participant, ParticipantStatus
from app.studies.models import Study

_SELF_BANDS = ("adult", "adolescent")
_PROXY_BANDS = ("child", "adolescent")


@dataclass(frozen=True)
class LanguageGap:
    language: str  # the readers' language, e.g. 'fr'
    readers: int  # how many participants (self) or caregivers (proxy) read it
    shown_in: str  # the language they will get instead

    def message(self, label: str) -> str:
        who = "reader" if self.readers == 1 else "readers"
        return (
            f"{label} has no '{self.language}' text: {self.readers} {who} in '{self.language}' "
            f"will get it in '{self.shown_in}'."
        )


def _shown_language(instrument: Instrument, wanted: str) -> str | None:
    for candidate in (wanted, wanted.split("-")[0]):
        if candidate in instrument.languages:
            return candidate
    return None


def language_gaps(
    session: Session, study: Study, instrument: Instrument, respondent: str
) -> list[LanguageGap]:
    """Languages of the study's active readers for ``respondent`` ('self', 'proxy' or 'both')
    that the instrument lacks, most readers first."""
    readers: Counter[str] = Counter()
    active = Participant.status != ParticipantStatus.WITHDRAWN
    if respondent in ("self", "both"):
        readers.update(
            session.scalars(
                select(Participant.language).where(
                    Participant.study_id == study.id, active, Participant.age_band.in_(_SELF_BANDS)
                )
            )
        )
    if respondent in ("proxy", "both"):
        caregivers = session.execute(
            select(Caregiver.id, Caregiver.language)
            .join(CaregiverLink, CaregiverLink.caregiver_id == Caregiver.id)
            .join(Participant, Participant.id == CaregiverLink.participant_id)
            .where(
                Participant.study_id == study.id,
                active,
                Participant.age_band.in_(_PROXY_BANDS),
                CaregiverLink.ended_at.is_(None),
            )
            .distinct()
        )
        readers.update(language for _, language in caregivers)
    gaps = [
        LanguageGap(language, count, instrument.default_language)
        for language, count in readers.items()
        if _shown_language(instrument, language) is None
    ]
    return sorted(gaps, key=lambda gap: (-gap.readers, gap.language))
