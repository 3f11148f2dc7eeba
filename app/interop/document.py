"""Shared by both importers: names our format accepts, language codes, and the YAML output.

An importer builds the instrument as plain data (the same shape as an ``instruments/*.yaml``
file), then :func:`finish` writes it as YAML and loads it back with the real loader: what an
import returns always passes ``chorus instruments check``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

import yaml

from app.instruments.expressions import KEYWORDS, RESERVED_NAMES
from app.instruments.loader import parse_instrument
from app.interop.report import ImportReport, InteropError

_NOT_A_NAME_CHARACTER = re.compile(r"[^A-Za-z0-9_]+")
LANGUAGE_CODE: Final = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")
INSTRUMENT_ID: Final = re.compile(r"[a-z][a-z0-9_]*")
# XLSForm columns often name a language in English instead of giving its code.
LANGUAGE_NAMES: Final = {
    "english": "en",
    "french": "fr",
    "francais": "fr",
    "français": "fr",
    "spanish": "es",
    "espanol": "es",
    "español": "es",
    "portuguese": "pt",
    "german": "de",
    "deutsch": "de",
    "italian": "it",
    "dutch": "nl",
    "arabic": "ar",
    "chinese": "zh",
    "hindi": "hi",
    "swahili": "sw",
    "russian": "ru",
    "japanese": "ja",
    "korean": "ko",
    "turkish": "tr",
    "polish": "pl",
    "bengali": "bn",
    "urdu": "ur",
    "amharic": "am",
    "hausa": "ha",
    "yoruba": "yo",
    "nepali": "ne",
    "indonesian": "id",
    "vietnamese": "vi",
    "thai": "th",
}


class NameBook:
    """Turns source names (linkIds, XLSForm names) into unique names our format accepts,
    remembering each so references can follow, and reporting every rename."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        self.names: dict[str, str] = {}
        self.taken: set[str] = set()

    def name(self, source: str, prefix: str = "item") -> str:
        if source in self.names:
            return self.names[source]
        candidate = _NOT_A_NAME_CHARACTER.sub("_", source).strip("_")
        if not candidate or candidate[0].isdigit():
            candidate = f"{prefix}_{candidate}".rstrip("_")
        if candidate in KEYWORDS or candidate in RESERVED_NAMES:
            candidate = f"{candidate}_{prefix}"
        base, number = candidate, 2
        while candidate in self.taken:
            candidate = f"{base}_{number}"
            number += 1
        self.taken.add(candidate)
        self.names[source] = candidate
        if candidate != source:
            self.report.add(
                source, "name", f"not a valid Chorus name; became '{candidate}'", "changed"
            )
        return candidate


def instrument_id_from(text: str) -> str:
    candidate = _NOT_A_NAME_CHARACTER.sub("_", text.lower()).strip("_")
    if not candidate or not candidate[0].isalpha():
        candidate = f"imported_{candidate}".rstrip("_")
    return candidate[:64]


def language_code(raw: str) -> str | None:
    """``fr``, ``pt-BR``, ``French (fr)``, ``french`` → a code our format accepts, else None."""
    text = raw.strip()
    bracketed = re.search(r"\(([^()]+)\)\s*$", text)
    if bracketed:
        text = bracketed.group(1).strip()
    parts = text.replace("_", "-").split("-")
    if len(parts) <= 2 and parts[0]:
        code = parts[0].lower() + ("-" + parts[1].upper() if len(parts) == 2 else "")
        if LANGUAGE_CODE.fullmatch(code):
            return code
    return LANGUAGE_NAMES.get(text.lower())


class _Dumper(yaml.SafeDumper):
    """Quotes a version like ``1.0.0`` as the file format asks; never writes YAML anchors (an
    author reading ``*id001`` would not know what it means)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if re.fullmatch(r"\d+\.\d+\.\d+", value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_text)


def to_yaml(document: Mapping[str, Any], header: str) -> str:
    body = yaml.dump(
        dict(document),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body


def share_choice_lists(document: Mapping[str, Any]) -> dict[str, Any]:
    """Name every choice list that two or more items repeat word for word as a choice set, so
    an author edits it once. The loaded instrument (and its content hash) is the same."""
    items = [item for page in document.get("pages") or [] for item in page.get("items") or []]
    users: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if isinstance(item.get("choices"), list):
            key = json.dumps(item["choices"], sort_keys=True, ensure_ascii=False)
            users.setdefault(key, []).append(item)
    shared = {key: group for key, group in users.items() if len(group) > 1}
    if not shared:
        return dict(document)
    taken = {item.get("id") for item in items}
    choice_sets: dict[str, Any] = {}
    for group in shared.values():
        name = f"{group[0]['id']}_choices"
        while name in taken or name in choice_sets:
            name += "_"
        choice_sets[name] = group[0]["choices"]
        for item in group:
            item["choices"] = name
    result: dict[str, Any] = {}
    for key, value in document.items():
        if key == "pages":
            result["choice_sets"] = choice_sets
        result[key] = value
    return result


def finish(document: Mapping[str, Any], report: ImportReport, header: str) -> str:
    """The YAML text, proven to load; an import that would not load is a bug, said plainly."""
    document = share_choice_lists(document)
    text = to_yaml(document, header)
    instrument, problems = parse_instrument(text, f"{document.get('id')}.yaml")
    untranslated = [p for p in problems if not p.is_error]
    if instrument is not None and untranslated:
        report.add(
            None,
            "translation",
            f"{len(untranslated)} text(s) lack a translation in one of the languages "
            f"({', '.join(instrument.languages)}); readers see the default language there "
            "(`chorus instruments check` lists them)",
            "note",
        )
    if instrument is None:
        errors = "; ".join(str(problem) for problem in problems if problem.is_error)
        raise InteropError(
            f"{report.source}: the imported instrument does not pass the instrument check "
            f"({errors}); please report this file to the Chorus developers"
        )
    return text
