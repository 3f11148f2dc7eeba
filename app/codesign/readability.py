"""Readability of a draft's texts against the study's target, through one adapter.

``assess`` is the only caller of ``app.instruments.readability`` here: that module chooses the
formula per language and owns the rules for scoring (including which texts are too short to
score). Targets are set as a school grade; for reading-ease measures (0-100, higher is easier)
the equivalent is Flesch's table, where grade g sits at about 140 - 10 g (grade 8: 60).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from app.codesign.document import WORDING_FIELDS, TextSlot
from app.instruments import readability
from app.instruments.model import RESPONDENT_TYPES

DEFAULT_TARGET_GRADE: Final = 8.0


@dataclass(frozen=True)
class Assessment:
    measure: str | None
    value: float | None
    guidance: str
    scored: bool  # False: unsupported language or too short to score
    target: float | None  # the target in this measure's own units
    above_target: bool  # harder to read than the study's target

    @property
    def warning(self) -> bool:
        return self.above_target


def _target_in_units(measure: str, target_grade: float) -> tuple[float, bool] | None:
    """(target, higher_is_harder) for a measure, or None when no equivalent is known."""
    if "reading ease" in measure.lower():
        return 140.0 - 10.0 * target_grade, False
    if "grade" in measure.lower() or "sachtextformel" in measure.lower():
        return target_grade, True
    return None


def assess(text: str, language: str, target_grade: float) -> Assessment:
    """The one adapter to ``app.instruments.readability`` (which leaves texts too short for
    a formula unscored, with guidance saying so)."""
    name, value, guidance = readability.measure(text, language)
    if name is None or value is None:
        return Assessment(name, None, guidance, False, None, False)
    target = _target_in_units(name, target_grade)
    if target is None:
        return Assessment(name, value, guidance, True, None, False)
    limit, higher_is_harder = target
    above = value > limit if higher_is_harder else value < limit
    return Assessment(name, value, guidance, True, limit, above)


@dataclass(frozen=True)
class StringReadability:
    part: str
    path: str
    language: str
    text: str
    assessment: Assessment


@dataclass(frozen=True)
class ItemReadability:
    """An item's question and help read together, per respondent and language."""

    item_id: str
    respondent: str
    language: str
    assessment: Assessment


def strings(slots: Sequence[TextSlot], target_grade: float) -> list[StringReadability]:
    return [
        StringReadability(
            slot.part, slot.path, language, text, assess(text, language, target_grade)
        )
        for slot in slots
        for language, text in slot.texts.items()
    ]


def items(
    item_parts: Sequence[tuple[str, Mapping[str, Any]]],
    respondent_types: Sequence[str],
    languages: Sequence[str],
    target_grade: float,
) -> list[ItemReadability]:
    report = []
    for item_id, item in item_parts:
        for respondent in respondent_types:
            for language in languages:
                parts = [_wording(item.get(key), respondent, language) for key in WORDING_FIELDS]
                text = " ".join(part for part in parts if part)
                if text:
                    report.append(
                        ItemReadability(
                            item_id, respondent, language, assess(text, language, target_grade)
                        )
                    )
    return report


def _wording(raw: object, respondent: str, language: str) -> str | None:
    if isinstance(raw, dict) and raw and set(raw) <= set(RESPONDENT_TYPES):
        raw = raw.get(respondent)
    if isinstance(raw, dict):
        value = raw.get(language)
        return value if isinstance(value, str) else None
    return None
