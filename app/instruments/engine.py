"""Validate a set of answers against an instrument version and a respondent type.

This is what the submission path runs before sealing a response (and what the PWA mirrors).
Visibility is worked out in document order from the answers themselves, so the server never
trusts the phone's idea of which questions were shown.

Hidden-answer rule: an answer to an item that is hidden by skip logic is **dropped**, and its id
is listed in ``ValidationResult.dropped``. Rejecting instead would fail a whole submission when a
participant answered a question, went back, and changed an earlier answer that hides it — the
phone may have kept the stale answer offline, and the participant did nothing wrong. Dropping
matches ODK's "non-relevant values are cleared". Hidden items never count as required, and
later skip logic sees a dropped answer as unanswered.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from app.instruments.expressions import JS_WHITESPACE, is_true
from app.instruments.model import RESPONDENT_TYPES, TEXT_MAX_LENGTH_DEFAULTS, Instrument, Item
from app.instruments.patterns import full_match

_WHOLE_NUMBER_TYPES: Final = ("rating_0_10", "vas_0_100", "integer")
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Stable error codes the API and the PWA can switch on; messages are for people.
ERROR_CODES: Final = (
    "respondent_not_allowed",
    "unknown_item",
    "not_answerable",
    "required",
    "wrong_type",
    "out_of_range",
    "not_a_choice",
    "duplicate_choice",
    "too_few_choices",
    "too_many_choices",
    "exclusive_choice",
    "too_many_decimals",
    "too_long",
    "pattern",
    "invalid_date",
    "invalid_time",
    "constraint",
)


@dataclass(frozen=True)
class ItemError:
    item_id: str | None
    code: str
    message: str


@dataclass(frozen=True)
class ValidationResult:
    """``answers`` holds only visible, answered items, normalised (blank text becomes absent)."""

    answers: Mapping[str, object]
    errors: tuple[ItemError, ...]
    dropped: tuple[str, ...]
    visible: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip(JS_WHITESPACE) == ""
    if isinstance(value, list | tuple):
        return len(value) == 0
    return False


def _is_integer(value: object) -> bool:
    """A whole number; ``2.0`` counts, as it does for the phone (JavaScript has one number type
    and JSON does not tell 2 from 2.0), and is stored as ``2``."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float is no answer we accept
        return False


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_answer(item: Item, value: object, language: str = "en") -> list[ItemError]:
    """Domain errors for one non-blank answer to ``item`` (no skip logic, no required)."""

    def error(code: str, message: str) -> list[ItemError]:
        return [ItemError(item.id, code, message)]

    kind = item.type
    if kind == "display":
        return error("not_answerable", "a display item takes no answer")
    if kind == "single_choice":
        if item.choice(value) is None:
            return error("not_a_choice", f"{value!r} is not one of the item's choices")
        return []
    if kind == "multiple_choice":
        return _check_multiple_choice(item, value)
    if kind in ("rating_0_10", "vas_0_100", "integer"):
        if not _is_finite_number(value) or not _is_integer(value):
            return error("wrong_type", "expected a whole number")
        assert isinstance(value, int | float)
        return _check_range(item, value)
    if kind == "decimal":
        if not _is_finite_number(value):
            return error("wrong_type", "expected a number")
        assert isinstance(value, int | float)
        too_precise = isinstance(value, float) and item.decimals is not None
        if too_precise and round(value, item.decimals) != value:
            return error(
                "too_many_decimals", f"at most {item.decimals} digits after the decimal point"
            )
        return _check_range(item, value)
    if kind == "yes_no":
        return [] if isinstance(value, bool) else error("wrong_type", "expected true or false")
    if kind == "date":
        if not (isinstance(value, str) and _DATE.fullmatch(value)):
            return error("invalid_date", "expected a date as YYYY-MM-DD")
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return error("invalid_date", f"{value} is not a calendar date")
        return []
    if kind == "time":
        if not (isinstance(value, str) and _TIME.fullmatch(value)):
            return error("invalid_time", "expected a time as HH:MM (24-hour)")
        return []
    # short_text and long_text
    if not isinstance(value, str):
        return error("wrong_type", "expected text")
    limit = item.max_length or TEXT_MAX_LENGTH_DEFAULTS[kind]
    if len(value) > limit:
        return error("too_long", f"at most {limit} characters")
    if item.pattern is not None and not full_match(item.pattern, value):
        return error("pattern", "does not have the expected form")
    return []


def _check_range(item: Item, value: float) -> list[ItemError]:
    if item.scale is not None:
        low: float | None = item.scale.minimum
        high: float | None = item.scale.maximum
    else:
        low, high = item.minimum, item.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bounds = f"from {_format_number(low)} to {_format_number(high)}"
        elif low is not None:
            bounds = f"at least {_format_number(low)}"
        else:
            bounds = f"at most {_format_number(high or 0)}"
        return [ItemError(item.id, "out_of_range", f"{_format_number(value)} is not {bounds}")]
    return []


def _check_multiple_choice(item: Item, value: object) -> list[ItemError]:
    def error(code: str, message: str) -> list[ItemError]:
        return [ItemError(item.id, code, message)]

    if not isinstance(value, list | tuple):
        return error("wrong_type", "expected a list of choices")
    chosen = []
    for member in value:
        choice = item.choice(member)
        if choice is None:
            return error("not_a_choice", f"{member!r} is not one of the item's choices")
        if choice in chosen:
            return error("duplicate_choice", f"{member!r} is chosen twice")
        chosen.append(choice)
    if len(chosen) > 1 and any(choice.exclusive for choice in chosen):
        return error("exclusive_choice", "an exclusive choice cannot be combined with others")
    if item.min_choices is not None and len(chosen) < item.min_choices:
        return error("too_few_choices", f"choose at least {item.min_choices}")
    if item.max_choices is not None and len(chosen) > item.max_choices:
        return error("too_many_choices", f"choose at most {item.max_choices}")
    return []


def validate_answers(
    instrument: Instrument, answers: Mapping[str, object], respondent: str, language: str = ""
) -> ValidationResult:
    """Apply skip logic, required and domain checks; see the module docstring for hidden items.

    ``language`` picks the language of constraint messages (default: the instrument's).
    """
    language = language if language in instrument.languages else instrument.default_language
    errors: list[ItemError] = []
    if respondent not in RESPONDENT_TYPES or respondent not in instrument.respondents:
        allowed = ", ".join(instrument.respondents)
        errors.append(
            ItemError(
                None,
                "respondent_not_allowed",
                f"respondent {respondent!r} cannot answer this instrument (allowed: {allowed})",
            )
        )
        return ValidationResult({}, tuple(errors), (), ())
    known = {item.id: item for item in instrument.items}
    for item_id in answers:
        if item_id not in known:
            errors.append(ItemError(item_id, "unknown_item", "no such item in this instrument"))

    # What skip logic sees: answers accepted so far, plus who is answering.
    seen: dict[str, object] = {"respondent": respondent}
    clean: dict[str, object] = {}
    dropped: list[str] = []
    visible: list[str] = []
    for page in instrument.pages:
        page_visible = page.show_when is None or is_true(page.show_when.ast, seen)
        for item in page.items:
            value = answers.get(item.id)
            blank = _is_blank(value)
            shown = page_visible and (item.show_when is None or is_true(item.show_when.ast, seen))
            if not shown:
                if not blank:
                    dropped.append(item.id)
                continue
            visible.append(item.id)
            if blank:
                if item.required:
                    errors.append(ItemError(item.id, "required", "an answer is required"))
                continue
            item_errors = check_answer(item, value, language)
            if item_errors:
                errors.extend(item_errors)
                continue
            if item.constraint is not None and not is_true(
                item.constraint.condition.ast, {**seen, item.id: value}
            ):
                message = item.constraint.message.get(
                    language, item.constraint.message.get(instrument.default_language, "")
                )
                errors.append(ItemError(item.id, "constraint", message))
                continue
            stored = list(value) if isinstance(value, tuple) else value
            if isinstance(stored, float) and item.type in _WHOLE_NUMBER_TYPES:
                stored = int(stored)
            clean[item.id] = stored
            seen[item.id] = stored
    return ValidationResult(clean, tuple(errors), tuple(dropped), tuple(visible))
