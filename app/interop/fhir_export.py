"""An instrument version as a FHIR R4 Questionnaire (SDC subset), as plain JSON data.

Stable entry point: :func:`instrument_to_questionnaire` (the data exports call it once per
instrument version). The mapping, element by element:

* the instrument: ``url`` (``CHORUS_BASE/Questionnaire/<id>``), ``version`` (our semantic
  version), ``identifier`` (the content hash, ``sha256:…``, system ``CHORUS_BASE/content-hash``),
  ``title``/``description``/``copyright``, ``language`` (the default language), ``code``;
  licence, authors, respondents, age range, recall period, languages and minutes in the
  ``instrument`` Chorus extension;
* a page: a top-level ``group`` (linkId = page id) marked with the ``page`` extension;
* an item: ``linkId`` = item id; ``text`` with the ``translation`` extension on ``_text``;
  wording that differs for another respondent type in ``respondent-text``; help as a child
  ``display`` item with itemControl ``help``; ``required``; ``code``;
* choices: ``answerOption.valueCoding`` (code = the value as text, display = label) with
  ``ordinalValue`` (the scoring value) and ``questionnaire-optionExclusive``; multiple choice is
  ``repeats: true`` with ``questionnaire-minOccurs``/``maxOccurs``;
* rating and VAS scales: ``integer`` with itemControl ``slider``, ``minValue``/``maxValue``,
  ``sliderStepValue`` 1 and end labels as child display items with itemControl ``lower``/``upper``;
* numbers: ``minValue``/``maxValue``, ``questionnaire-unit``, ``maxDecimalPlaces``; text:
  ``maxLength`` and ``regex``; yes/no is ``boolean``;
* ``show_when``: ``enableWhen`` + ``enableBehavior`` when the expression is a plain test (or an
  all-``and``/all-``or`` list of them) that FHIR can state, else the SDC
  ``enableWhenExpression`` in FHIRPath; ``constraint``: ``targetConstraint``. Our source text
  always rides along in the ``show-when`` and ``constraint`` extensions;
* scores and alerts: the ``score`` and ``alert`` Chorus extensions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.instruments.canonical import content_hash
from app.instruments.expressions import Ast, CompiledExpression
from app.instruments.model import (
    SCALE_TYPES,
    AlertRule,
    Code,
    Instrument,
    Item,
    LocalizedText,
    Page,
    Score,
    Wording,
)
from app.interop import fhir_vocabulary as v
from app.interop.fhirpath import to_fhirpath

_FHIR_TYPES = {
    "single_choice": "choice",
    "multiple_choice": "choice",
    "rating_0_10": "integer",
    "vas_0_100": "integer",
    "integer": "integer",
    "decimal": "decimal",
    "yes_no": "boolean",
    "date": "date",
    "time": "time",
    "short_text": "string",
    "long_text": "text",
    "display": "display",
}
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def questionnaire_id(instrument: Instrument) -> str:
    """A FHIR resource id (``[A-Za-z0-9-.]{1,64}``) for one instrument version."""
    return f"{instrument.id.replace('_', '-')}-{instrument.version}"[:64]


def instrument_to_questionnaire(instrument: Instrument) -> dict[str, Any]:
    """The FHIR R4 Questionnaire (JSON-ready dict) for one loaded instrument version.

    Deterministic: the same instrument always gives the same dict. Valid against the R4
    Questionnaire model (``tests/interop`` checks every library instrument with fhir.resources).
    """
    return _Exporter(instrument).questionnaire()


class _Exporter:
    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.default = instrument.default_language
        self.items = {item.id: item for item in instrument.items}

    # -- text ----------------------------------------------------------------------------

    def put_text(self, target: dict[str, Any], name: str, text: LocalizedText) -> None:
        if not text:
            return
        target[name] = text[self.default]
        extra = v.translations(text, self.default)
        if extra:
            target["_" + name] = extra

    def localized_extension(
        self, url: str, text: LocalizedText, first: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Localized text inside an extension: one ``translation`` sub-extension per language,
        the default language included (fhir.resources cannot hold ``_valueString``)."""
        parts = list(first or [])
        parts += [v.translation_entry(language, value) for language, value in text.items()]
        return v.extension(url, extension=parts)

    def put_wording(self, target: dict[str, Any], wording: Wording) -> None:
        """Shared wording as ``text``; wording that differs by respondent type puts the first
        respondent's words in ``text`` and the others in ``respondent-text``."""
        respondents = [r for r in self.instrument.respondents if r in wording]
        if not respondents:
            return
        first = wording[respondents[0]]
        self.put_text(target, "text", first)
        if all(dict(wording[r]) == dict(first) for r in respondents):
            return
        for respondent in respondents[1:]:
            entry = self.localized_extension(
                v.CHORUS_RESPONDENT_TEXT,
                wording[respondent],
                [v.extension("respondent", valueCode=respondent)],
            )
            target.setdefault("extension", []).append(entry)

    # -- the whole questionnaire ---------------------------------------------------------

    def questionnaire(self) -> dict[str, Any]:
        instrument = self.instrument
        resource: dict[str, Any] = {
            "resourceType": "Questionnaire",
            "id": questionnaire_id(instrument),
            "meta": {
                "profile": ["http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"]
            },
            "language": self.default,
            "extension": [self.instrument_extension()],
            "url": v.CHORUS_QUESTIONNAIRE + instrument.id,
            "identifier": [
                {"system": v.CHORUS_CONTENT_HASH_SYSTEM, "value": content_hash(instrument)}
            ],
            "version": instrument.version,
            "name": "".join(part.capitalize() for part in instrument.id.split("_")),
            "status": "active",
            "subjectType": ["Patient"],
        }
        self.put_text(resource, "title", instrument.title)
        self.put_text(resource, "description", instrument.description)
        resource["copyright"] = instrument.copyright
        if instrument.codes:
            resource["code"] = _codings(instrument.codes)
        resource["extension"] += [self.score_extension(s) for s in instrument.scores]
        resource["extension"] += [self.alert_extension(a) for a in instrument.alerts]
        item_ids = set(self.items)
        resource["item"] = [self.page(page, item_ids) for page in instrument.pages]
        return resource

    def instrument_extension(self) -> dict[str, Any]:
        instrument = self.instrument
        parts: list[dict[str, Any]] = [
            v.extension("language", valueCode=language) for language in instrument.languages
        ]
        parts.append(v.extension("licence", valueString=instrument.licence))
        parts += [v.extension("author", valueString=author) for author in instrument.authors]
        if instrument.co_design is not None:
            parts.append(v.extension("co-design", valueString=instrument.co_design))
        parts += [v.extension("respondent", valueCode=r) for r in instrument.respondents]
        if instrument.age_min is not None:
            parts.append(v.extension("age-min", valueInteger=instrument.age_min))
        if instrument.age_max is not None:
            parts.append(v.extension("age-max", valueInteger=instrument.age_max))
        if instrument.recall_period:
            parts.append(self.localized_extension("recall-period", instrument.recall_period))
        parts.append(v.extension("estimated-minutes", valueInteger=instrument.estimated_minutes))
        return v.extension(v.CHORUS_INSTRUMENT, extension=parts)

    def score_extension(self, score: Score) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [
            v.extension("id", valueString=score.id),
            v.extension("label", valueString=score.label),
            v.extension("method", valueCode=score.method),
        ]
        parts += [v.extension("item", valueString=item) for item in score.items]
        parts += [v.extension("reverse", valueString=item) for item in score.reverse]
        parts += [
            v.extension(
                "weight",
                extension=[
                    v.extension("item", valueString=item),
                    v.extension("value", valueDecimal=_number(weight)),
                ],
            )
            for item, weight in score.weights.items()
        ]
        parts.append(v.extension("max-missing", valueInteger=score.max_missing))
        if score.round_to is not None:
            parts.append(v.extension("round-to", valueInteger=score.round_to))
        if score.when is not None:
            parts.append(v.extension("when", valueString=score.when.source))
        parts += [
            v.extension(
                "lookup",
                extension=[
                    v.extension("raw", valueDecimal=_number(raw)),
                    v.extension("value", valueDecimal=_number(value)),
                ],
            )
            for raw, value in score.lookup
        ]
        parts += [
            v.extension(
                "band",
                extension=[
                    v.extension("min", valueDecimal=_number(band.minimum)),
                    v.extension("max", valueDecimal=_number(band.maximum)),
                    v.extension("label", valueString=band.label),
                ],
            )
            for band in score.bands
        ]
        parts += [v.extension("code", valueCoding=coding) for coding in _codings(score.codes)]
        return v.extension(v.CHORUS_SCORE, extension=parts)

    def alert_extension(self, alert: AlertRule) -> dict[str, Any]:
        return v.extension(
            v.CHORUS_ALERT,
            extension=[
                v.extension("id", valueString=alert.id),
                v.extension("when", valueString=alert.when.source),
                v.extension("severity", valueCode=alert.severity),
                v.extension("message", valueString=alert.message),
                # What the participant reads when the rule fires (issue #11), per language.
                *(
                    [self.localized_extension("participant-message", alert.participant_message)]
                    if alert.participant_message
                    else []
                ),
            ],
        )

    # -- pages and items -----------------------------------------------------------------

    def page(self, page: Page, item_ids: set[str]) -> dict[str, Any]:
        # linkIds share one namespace; a page named like an item gets a suffix (ids cannot
        # contain '.', so the suffixed name cannot collide) and keeps its id in the extension.
        link_id = page.id if page.id not in item_ids else f"{page.id}.page"
        group: dict[str, Any] = {
            "extension": [v.extension(v.CHORUS_PAGE, valueString=page.id)],
            "linkId": link_id,
            "type": "group",
        }
        self.put_text(group, "text", page.title)
        self.put_show_when(group, page.show_when)
        group["item"] = [self.item(item) for item in page.items]
        return group

    def item(self, item: Item) -> dict[str, Any]:
        entry: dict[str, Any] = {"linkId": item.id}
        self.put_wording(entry, item.text)
        entry["type"] = _FHIR_TYPES[item.type]
        if item.codes:
            entry["code"] = _codings(item.codes)
        if item.required:
            entry["required"] = True
        extensions: list[dict[str, Any]] = entry.setdefault("extension", [])
        children: list[dict[str, Any]] = []
        if item.type in SCALE_TYPES and item.scale is not None:
            extensions += [
                v.extension(v.CHORUS_ITEM_TYPE, valueCode=item.type),
                _item_control("slider"),
                v.extension(v.MIN_VALUE, valueInteger=item.scale.minimum),
                v.extension(v.MAX_VALUE, valueInteger=item.scale.maximum),
                v.extension(v.SLIDER_STEP, valueInteger=1),
            ]
            children.append(self.display_child(item.id, "lower", item.scale.minimum_label))
            children.append(self.display_child(item.id, "upper", item.scale.maximum_label))
        if item.type in ("integer", "decimal"):
            kind = "valueInteger" if item.type == "integer" else "valueDecimal"
            if item.minimum is not None:
                extensions.append(v.extension(v.MIN_VALUE, **{kind: item.minimum}))
            if item.maximum is not None:
                extensions.append(v.extension(v.MAX_VALUE, **{kind: item.maximum}))
            if item.unit:
                coding: dict[str, Any] = {}
                self.put_text(coding, "display", item.unit)
                extensions.append(v.extension(v.UNIT, valueCoding=coding))
            if item.decimals is not None:
                extensions.append(v.extension(v.MAX_DECIMAL_PLACES, valueInteger=item.decimals))
        if item.min_choices is not None:
            extensions.append(v.extension(v.MIN_OCCURS, valueInteger=item.min_choices))
        if item.max_choices is not None:
            extensions.append(v.extension(v.MAX_OCCURS, valueInteger=item.max_choices))
        if item.pattern is not None:
            extensions.append(v.extension(v.REGEX, valueString=item.pattern))
        if item.constraint is not None:
            condition = item.constraint.condition
            message = item.constraint.message
            extensions.append(
                self.localized_extension(
                    v.CHORUS_CONSTRAINT,
                    message,
                    [v.extension("condition", valueString=condition.source)],
                )
            )
            extensions.append(
                v.extension(
                    v.TARGET_CONSTRAINT,
                    extension=[
                        v.extension("key", valueId=f"{item.id.replace('_', '-')}-constraint"[:64]),
                        v.extension("severity", valueCode="error"),
                        v.extension(
                            "expression",
                            valueExpression={
                                "language": v.FHIRPATH,
                                "expression": to_fhirpath(condition.ast, self.items),
                            },
                        ),
                        v.extension("human", valueString=message[self.default]),
                    ],
                )
            )
        if item.max_length is not None:
            entry["maxLength"] = item.max_length
        if item.type == "multiple_choice":
            entry["repeats"] = True
        if item.choices:
            entry["answerOption"] = [self.answer_option(choice) for choice in item.choices]
        self.put_show_when(entry, item.show_when)
        if item.help:
            help_item = self.display_child(item.id, "help", {})
            self.put_wording(help_item, item.help)
            children.insert(0, help_item)
        if children:
            entry["item"] = children
        if not extensions:
            del entry["extension"]
        return entry

    def display_child(self, item_id: str, control: str, text: LocalizedText) -> dict[str, Any]:
        child: dict[str, Any] = {
            "extension": [_item_control(control)],
            "linkId": f"{item_id}.{control}",
        }
        self.put_text(child, "text", text)
        child["type"] = "display"
        return child

    def answer_option(self, choice: Any) -> dict[str, Any]:
        coding: dict[str, Any] = {"code": str(choice.value)}
        self.put_text(coding, "display", choice.label)
        option: dict[str, Any] = {"valueCoding": coding}
        extensions: list[dict[str, Any]] = []
        if choice.scoring_value is not None:
            extensions.append(
                v.extension(v.ORDINAL_VALUE, valueDecimal=_number(choice.scoring_value))
            )
        if choice.exclusive:
            extensions.append(v.extension(v.OPTION_EXCLUSIVE, valueBoolean=True))
        if isinstance(choice.value, str) and _WHOLE_NUMBER.fullmatch(choice.value):
            extensions.append(v.extension(v.CHORUS_TEXT_VALUE, valueBoolean=True))
        if extensions:
            option["extension"] = extensions
        return option

    # -- skip logic ----------------------------------------------------------------------

    def put_show_when(self, target: dict[str, Any], show_when: CompiledExpression | None) -> None:
        if show_when is None:
            return
        extensions = target.setdefault("extension", [])
        extensions.append(v.extension(v.CHORUS_SHOW_WHEN, valueString=show_when.source))
        plain = enable_when(show_when.ast, self.items)
        if plain is not None:
            conditions, behavior = plain
            target["enableWhen"] = conditions
            if len(conditions) > 1:
                target["enableBehavior"] = behavior
            return
        extensions.append(
            v.extension(
                v.ENABLE_WHEN_EXPRESSION,
                valueExpression={
                    "language": v.FHIRPATH,
                    "expression": to_fhirpath(show_when.ast, self.items),
                },
            )
        )


def _number(value: float) -> float | int:
    """Whole numbers written without ``.0`` (``ordinalValue: 3``, not ``3.0``)."""
    return int(value) if float(value).is_integer() else value


def _item_control(code: str) -> dict[str, Any]:
    return v.extension(
        v.ITEM_CONTROL,
        valueCodeableConcept={"coding": [{"system": v.ITEM_CONTROL_SYSTEM, "code": code}]},
    )


def _codings(codes: tuple[Code, ...]) -> list[dict[str, Any]]:
    codings: list[dict[str, Any]] = []
    for code in codes:
        coding = {"system": code.system, "code": code.code}
        if code.display is not None:
            coding["display"] = code.display
        codings.append(coding)
    return codings


def enable_when(ast: Ast, items: Mapping[str, Item]) -> tuple[list[dict[str, Any]], str] | None:
    """``(enableWhen list, enableBehavior)`` for an expression FHIR can state, else None.

    FHIR can state a single test of one earlier item against a constant, or several joined all
    by ``and`` (behavior ``all``) or all by ``or`` (``any``); ``x in [a, b]`` is an ``any`` list.
    Inequality is left to FHIRPath: our ``!=`` is true for an unanswered item, FHIR's is not.
    """
    if ast.get("op") in ("and", "or"):
        behavior = "all" if ast["op"] == "and" else "any"
        conditions: list[dict[str, Any]] = []
        for arg in ast["args"]:
            part = _condition_list(arg, items)
            if part is None or (len(part) > 1 and behavior == "all"):
                return None
            conditions += part
        return conditions, behavior
    single = _condition_list(ast, items)
    if single is None:
        return None
    return single, "any"


def _condition_list(ast: Ast, items: Mapping[str, Item]) -> list[dict[str, Any]] | None:
    operator = ast.get("op")
    args = ast.get("args", [])
    if operator == "answered":
        return [{"question": args[0]["var"], "operator": "exists", "answerBoolean": True}]
    if operator == "not" and args[0].get("op") == "answered":
        return [
            {"question": args[0]["args"][0]["var"], "operator": "exists", "answerBoolean": False}
        ]
    if operator == "in" and "var" in args[0] and "lit" in args[1]:
        item = items.get(args[0]["var"])
        values = args[1]["lit"]
        if item is None or item.type != "single_choice" or not isinstance(values, list):
            return None
        found = [_answer(item, value) for value in values]
        if not found or any(answer is None for answer in found):
            return None
        return [{"question": item.id, "operator": "=", **answer} for answer in found if answer]
    if operator == "contains" and "var" in args[0] and "lit" in args[1]:
        item = items.get(args[0]["var"])
        if item is None or item.type != "multiple_choice":
            return None
        answer = _answer(item, args[1]["lit"])
        return None if answer is None else [{"question": item.id, "operator": "=", **answer}]
    if operator in ("==", "<", "<=", ">", ">="):
        left, right = args
        if "var" not in left or "lit" not in right:
            return None
        item = items.get(left["var"])
        if item is None:
            return None
        if right["lit"] is None:
            if operator != "==":
                return None
            return [{"question": item.id, "operator": "exists", "answerBoolean": False}]
        if operator != "==" and item.type not in ("integer", "decimal", *SCALE_TYPES, "date"):
            return None  # FHIR orders numbers and dates only, never Codings
        answer = _answer(item, right["lit"])
        if answer is None:
            return None
        fhir_operator = "=" if operator == "==" else operator
        return [{"question": item.id, "operator": fhir_operator, **answer}]
    return None


def _answer(item: Item, value: object) -> dict[str, Any] | None:
    """The ``answer[x]`` of an enableWhen for ``item`` compared with the literal ``value``."""
    if item.type == "single_choice" and not isinstance(value, bool | list):
        literal: object = int(value) if isinstance(value, float) and value.is_integer() else value
        choice = item.choice(literal)
        return {"answerCoding": {"code": str(choice.value)}} if choice is not None else None
    if item.type == "multiple_choice" and isinstance(value, str | float):
        literal = int(value) if isinstance(value, float) and value.is_integer() else value
        choice = item.choice(literal)
        return {"answerCoding": {"code": str(choice.value)}} if choice is not None else None
    if item.type == "yes_no" and isinstance(value, bool):
        return {"answerBoolean": value}
    if item.type in ("integer", *SCALE_TYPES) and isinstance(value, float) and value.is_integer():
        return {"answerInteger": int(value)}
    if item.type == "decimal" and isinstance(value, float):
        return {"answerDecimal": value}
    if item.type in ("short_text", "long_text") and isinstance(value, str):
        return {"answerString": value}
    if item.type == "date" and isinstance(value, str):
        return {"answerDate": value}
    return None
