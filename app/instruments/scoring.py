"""Compute an instrument's scores from validated answers.

Each score sums or averages the ordinal values of its items (choice scores, scale and number
values, yes = 1 / no = 0), after reversing and weighting. Missing items up to ``max_missing`` are
handled by proration (sum * items / answered) or by averaging the answered items; one more and
there is no score, with the reason. Then optional rounding, lookup (raw → e.g. T-score) and
severity band. Every result says which items it used, so an analyst can audit it.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass

from app.instruments.expressions import is_true
from app.instruments.model import Instrument, Item, Score


@dataclass(frozen=True)
class ScoreResult:
    score_id: str
    value: float | None
    raw: float | None
    band: str | None
    items_used: tuple[str, ...]
    items_missing: tuple[str, ...]
    prorated: bool
    reason: str | None = None


def item_value(item: Item, answer: object) -> float | None:
    """The ordinal value of one answer, or None when it is unanswered or not scorable."""
    if answer is None or (isinstance(answer, list | tuple | str) and item.type != "single_choice"):
        return None
    if item.type == "single_choice":
        choice = item.choice(answer)
        return None if choice is None else choice.scoring_value
    if item.type == "yes_no":
        return (1.0 if answer else 0.0) if isinstance(answer, bool) else None
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        return None
    return float(answer)


def _item_range(item: Item) -> tuple[float, float]:
    if item.scale is not None:
        return float(item.scale.minimum), float(item.scale.maximum)
    if item.type == "yes_no":
        return 0.0, 1.0
    if item.type == "single_choice":
        values = [c.scoring_value for c in item.choices if c.scoring_value is not None]
        return min(values), max(values)
    # The loader only allows reversing number items that have both bounds.
    return float(item.minimum or 0.0), float(item.maximum or 0.0)


def round_half_up(value: float, decimals: int) -> float:
    """Round as score manuals do (2.5 → 3), not as Python's round() does (2.5 → 2)."""
    quantum = decimal.Decimal(1).scaleb(-decimals)
    rounded = decimal.Decimal(repr(value)).quantize(quantum, rounding=decimal.ROUND_HALF_UP)
    return float(rounded)


def compute_score(
    instrument: Instrument, score: Score, answers: Mapping[str, object]
) -> ScoreResult:
    """One score from validated answers (item id → answer)."""

    def no_score(
        reason: str, used: tuple[str, ...] = (), missing: tuple[str, ...] = ()
    ) -> ScoreResult:
        return ScoreResult(score.id, None, None, None, used, missing, False, reason)

    if score.when is not None and not is_true(score.when.ast, answers):
        return no_score(f"condition not met: {score.when.source}")
    values: dict[str, float] = {}
    missing: list[str] = []
    for item_id in score.items:
        item = instrument.item(item_id)
        value = None if item is None else item_value(item, answers.get(item_id))
        if item is None or value is None:
            missing.append(item_id)
            continue
        if item_id in score.reverse:
            low, high = _item_range(item)
            value = low + high - value
        values[item_id] = value * score.weights.get(item_id, 1.0)
    used = tuple(values)
    if len(missing) > score.max_missing:
        allowed = "no item" if score.max_missing == 0 else f"at most {score.max_missing}"
        return no_score(
            f"{len(missing)} of {len(score.items)} items unanswered; {allowed} may be missing",
            used,
            tuple(missing),
        )
    total = 0.0
    for value in values.values():
        total += value
    prorated = bool(missing) and score.method == "sum"
    if score.method == "mean":
        raw = total / len(values)
    else:
        raw = total * len(score.items) / len(values) if missing else total
    if score.round_to is not None:
        raw = round_half_up(raw, score.round_to)
    final = raw
    if score.lookup:
        table = dict(score.lookup)
        if raw not in table:
            return ScoreResult(
                score.id, None, raw, None, used, tuple(missing), prorated,
                f"raw score {raw:g} is not in the lookup table",
            )  # fmt: skip
        final = table[raw]
    band = next((b.label for b in score.bands if b.minimum <= final <= b.maximum), None)
    return ScoreResult(score.id, final, raw, band, used, tuple(missing), prorated)


def compute_scores(instrument: Instrument, answers: Mapping[str, object]) -> dict[str, ScoreResult]:
    """Every score of the instrument, keyed by score id, in the file's order."""
    return {score.id: compute_score(instrument, score, answers) for score in instrument.scores}
