"""Checks on what a phone says about a response besides its answers (issue #10, item 6).

Kept apart from `service.submit` (which calls them before anything is stored) so the rules read
in one place: the language must be one the instrument is published in (it is stored in clear,
so free text there would be a side channel), and the times must be plausible.
"""

from __future__ import annotations

import datetime as dt

from app.errors import Invalid
from app.instruments.model import Instrument

# A phone's clock may run a little fast; an answer cannot be finished further in the future.
CLOCK_SKEW: dt.timedelta = dt.timedelta(minutes=10)
# An offline phone may hold answers for months; older than this is a broken clock or a forgery.
OLDEST: dt.timedelta = dt.timedelta(days=400)


def check_submission(
    instrument: Instrument,
    *,
    language: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    now: dt.datetime,
) -> None:
    errors: dict[str, list[str]] = {}
    if language not in instrument.languages:
        errors["language"] = [
            f"Use one of the languages this questionnaire is published in:"
            f" {', '.join(instrument.languages)}."
        ]
    if finished_at > now + CLOCK_SKEW:
        errors["finished_at"] = ["The answers cannot be finished in the future."]
    elif finished_at < now - OLDEST:
        errors["finished_at"] = [
            f"The answers were finished more than {OLDEST.days} days ago; check the phone's clock."
        ]
    if started_at > finished_at:
        errors["started_at"] = ["The questionnaire cannot start after it was finished."]
    elif finished_at - started_at > OLDEST:
        errors["started_at"] = [f"A questionnaire cannot take more than {OLDEST.days} days."]
    if errors:
        raise Invalid(errors=errors)
