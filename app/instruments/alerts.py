"""Evaluate an instrument's alert rules for site staff (e.g. PHQ-9 item 9 above zero).

Rules see the validated answers and the computed scores by id, so a rule can say
``total >= 20`` as well as ``phq9_9 > 0``. Alerts are metadata kept in clear (see design.md):
the rule id, severity and staff message, never the answers themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.instruments.expressions import is_true
from app.instruments.model import Instrument
from app.instruments.scoring import ScoreResult


@dataclass(frozen=True)
class RaisedAlert:
    rule_id: str
    severity: str
    message: str


def evaluate_alerts(
    instrument: Instrument,
    answers: Mapping[str, object],
    scores: Mapping[str, ScoreResult] | None = None,
    respondent: str | None = None,
) -> tuple[RaisedAlert, ...]:
    """The alert rules whose condition is true, in the file's order."""
    environment: dict[str, object] = dict(answers)
    for score_id, result in (scores or {}).items():
        environment[score_id] = result.value
    if respondent is not None:
        environment["respondent"] = respondent
    return tuple(
        RaisedAlert(rule.id, rule.severity, rule.message)
        for rule in instrument.alerts
        if is_true(rule.when.ast, environment)
    )
