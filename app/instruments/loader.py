"""Read instrument YAML files into the model, reporting every problem at once.

A patient-group author fixing a file wants the whole list, not one error per run, so nothing
here stops at the first problem: each check records a :class:`Problem` (file, item id, field,
message) and carries on with what it can. Missing translations are warnings, not errors: the
phone falls back to the default language, and the author is told where.

Public API: :func:`load_instrument`, :func:`parse_instrument`, :func:`check_paths`.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from app.instruments.expressions import (
    KEYWORDS,
    RESERVED_NAMES,
    CompiledExpression,
    ExpressionError,
    compile_expression,
)
from app.instruments.model import (
    ALERT_SEVERITIES,
    CHOICE_TYPES,
    ITEM_TYPES,
    NUMBER_TYPES,
    RESPONDENT_TYPES,
    SCALE_DEFAULTS,
    SCALE_TYPES,
    SCORE_METHODS,
    AlertRule,
    Band,
    Choice,
    Code,
    Constraint,
    Instrument,
    Item,
    Page,
    Scale,
    Score,
)
from app.instruments.patterns import PatternError, compile_pattern

INSTRUMENT_FIELDS: Final = {
    "id": True,
    "version": True,
    "title": True,
    "description": False,
    "languages": True,
    "default_language": True,
    "licence": True,
    "copyright": True,
    "authors": True,
    "co_design": False,
    "respondents": True,
    "age_range": False,
    "codes": False,
    "recall_period": False,
    "estimated_minutes": True,
    "choice_sets": False,
    "pages": True,
    "scores": False,
    "alerts": False,
}  # field → required
COMMON_ITEM_FIELDS: Final = ("id", "type", "text", "help", "required", "show_when", "codes")
TYPE_ITEM_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "single_choice": ("choices", "constraint"),
    "multiple_choice": ("choices", "min_choices", "max_choices", "constraint"),
    "rating_0_10": ("scale", "constraint"),
    "vas_0_100": ("scale", "constraint"),
    "integer": ("min", "max", "unit", "constraint"),
    "decimal": ("min", "max", "unit", "decimals", "constraint"),
    "yes_no": ("constraint",),
    "date": ("constraint",),
    "time": ("constraint",),
    "short_text": ("max_length", "pattern", "constraint"),
    "long_text": ("max_length", "constraint"),
    "display": (),
}
SCORE_FIELDS: Final = (
    "id",
    "label",
    "method",
    "items",
    "reverse",
    "weights",
    "max_missing",
    "round_to",
    "when",
    "lookup",
    "bands",
    "codes",
)

_INSTRUMENT_ID = re.compile(r"[a-z][a-z0-9_]*")
_ITEM_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEMANTIC_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or, with ``severity='warning'``, worth knowing) about a file."""

    file: str
    item_id: str | None
    field: str
    message: str
    severity: str = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = f"{self.file}: " + (f"item '{self.item_id}': " if self.item_id else "")
        return where + ("warning: " if not self.is_error else "") + self.message


class InstrumentLoadError(ValueError):
    """A file could not be loaded; ``problems`` holds every error (and warning) found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        errors = [str(problem) for problem in problems if problem.is_error]
        super().__init__("\n".join(errors))


class _StrictYamlLoader(yaml.SafeLoader):
    """YAML 1.1 turns ``no``/``on``/``yes`` into booleans and ``2024-01-01`` into a date; in a
    questionnaire those are language codes, choice values and text. Only true/false are booleans,
    and a key given twice is an error instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # the base class reports unhashable keys itself
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


_StrictYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, pattern)
        for tag, pattern in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: object) -> str:
    """A value as it would be written in the YAML file."""
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


class _FileChecker:
    """Walks one parsed YAML document, building the model and collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.languages: tuple[str, ...] = ("en",)
        self.default_language = "en"
        self.respondents: tuple[str, ...] = RESPONDENT_TYPES
        self.choice_sets: dict[str, tuple[Choice, ...]] = {}

    # -- recording -------------------------------------------------------------------------

    def error(self, field: str, message: str, item_id: str | None = None) -> None:
        self.problems.append(Problem(self.file, item_id, field, message))

    def warn(self, field: str, message: str, item_id: str | None = None) -> None:
        self.problems.append(Problem(self.file, item_id, field, message, "warning"))

    # -- generic shapes --------------------------------------------------------------------

    def mapping(
        self,
        raw: object,
        field: str,
        allowed: Iterable[str],
        required: Iterable[str],
        item_id: str | None = None,
        label: str = "",
    ) -> dict[str, Any] | None:
        """Check that ``raw`` is a mapping with only ``allowed`` keys and every ``required`` one."""
        prefix = f"{label}: " if label else ""
        if not isinstance(raw, dict):
            self.error(field, f"{prefix}expected a mapping of fields, found {_show(raw)}", item_id)
            return None
        allowed_list = list(allowed)
        for key in raw:
            if key not in allowed_list:
                close = difflib.get_close_matches(str(key), allowed_list, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.error(f"{field}.{key}", f"{prefix}unknown field '{key}'{hint}", item_id)
        for key in required:
            if raw.get(key) is None:
                self.error(f"{field}.{key}", f"{prefix}missing required field '{key}'", item_id)
        return raw

    def text(self, raw: object, field: str, item_id: str | None = None) -> str | None:
        if isinstance(raw, str) and raw.strip():
            return raw.strip()
        self.error(field, f"{field}: expected non-empty text, found {_show(raw)}", item_id)
        return None

    def localized(
        self, raw: object, field: str, item_id: str | None = None, required: bool = True
    ) -> dict[str, str]:
        """Participant-visible text: a string (default language) or language → string."""
        if raw is None:
            if required:
                self.error(field, f"missing required field '{field}'", item_id)
            return {}
        if isinstance(raw, str):
            raw = {self.default_language: raw}
        if not isinstance(raw, dict):
            self.error(
                field, f"{field}: expected text or language → text, found {_show(raw)}", item_id
            )
            return {}
        texts: dict[str, str] = {}
        for language, value in raw.items():
            if language not in self.languages:
                self.error(
                    f"{field}.{language}",
                    f"{field}: language {_show(language)} is not one of the instrument's "
                    f"languages ({', '.join(self.languages)})",
                    item_id,
                )
                continue
            if not isinstance(value, str) or not value.strip():
                self.error(
                    f"{field}.{language}",
                    f"{field}.{language}: expected non-empty text, found {_show(value)}",
                    item_id,
                )
                continue
            texts[language] = value.strip()
        if texts and self.default_language not in texts:
            self.error(
                field,
                f"{field}: no text in the default language '{self.default_language}'",
                item_id,
            )
        elif texts:
            for language in self.languages:
                if language not in texts:
                    self.warn(
                        field,
                        f"{field}: no '{language}' text; '{language}' readers will see the "
                        f"'{self.default_language}' text",
                        item_id,
                    )
        return texts

    def any_language_text(self, raw: object, field: str, label: str) -> dict[str, str]:
        """language → text in any language (not only the instrument's), the default included."""
        if raw is None:
            return {}
        if not isinstance(raw, dict) or not raw:
            self.error(field, f"{label}: {field}: expected language → text, found {_show(raw)}")
            return {}
        texts: dict[str, str] = {}
        for language, value in raw.items():
            if not (isinstance(language, str) and _LANGUAGE.fullmatch(language)):
                self.error(field, f"{label}: {field}: {_show(language)} is not a language code")
            elif not isinstance(value, str) or not value.strip():
                self.error(
                    field,
                    f"{label}: {field}.{language}: expected non-empty text, found {_show(value)}",
                )
            else:
                texts[language] = value.strip()
        if texts and self.default_language not in texts:
            self.error(
                field,
                f"{label}: {field}: no text in the default language '{self.default_language}'",
            )
        return texts

    def wording(
        self, raw: object, field: str, item_id: str | None = None, required: bool = True
    ) -> dict[str, dict[str, str]]:
        """Text that may differ by respondent: ``{self: ..., proxy: ...}`` or shared text."""
        per_respondent = isinstance(raw, dict) and raw and set(raw) <= set(RESPONDENT_TYPES)
        if not per_respondent:
            shared = self.localized(raw, field, item_id, required)
            return {respondent: shared for respondent in self.respondents} if shared else {}
        assert isinstance(raw, dict)
        wording: dict[str, dict[str, str]] = {}
        for respondent in RESPONDENT_TYPES:
            if respondent in raw and respondent not in self.respondents:
                self.error(
                    f"{field}.{respondent}",
                    f"{field}: has {respondent} wording, but the instrument's respondents are "
                    f"{', '.join(self.respondents)}",
                    item_id,
                )
            elif respondent in raw:
                wording[respondent] = self.localized(
                    raw[respondent], f"{field}.{respondent}", item_id
                )
            elif respondent in self.respondents:
                self.error(
                    f"{field}.{respondent}",
                    f"{field}: no {respondent} wording, but the instrument is answered by "
                    f"{respondent}",
                    item_id,
                )
        return wording

    def expression(
        self,
        raw: object,
        field: str,
        known: Iterable[str],
        item_id: str | None = None,
        earlier: set[str] | None = None,
    ) -> CompiledExpression | None:
        if not isinstance(raw, str):
            self.error(field, f"{field}: expected an expression, found {_show(raw)}", item_id)
            return None
        try:
            compiled = compile_expression(raw, known)
        except ExpressionError as error:
            self.error(field, f"{field}: {error}", item_id)
            return None
        if earlier is not None:
            # Skip logic may only look back: it keeps visibility a single pass in document
            # order and makes cycles (a shows b shows a) impossible.
            for name in compiled.names:
                if name not in earlier and name not in RESERVED_NAMES:
                    self.error(
                        field,
                        f"{field}: '{name}' is not an earlier item; skip logic may only refer to "
                        "items before it",
                        item_id,
                    )
                    return None
        return compiled

    def codes(self, raw: object, field: str, item_id: str | None = None) -> tuple[Code, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error(field, f"{field}: expected a list of codes, found {_show(raw)}", item_id)
            return ()
        codes: list[Code] = []
        for index, entry in enumerate(raw):
            where = f"{field}[{index}]"
            fields = self.mapping(
                entry, where, ("system", "code", "display"), ("system", "code"), item_id, where
            )
            if fields is None or fields.get("system") is None or fields.get("code") is None:
                continue
            display = fields.get("display")
            codes.append(
                Code(
                    str(fields["system"]),
                    str(fields["code"]),
                    None if display is None else str(display),
                )
            )
        return tuple(codes)

    def positive_integer(
        self, raw: object, field: str, item_id: str | None = None, allow_zero: bool = False
    ) -> int | None:
        if raw is None:
            return None
        if not _is_integer(raw) or raw < (0 if allow_zero else 1):  # type: ignore[operator]
            kind = "a whole number of 0 or more" if allow_zero else "a whole number of 1 or more"
            self.error(field, f"{field}: expected {kind}, found {_show(raw)}", item_id)
            return None
        assert isinstance(raw, int)
        return raw

    # -- the instrument --------------------------------------------------------------------

    def instrument(self, document: object) -> Instrument | None:
        fields = self.mapping(
            document,
            "instrument",
            INSTRUMENT_FIELDS,
            [name for name, required in INSTRUMENT_FIELDS.items() if required],
        )
        if fields is None:
            return None
        self.read_languages(fields)
        self.read_respondents(fields)

        instrument_id = fields.get("id")
        if instrument_id is not None and not (
            isinstance(instrument_id, str) and _INSTRUMENT_ID.fullmatch(instrument_id)
        ):
            self.error(
                "id",
                f"id: {_show(instrument_id)} must be lower case letters, digits "
                "and _ , starting with a letter",
            )
        version = fields.get("version")
        if version is not None and not (
            isinstance(version, str) and _SEMANTIC_VERSION.fullmatch(version)
        ):
            self.error(
                "version",
                f"version: {_show(version)} is not a semantic version "
                "MAJOR.MINOR.PATCH such as '1.0.0' (quote it in YAML)",
            )
        title = self.localized(fields.get("title"), "title", required=False)
        description = self.localized(fields.get("description"), "description", required=False)
        recall_period = self.localized(fields.get("recall_period"), "recall_period", required=False)
        for name in ("licence", "copyright"):
            if fields.get(name) is not None:
                self.text(fields[name], name)
        authors = fields.get("authors")
        if authors is not None and not (
            isinstance(authors, list)
            and authors
            and all(isinstance(a, str) and a.strip() for a in authors)
        ):
            self.error("authors", "authors: expected a non-empty list of names")
            authors = None
        co_design = fields.get("co_design")
        if co_design is not None:
            co_design = self.text(co_design, "co_design")
        age_min, age_max = self.read_age_range(fields.get("age_range"))
        minutes = self.positive_integer(fields.get("estimated_minutes"), "estimated_minutes")
        self.read_choice_sets(fields.get("choice_sets"))
        pages = self.read_pages(fields.get("pages"))
        item_ids = [item.id for page in pages for item in page.items]
        items = {item.id: item for page in pages for item in page.items}
        scores = self.read_scores(fields.get("scores"), items)
        score_ids = [score.id for score in scores]
        alerts = self.read_alerts(fields.get("alerts"), [*item_ids, *score_ids])
        codes = self.codes(fields.get("codes"), "codes")

        if any(problem.is_error for problem in self.problems):
            return None
        assert isinstance(instrument_id, str) and isinstance(version, str)
        assert isinstance(authors, list) and minutes is not None
        return Instrument(
            id=instrument_id,
            version=version,
            title=title,
            description=description,
            languages=self.languages,
            default_language=self.default_language,
            licence=str(fields["licence"]).strip(),
            copyright=str(fields["copyright"]).strip(),
            authors=tuple(author.strip() for author in authors),
            co_design=co_design,
            respondents=self.respondents,
            age_min=age_min,
            age_max=age_max,
            recall_period=recall_period,
            estimated_minutes=minutes,
            pages=pages,
            scores=scores,
            alerts=alerts,
            codes=codes,
        )

    def read_languages(self, fields: Mapping[str, Any]) -> None:
        languages = fields.get("languages")
        if languages is None:
            return
        if not (isinstance(languages, list) and languages):
            self.error(
                "languages",
                f"languages: expected a list such as [en, fr], found {_show(languages)}",
            )
            return
        valid: list[str] = []
        for language in languages:
            if not (isinstance(language, str) and _LANGUAGE.fullmatch(language)):
                self.error(
                    "languages",
                    f"languages: {_show(language)} is not a language code such as 'en' or 'pt-BR'",
                )
            elif language in valid:
                self.error("languages", f"languages: '{language}' is listed twice")
            else:
                valid.append(language)
        default = fields.get("default_language")
        if default is not None and default not in valid:
            self.error(
                "default_language",
                f"default_language: {_show(default)} is not one of "
                f"the languages ({', '.join(valid)})",
            )
        if valid:
            self.languages = tuple(valid)
        if isinstance(default, str) and default in valid:
            self.default_language = default
        elif valid:
            self.default_language = valid[0]

    def read_respondents(self, fields: Mapping[str, Any]) -> None:
        respondents = fields.get("respondents")
        if respondents is None:
            return
        if (
            isinstance(respondents, list)
            and respondents
            and all(r in RESPONDENT_TYPES for r in respondents)
            and len(set(respondents)) == len(respondents)
        ):
            self.respondents = tuple(r for r in RESPONDENT_TYPES if r in respondents)
            return
        self.error(
            "respondents",
            f"respondents: expected a list of self and/or proxy, found {_show(respondents)}",
        )

    def read_age_range(self, raw: object) -> tuple[int | None, int | None]:
        if raw is None:
            return None, None
        fields = self.mapping(raw, "age_range", ("min", "max"), (), label="age_range")
        if fields is None:
            return None, None
        low = self.positive_integer(fields.get("min"), "age_range.min", allow_zero=True)
        high = self.positive_integer(fields.get("max"), "age_range.max", allow_zero=True)
        if low is not None and high is not None and high < low:
            self.error("age_range", f"age_range: max {high} < min {low}")
        return low, high

    def read_choice_sets(self, raw: object) -> None:
        if raw is None:
            return
        if not isinstance(raw, dict):
            self.error("choice_sets", "choice_sets: expected a mapping of name → choices")
            return
        for name, choices in raw.items():
            self.choice_sets[str(name)] = self.read_choices(
                choices, f"choice_sets.{name}", None, "single_choice"
            )

    def read_choices(
        self, raw: object, field: str, item_id: str | None, item_type: str
    ) -> tuple[Choice, ...]:
        if isinstance(raw, str):
            if raw not in self.choice_sets:
                known = ", ".join(self.choice_sets) or "none defined"
                self.error(
                    field, f"choices: no choice set named '{raw}' (choice_sets: {known})", item_id
                )
                return ()
            chosen = self.choice_sets[raw]
            if item_type != "multiple_choice" and any(choice.exclusive for choice in chosen):
                self.error(
                    field, "choices: exclusive choices only apply to multiple_choice", item_id
                )
            return chosen
        if not isinstance(raw, list) or len(raw) < 2:
            self.error(
                field,
                f"{field}: expected a list of at least 2 choices or the name of a choice set",
                item_id,
            )
            return ()
        choices: list[Choice] = []
        seen: list[object] = []
        for index, entry in enumerate(raw):
            where = f"{field}[{index}]"
            fields = self.mapping(
                entry,
                where,
                ("value", "label", "score", "exclusive"),
                ("value", "label"),
                item_id,
                where,
            )
            if fields is None:
                continue
            value = fields.get("value")
            if not (_is_integer(value) or (isinstance(value, str) and value.strip())):
                self.error(
                    f"{where}.value",
                    f"{where}.value: expected a whole number or "
                    f"non-empty text, found {_show(value)}",
                    item_id,
                )
                continue
            if any(type(v) is type(value) and v == value for v in seen):
                self.error(
                    f"{where}.value", f"{field}: value {_show(value)} appears twice", item_id
                )
                continue
            seen.append(value)
            score = fields.get("score")
            if score is not None and not _is_number(score):
                self.error(
                    f"{where}.score",
                    f"{where}.score: expected a number, found {_show(score)}",
                    item_id,
                )
                score = None
            exclusive = fields.get("exclusive", False)
            if exclusive is not False and (exclusive is not True or item_type != "multiple_choice"):
                self.error(
                    f"{where}.exclusive",
                    f"{where}.exclusive: only true, and only on a multiple_choice item",
                    item_id,
                )
                exclusive = False
            label = self.localized(fields.get("label"), f"{where}.label", item_id)
            assert isinstance(value, str | int)
            choices.append(
                Choice(value, label, None if score is None else float(score), bool(exclusive))
            )
        return tuple(choices)

    # -- pages and items -------------------------------------------------------------------

    def read_pages(self, raw: object) -> tuple[Page, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list) or not raw:
            self.error("pages", "pages: expected a non-empty list of pages")
            return ()
        all_ids = self.collect_item_ids(raw)
        earlier: set[str] = set()
        page_ids: set[str] = set()
        pages: list[Page] = []
        for index, page_raw in enumerate(raw):
            where = f"pages[{index}]"
            fields = self.mapping(
                page_raw, where, ("id", "title", "show_when", "items"), ("id", "items"), label=where
            )
            if fields is None:
                continue
            page_id = fields.get("id")
            if not (isinstance(page_id, str) and _ITEM_ID.fullmatch(page_id)):
                self.error(
                    f"{where}.id",
                    f"{where}.id: expected a name such as 'symptoms', found {_show(page_id)}",
                )
                page_id = where
            elif page_id in page_ids:
                self.error(f"{where}.id", f"page id '{page_id}' is used twice")
            page_ids.add(page_id)
            label = f"page '{page_id}'"
            title = self.localized(fields.get("title"), f"pages.{page_id}.title", required=False)
            show_when = None
            if fields.get("show_when") is not None:
                show_when = self.expression(
                    fields["show_when"], f"{label} show_when", all_ids, earlier=set(earlier)
                )
            items_raw = fields.get("items")
            if not isinstance(items_raw, list) or not items_raw:
                self.error(f"{where}.items", f"{label}: items: expected a non-empty list of items")
                continue
            items: list[Item] = []
            for item_index, item_raw in enumerate(items_raw):
                item = self.read_item(item_raw, f"{label} items[{item_index}]", all_ids, earlier)
                if item is not None:
                    items.append(item)
            pages.append(Page(page_id, title, tuple(items), show_when))
        return tuple(pages)

    def collect_item_ids(self, pages: list[Any]) -> list[str]:
        """Every item id in the file, checked for shape and uniqueness once, up front."""
        ids: list[str] = []
        for page in pages:
            items = page.get("items") if isinstance(page, dict) else None
            for item in items if isinstance(items, list) else []:
                item_id = item.get("id") if isinstance(item, dict) else None
                if not isinstance(item_id, str):
                    continue
                if not _ITEM_ID.fullmatch(item_id) or item_id in KEYWORDS:
                    self.error(
                        "id",
                        f"id {_show(item_id)} must be a name of letters, digits and "
                        "_ (not starting with a digit, not a keyword)",
                        item_id,
                    )
                elif item_id in RESERVED_NAMES:
                    self.error("id", f"id '{item_id}' is reserved for the engine", item_id)
                elif item_id in ids:
                    self.error("id", f"id '{item_id}' is used by more than one item", item_id)
                else:
                    ids.append(item_id)
        return ids

    def read_item(
        self, raw: object, where: str, all_ids: list[str], earlier: set[str]
    ) -> Item | None:
        item_id_raw = raw.get("id") if isinstance(raw, dict) else None
        item_id = item_id_raw if isinstance(item_id_raw, str) else None
        item_type = raw.get("type") if isinstance(raw, dict) else None
        type_fields = TYPE_ITEM_FIELDS.get(item_type, ()) if isinstance(item_type, str) else ()
        every_type_field = {f for fields in TYPE_ITEM_FIELDS.values() for f in fields}
        fields = self.mapping(
            raw,
            where,
            (*COMMON_ITEM_FIELDS, *every_type_field),
            ("id", "type"),
            item_id,
            "" if item_id else where,
        )
        if fields is None or item_id is None:
            return None
        if item_type not in ITEM_TYPES:
            if item_type is not None:
                self.error(
                    "type",
                    f"type {_show(item_type)} is not an item type; use one of "
                    f"{', '.join(ITEM_TYPES)}",
                    item_id,
                )
            earlier.add(item_id)
            return None
        assert isinstance(item_type, str)
        for name in fields:
            if name in every_type_field and name not in type_fields:
                self.error(name, f"{name} does not apply to a {item_type} item", item_id)

        text = self.wording(fields.get("text"), "text", item_id)
        help_text = self.wording(fields.get("help"), "help", item_id, required=False)
        required = fields.get("required", False)
        if not isinstance(required, bool):
            self.error(
                "required", f"required: expected true or false, found {_show(required)}", item_id
            )
            required = False
        if required and item_type == "display":
            self.error("required", "required: a display item takes no answer", item_id)
        show_when = None
        if fields.get("show_when") is not None:
            show_when = self.expression(
                fields["show_when"], "show_when", all_ids, item_id, earlier=set(earlier)
            )
        earlier.add(item_id)

        choices: tuple[Choice, ...] = ()
        if item_type in CHOICE_TYPES:
            if fields.get("choices") is None:
                self.error("choices", f"choices: a {item_type} item needs choices", item_id)
            else:
                choices = self.read_choices(fields["choices"], "choices", item_id, item_type)
        scale = self.read_scale(fields.get("scale"), item_type, item_id)
        minimum, maximum = self.read_bounds(fields, item_type, item_id)
        unit = self.localized(fields.get("unit"), "unit", item_id, required=False)
        decimals = self.positive_integer(fields.get("decimals"), "decimals", item_id, True)
        min_choices = self.positive_integer(fields.get("min_choices"), "min_choices", item_id)
        max_choices = self.positive_integer(fields.get("max_choices"), "max_choices", item_id)
        if max_choices is not None and choices and max_choices > len(choices):
            self.error(
                "max_choices", f"max_choices {max_choices} > {len(choices)} choices", item_id
            )
        if min_choices is not None and max_choices is not None and max_choices < min_choices:
            self.error(
                "max_choices", f"max_choices {max_choices} < min_choices {min_choices}", item_id
            )
        max_length = self.positive_integer(fields.get("max_length"), "max_length", item_id)
        pattern = fields.get("pattern")
        if pattern is not None:
            pattern = self.read_pattern(pattern, item_id)
        constraint = None
        if fields.get("constraint") is not None:
            constraint = self.read_constraint(fields["constraint"], all_ids, earlier, item_id)
        return Item(
            id=item_id,
            type=item_type,
            text=text,
            help=help_text,
            required=required,
            show_when=show_when,
            choices=choices,
            scale=scale,
            minimum=minimum,
            maximum=maximum,
            unit=unit,
            decimals=decimals,
            min_choices=min_choices,
            max_choices=max_choices,
            max_length=max_length,
            pattern=pattern,
            constraint=constraint,
            codes=self.codes(fields.get("codes"), "codes", item_id),
        )

    def read_scale(self, raw: object, item_type: str, item_id: str) -> Scale | None:
        if item_type not in SCALE_TYPES:
            return None
        fields = self.mapping(
            raw,
            "scale",
            ("min", "max", "min_label", "max_label"),
            ("min_label", "max_label"),
            item_id,
            "scale",
        )
        if fields is None:
            return None
        low, high = SCALE_DEFAULTS[item_type]
        low_raw, high_raw = fields.get("min", low), fields.get("max", high)
        for name, value in (("min", low_raw), ("max", high_raw)):
            if not _is_integer(value):
                self.error(
                    f"scale.{name}",
                    f"scale {name}: expected a whole number, found {_show(value)}",
                    item_id,
                )
                return None
        if high_raw < low_raw:
            self.error("scale.max", f"scale max {high_raw} < min {low_raw}", item_id)
        elif high_raw == low_raw:
            self.error(
                "scale.max",
                f"scale max {high_raw} = min {low_raw}: a scale needs at least two points",
                item_id,
            )
        return Scale(
            low_raw,
            high_raw,
            self.localized(fields.get("min_label"), "scale.min_label", item_id),
            self.localized(fields.get("max_label"), "scale.max_label", item_id),
        )

    def read_bounds(
        self, fields: Mapping[str, Any], item_type: str, item_id: str
    ) -> tuple[float | None, float | None]:
        if item_type not in NUMBER_TYPES:
            return None, None
        bounds: dict[str, float | None] = {"min": None, "max": None}
        for name in bounds:
            value = fields.get(name)
            if value is None:
                continue
            if item_type == "integer" and not _is_integer(value):
                self.error(name, f"{name}: expected a whole number, found {_show(value)}", item_id)
            elif not _is_number(value):
                self.error(name, f"{name}: expected a number, found {_show(value)}", item_id)
            else:
                bounds[name] = value
        low, high = bounds["min"], bounds["max"]
        if low is not None and high is not None and high < low:
            self.error("max", f"max {high} < min {low}", item_id)
        return low, high

    def read_pattern(self, raw: object, item_id: str) -> str | None:
        if not isinstance(raw, str) or not raw:
            self.error(
                "pattern", f"pattern: expected a regular expression, found {_show(raw)}", item_id
            )
            return None
        try:
            compile_pattern(raw)
        except PatternError as error:
            # The phone checks patterns in JavaScript: one both cannot read the same is refused
            # here, before a participant's answer can pass on the phone and fail on the server.
            self.error(
                "pattern",
                f"pattern: {error} (see app/instruments/patterns.py for what works on both)",
                item_id,
            )
            return None
        return raw

    def read_constraint(
        self, raw: object, all_ids: list[str], earlier: set[str], item_id: str
    ) -> Constraint | None:
        fields = self.mapping(
            raw,
            "constraint",
            ("condition", "message"),
            ("condition", "message"),
            item_id,
            "constraint",
        )
        if fields is None or fields.get("condition") is None:
            return None
        condition = self.expression(
            fields["condition"], "constraint.condition", all_ids, item_id, earlier=set(earlier)
        )
        message = self.localized(fields.get("message"), "constraint.message", item_id)
        return Constraint(condition, message) if condition is not None else None

    # -- scores and alerts -----------------------------------------------------------------

    def read_scores(self, raw: object, items: Mapping[str, Item]) -> tuple[Score, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error("scores", "scores: expected a list of scores")
            return ()
        scores: list[Score] = []
        for index, entry in enumerate(raw):
            score_id = entry.get("id") if isinstance(entry, dict) else None
            label = f"score '{score_id}'" if isinstance(score_id, str) else f"scores[{index}]"
            fields = self.mapping(
                entry,
                f"scores.{score_id}",
                SCORE_FIELDS,
                ("id", "label", "method", "items"),
                label=label,
            )
            if fields is None:
                continue
            score = self.read_score(fields, label, items, [s.id for s in scores])
            if score is not None:
                scores.append(score)
        return tuple(scores)

    def read_score(
        self, fields: Mapping[str, Any], label: str, items: Mapping[str, Item], taken: list[str]
    ) -> Score | None:
        field = f"scores.{fields.get('id')}"
        ok = True

        def fail(name: str, message: str) -> None:
            nonlocal ok
            ok = False
            self.error(f"{field}.{name}", f"{label}: {name}: {message}")

        score_id = fields.get("id")
        if not (isinstance(score_id, str) and _ITEM_ID.fullmatch(score_id)) or score_id in KEYWORDS:
            fail("id", f"{_show(score_id)} must be a name of letters, digits and _")
        elif score_id in items or score_id in taken or score_id in RESERVED_NAMES:
            fail("id", f"'{score_id}' is already used by an item, a score or the engine")
        method = fields.get("method")
        if method not in SCORE_METHODS:
            fail(
                "method", f"{_show(method)} is not a method; use one of {', '.join(SCORE_METHODS)}"
            )
        score_items = fields.get("items")
        ranges: dict[str, tuple[float, float] | None] = {}
        if not (isinstance(score_items, list) and score_items):
            fail("items", "expected a non-empty list of item ids")
            score_items = []
        for item_id in score_items:
            item = items.get(item_id) if isinstance(item_id, str) else None
            if item is None:
                fail("items", f"no item {_show(item_id)}")
                continue
            problem, value_range = _scorable(item)
            if problem:
                fail("items", problem)
            ranges[item.id] = value_range
        if len(set(map(str, score_items))) != len(score_items):
            fail("items", "an item is listed twice")
        reverse = fields.get("reverse") or []
        for item_id in reverse if isinstance(reverse, list) else [reverse]:
            if item_id not in ranges:
                fail("reverse", f"{_show(item_id)} is not one of the score's items")
            elif ranges[item_id] is None:
                fail("reverse", f"item '{item_id}' has no min and max to reverse within")
        weights = fields.get("weights") or {}
        if not isinstance(weights, dict):
            fail("weights", "expected a mapping of item id → number")
            weights = {}
        for item_id, weight in weights.items():
            if item_id not in ranges:
                fail("weights", f"{_show(item_id)} is not one of the score's items")
            elif not _is_number(weight):
                fail("weights", f"weight for '{item_id}' must be a number, found {_show(weight)}")
        max_missing = fields.get("max_missing", 0)
        if not _is_integer(max_missing) or not 0 <= max_missing < max(len(score_items), 1):
            fail(
                "max_missing",
                f"expected a whole number from 0 to {max(len(score_items) - 1, 0)}"
                f", found {_show(max_missing)}",
            )
        round_to = fields.get("round_to")
        if round_to is not None and not (_is_integer(round_to) and 0 <= round_to <= 6):
            fail("round_to", f"expected a number of decimals from 0 to 6, found {_show(round_to)}")
        when = None
        if fields.get("when") is not None:
            when = self.expression(fields["when"], f"{label}: when", list(items))
            ok = ok and when is not None
        lookup = self.read_lookup(fields.get("lookup"), fail)
        bands = self.read_bands(fields.get("bands"), fail)
        codes = self.codes(fields.get("codes"), f"{field}.codes")
        score_label = fields.get("label")
        if not (isinstance(score_label, str) and score_label.strip()):
            fail("label", "expected non-empty text")
        if not ok:
            return None
        return Score(
            id=str(score_id),
            label=str(score_label).strip(),
            method=str(method),
            items=tuple(score_items),
            reverse=tuple(reverse),
            weights={key: float(value) for key, value in weights.items()},
            max_missing=int(max_missing),
            round_to=round_to,
            when=when,
            lookup=lookup,
            bands=bands,
            codes=codes,
        )

    def read_lookup(
        self, raw: object, fail: Callable[[str, str], None]
    ) -> tuple[tuple[float, float], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, dict) or not raw:
            fail("lookup", "expected a mapping of raw score → value")
            return ()
        pairs: list[tuple[float, float]] = []
        for key, value in raw.items():
            if not (_is_number(key) and _is_number(value)):
                fail("lookup", f"entry {_show(key)}: {_show(value)} must map a number to a number")
                continue
            pairs.append((float(key), float(value)))
        return tuple(sorted(pairs))

    def read_bands(self, raw: object, fail: Callable[[str, str], None]) -> tuple[Band, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list) or not raw:
            fail("bands", "expected a list of {min, max, label}")
            return ()
        bands: list[Band] = []
        for index, entry in enumerate(raw):
            if not (isinstance(entry, dict) and set(entry) == {"min", "max", "label"}):
                fail("bands", f"band {index + 1}: expected exactly min, max and label")
                continue
            low, high, text = entry["min"], entry["max"], entry["label"]
            if not (_is_number(low) and _is_number(high) and isinstance(text, str) and text):
                fail("bands", f"band {index + 1}: min and max must be numbers, label text")
                continue
            if high < low:
                fail("bands", f"band '{text}': max {high} < min {low}")
                continue
            bands.append(Band(float(low), float(high), text))
        ordered = sorted(bands, key=lambda band: band.minimum)
        for before, after in itertools.pairwise(ordered):
            if after.minimum <= before.maximum:
                fail(
                    "bands",
                    f"band '{after.label}' ({after.minimum:g} to {after.maximum:g}) "
                    f"overlaps band '{before.label}' ({before.minimum:g} to {before.maximum:g})",
                )
        return tuple(ordered)

    def read_alerts(self, raw: object, names: list[str]) -> tuple[AlertRule, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error("alerts", "alerts: expected a list of alert rules")
            return ()
        alerts: list[AlertRule] = []
        for index, entry in enumerate(raw):
            alert_id = entry.get("id") if isinstance(entry, dict) else None
            label = f"alert '{alert_id}'" if isinstance(alert_id, str) else f"alerts[{index}]"
            field = f"alerts.{alert_id}"
            fields = self.mapping(
                entry,
                field,
                ("id", "when", "severity", "message", "participant_message"),
                ("id", "when", "severity", "message"),
                label=label,
            )
            if fields is None or any(fields.get(k) is None for k in ("id", "when", "message")):
                continue
            if alert_id in [alert.id for alert in alerts]:
                self.error(f"{field}.id", f"{label}: id is used twice")
            severity = fields.get("severity")
            if severity not in ALERT_SEVERITIES:
                self.error(
                    f"{field}.severity",
                    f"{label}: severity {_show(severity)} is not one "
                    f"of {', '.join(ALERT_SEVERITIES)}",
                )
            when = self.expression(fields["when"], f"{label}: when", names)
            message = self.text(fields["message"], f"{label}: message")
            shown = self.any_language_text(
                fields.get("participant_message"), f"{field}.participant_message", label
            )
            if when is not None and message is not None and severity in ALERT_SEVERITIES:
                alerts.append(AlertRule(str(alert_id), when, str(severity), message, shown))
        return tuple(alerts)


def _scorable(item: Item) -> tuple[str | None, tuple[float, float] | None]:
    """Why ``item`` cannot be scored (or None), and the range its values can take."""
    if item.type in SCALE_TYPES and item.scale is not None:
        return None, (float(item.scale.minimum), float(item.scale.maximum))
    if item.type == "yes_no":
        return None, (0.0, 1.0)
    if item.type in NUMBER_TYPES:
        if item.minimum is None or item.maximum is None:
            return None, None
        return None, (float(item.minimum), float(item.maximum))
    if item.type == "single_choice":
        values = [choice.scoring_value for choice in item.choices]
        for choice, value in zip(item.choices, values, strict=True):
            if value is None:
                return (
                    f"choice {_show(choice.value)} of item '{item.id}' has no score and its value "
                    "is not a number"
                ), None
        numbers = [value for value in values if value is not None]
        return None, ((min(numbers), max(numbers)) if numbers else None)
    return f"'{item.id}' is a {item.type} item and cannot be scored", None


def parse_instrument(text: str, file: str) -> tuple[Instrument | None, list[Problem]]:
    """Parse YAML ``text`` (named ``file`` in messages): the instrument, or None if any error."""
    try:
        document = yaml.load(text, Loader=_StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        return None, [Problem(file, None, "yaml", f"not valid YAML: {where}{problem}")]
    checker = _FileChecker(file)
    instrument = checker.instrument(document)
    return instrument, checker.problems


def load_instrument(path: str | Path) -> tuple[Instrument, list[Problem]]:
    """Load one file: ``(instrument, warnings)``, or raise :class:`InstrumentLoadError`."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InstrumentLoadError(
            [Problem(file, None, "file", f"cannot read file: {error}")]
        ) from error
    instrument, problems = parse_instrument(text, file)
    if instrument is None:
        raise InstrumentLoadError(problems)
    return instrument, [problem for problem in problems if not problem.is_error]


def instrument_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories to the ``*.yaml`` / ``*.yml`` files directly inside them, sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    return files


def check_paths(paths: Iterable[str | Path], include_warnings: bool = False) -> list[Problem]:
    """Every problem in the given files and directories: errors only unless asked for warnings.

    Also refuses two files that declare the same instrument id and version.
    """
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for path in instrument_files(paths):
        try:
            instrument, warnings = load_instrument(path)
        except InstrumentLoadError as error:
            problems.extend(error.problems)
            continue
        problems.extend(warnings)
        key = (instrument.id, instrument.version)
        if key in seen:
            problems.append(
                Problem(
                    str(path),
                    None,
                    "version",
                    f"instrument '{instrument.id}' "
                    f"version {instrument.version} is also defined in {seen[key]}",
                )
            )
        seen[key] = str(path)
    return [problem for problem in problems if include_warnings or problem.is_error]
