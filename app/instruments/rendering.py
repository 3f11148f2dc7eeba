"""Render an instrument version for one language and respondent type, as the phone receives it.

The result is plain JSON: only the chosen language's strings (falling back to the default
language string by string), only the chosen respondent's wording, and skip logic and constraints
as compiled ASTs that ``frontend/js/expressions.js`` evaluates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.instruments.canonical import content_hash
from app.instruments.model import Instrument, Item, LocalizedText, Score, Wording


class RenderError(ValueError):
    """The instrument cannot be rendered for that language or respondent type."""


def _pick(text: LocalizedText, language: str, default_language: str) -> str | None:
    if not text:
        return None
    return text.get(language) or text.get(default_language)


def _pick_wording(
    wording: Wording, respondent: str, language: str, default_language: str
) -> str | None:
    return _pick(wording.get(respondent, {}), language, default_language)


def _render_item(item: Item, language: str, respondent: str, default: str) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "id": item.id,
        "type": item.type,
        "text": _pick_wording(item.text, respondent, language, default),
        "help": _pick_wording(item.help, respondent, language, default),
        "required": item.required,
        "show_when": item.show_when.ast if item.show_when else None,
    }
    if item.choices:
        rendered["choices"] = [
            {
                "value": choice.value,
                "label": _pick(choice.label, language, default),
                "exclusive": choice.exclusive,
                "score": choice.scoring_value,
            }
            for choice in item.choices
        ]
    if item.scale is not None:
        rendered["scale"] = {
            "min": item.scale.minimum,
            "max": item.scale.maximum,
            "min_label": _pick(item.scale.minimum_label, language, default),
            "max_label": _pick(item.scale.maximum_label, language, default),
        }
    optional: Mapping[str, object] = {
        "min": item.minimum,
        "max": item.maximum,
        "unit": _pick(item.unit, language, default),
        "decimals": item.decimals,
        "min_choices": item.min_choices,
        "max_choices": item.max_choices,
        "max_length": item.max_length,
        "pattern": item.pattern,
    }
    rendered.update({key: value for key, value in optional.items() if value is not None})
    if item.constraint is not None:
        rendered["constraint"] = {
            "condition": item.constraint.condition.ast,
            "message": _pick(item.constraint.message, language, default),
        }
    return rendered


def _render_score(score: Score) -> dict[str, Any]:
    """What the phone needs to compute a score as ``app.instruments.scoring`` does, for the
    participant's own trend chart (the server cannot give scores back: they are sealed).
    Bands are left out: they are clinical labels for the study team, not for the phone."""
    return {
        "id": score.id,
        "label": score.label,
        "method": score.method,
        "items": list(score.items),
        "reverse": list(score.reverse),
        "weights": dict(score.weights),
        "max_missing": score.max_missing,
        "round_to": score.round_to,
        "when": score.when.ast if score.when else None,
        "lookup": [list(pair) for pair in score.lookup],
    }


def _safety_language(text: LocalizedText, reader: str, shown: str, default: str) -> str | None:
    for candidate in (reader, reader.split("-")[0], shown, default, "en"):
        if candidate in text:
            return candidate
    return next(iter(text), None)


def render_instrument(
    instrument: Instrument, language: str, respondent: str, reader_language: str = ""
) -> dict[str, Any]:
    """The JSON the PWA gets for one (language, respondent) pair.

    ``reader_language`` (default: ``language``) picks the safety messages' language: they are
    written in the app's languages even when the questionnaire itself is not translated."""
    if respondent not in instrument.respondents:
        raise RenderError(
            f"instrument '{instrument.id}' is not answered by {respondent!r} "
            f"(respondents: {', '.join(instrument.respondents)})"
        )
    if language not in instrument.languages:
        raise RenderError(
            f"instrument '{instrument.id}' has no language {language!r} "
            f"(languages: {', '.join(instrument.languages)})"
        )
    default = instrument.default_language
    return {
        "id": instrument.id,
        "version": instrument.version,
        "content_hash": content_hash(instrument),
        "language": language,
        "respondent": respondent,
        "title": _pick(instrument.title, language, default),
        "description": _pick(instrument.description, language, default),
        "recall_period": _pick(instrument.recall_period, language, default),
        "estimated_minutes": instrument.estimated_minutes,
        "copyright": instrument.copyright,
        "pages": [
            {
                "id": page.id,
                "title": _pick(page.title, language, default),
                "show_when": page.show_when.ast if page.show_when else None,
                "items": [_render_item(item, language, respondent, default) for item in page.items],
            }
            for page in instrument.pages
        ],
        "scores": [_render_score(score) for score in instrument.scores],
        # Alert rules with a message for the participant, evaluated by the phone over the
        # answers and its own scores, so the message shows even while the answers wait offline.
        "safety": [
            {
                "id": rule.id,
                "when": rule.when.ast,
                "message": rule.participant_message[chosen],
                "language": chosen,
            }
            for rule in instrument.alerts
            if rule.participant_message
            and (
                chosen := _safety_language(
                    rule.participant_message, reader_language or language, language, default
                )
            )
        ],
    }
