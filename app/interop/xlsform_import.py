"""An XLSForm (ODK, KoboToolbox) as a draft Chorus instrument, with a report.

Entry point: :func:`import_xlsform` (a path or the file's bytes → ``(yaml_text, report)``).

pyxform, the reference implementation, reads the workbook (.xlsx, .xls, or its markdown-table
form) and resolves the XLSForm conventions (type aliases, ``label::Language (code)`` columns,
``or_other``, choice lists); this module maps its JSON survey onto our format. Top-level groups
become pages, loose questions share a page, nested groups, repeats and loops are flattened (asked
once). ``relevant`` becomes ``show_when``, ``constraint`` + ``constraint_message`` a constraint,
a ``calculate`` that adds up answers a score; XPath our language cannot say is reported.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from app.interop.document import NameBook, finish, instrument_id_from, language_code
from app.interop.report import ImportReport, InteropError

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_SEMANTIC_VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
_SIMPLE_TYPES: Final = {
    "integer": "integer",
    "int": "integer",
    "decimal": "decimal",
    "text": "short_text",
    "string": "short_text",
    "date": "date",
    "time": "time",
    "note": "display",
}
# Recorded by the phone without asking anything: nothing for a participant to answer.
_METADATA_TYPES: Final = {
    "start", "end", "today", "deviceid", "uri:deviceid", "subscriberid", "simserial",
    "phonenumber", "username", "email", "audit", "start-geopoint", "background-audio",
}  # fmt: skip
_ITEM_KEYS: Final = {
    "type", "name", "label", "hint", "bind", "children", "choices", "itemset", "list_name",
    "parameters", "control", "choice_filter", "columns", "media", "default", "guidance_hint",
}  # fmt: skip
_SETTINGS_READ: Final = {"form_title", "form_id", "version", "default_language"}


def import_xlsform(
    source: str | Path | bytes, *, instrument_id: str | None = None, source_name: str | None = None
) -> tuple[str, ImportReport]:
    """Import an XLSForm: ``(yaml_text, report)``.

    ``source`` is a path or the file's bytes (.xlsx, .xls, or the markdown-table form);
    ``instrument_id`` names the instrument (default: the form_id setting). Raises
    :class:`InteropError` (nothing imported) for a file that is not an XLSForm workbook or that
    pyxform refuses (missing survey sheet, unknown choice list ...), with its message.
    """
    from pyxform.errors import PyXFormError
    from pyxform.xls2json import workbook_to_json
    from pyxform.xls2json_backends import get_xlsform

    if isinstance(source, bytes):
        name, data = source_name or "upload.xlsx", source
    else:
        path = Path(source)
        name = source_name or path.name
        try:
            data = path.read_bytes()
        except OSError as error:
            raise InteropError(
                f"{path}: cannot read the file: {error.strerror or error}"
            ) from error
    if not data.strip():
        raise InteropError(f"{name}: the file is empty")
    warnings: list[str] = []
    try:
        definition = get_xlsform(data)
        survey = workbook_to_json(definition, form_name="data", warnings=warnings)
    except (PyXFormError, zipfile.BadZipFile, ValueError, KeyError, OSError) as error:
        message = str(error).strip() or type(error).__name__
        if isinstance(error, zipfile.BadZipFile) or "not recognized as a supported type" in message:
            message = "not an Excel workbook (.xlsx, .xls) or XLSForm markdown table"
        raise InteropError(f"{name}: not a usable XLSForm: {message}") from error
    except Exception as error:  # xlrd and openpyxl raise their own types for broken files
        raise InteropError(
            f"{name}: not a usable XLSForm: the workbook could not be read ({type(error).__name__})"
        ) from error
    report = ImportReport(name, "xlsform", found_version="XLSForm")
    for warning in warnings:
        report.add(None, "pyxform warning", " ".join(warning.split()), "note")
    settings = (definition.settings or [{}])[0] if definition.settings else {}
    document = _Importer(survey, settings, report, instrument_id).document()
    header = (
        f"Imported from the XLSForm {name} by `chorus instruments import`.\n"
        f"Import report: {len(report.entries)} entr{'y' if len(report.entries) == 1 else 'ies'}"
        " (see the command's output). Review every text, then set licence and authors."
    )
    return finish(document, report, header), report


class Untranslatable(ValueError):
    pass


@dataclass
class _ItemInfo:
    id: str
    type: str
    choices: dict[str, str | int] = field(default_factory=dict)  # XLSForm name → our value


@dataclass
class _Pending:
    target: dict[str, Any]
    name: str
    relevants: list[tuple[str, str]]  # (owner name, XPath) of its groups and itself


class _Importer:
    def __init__(
        self,
        survey: Mapping[str, Any],
        settings: Mapping[str, Any],
        report: ImportReport,
        instrument_id: str | None,
    ) -> None:
        self.survey = survey
        self.settings = settings
        self.report = report
        self.instrument_id = instrument_id
        self.names = NameBook(report)
        self.page_names = NameBook(report)
        self.items: dict[str, _ItemInfo] = {}  # by XLSForm name
        self.order: list[str] = []  # our ids, file order
        self.pending: list[_Pending] = []
        self.constraints: list[tuple[dict[str, Any], str, str, Any]] = []
        self.calculations: list[tuple[str, str, Any]] = []
        self.languages: list[str] = []
        self.default = "en"
        self.language_of: dict[str, str | None] = {}

    # -- languages and text --------------------------------------------------------------

    def setup_languages(self) -> None:
        seen: list[str] = []

        def collect(node: Mapping[str, Any]) -> None:
            for key in ("label", "hint"):
                value = node.get(key)
                if isinstance(value, dict):
                    seen.extend(k for k in value if k not in seen)
            for choice in node.get("choices") or []:
                if isinstance(choice, dict) and isinstance(choice.get("label"), dict):
                    seen.extend(k for k in choice["label"] if k not in seen)
            for child in node.get("children") or []:
                if isinstance(child, dict):
                    collect(child)

        collect(self.survey)
        named = [language for language in seen if language != "default"]
        for language in named:
            code = language_code(language)
            self.language_of[language] = code
            if code is None:
                self.report.add(
                    None,
                    f"language '{language}'",
                    "not recognised as a language; its texts are left out (name it like "
                    "'label::French (fr)')",
                )
        wanted = self.settings.get("default_language")
        default = language_code(str(wanted)) if wanted else None
        if default is None:
            codes = [c for c in (self.language_of[n] for n in named) if c]
            default = codes[0] if codes and "default" not in seen else None
        if default is None:
            default = "en"
            note = "no language given for the unlabelled columns; assumed English ('en')"
            if "default" in seen or not named:
                self.report.add(None, "default_language", note, "filled")
        self.default = default
        self.languages = [default]
        for language in named:
            code = self.language_of[language]
            if code and code not in self.languages:
                self.languages.append(code)
        self.language_of["default"] = default

    def localized(self, raw: object, where: str | None, field_name: str) -> dict[str, str]:
        if isinstance(raw, str):
            raw = {"default": raw}
        if not isinstance(raw, dict):
            return {}
        texts: dict[str, str] = {}
        for language, text in raw.items():
            code = self.language_of.get(str(language))
            if code is None or not isinstance(text, str) or not text.strip():
                continue
            if language == "default" and code in texts:
                continue  # a named column for the same language wins over the unlabelled one
            texts[code] = text.strip()
        if texts and self.default not in texts:
            first = next(iter(texts))
            texts[self.default] = texts[first]
            self.report.add(
                where,
                field_name,
                f"no {self.default} text; the {first} text is used as the default",
                "changed",
            )
        for text in texts.values():
            if "${" in text:
                self.report.add(
                    where,
                    field_name,
                    "refers to an answer with ${...}; Chorus shows the text as written",
                    "changed",
                )
                break
        return texts

    # -- the document --------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        self.setup_languages()
        pages = self.pages(self.survey.get("children") or [])
        if not any(page["items"] for page in pages):
            raise InteropError(f"{self.report.source}: the form has no question Chorus can ask")
        for pending in self.pending:
            self.resolve_relevant(pending)
        for item, name, xpath, message in self.constraints:
            self.constraint(item, name, xpath, message)
        scores = [s for s in (self.calculation(*c) for c in self.calculations) if s]
        for key in self.settings:
            if key not in _SETTINGS_READ:
                self.report.add(None, f"setting '{key}'", "not supported; ignored")
        title = self.survey.get("title") or self.settings.get("form_title")
        if not title or title == "data":
            title = "Imported form"
            self.report.add(None, "form_title", "not set; used 'Imported form'", "filled")
        form_id = self.settings.get("form_id") or self.survey.get("id_string") or "imported"
        document: dict[str, Any] = {
            "id": self.instrument_id or instrument_id_from(str(form_id)),
            "version": self.version(),
            "title": {self.default: str(title)},
            "languages": self.languages,
            "default_language": self.default,
            "licence": "UNKNOWN: check the source's licence before use",
            "copyright": "UNKNOWN: check the source",
            "authors": ["UNKNOWN"],
            "respondents": ["self"],
            "estimated_minutes": max(
                1, round(sum(1 for i in self.items.values() if i.type != "display") / 4)
            ),
            "pages": [page for page in pages if page["items"]],
        }
        for field_name, action in (
            ("licence", "XLSForm has no licence; placeholder written"),
            ("copyright", "XLSForm has no copyright; placeholder written"),
            ("authors", "XLSForm has no authors; placeholder written"),
            ("respondents", "not in XLSForm; set to [self]"),
            ("estimated_minutes", "not in XLSForm; estimated at 4 questions a minute"),
        ):
            self.report.add(None, field_name, action, "filled")
        if scores:
            document["scores"] = scores
        return document

    def version(self) -> str:
        raw = self.settings.get("version")
        if raw is None:
            self.report.add(None, "version", "not set; set to 0.1.0", "filled")
            return "0.1.0"
        if _SEMANTIC_VERSION.fullmatch(str(raw)):
            return str(raw)
        self.report.add(
            None, "version", f"{raw!r} is not MAJOR.MINOR.PATCH; set to 0.1.0", "changed"
        )
        return "0.1.0"

    # -- structure -----------------------------------------------------------------------

    def pages(self, children: Sequence[Any]) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        loose: dict[str, Any] | None = None
        for node in children:
            if not isinstance(node, dict) or self.is_pyxform_meta(node):
                continue
            if node.get("type") == "group":
                loose = None
                pages.append(self.page(node))
                continue
            if loose is None:
                loose = {"id": self.page_names.name(f"page_{len(pages) + 1}", "page"), "items": []}
                pages.append(loose)
            loose["items"] += self.node(node, [])
        return pages

    def is_pyxform_meta(self, node: Mapping[str, Any]) -> bool:
        """pyxform adds a bodyless ``meta`` group (instanceID); it is not part of the source."""
        return node.get("name") == "meta" and (node.get("control") or {}).get("bodyless") is True

    def page(self, group: Mapping[str, Any]) -> dict[str, Any]:
        name = str(group.get("name"))
        page: dict[str, Any] = {"id": self.page_names.name(name, "page")}
        title = self.localized(group.get("label"), name, "label")
        if title:
            page["title"] = title
        self.report_unread(group, name)
        relevant = (group.get("bind") or {}).get("relevant")
        own = [(name, relevant)] if isinstance(relevant, str) else []
        self.pending.append(_Pending(page, name, own))
        page["items"] = []
        for child in group.get("children") or []:
            if isinstance(child, dict):
                page["items"] += self.node(child, [])  # the page's own condition covers them
        return page

    def node(
        self, node: Mapping[str, Any], inherited: list[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        kind = str(node.get("type"))
        name = str(node.get("name"))
        relevant = (node.get("bind") or {}).get("relevant")
        conditions = (
            [*inherited, (name, relevant)] if isinstance(relevant, str) else list(inherited)
        )
        if kind in ("group", "repeat", "loop"):
            return self.flatten(node, kind, name, conditions)
        self.report_unread(node, name)
        if kind == "calculate":
            calculation = (node.get("bind") or {}).get("calculate")
            self.calculations.append((name, str(calculation), node.get("label")))
            return []
        if kind in _METADATA_TYPES:
            self.report.add(
                name, f"type '{kind}'", "recorded by the phone in ODK, not asked; left out"
            )
            return []
        item = self.item(node, kind, name)
        if item is None:
            return []
        self.pending.append(_Pending(item, name, conditions))
        return [item]

    def flatten(
        self, node: Mapping[str, Any], kind: str, name: str, conditions: list[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        self.report_unread(node, name)
        if kind == "group":
            action = "flattened into its page; its label is a display item and its relevant applies to every question inside"
            self.report.add(name, "nested group", action, "changed")
        else:
            count = (node.get("control") or {}).get("jr:count")
            extra = f" (repeat count {count} not used)" if count else ""
            self.report.add(name, kind, f"asked once: Chorus has no repeats{extra}", "changed")
        produced: list[dict[str, Any]] = []
        heading = self.localized(node.get("label"), name, "label")
        if heading:
            item_id = self.names.name(name)
            display = {"id": item_id, "type": "display", "text": heading}
            self.items[name] = _ItemInfo(item_id, "display")
            self.order.append(item_id)
            self.pending.append(_Pending(display, name, conditions))
            produced.append(display)
        for child in node.get("children") or []:
            if isinstance(child, dict):
                produced += self.node(child, conditions)
        return produced

    def report_unread(self, node: Mapping[str, Any], name: str) -> None:
        for key in node:
            if key not in _ITEM_KEYS:
                self.report.add(name, f"column '{key}'", "not supported; ignored")
        if node.get("media"):
            self.report.add(name, "media", "images, audio and video are not supported; left out")
        if node.get("default") not in (None, ""):
            self.report.add(name, "default", "Chorus has no default answers; not kept")
        if node.get("guidance_hint"):
            self.report.add(name, "guidance_hint", "not kept (Chorus shows one hint)")
        control = node.get("control") or {}
        for key, value in control.items():
            if key in ("bodyless", "jr:count"):
                continue
            self.report.add(
                name, f"{key} '{value}'", "display option not supported; ignored", "note"
            )
        parameters = {
            key: value
            for key, value in (node.get("parameters") or {}).items()
            if not (node.get("type") == "range" and key in ("start", "end", "step"))
        }
        if parameters:
            shown = ", ".join(f"{k}={v}" for k, v in parameters.items())
            self.report.add(name, "parameters", f"{shown} not supported; ignored")
        if node.get("choice_filter"):
            self.report.add(
                name,
                "choice_filter",
                f"filter {node['choice_filter']!r} dropped: every choice of the list is offered",
            )
        bind = node.get("bind") or {}
        for key, value in bind.items():
            if key in ("relevant", "constraint", "jr:constraintMsg", "required", "calculate"):
                continue
            if key == "readonly" and node.get("type") == "calculate":
                continue
            self.report.add(name, f"bind {key}", f"{value!r} not supported; ignored")

    # -- items ---------------------------------------------------------------------------

    def item(self, node: Mapping[str, Any], kind: str, name: str) -> dict[str, Any] | None:
        our_type = self.our_type(node, kind, name)
        if our_type is None:
            return None
        text = self.localized(node.get("label"), name, "label")
        if not text:
            if our_type == "display":
                self.report.add(name, "note", "has no label; left out")
                return None
            text = {self.default: name}
            self.report.add(name, "label", "question has no label; used its name", "filled")
        item_id = self.names.name(name)
        item: dict[str, Any] = {"id": item_id, "type": our_type, "text": text}
        info = _ItemInfo(item_id, our_type)
        hint = self.localized(node.get("hint"), name, "hint")
        if hint:
            item["help"] = hint
        bind = node.get("bind") or {}
        required = str(bind.get("required", "")).strip().lower()
        if required in ("yes", "true", "true()", "1") and our_type != "display":
            item["required"] = True
        elif required not in ("", "no", "false", "false()", "0"):
            self.report.add(
                name, "required", f"{bind.get('required')!r} is not yes/no; not required", "changed"
            )
        if kind == "range":
            self.range_bounds(node, name, item)
        if our_type in ("single_choice", "multiple_choice"):
            choices = self.choices(node, name, info)
            if len(choices) < 2:
                self.report.add(
                    name,
                    "choices",
                    f"{len(choices)} choice(s); Chorus needs 2, so asked as short text",
                    "changed",
                )
                item["type"] = info.type = "short_text"
            else:
                item["choices"] = choices
        constraint = bind.get("constraint")
        if isinstance(constraint, str) and constraint.strip():
            self.constraints.append((item, name, constraint, bind.get("jr:constraintMsg")))
        self.items[name] = info
        self.order.append(item_id)
        return item

    def range_bounds(self, node: Mapping[str, Any], name: str, item: dict[str, Any]) -> None:
        """A range's start and end become the whole number's min and max (pyxform's defaults
        are 1 to 10); a step other than 1 is reported."""
        parameters = node.get("parameters") or {}
        bounds = {"min": parameters.get("start", 1), "max": parameters.get("end", 10)}
        for key, raw in bounds.items():
            try:
                number = float(raw)
            except (TypeError, ValueError):
                continue
            if number.is_integer():
                item[key] = int(number)
        if "min" in item and "max" in item and item["max"] < item["min"]:
            item["min"], item["max"] = item["max"], item["min"]
        step = parameters.get("step", 1)
        if str(step) not in ("1", "1.0"):
            self.report.add(name, "range step", f"step {step} not kept; any whole number between")

    def our_type(self, node: Mapping[str, Any], kind: str, name: str) -> str | None:
        if kind in _SIMPLE_TYPES:
            return _SIMPLE_TYPES[kind]
        if kind in ("select one", "select_one"):
            return "single_choice"
        if kind in ("select all that apply", "select_multiple"):
            return "multiple_choice"
        if kind in ("datetime", "dateTime"):
            self.report.add(
                name, "type 'dateTime'", "asked as a date (the time of day is not asked)", "changed"
            )
            return "date"
        if kind == "acknowledge":
            self.report.add(name, "type 'acknowledge'", "asked as yes/no", "changed")
            return "yes_no"
        if kind in ("phone number", "barcode"):
            self.report.add(name, f"type '{kind}'", "asked as short text", "changed")
            return "short_text"
        if kind == "range":
            self.report.add(
                name, "type 'range'", "asked as a whole number between start and end", "changed"
            )
            return "integer"
        self.report.add(name, f"type '{kind}'", "Chorus has no such question type; left out")
        return None

    def choices(self, node: Mapping[str, Any], name: str, info: _ItemInfo) -> list[dict[str, Any]]:
        raw = [
            c
            for c in node.get("choices") or []
            if isinstance(c, dict) and c.get("name") is not None
        ]
        names = [str(c["name"]).strip() for c in raw]
        whole = bool(names) and all(_WHOLE_NUMBER.fullmatch(n) for n in names)
        choices: list[dict[str, Any]] = []
        for choice, choice_name in zip(raw, names, strict=True):
            if not choice_name:
                continue
            value: str | int = int(choice_name) if whole else choice_name
            if value in info.choices.values():
                self.report.add(
                    name, "choices", f"choice {choice_name!r} listed twice; kept once", "changed"
                )
                continue
            label = self.localized(choice.get("label"), name, "choice label") or {
                self.default: choice_name
            }
            if choice.get("media"):
                self.report.add(
                    name, "choice media", "images on choices are not supported; left out"
                )
            info.choices[choice_name] = value
            choices.append({"value": value, "label": label})
        return choices

    # -- logic ---------------------------------------------------------------------------

    def resolve_relevant(self, pending: _Pending) -> None:
        first = (
            pending.target["items"][0]["id"]
            if pending.target.get("items")
            else pending.target.get("id")
        )
        earlier = (
            set(self.order[: self.order.index(first)]) if first in self.order else set(self.order)
        )
        parts: list[str] = []
        for owner, xpath in pending.relevants:
            try:
                parts.append(_XPath(xpath, self, earlier, None).translate())
            except Untranslatable as problem:
                self.report.add(
                    owner,
                    "relevant",
                    f"{xpath!r} not translated ({problem}); shown without this condition",
                )
        if parts:
            pending.target["show_when"] = (
                parts[0] if len(parts) == 1 else " and ".join(f"({p})" for p in parts)
            )
            if "items" in pending.target:
                pending.target["items"] = pending.target.pop("items")

    def constraint(self, item: dict[str, Any], name: str, xpath: str, message: object) -> None:
        info = self.items[name]
        earlier = set(self.order[: self.order.index(info.id) + 1])
        text = self.localized(message, name, "constraint_message")
        regex = re.fullmatch(r"\s*regex\(\s*\.\s*,\s*'((?:[^'\\]|\\.)*)'\s*\)\s*", xpath)
        if regex and item["type"] == "short_text":
            pattern = regex.group(1)
            item["pattern"] = (
                pattern
                if pattern.startswith("^") and pattern.endswith("$")
                else f".*(?:{pattern}).*"
            )
            item["pattern"] = (
                item["pattern"].removeprefix("^").removesuffix("$")
                if pattern.startswith("^")
                else item["pattern"]
            )
            try:
                re.compile(item["pattern"])
            except re.error:
                item.pop("pattern")
                self.report.add(
                    name, "constraint", f"regex {pattern!r} is not one Python reads; not kept"
                )
                return
            self.report.add(
                name,
                "constraint",
                "regex became the answer's pattern; its message is not kept",
                "changed",
            )
            return
        try:
            condition = _XPath(xpath, self, earlier, info.id).translate()
        except Untranslatable as problem:
            self.report.add(name, "constraint", f"{xpath!r} not translated ({problem}); not kept")
            return
        if not text:
            text = {self.default: "Please check this answer."}
            self.report.add(
                name, "constraint_message", "not given; a generic message was written", "filled"
            )
        item["constraint"] = {"condition": condition, "message": text}

    def calculation(self, name: str, xpath: str, label: object) -> dict[str, Any] | None:
        try:
            tree = _XPath(xpath, self, set(self.order), None).parse()
            method, items = _summed(tree, self)
        except Untranslatable as problem:
            self.report.add(
                name,
                "calculate",
                f"{xpath!r} is not a sum or mean of answers ({problem}); left out",
            )
            return None
        score_id = self.names.name(name)
        label_text = self.localized(label, name, "label").get(self.default) or name
        self.report.add(
            name,
            "calculate",
            f"became score '{score_id}' ({method} of {', '.join(items)}); computed only when every item is answered",
            "changed",
        )
        return {
            "id": score_id,
            "label": label_text,
            "method": method,
            "items": items,
            "max_missing": 0,
        }


# -- XPath (the part XLSForm authors write) ----------------------------------------------------

_XPATH_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ref>\$\{[^}]+\})
      | (?P<path>(?:\.\./|/)[A-Za-z_][\w./-]*)
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<name>[A-Za-z_][\w:-]*)
      | (?P<op><=|>=|!=|[-+*=<>(),.])
    )""",
    re.VERBOSE,
)


class _XPath:
    """XLSForm XPath → our expression text, for references to earlier questions."""

    def __init__(
        self, text: str, importer: _Importer, earlier: set[str], current: str | None
    ) -> None:
        self.text = text
        self.importer = importer
        self.earlier = earlier
        self.current = current
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = _XPATH_TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise Untranslatable(f"cannot read {text[position : position + 10]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.tokens.append(("end", ""))
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index]

    def take(self) -> tuple[str, str]:
        self.index += 1
        return self.tokens[self.index - 1]

    def parse(self) -> tuple[Any, ...]:
        tree = self.binary(0)
        if self.peek()[0] != "end":
            raise Untranslatable(f"unexpected {self.peek()[1]!r}")
        return tree

    LEVELS: Final = (
        ("or",),
        ("and",),
        ("=", "!=", "<", "<=", ">", ">="),
        ("+", "-"),
        ("*", "div", "mod"),
    )

    def binary(self, level: int) -> tuple[Any, ...]:
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[1] in self.LEVELS[level]:
            operator = self.take()[1]
            left = ("bin", operator, left, self.binary(level + 1))
        return left

    def unary(self) -> tuple[Any, ...]:
        if self.peek()[1] == "-":
            self.take()
            return ("neg", self.unary())
        kind, value = self.take()
        if kind == "number":
            return ("lit", float(value))
        if kind == "string":
            return ("lit", value[1:-1])
        if kind == "ref":
            return ("ref", value[2:-1].strip())
        if kind == "path":
            return ("ref", value.rstrip("/").split("/")[-1])
        if value == ".":
            if self.current is None:
                raise Untranslatable("'.' outside a constraint")
            return ("self",)
        if value == "(":
            inner = self.binary(0)
            if self.take()[1] != ")":
                raise Untranslatable("missing ')'")
            return inner
        if kind == "name" and self.peek()[1] == "(":
            self.take()
            arguments: list[tuple[Any, ...]] = []
            while self.peek()[1] != ")":
                if arguments and self.take()[1] != ",":
                    raise Untranslatable("expected ','")
                arguments.append(self.binary(0))
                if self.peek()[0] == "end":
                    raise Untranslatable("missing ')'")
            self.take()
            return ("call", value, arguments)
        raise Untranslatable(f"unexpected {value or 'end'!r}")

    def translate(self) -> str:
        return self.render(self.parse())

    def info(self, node: tuple[Any, ...]) -> _ItemInfo:
        if node[0] == "self":
            assert self.current is not None
            return next(i for i in self.importer.items.values() if i.id == self.current)
        info = self.importer.items.get(node[1])
        if info is None:
            raise Untranslatable(f"'{node[1]}' is not a question Chorus imported")
        if info.id not in self.earlier:
            raise Untranslatable(f"'{node[1]}' is not an earlier question")
        return info

    def render(self, node: tuple[Any, ...]) -> str:
        kind = node[0]
        if kind == "lit":
            return _literal(node[1])
        if kind in ("ref", "self"):
            return self.info(node).id
        if kind == "neg":
            return f"-({self.render(node[1])})"
        if kind == "call":
            return self.call(node[1], node[2])
        operator, left, right = node[1], node[2], node[3]
        if operator in ("and", "or"):
            return f"({self.render(left)}) {operator} ({self.render(right)})"
        if operator == "mod":
            raise Untranslatable("'mod' has no Chorus equivalent")
        if operator in ("+", "-", "*", "div"):
            ours = "/" if operator == "div" else operator
            return f"({self.render(left)}) {ours} ({self.render(right)})"
        return self.comparison(operator, left, right)

    def comparison(self, operator: str, left: tuple[Any, ...], right: tuple[Any, ...]) -> str:
        ours = "==" if operator == "=" else operator
        if right[0] in ("ref", "self") and left[0] == "lit":
            left, right = right, left
            ours = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(ours, ours)
        if left[0] in ("ref", "self") and right[0] == "lit":
            info = self.info(left)
            value = right[1]
            if value == "" and ours in ("==", "!="):
                return f"not answered({info.id})" if ours == "==" else f"answered({info.id})"
            if info.type == "multiple_choice":
                raise Untranslatable("compares a select_multiple answer directly; use selected()")
            if info.type == "single_choice":
                key = (
                    str(int(value))
                    if isinstance(value, float) and value.is_integer()
                    else str(value)
                )
                if key not in info.choices:
                    if ours in ("==", "!="):
                        raise Untranslatable(
                            f"{value!r} is not a choice of '{left[1] if left[0] == 'ref' else info.id}'"
                        )
                    typed: object = value
                else:
                    typed = info.choices[key]
                if ours not in ("==", "!=") and not isinstance(typed, int | float):
                    raise Untranslatable("orders a text choice")
                return f"{info.id} {ours} {_literal(typed)}"
            if (
                info.type in ("integer", "decimal")
                and isinstance(value, str)
                and _WHOLE_NUMBER.fullmatch(value)
            ):
                value = float(value)
            return f"{info.id} {ours} {_literal(value)}"
        return f"{self.render(left)} {ours} {self.render(right)}"

    def call(self, name: str, arguments: list[tuple[Any, ...]]) -> str:
        if name == "not" and len(arguments) == 1:
            return f"not ({self.render(arguments[0])})"
        if name in ("true", "false") and not arguments:
            return name
        if name == "selected" and len(arguments) == 2 and arguments[1][0] == "lit":
            info = self.info(arguments[0])
            key = arguments[1][1]
            key = str(int(key)) if isinstance(key, float) and key.is_integer() else str(key)
            if key not in info.choices:
                raise Untranslatable(f"{key!r} is not a choice of '{info.id}'")
            value = _literal(info.choices[key])
            if info.type == "multiple_choice":
                return f"contains({info.id}, {value})"
            return f"{info.id} == {value}"
        if name == "count-selected" and len(arguments) == 1:
            return f"count({self.info(arguments[0]).id})"
        raise Untranslatable(f"function {name}() has no Chorus equivalent")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _summed(tree: tuple[Any, ...], importer: _Importer) -> tuple[str, list[str]]:
    """``("sum"|"mean", item ids)`` for ``${a} + ${b} ...`` or ``(${a} + ${b}) div 2``."""
    method = "sum"
    if tree[0] == "bin" and tree[1] == "div" and tree[3][0] == "lit":
        divisor = tree[3][1]
        tree = tree[2]
        method = "mean"
    else:
        divisor = None

    def terms(node: tuple[Any, ...]) -> list[str]:
        if node[0] == "bin" and node[1] == "+":
            return terms(node[2]) + terms(node[3])
        if node[0] == "ref":
            info = importer.items.get(node[1])
            if info is None:
                raise Untranslatable(f"'{node[1]}' is not a question Chorus imported")
            numeric = info.type in ("integer", "decimal") or (
                info.type == "single_choice"
                and all(isinstance(v, int) for v in info.choices.values())
            )
            if not numeric:
                raise Untranslatable(f"'{node[1]}' has no numeric value")
            return [info.id]
        raise Untranslatable("only answers added together can become a score")

    items = terms(tree)
    if len(set(items)) != len(items):
        raise Untranslatable("an answer is added twice")
    if divisor is not None and divisor != len(items):
        raise Untranslatable(f"divides {len(items)} answers by {divisor}")
    return method, items
