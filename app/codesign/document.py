"""A draft instrument as the instrument file's own data, edited one field at a time.

A draft is the very mapping a YAML file in ``instruments/`` loads to, split into parts that
people edit independently: the instrument part (metadata, pages and their order, answer lists,
scores, alerts) and one part per item. A field is named by a dotted path inside its part, e.g.
``text.proxy.fr``, ``choices.2.score``, ``scale.min_label.en`` or, on the instrument part,
``title.fr`` and ``scores.0.items``; a number picks a list member.

Validation is not re-implemented here: the assembled document is dumped to YAML and read by
``app.instruments.loader.parse_instrument``, the reader behind ``chorus instruments check``, so
a draft is refused exactly what a file would be.
"""

from __future__ import annotations

import copy
import hashlib
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import yaml

from app.codesign.messages import N_, loader_text
from app.instruments.expressions import RESERVED_NAMES, ExpressionError, compile_expression
from app.instruments.loader import Problem, _StrictYamlLoader, parse_instrument
from app.instruments.model import RESPONDENT_TYPES, Instrument

INSTRUMENT_PART: Final = "@instrument"  # item ids cannot contain "@", so no item collides
WORDING_FIELDS: Final = ("text", "help")  # may differ between self and proxy
_LOCALIZED_INSTRUMENT_FIELDS: Final = ("title", "description", "recall_period")

Document = dict[str, Any]


class FieldPathError(ValueError):
    """A field path that does not name a field the edit can change; the message says why."""


@dataclass(frozen=True)
class TextSlot:
    """One participant-visible text in every language: ``part`` and ``path`` name the field
    without its language (``path + '.' + language`` is the editable field)."""

    part: str
    path: str
    texts: Mapping[str, str]

    def field(self, language: str) -> str:
        return f"{self.path}.{language}"


def source_hash(text: str) -> str:
    """Fingerprint of a source text: a translation made from it records this."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# -- the document and its parts ---------------------------------------------------------------


def default_language(document: Mapping[str, Any]) -> str:
    languages = document.get("languages") or ["en"]
    default = document.get("default_language")
    return str(default if default in languages else languages[0])


def respondents(document: Mapping[str, Any]) -> tuple[str, ...]:
    raw = document.get("respondents") or list(RESPONDENT_TYPES)
    return tuple(r for r in RESPONDENT_TYPES if r in raw)


def split(document: Mapping[str, Any]) -> tuple[Document, list[tuple[str, Document]]]:
    """``(instrument part, [(item id, item part), ...])``; pages keep only their item ids."""
    instrument = copy.deepcopy(dict(document))
    items: list[tuple[str, Document]] = []
    pages = []
    for page in instrument.get("pages") or []:
        ids = []
        for item in page.get("items") or []:
            ids.append(str(item["id"]))
            items.append((str(item["id"]), item))
        pages.append({**page, "items": ids})
    instrument["pages"] = pages
    return instrument, items


def assemble(instrument: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]]) -> Document:
    """The whole document from its parts, pages in order with their items in order."""
    document = copy.deepcopy(dict(instrument))
    document["pages"] = [
        {**page, "items": [copy.deepcopy(dict(items[item_id])) for item_id in page["items"]]}
        for page in instrument.get("pages") or []
    ]
    return document


def item_order(instrument: Mapping[str, Any]) -> list[str]:
    return [str(item_id) for page in instrument.get("pages") or [] for item_id in page["items"]]


def to_yaml(document: Mapping[str, Any]) -> str:
    """The document as an ``instruments/`` file. PyYAML quotes every string that YAML 1.1 would
    read as something else (``no``, ``2024-01-01``), so the strict loader reads it back as is."""
    return yaml.safe_dump(
        dict(document), sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )


def validate(
    document: Mapping[str, Any], file: str = "draft.yaml"
) -> tuple[Instrument | None, list[Problem]]:
    """Exactly what ``chorus instruments check`` says about this document as a file."""
    return parse_instrument(to_yaml(document), file)


def from_yaml(text: str) -> Document:
    """The mapping of a file that ``parse_instrument`` already accepted."""
    # The loader's own YAML reader: the same strings, numbers and booleans as the check.
    loaded = yaml.load(text, Loader=_StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(loaded, dict)
    return normalize(loaded)


def normalize(document: Mapping[str, Any]) -> Document:
    """Text given as a bare string becomes ``{default language: text}``, so every translation
    has a field path. The loaded instrument (and its content hash) does not change."""
    result: Document = copy.deepcopy(dict(document))
    default = default_language(result)

    def localized(container: dict[str, Any], key: str) -> None:
        if isinstance(container.get(key), str):
            container[key] = {default: container[key]}

    def wording(container: dict[str, Any], key: str) -> None:
        value = container.get(key)
        if isinstance(value, dict) and value and set(value) <= set(RESPONDENT_TYPES):
            for respondent in value:
                localized(value, respondent)
        else:
            localized(container, key)

    def choices(raw: object) -> None:
        for choice in raw if isinstance(raw, list) else []:
            if isinstance(choice, dict):
                localized(choice, "label")

    for key in _LOCALIZED_INSTRUMENT_FIELDS:
        localized(result, key)
    for members in (result.get("choice_sets") or {}).values():
        choices(members)
    for page in result.get("pages") or []:
        localized(page, "title")
        for item in page.get("items") or []:
            for key in WORDING_FIELDS:
                wording(item, key)
            choices(item.get("choices"))
            localized(item, "unit")
            if isinstance(item.get("scale"), dict):
                localized(item["scale"], "min_label")
                localized(item["scale"], "max_label")
            if isinstance(item.get("constraint"), dict):
                localized(item["constraint"], "message")
    return result


# -- field paths ------------------------------------------------------------------------------

_MISSING = object()


def parse_path(path: str) -> list[str]:
    tokens = path.split(".")
    if not path or any(not token for token in tokens):
        raise FieldPathError(N_("'%(path)s' is not a field path such as 'text.self.en'", path=path))
    return tokens


def _step(container: object, token: str, path: str) -> tuple[Any, Any]:
    """The key (or index) ``token`` means in ``container`` and the value there, or _MISSING."""
    if isinstance(container, dict):
        return token, container.get(token, _MISSING)
    if isinstance(container, list):
        if not token.isdigit():
            raise FieldPathError(
                N_(
                    "%(path)s: '%(token)s' should be a position number in a list",
                    path=path,
                    token=token,
                )
            )
        index = int(token)
        return index, container[index] if index < len(container) else _MISSING
    raise FieldPathError(
        N_("%(path)s: '%(token)s' is inside a value that has no fields", path=path, token=token)
    )


def get_field(body: Mapping[str, Any], path: str) -> Any:
    """The value at ``path``, or None when there is none."""
    value: Any = body
    for token in parse_path(path):
        if not isinstance(value, dict | list):
            return None
        _key, value = _step(value, token, path)
        if value is _MISSING:
            return None
    return copy.deepcopy(value)


def set_field(
    body: Mapping[str, Any], path: str, value: Any, *, respondent_types: Sequence[str]
) -> Document:
    """A copy of ``body`` with ``path`` set to ``value`` (None removes the field or list member).

    Wording shared by self and proxy becomes separate wording when one respondent's text is
    edited, so a change to the caregiver's question never silently changes the participant's.
    """
    tokens = parse_path(path)
    result = copy.deepcopy(dict(body))
    is_item = "pages" not in result
    if tokens[0] == "id" and is_item:
        raise FieldPathError(
            N_(
                "id: an item's id cannot change (collected answers are stored under it); "
                "add a new item and remove this one instead"
            )
        )
    if tokens[0] in WORDING_FIELDS and is_item:
        _prepare_wording(result, tokens, path, respondent_types)
    if tokens[0] == "choices" and isinstance(result.get("choices"), str) and len(tokens) > 1:
        raise FieldPathError(
            N_(
                "%(path)s: this item uses the shared answer list '%(name)s'; change it in the "
                "instrument's answer lists (choice_sets.%(name)s)",
                path=path,
                name=result["choices"],
            )
        )
    container: Any = result
    for position, token in enumerate(tokens):
        last = position == len(tokens) - 1
        key, current = _step(container, token, path)
        if last:
            if value is None:
                if current is not _MISSING:
                    del container[key]
            elif isinstance(container, list) and key == len(container):
                container.append(copy.deepcopy(value))
            elif isinstance(container, list) and key > len(container):
                raise FieldPathError(
                    N_(
                        "%(path)s: the list has only %(count)s members",
                        path=path,
                        count=len(container),
                    )
                )
            else:
                container[key] = copy.deepcopy(value)
            break
        if current is _MISSING:
            if isinstance(container, list) and key != len(container):
                raise FieldPathError(
                    N_(
                        "%(path)s: the list has only %(count)s members",
                        path=path,
                        count=len(container),
                    )
                )
            if value is None:
                break  # removing something that is not there
            current = {}
            if isinstance(container, list):
                container.append(current)
            else:
                container[key] = current
        container = current
    return result


def _prepare_wording(
    item: dict[str, Any], tokens: list[str], path: str, respondent_types: Sequence[str]
) -> None:
    wording = item.get(tokens[0])
    per_respondent = isinstance(wording, dict) and wording and set(wording) <= set(RESPONDENT_TYPES)
    names_respondent = len(tokens) > 1 and tokens[1] in RESPONDENT_TYPES
    if names_respondent and not per_respondent and wording:
        # Shared wording is split into one copy per respondent before one of them changes.
        item[tokens[0]] = {r: copy.deepcopy(wording) for r in respondent_types}
    elif per_respondent and len(tokens) > 1 and not names_respondent:
        assert isinstance(wording, dict)
        raise FieldPathError(
            f"{path}: this item's {tokens[0]} differs between "
            f"{' and '.join(sorted(wording))}; name one, e.g. "
            f"{tokens[0]}.{sorted(wording)[0]}.{tokens[1]}"
        )


def choice_values(labels: Sequence[str]) -> list[str]:
    """Stored values for new answer options made from their labels: lower-case ASCII words
    joined by ``_`` (``Very well`` -> ``very_well``), ``option_N`` when nothing is left, and
    never the same value twice."""
    values: list[str] = []
    for number, label in enumerate(labels, start=1):
        ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
        words = re.findall(r"[a-z0-9]+", ascii_text.lower())
        value = "_".join(words)[:40].strip("_") or f"option_{number}"
        candidate, suffix = value, 2
        while candidate in values:
            candidate, suffix = f"{value}_{suffix}", suffix + 1
        values.append(candidate)
    return values


# -- participant-visible texts ----------------------------------------------------------------


def _localized(part: str, path: str, raw: object) -> Iterator[TextSlot]:
    if isinstance(raw, dict) and raw and all(isinstance(v, str) for v in raw.values()):
        yield TextSlot(part, path, {str(k): v for k, v in raw.items()})


def text_slots(
    instrument: Mapping[str, Any], items: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[TextSlot]:
    """Every participant-visible text of a draft, in file order, by part and path."""
    part = INSTRUMENT_PART
    slots: list[TextSlot] = []
    for key in _LOCALIZED_INSTRUMENT_FIELDS:
        slots += _localized(part, key, instrument.get(key))
    for name, members in (instrument.get("choice_sets") or {}).items():
        for index, choice in enumerate(members if isinstance(members, list) else []):
            if isinstance(choice, dict):
                slots += _localized(part, f"choice_sets.{name}.{index}.label", choice.get("label"))
    for index, page in enumerate(instrument.get("pages") or []):
        slots += _localized(part, f"pages.{index}.title", page.get("title"))
    for item_id, item in items:
        for key in WORDING_FIELDS:
            wording = item.get(key)
            if isinstance(wording, dict) and wording and set(wording) <= set(RESPONDENT_TYPES):
                for respondent in RESPONDENT_TYPES:
                    slots += _localized(item_id, f"{key}.{respondent}", wording.get(respondent))
            else:
                slots += _localized(item_id, key, wording)
        choices = item.get("choices")
        for index, choice in enumerate(choices if isinstance(choices, list) else []):
            if isinstance(choice, dict):
                slots += _localized(item_id, f"choices.{index}.label", choice.get("label"))
        scale = item.get("scale")
        if isinstance(scale, dict):
            slots += _localized(item_id, "scale.min_label", scale.get("min_label"))
            slots += _localized(item_id, "scale.max_label", scale.get("max_label"))
        slots += _localized(item_id, "unit", item.get("unit"))
        constraint = item.get("constraint")
        if isinstance(constraint, dict):
            slots += _localized(item_id, "constraint.message", constraint.get("message"))
    return slots


# -- expressions, checked as they are typed ---------------------------------------------------


@dataclass(frozen=True)
class ExpressionCheck:
    """The verdict on one expression: ``ok``, or the 1-based ``column`` and the ``message``
    (the same words ``chorus instruments check`` would print)."""

    ok: bool
    message: str | None = None
    column: int | None = None
    names: tuple[str, ...] = ()


def check_expression(
    instrument: Mapping[str, Any],
    items: Sequence[tuple[str, Mapping[str, Any]]],
    source: str,
    *,
    part: str,
    field: str,
    new_item_before: str | None = None,
) -> ExpressionCheck:
    """Check ``source`` as the expression of ``field`` in ``part``, as it would be on saving.

    Fields: on an item ``show_when`` and ``constraint.condition``; on the instrument part
    ``pages.N.show_when``, ``scores.N.when`` and ``alerts.N.when``. An item not yet in the
    draft (an add-item form) is checked as if placed before ``new_item_before`` (default: last).
    """
    item_ids = [item_id for item_id, _ in items]
    earlier: list[str] | None = None
    known = item_ids
    tokens = field.split(".")
    if part != INSTRUMENT_PART:
        if part not in item_ids:
            if new_item_before is not None and new_item_before not in item_ids:
                raise FieldPathError(f"there is no item '{new_item_before}'")
            at = item_ids.index(new_item_before) if new_item_before else len(item_ids)
            item_ids = [*item_ids[:at], part, *item_ids[at:]]
            known = item_ids
        if field not in ("show_when", "constraint.condition"):
            raise FieldPathError(f"{field}: not an expression field of an item")
        position = item_ids.index(part)
        # Skip logic looks back only; a constraint may also test the item's own answer.
        earlier = item_ids[: position + (field == "constraint.condition")]
    elif len(tokens) == 3 and tokens[0] == "pages" and tokens[2] == "show_when":
        pages = instrument.get("pages") or []
        if not tokens[1].isdigit() or int(tokens[1]) >= len(pages):
            raise FieldPathError(f"{field}: there is no such page")
        earlier = [i for page in pages[: int(tokens[1])] for i in page["items"]]
    elif len(tokens) == 3 and tokens[0] == "scores" and tokens[2] == "when":
        pass
    elif len(tokens) == 3 and tokens[0] == "alerts" and tokens[2] == "when":
        scores = instrument.get("scores") or []
        known = [*item_ids, *(str(s.get("id")) for s in scores if isinstance(s, dict))]
    else:
        raise FieldPathError(f"{field}: not an expression field of the instrument")
    try:
        compiled = compile_expression(source, known)
    except ExpressionError as error:
        return ExpressionCheck(False, loader_text(f"{field}: {error}"), error.column)
    if earlier is not None:
        for name in compiled.names:
            if name not in earlier and name not in RESERVED_NAMES:
                return ExpressionCheck(
                    False,
                    loader_text(
                        f"{field}: '{name}' is not an earlier item; skip logic may only refer "
                        "to items before it"
                    ),
                    None,
                    tuple(compiled.names),
                )
    return ExpressionCheck(True, names=tuple(compiled.names))


def wording_grid(
    item: Mapping[str, Any],
    field: str,
    respondent_types: Sequence[str],
    languages: Sequence[str],
) -> dict[str, dict[str, str | None]]:
    """An item's ``text`` or ``help`` as respondent -> language -> text (None: missing), for
    editing side by side. Shared wording shows the same text under every respondent; its field
    paths (``text.<language>``) differ from separate wording's (``text.<respondent>.<language>``),
    see :func:`wording_paths`."""
    raw = item.get(field)
    per_respondent = isinstance(raw, dict) and raw and set(raw) <= set(RESPONDENT_TYPES)
    grid: dict[str, dict[str, str | None]] = {}
    for respondent in respondent_types:
        texts = raw.get(respondent) if per_respondent and isinstance(raw, dict) else raw
        grid[respondent] = {
            language: texts.get(language) if isinstance(texts, dict) else None
            for language in languages
        }
    return grid


def wording_paths(item: Mapping[str, Any], field: str, respondent: str, language: str) -> str:
    """The field path that edits one cell of :func:`wording_grid` without touching the others:
    for shared wording, editing one respondent's text makes the wording separate."""
    return f"{field}.{respondent}.{language}"
