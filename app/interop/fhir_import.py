"""A FHIR R4 Questionnaire (the SDC subset) as a draft Chorus instrument, with a report.

Entry point: :func:`import_fhir` (a path or the file's bytes → ``(yaml_text, report)``).

Top-level groups become pages; loose top-level questions share a page; nested groups are
flattened into their page (their heading becomes a display item, their skip logic is added to
each item inside). ``enableWhen`` becomes ``show_when``; simple FHIRPath (``enableWhenExpression``,
``calculatedExpression``, ``variable``) is translated where our language can say the same thing;
a calculated total of answer scores becomes a score. Everything else is listed in the report.
A Questionnaire that Chorus exported comes back exactly (its Chorus extensions carry what FHIR
cannot). STU3 and R5 Questionnaires are recognised and refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from app.instruments.model import SCALE_DEFAULTS
from app.interop import fhir_vocabulary as v
from app.interop.document import NameBook, finish, instrument_id_from, language_code
from app.interop.fhirpath import FhirPathError, Node, parse_fhirpath
from app.interop.report import ImportReport, InteropError, quoted

# Keys of a Questionnaire.item the importer reads (anything else is reported).
_ITEM_KEYS: Final = {
    "linkId", "text", "_text", "type", "required", "repeats", "readOnly", "maxLength",
    "answerOption", "answerValueSet", "enableWhen", "enableBehavior", "item", "code",
    "extension", "prefix", "initial", "definition", "id",
}  # fmt: skip
_QUESTIONNAIRE_KEYS: Final = {
    "resourceType", "id", "meta", "language", "url", "identifier", "version", "name", "title",
    "_title", "description", "_description", "copyright", "_copyright", "code", "item",
    "extension", "contained", "publisher", "text", "status", "subjectType", "date",
    "experimental", "implicitRules",
}  # fmt: skip
# Extensions that are read where they are meaningful; elsewhere they are reported.
_HANDLED_ITEM_EXTENSIONS: Final = {
    v.ITEM_CONTROL, v.MIN_VALUE, v.MAX_VALUE, v.MIN_OCCURS, v.MAX_OCCURS, v.MAX_DECIMAL_PLACES,
    v.REGEX, v.UNIT, v.SLIDER_STEP, v.VARIABLE, v.TARGET_CONSTRAINT, v.ENABLE_WHEN_EXPRESSION,
    v.CALCULATED_EXPRESSION, v.CHORUS_ITEM_TYPE, v.CHORUS_RESPONDENT_TEXT, v.CHORUS_SHOW_WHEN,
    v.CHORUS_CONSTRAINT, v.CHORUS_PAGE, v.HIDDEN,
}  # fmt: skip
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_R5_ITEM_TYPES: Final = {"coding", "question"}
_R5_ITEM_KEYS: Final = {"answerConstraint", "disabledDisplay"}
_R5_TOP_KEYS: Final = {"versionAlgorithmString", "versionAlgorithmCoding", "copyrightLabel"}
_STU3_ITEM_KEYS: Final = {"option", "options", "initialString", "initialCoding"}


def import_fhir(
    source: str | Path | bytes, *, instrument_id: str | None = None, source_name: str | None = None
) -> tuple[str, ImportReport]:
    """Import a FHIR R4 Questionnaire: ``(yaml_text, report)``.

    ``source`` is a path or the file's bytes; ``instrument_id`` names the instrument (default:
    from the Questionnaire); ``source_name`` names the file in the report (default: the path's
    name, or ``upload.json``). Raises :class:`InteropError` (nothing imported) for a file that
    is not JSON, not a Questionnaire, or a Questionnaire of another FHIR version.
    """
    name, data = _read(source, source_name, "upload.json")
    resource = _parse_json(data, name)
    report = ImportReport(name, "fhir")
    _check_version(resource, name)
    report.found_version = "FHIR R4"
    document = _Importer(resource, report, instrument_id).document()
    header = (
        f"Imported from the FHIR R4 Questionnaire {name} by `chorus instruments import`.\n"
        f"Import report: {len(report.entries)} entr{'y' if len(report.entries) == 1 else 'ies'}"
        " (see the command's output). Review every text, then set licence and authors."
    )
    return finish(document, report, header), report


def _read(source: str | Path | bytes, source_name: str | None, fallback: str) -> tuple[str, bytes]:
    if isinstance(source, bytes):
        return source_name or fallback, source
    path = Path(source)
    try:
        return source_name or path.name, path.read_bytes()
    except OSError as error:
        raise InteropError(f"{path}: cannot read the file: {error.strerror or error}") from error


def _parse_json(data: bytes, name: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InteropError(
            f"{name}: not a FHIR JSON file: not UTF-8 text (byte {error.start})"
        ) from error
    try:
        resource = json.loads(text)
    except json.JSONDecodeError as error:
        raise InteropError(
            f"{name}: not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    if not isinstance(resource, dict):
        raise InteropError(f"{name}: expected a FHIR resource (a JSON object)")
    kind = resource.get("resourceType")
    if kind != "Questionnaire":
        found = f"resourceType {kind!r}" if kind else "no resourceType"
        raise InteropError(f"{name}: expected a FHIR Questionnaire, found {found}")
    if not isinstance(resource.get("item"), list) or not resource["item"]:
        raise InteropError(f"{name}: the Questionnaire has no items")
    return resource


def _all_items(items: object) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = list(items) if isinstance(items, list) else []
    while stack:
        entry = stack.pop(0)
        if isinstance(entry, dict):
            found.append(entry)
            stack[:0] = entry.get("item") or []
    return found


def _check_version(resource: Mapping[str, Any], name: str) -> None:
    """Refuse STU3 and R5 Questionnaires, saying which version was found and why we think so."""
    items = _all_items(resource.get("item"))
    profiles = " ".join(str(p) for p in (resource.get("meta") or {}).get("profile") or [])
    for entry in items:
        stu3 = sorted(_STU3_ITEM_KEYS & set(entry))
        conditions = entry.get("enableWhen")
        if isinstance(conditions, list) and any(
            isinstance(c, dict) and "hasAnswer" in c for c in conditions
        ):
            stu3 = stu3 or ["enableWhen.hasAnswer"]
        if stu3:
            raise InteropError(
                f"{name}: this is a FHIR STU3 (3.0) Questionnaire (item '{entry.get('linkId')}' "
                f"uses item.{stu3[0]}); Chorus imports FHIR R4 (4.0.1). Convert it to R4 "
                "(item.option became item.answerOption) and import again"
            )
    r5_top = sorted(_R5_TOP_KEYS & set(resource))
    if r5_top:
        raise InteropError(
            f"{name}: this is a FHIR R5 (5.0) Questionnaire (it has {r5_top[0]}); Chorus imports "
            "FHIR R4 (4.0.1)"
        )
    for entry in items:
        r5_keys = sorted(_R5_ITEM_KEYS & set(entry))
        if r5_keys or entry.get("type") in _R5_ITEM_TYPES:
            what = f"item.{r5_keys[0]}" if r5_keys else f"item type '{entry.get('type')}'"
            raise InteropError(
                f"{name}: this is a FHIR R5 (5.0) Questionnaire (item '{entry.get('linkId')}' "
                f"uses {what}); Chorus imports FHIR R4 (4.0.1)"
            )
    if "|5.0" in profiles or ("|3.0.0" in profiles and "sdc" not in profiles):
        raise InteropError(
            f"{name}: the Questionnaire declares profile {profiles}; Chorus imports FHIR R4"
        )


class Untranslatable(ValueError):
    """An expression or condition our language cannot say; the message says what."""


@dataclass
class _ItemInfo:
    """What skip logic and scores need to know about an imported item."""

    id: str
    type: str
    # value as the source writes it (a code, a string) → our typed value
    choices: dict[str, str | int] = field(default_factory=dict)
    scored: bool = False  # every choice has a score, or the item is a number


@dataclass
class _Pending:
    """An item or page whose show_when is worked out once every item is known."""

    target: dict[str, Any]
    owner: str  # source linkId for the report
    conditions: list[dict[str, Any]]  # FHIR elements (item or group) whose skip logic applies


class _Importer:
    def __init__(
        self, resource: Mapping[str, Any], report: ImportReport, instrument_id: str | None
    ) -> None:
        self.resource = resource
        self.report = report
        self.instrument_id = instrument_id
        self.names = NameBook(report)
        self.default = "en"
        self.languages: list[str] = []
        self.items: dict[str, _ItemInfo] = {}  # by source linkId
        self.item_order: list[str] = []  # our ids in document order
        self.pending: list[_Pending] = []
        self.scores: list[dict[str, Any]] = []
        self.calculated: list[tuple[dict[str, Any], str]] = []  # (FHIR item, our score id)
        self.variables: dict[str, Node | None] = {}
        self.used_variables: set[str] = set()
        self.contained = {
            entry.get("id"): entry
            for entry in resource.get("contained") or []
            if isinstance(entry, dict) and entry.get("resourceType") == "ValueSet"
        }
        self.page_ids = NameBook(report)

    # -- text ----------------------------------------------------------------------------

    def language(self, raw: object, where: str | None) -> str | None:
        if not isinstance(raw, str):
            return None
        code = language_code(raw)
        if code is None:
            self.report.add(
                where, "translation", f"language {raw!r} is not a code Chorus accepts; dropped"
            )
            return None
        if code not in self.languages:
            self.languages.append(code)
        return code

    def localized(self, element: Mapping[str, Any], name: str, where: str | None) -> dict[str, str]:
        text = element.get(name)
        texts: dict[str, str] = {}
        if isinstance(text, str) and text.strip():
            texts[self.default] = text.strip()
        for language, content in v.read_translations(element.get("_" + name)).items():
            code = self.language(language, where)
            if code is not None and code != self.default:
                texts[code] = content.strip()
        return texts

    def localized_extension(self, entry: Mapping[str, Any], where: str | None) -> dict[str, str]:
        texts: dict[str, str] = {}
        for language, content in v.read_translations(entry).items():
            code = self.language(language, where)
            if code is not None:
                texts[code] = content.strip()
        return texts

    # -- the document --------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        resource = self.resource
        language = resource.get("language")
        self.default = (language_code(language) if isinstance(language, str) else None) or "en"
        self.languages = [self.default]
        if not isinstance(language, str):
            self.report.add(None, "language", "not given; assumed English ('en')", "filled")
        meta = self.chorus_metadata()
        for entry in v.extensions_named(resource, v.VARIABLE):
            self.add_variable(entry, None)
        pages = self.pages(resource["item"])
        for pending in self.pending:
            self.resolve_skip_logic(pending)
        for item, score_id in self.calculated:
            self.calculated_score(item, score_id)
        for name in self.variables:
            if name not in self.used_variables:
                self.report.add(
                    None, f"variable %{name}", "not used by anything Chorus imported", "note"
                )
        self.report_unread_keys(resource, _QUESTIONNAIRE_KEYS, None)
        for entry in resource.get("extension") or []:
            url = entry.get("url") if isinstance(entry, dict) else None
            if url not in (v.CHORUS_INSTRUMENT, v.CHORUS_SCORE, v.CHORUS_ALERT, v.VARIABLE):
                self.report.add(None, f"extension {url}", "not supported; ignored")

        title = self.localized(resource, "title", None)
        if not title:
            fallback = resource.get("name") or resource.get("id") or "Imported questionnaire"
            title = {self.default: str(fallback)}
            self.report.add(None, "title", f"missing; used {fallback!r}", "filled")
        document: dict[str, Any] = {
            "id": self.instrument_id or self.derived_id(),
            "version": self.version(),
            "title": title,
        }
        description = self.localized(resource, "description", None)
        if description:
            document["description"] = description
        document["languages"] = self.languages
        document["default_language"] = self.default
        document.update(self.licensing(meta))
        if meta.get("co_design"):
            document["co_design"] = meta["co_design"]
        document["respondents"] = meta.get("respondents") or ["self"]
        if "respondents" not in meta:
            self.report.add(None, "respondents", "not in FHIR; set to [self]", "filled")
        if meta.get("age_range"):
            document["age_range"] = meta["age_range"]
        codes = self.codes(resource.get("code"), None)
        if codes:
            document["codes"] = codes
        if meta.get("recall_period"):
            document["recall_period"] = meta["recall_period"]
        document["estimated_minutes"] = meta.get("estimated_minutes") or self.estimated_minutes()
        document["pages"] = pages
        scores = meta.get("scores") or self.scores
        if scores:
            document["scores"] = scores
        if meta.get("alerts"):
            document["alerts"] = meta["alerts"]
        return document

    def derived_id(self) -> str:
        url = self.resource.get("url")
        if isinstance(url, str) and url.startswith(v.CHORUS_QUESTIONNAIRE):
            return url.removeprefix(v.CHORUS_QUESTIONNAIRE)
        raw = self.resource.get("name") or self.resource.get("id") or "imported"
        return instrument_id_from(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(raw)))

    def version(self) -> str:
        raw = self.resource.get("version")
        if isinstance(raw, str) and re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)", raw):
            return raw
        if raw is not None:
            self.report.add(
                None, "version", f"{raw!r} is not MAJOR.MINOR.PATCH; set to 0.1.0", "changed"
            )
        else:
            self.report.add(None, "version", "not given; set to 0.1.0", "filled")
        return "0.1.0"

    def licensing(self, meta: Mapping[str, Any]) -> dict[str, Any]:
        publisher = self.resource.get("publisher")
        copyright_text = self.resource.get("copyright")
        fields: dict[str, Any] = {}
        if meta.get("licence"):
            fields["licence"] = meta["licence"]
        else:
            fields["licence"] = "UNKNOWN: check the source's licence before use"
            self.report.add(
                None, "licence", "FHIR has no licence field; placeholder written", "filled"
            )
        if isinstance(copyright_text, str) and copyright_text.strip():
            fields["copyright"] = copyright_text.strip()
        elif isinstance(publisher, str) and publisher.strip():
            fields["copyright"] = f"Published by {publisher.strip()}"
            self.report.add(None, "copyright", "not given; named the publisher", "filled")
        else:
            fields["copyright"] = "UNKNOWN: check the source"
            self.report.add(None, "copyright", "not given; placeholder written", "filled")
        if meta.get("authors"):
            fields["authors"] = meta["authors"]
        elif isinstance(publisher, str) and publisher.strip():
            fields["authors"] = [publisher.strip()]
            self.report.add(None, "authors", "not in FHIR; used the publisher", "filled")
        else:
            fields["authors"] = ["UNKNOWN"]
            self.report.add(None, "authors", "not in FHIR; placeholder written", "filled")
        return fields

    def estimated_minutes(self) -> int:
        self.report.add(
            None, "estimated_minutes", "not in FHIR; estimated at 4 questions a minute", "filled"
        )
        answerable = sum(1 for info in self.items.values() if info.type != "display")
        return max(1, round(answerable / 4))

    # -- Chorus metadata (an export of ours coming back) -----------------------------------

    def chorus_metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        found = v.extensions_named(self.resource, v.CHORUS_INSTRUMENT)
        if not found:
            return meta
        entry = found[0]
        parts = entry.get("extension") or []

        def values(url: str) -> list[Any]:
            return [
                value
                for part in parts
                if part.get("url") == url
                for key, value in part.items()
                if key.startswith("value")
            ]

        for language in values("language"):
            self.language(language, None)
        if values("licence"):
            meta["licence"] = values("licence")[0]
        if values("author"):
            meta["authors"] = values("author")
        if values("co-design"):
            meta["co_design"] = values("co-design")[0]
        if values("respondent"):
            meta["respondents"] = values("respondent")
        age = {k: values(f"age-{k}")[0] for k in ("min", "max") if values(f"age-{k}")}
        if age:
            meta["age_range"] = age
        if values("estimated-minutes"):
            meta["estimated_minutes"] = values("estimated-minutes")[0]
        recall = [part for part in parts if part.get("url") == "recall-period"]
        if recall:
            meta["recall_period"] = self.localized_extension(recall[0], None)
        meta["scores"] = [
            self.chorus_score(e) for e in v.extensions_named(self.resource, v.CHORUS_SCORE)
        ]
        meta["alerts"] = [
            self.chorus_alert(e) for e in v.extensions_named(self.resource, v.CHORUS_ALERT)
        ]
        return meta

    def chorus_alert(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        alert: dict[str, Any] = {
            "id": v.extension_value(entry, "id"),
            "when": v.extension_value(entry, "when"),
            "severity": v.extension_value(entry, "severity"),
            "message": v.extension_value(entry, "message"),
        }
        for part in entry.get("extension") or []:
            if part.get("url") == "participant-message":
                # Shown in the app's language, so its languages are not the instrument's.
                alert["participant_message"] = {
                    code: content.strip()
                    for language, content in v.read_translations(part).items()
                    if (code := language_code(language)) is not None
                }
        return alert

    def chorus_score(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        parts = entry.get("extension") or []

        def all_of(url: str) -> list[Any]:
            return [p for p in parts if p.get("url") == url]

        score: dict[str, Any] = {
            "id": v.extension_value(entry, "id"),
            "label": v.extension_value(entry, "label"),
            "method": v.extension_value(entry, "method"),
            "items": [p.get("valueString") for p in all_of("item")],
        }
        if all_of("reverse"):
            score["reverse"] = [p.get("valueString") for p in all_of("reverse")]
        if all_of("weight"):
            score["weights"] = {
                v.extension_value(p, "item"): v.extension_value(p, "value")
                for p in all_of("weight")
            }
        score["max_missing"] = v.extension_value(entry, "max-missing") or 0
        for url, key in (("round-to", "round_to"), ("when", "when")):
            value = v.extension_value(entry, url)
            if value is not None:
                score[key] = value
        if all_of("lookup"):
            score["lookup"] = {
                v.extension_value(p, "raw"): v.extension_value(p, "value") for p in all_of("lookup")
            }
        if all_of("band"):
            score["bands"] = [
                {
                    "min": v.extension_value(p, "min"),
                    "max": v.extension_value(p, "max"),
                    "label": v.extension_value(p, "label"),
                }
                for p in all_of("band")
            ]
        codes = [p.get("valueCoding") for p in all_of("code")]
        if codes:
            score["codes"] = self.codes(codes, None)
        return score

    # -- pages ---------------------------------------------------------------------------

    def pages(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        loose: dict[str, Any] | None = None
        for entry in items:
            if not isinstance(entry, dict):
                continue
            if entry.get("type") == "group":
                loose = None
                page = self.page(entry)
                if page is not None:
                    pages.append(page)
                continue
            if loose is None:
                loose = {"id": self.page_ids.name(f"page_{len(pages) + 1}", "page"), "items": []}
                pages.append(loose)
            loose["items"] += self.question(entry, [])
        return [page for page in pages if page["items"]]

    def page(self, group: dict[str, Any]) -> dict[str, Any] | None:
        link_id = str(group.get("linkId"))
        page_id = v.extension_value(group, v.CHORUS_PAGE) or link_id
        page: dict[str, Any] = {"id": self.page_ids.name(str(page_id), "page")}
        title = self.localized(group, "text", link_id)
        if title:
            page["title"] = title
        if group.get("repeats"):
            self.report.add(
                link_id, "repeats", "repeating group asked once (Chorus has no repeats)", "changed"
            )
        if group.get("required") is True:
            self.report.add(
                link_id, "required", "a required group: its questions keep their own setting"
            )
        self.pending.append(_Pending(page, link_id, [group]))
        page["items"] = []
        self.report_unread_keys(group, _ITEM_KEYS, link_id)
        self.report_extensions(group, link_id)
        for child in group.get("item") or []:
            if isinstance(child, dict):
                page["items"] += self.question(child, [])
        if not page["items"]:
            self.report.add(link_id, "group", "no items Chorus can ask; page left out")
            return None
        return page

    # -- items ---------------------------------------------------------------------------

    def question(
        self, entry: dict[str, Any], inherited: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Our items for one FHIR item (a nested group gives several)."""
        link_id = str(entry.get("linkId"))
        kind = entry.get("type")
        conditions = [*inherited, entry]
        if kind == "group":
            return self.nested_group(entry, inherited)
        self.report_unread_keys(entry, _ITEM_KEYS, link_id)
        self.report_extensions(entry, link_id)
        if v.extension_value(entry, v.CALCULATED_EXPRESSION) is not None:
            score_id = self.names.name(link_id)
            self.calculated.append((entry, score_id))
            return []
        if v.extension_value(entry, v.HIDDEN) is True:
            self.report.add(link_id, "questionnaire-hidden", "hidden item left out")
            return []
        for variable in v.extensions_named(entry, v.VARIABLE):
            self.add_variable(variable, link_id)
        item = self.item(entry, link_id, kind)
        if item is None:
            return []
        self.pending.append(_Pending(item, link_id, conditions))
        produced = [item]
        for child in entry.get("item") or []:
            if not isinstance(child, dict) or self.is_child_text(child):
                continue
            child_id = child.get("linkId")
            if child.get("type") == "display":
                self.report.add(
                    child_id,
                    "display item inside a question",
                    "shown after the question",
                    "changed",
                )
            else:
                self.report.add(
                    child_id,
                    "item nested under a question",
                    f"asked after '{link_id}', when '{link_id}' is shown",
                    "changed",
                )
            produced += self.question(child, [*conditions[:-1], entry])
        return produced

    def nested_group(
        self, group: dict[str, Any], inherited: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        link_id = str(group.get("linkId"))
        self.report_unread_keys(group, _ITEM_KEYS, link_id)
        self.report_extensions(group, link_id)
        self.report.add(
            link_id,
            "nested group",
            "flattened into its page; its heading is a display item and its skip logic applies "
            "to every item inside",
            "changed",
        )
        if group.get("repeats"):
            self.report.add(
                link_id, "repeats", "repeating group asked once (Chorus has no repeats)", "changed"
            )
        produced: list[dict[str, Any]] = []
        heading = self.localized(group, "text", link_id)
        conditions = [*inherited, group]
        if heading:
            item_id = self.names.name(link_id)
            display = {"id": item_id, "type": "display", "text": heading}
            self.items[link_id] = _ItemInfo(item_id, "display")
            self.item_order.append(item_id)
            self.pending.append(_Pending(display, link_id, conditions))
            produced.append(display)
        for child in group.get("item") or []:
            if isinstance(child, dict):
                produced += self.question(child, conditions)
        return produced

    def is_child_text(self, child: Mapping[str, Any]) -> bool:
        return child.get("type") == "display" and self.item_control(child) in (
            "help", "flyover", "lower", "upper", "legal", "prompt"
        )  # fmt: skip

    def item_control(self, entry: Mapping[str, Any]) -> str | None:
        concept = v.extension_value(entry, v.ITEM_CONTROL)
        if isinstance(concept, dict):
            for coding in concept.get("coding") or []:
                if isinstance(coding, dict) and coding.get("code"):
                    return str(coding["code"])
        return None

    def child_text(self, entry: Mapping[str, Any], control: str) -> dict[str, Any]:
        for child in entry.get("item") or []:
            if (
                isinstance(child, dict)
                and child.get("type") == "display"
                and self.item_control(child) == control
            ):
                return self.wording(child, str(child.get("linkId")))
        return {}

    def wording(self, entry: Mapping[str, Any], link_id: str) -> dict[str, Any]:
        """Text, or ``{self: ..., proxy: ...}`` when the export carried other respondents'."""
        shared = self.localized(entry, "text", link_id)
        prefix = entry.get("prefix")
        if isinstance(prefix, str) and prefix.strip() and shared:
            shared = {lang: f"{prefix.strip()} {text}" for lang, text in shared.items()}
            self.report.add(link_id, "prefix", f"written before the text ({prefix!r})", "changed")
        others = v.extensions_named(entry, v.CHORUS_RESPONDENT_TEXT)
        if not others:
            return shared
        first_respondent = self.first_respondent()
        wording: dict[str, Any] = {first_respondent: shared}
        for other in others:
            respondent = v.extension_value(other, "respondent")
            wording[str(respondent)] = self.localized_extension(other, link_id)
        return wording

    def first_respondent(self) -> str:
        for entry in v.extensions_named(self.resource, v.CHORUS_INSTRUMENT):
            for part in entry.get("extension") or []:
                if part.get("url") == "respondent":
                    return str(part.get("valueCode"))
        return "self"

    def item(self, entry: dict[str, Any], link_id: str, kind: object) -> dict[str, Any] | None:
        text = self.wording(entry, link_id)
        chorus_type = v.extension_value(entry, v.CHORUS_ITEM_TYPE)
        our_type = self.our_type(entry, link_id, kind, chorus_type)
        if our_type is None:
            return None
        if not text:
            prompt = self.child_text(entry, "flyover") or self.child_text(entry, "prompt")
            if prompt and our_type != "display":
                text = prompt
                self.report.add(
                    link_id,
                    "text",
                    "question has no text; its fly-over text is the question",
                    "changed",
                )
        if not text:
            if our_type == "display":
                self.report.add(link_id, "display", "has no text; left out")
                return None
            text = {self.default: link_id}
            self.report.add(link_id, "text", "question has no text; used its linkId", "filled")
        item_id = self.names.name(link_id)
        item: dict[str, Any] = {"id": item_id, "type": our_type, "text": text}
        info = _ItemInfo(item_id, our_type)
        help_text = self.child_text(entry, "help") or self.child_text(entry, "flyover")
        if help_text and help_text != text:
            item["help"] = help_text
        if entry.get("required") is True and our_type != "display":
            item["required"] = True
        if entry.get("readOnly") is True:
            self.report.add(link_id, "readOnly", "asked as a normal question", "changed")
        if entry.get("initial"):
            self.report.add(link_id, "initial", "Chorus has no default answers; not kept")
        if entry.get("repeats") is True and our_type != "multiple_choice":
            self.report.add(link_id, "repeats", "only one answer is asked for", "changed")
        codes = self.codes(entry.get("code"), link_id)
        if codes and our_type != "display":
            item["codes"] = codes
        choice_type = our_type in ("single_choice", "multiple_choice")
        if choice_type and not self.choices(entry, link_id, item, info):
            return self.item_without_choices(entry, link_id, item, info)
        self.numbers(entry, link_id, item, info)
        self.texts(entry, link_id, item)
        self.constraint(entry, link_id, item)
        if entry.get("definition"):
            self.report.add(link_id, "definition", "not kept (no place for it)")
        if our_type in SCALE_DEFAULTS:
            info.scored = True
        self.items[link_id] = info
        self.item_order.append(item_id)
        return item

    def our_type(
        self, entry: Mapping[str, Any], link_id: str, kind: object, chorus_type: object
    ) -> str | None:
        if kind in ("choice", "open-choice"):
            if kind == "open-choice":
                self.report.add(
                    link_id,
                    "open-choice",
                    "asked as a choice of the listed answers only (no free-text answer)",
                    "changed",
                )
            return "multiple_choice" if entry.get("repeats") is True else "single_choice"
        if kind == "integer":
            if chorus_type in SCALE_DEFAULTS:
                return str(chorus_type)
            if self.item_control(entry) == "slider":
                if self.child_text(entry, "lower") and self.child_text(entry, "upper"):
                    high = v.extension_value(entry, v.MAX_VALUE)
                    return "rating_0_10" if isinstance(high, int) and high <= 10 else "vas_0_100"
                self.report.add(
                    link_id, "slider", "no end labels, so asked as a whole number", "changed"
                )
            return "integer"
        simple = {
            "decimal": "decimal",
            "boolean": "yes_no",
            "date": "date",
            "time": "time",
            "string": "short_text",
            "text": "long_text",
            "display": "display",
        }
        if kind in simple:
            return simple[str(kind)]
        if kind == "dateTime":
            self.report.add(
                link_id, "dateTime", "asked as a date (the time of day is not asked)", "changed"
            )
            return "date"
        if kind == "url":
            self.report.add(link_id, "url", "asked as short text", "changed")
            return "short_text"
        if kind == "quantity":
            self.report.add(link_id, "quantity", "asked as a decimal number in its unit", "changed")
            return "decimal"
        self.report.add(
            link_id, f"item type '{kind}'", "Chorus has no such answer type; item left out"
        )
        return None

    def item_without_choices(
        self, entry: Mapping[str, Any], link_id: str, item: dict[str, Any], info: _ItemInfo
    ) -> dict[str, Any] | None:
        item["type"] = info.type = "short_text"
        item.pop("choices", None)
        self.items[link_id] = info
        self.item_order.append(info.id)
        self.texts(entry, link_id, item)
        return item

    def codes(self, raw: object, link_id: str | None) -> list[dict[str, str]]:
        codes: list[dict[str, str]] = []
        for coding in raw if isinstance(raw, list) else []:
            if not isinstance(coding, dict) or not coding.get("code"):
                continue
            if not coding.get("system"):
                self.report.add(link_id, "code", f"code {coding['code']!r} has no system; not kept")
                continue
            code = {"system": str(coding["system"]), "code": str(coding["code"])}
            if coding.get("display"):
                code["display"] = str(coding["display"])
            codes.append(code)
        return codes

    # -- choices -------------------------------------------------------------------------

    def choices(
        self, entry: Mapping[str, Any], link_id: str, item: dict[str, Any], info: _ItemInfo
    ) -> bool:
        options = self.options(entry, link_id)
        if options is None:
            return False
        choices: list[dict[str, Any]] = []
        systems: set[str] = set()
        for option in options:
            choice = self.choice(option, link_id, item["type"], systems)
            if choice is None:
                continue
            code, built = choice
            if any(
                type(c["value"]) is type(built["value"]) and c["value"] == built["value"]
                for c in choices
            ):
                self.report.add(
                    link_id, "answerOption", f"answer {code!r} given twice; kept once", "changed"
                )
                continue
            info.choices[code] = built["value"]
            choices.append(built)
        if systems:
            self.report.add(
                link_id,
                "answer codes",
                f"kept as choice values; their code system ({', '.join(sorted(systems))}) is not kept",
                "note",
            )
        if len(choices) < 2:
            self.report.add(
                link_id,
                "answerOption",
                f"{len(choices)} usable answer(s); Chorus needs 2 or more, so asked as short text",
                "changed",
            )
            return False
        item["choices"] = choices
        info.scored = all("score" in c or isinstance(c["value"], int) for c in choices)
        minimum = v.extension_value(entry, v.MIN_OCCURS)
        maximum = v.extension_value(entry, v.MAX_OCCURS)
        if item["type"] == "multiple_choice":
            if isinstance(minimum, int) and minimum >= 1:
                item["min_choices"] = minimum
            if isinstance(maximum, int) and 1 <= maximum <= len(choices):
                item["max_choices"] = maximum
        return True

    def options(self, entry: Mapping[str, Any], link_id: str) -> list[dict[str, Any]] | None:
        if isinstance(entry.get("answerOption"), list):
            return [o for o in entry["answerOption"] if isinstance(o, dict)]
        reference = entry.get("answerValueSet")
        if not isinstance(reference, str):
            self.report.add(link_id, "choice", "no answerOption or answerValueSet")
            return None
        value_set = (
            self.contained.get(reference.removeprefix("#")) if reference.startswith("#") else None
        )
        if value_set is None:
            for candidate in self.contained.values():
                if candidate.get("url") == reference:
                    value_set = candidate
        if value_set is None:
            self.report.add(
                link_id,
                "answerValueSet",
                f"value set {reference} is not contained in the file (Chorus does not fetch "
                "terminology)",
            )
            return None
        options: list[dict[str, Any]] = []
        expansion = (value_set.get("expansion") or {}).get("contains")
        if isinstance(expansion, list):
            for concept in expansion:
                if isinstance(concept, dict):
                    options.append(self.option_from_concept(concept, concept.get("system")))
            return options
        for include in (value_set.get("compose") or {}).get("include") or []:
            if not isinstance(include, dict):
                continue
            if not include.get("concept"):
                self.report.add(
                    link_id,
                    "answerValueSet",
                    f"include of {include.get('system')} without listed concepts cannot be "
                    "expanded offline",
                )
            for concept in include.get("concept") or []:
                if isinstance(concept, dict):
                    options.append(self.option_from_concept(concept, include.get("system")))
        return options

    def option_from_concept(self, concept: Mapping[str, Any], system: object) -> dict[str, Any]:
        """A ValueSet concept in answerOption form (designations become translations)."""
        coding: dict[str, Any] = {"code": concept.get("code"), "display": concept.get("display")}
        if system:
            coding["system"] = system
        designations = [
            v.translation_entry(str(d.get("language")), str(d.get("value")))
            for d in concept.get("designation") or []
            if isinstance(d, dict) and d.get("language") and d.get("value")
        ]
        if designations:
            coding["_display"] = {"extension": designations}
        return {"valueCoding": coding, "extension": concept.get("extension") or []}

    def choice(
        self, option: Mapping[str, Any], link_id: str, item_type: str, systems: set[str]
    ) -> tuple[str, dict[str, Any]] | None:
        value: str | int
        label: dict[str, str]
        if isinstance(option.get("valueCoding"), dict):
            coding = option["valueCoding"]
            code = coding.get("code") or coding.get("display")
            if not isinstance(code, str) or not code.strip():
                self.report.add(
                    link_id, "answerOption", "an answer without code or display; left out"
                )
                return None
            code = code.strip()
            text_value = v.extension_value(option, v.CHORUS_TEXT_VALUE) is True
            value = int(code) if _WHOLE_NUMBER.fullmatch(code) and not text_value else code
            label = self.localized(coding, "display", link_id) or {self.default: code}
            if coding.get("system") and not str(coding["system"]).startswith(v.CHORUS_BASE):
                systems.add(str(coding["system"]))
        elif isinstance(option.get("valueInteger"), int):
            value = option["valueInteger"]
            code = str(value)
            label = {self.default: code}
        elif any(isinstance(option.get(k), str) for k in ("valueString", "valueDate", "valueTime")):
            raw = next(
                option[k]
                for k in ("valueString", "valueDate", "valueTime")
                if isinstance(option.get(k), str)
            )
            code = raw.strip()
            if not code:
                return None
            value = code
            key = next(
                k
                for k in ("valueString", "valueDate", "valueTime")
                if isinstance(option.get(k), str)
            )
            label = self.localized(option, key, link_id) or {self.default: code}
        else:
            kinds = [k for k in option if k.startswith("value")]
            self.report.add(
                link_id, "answerOption", f"answer of kind {kinds[0] if kinds else '?'} left out"
            )
            return None
        choice: dict[str, Any] = {"value": value, "label": label}
        coding_element = (
            option.get("valueCoding") if isinstance(option.get("valueCoding"), dict) else {}
        )
        score = v.extension_value(option, v.ORDINAL_VALUE)
        for element, url in (
            (option, v.ITEM_WEIGHT),
            (coding_element, v.ORDINAL_VALUE),
            (coding_element, v.ITEM_WEIGHT),
        ):
            if score is None:
                score = v.extension_value(element, url)
        # A whole-number value is its own score: only a different ordinal needs writing down.
        numeric = isinstance(score, int | float) and not isinstance(score, bool)
        if numeric and not (isinstance(value, int) and score == value):
            choice["score"] = int(score) if float(score).is_integer() else score
        if v.extension_value(option, v.OPTION_EXCLUSIVE) is True:
            if item_type == "multiple_choice":
                choice["exclusive"] = True
            else:
                self.report.add(
                    link_id,
                    "optionExclusive",
                    "only meaningful when several answers can be chosen; ignored",
                    "note",
                )
        if option.get("initialSelected"):
            self.report.add(link_id, "initialSelected", "Chorus has no default answers; not kept")
        for extension in option.get("extension") or []:
            unread = extension.get("url") if isinstance(extension, dict) else None
            if unread not in (
                v.ORDINAL_VALUE,
                v.ITEM_WEIGHT,
                v.OPTION_EXCLUSIVE,
                v.CHORUS_TEXT_VALUE,
            ):
                self.report.add(
                    link_id, f"answerOption extension {unread}", "not supported; ignored"
                )
        return str(code), choice

    # -- numbers, text, constraints --------------------------------------------------------

    def numbers(
        self, entry: Mapping[str, Any], link_id: str, item: dict[str, Any], info: _ItemInfo
    ) -> None:
        our_type = item["type"]
        low = v.extension_value(entry, v.MIN_VALUE)
        high = v.extension_value(entry, v.MAX_VALUE)
        if our_type in SCALE_DEFAULTS:
            default_low, default_high = SCALE_DEFAULTS[our_type]
            scale: dict[str, Any] = {}
            if isinstance(low, int) and low != default_low:
                scale["min"] = low
            if isinstance(high, int) and high != default_high:
                scale["max"] = high
            scale["min_label"] = self.child_text(entry, "lower")
            scale["max_label"] = self.child_text(entry, "upper")
            item["scale"] = scale
            return
        if our_type in ("integer", "decimal"):
            whole = our_type == "integer"
            for name, bound in (("min", low), ("max", high)):
                if isinstance(bound, bool) or not isinstance(bound, int | float):
                    continue
                if whole and not float(bound).is_integer():
                    self.report.add(link_id, f"{name}Value", f"{bound} is not whole; not kept")
                    continue
                item[name] = int(bound) if whole else bound
            if "min" in item and "max" in item and item["max"] < item["min"]:
                self.report.add(link_id, "minValue/maxValue", "max below min; neither kept")
                item.pop("min")
                item.pop("max")
            unit = v.extension_value(entry, v.UNIT)
            unit_options = v.extensions_named(
                entry, "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"
            )
            if not isinstance(unit, dict) and unit_options:
                unit = v.extension_value(unit_options[0], "")  # never matches; handled below
                first = unit_options[0].get("valueCoding")
                unit = first if isinstance(first, dict) else None
                if len(unit_options) > 1:
                    self.report.add(
                        link_id,
                        "questionnaire-unitOption",
                        f"{len(unit_options)} units offered; the first is used",
                        "changed",
                    )
            if isinstance(unit, dict):
                text = self.localized(unit, "display", link_id)
                if not text and unit.get("code"):
                    text = {self.default: str(unit["code"])}
                if text:
                    item["unit"] = text
            decimals = v.extension_value(entry, v.MAX_DECIMAL_PLACES)
            if our_type == "decimal" and isinstance(decimals, int) and decimals >= 0:
                item["decimals"] = decimals
            info.scored = "min" in item and "max" in item
            return
        if low is not None or high is not None:
            self.report.add(
                link_id, "minValue/maxValue", f"not supported on a {our_type} item; not kept"
            )

    def texts(self, entry: Mapping[str, Any], link_id: str, item: dict[str, Any]) -> None:
        max_length = entry.get("maxLength")
        if isinstance(max_length, int) and max_length > 0:
            if item["type"] in ("short_text", "long_text"):
                item["max_length"] = max_length
            else:
                self.report.add(
                    link_id,
                    "maxLength",
                    f"not meaningful on a {item['type']} item; not kept",
                    "note",
                )
        pattern = v.extension_value(entry, v.REGEX)
        if isinstance(pattern, str) and pattern:
            if item["type"] != "short_text":
                self.report.add(link_id, "regex", "only short text takes a pattern; not kept")
                return
            try:
                re.compile(pattern)
            except re.error as error:
                self.report.add(link_id, "regex", f"not a pattern Python reads ({error}); not kept")
                return
            item["pattern"] = pattern

    def constraint(self, entry: Mapping[str, Any], link_id: str, item: dict[str, Any]) -> None:
        ours = v.extensions_named(entry, v.CHORUS_CONSTRAINT)
        if ours:
            item["constraint"] = {
                "condition": v.extension_value(ours[0], "condition"),
                "message": self.localized_extension(ours[0], link_id),
            }
            return
        for constraint in v.extensions_named(entry, v.TARGET_CONSTRAINT):
            expression = v.extension_value(constraint, "expression")
            human = v.extension_value(constraint, "human")
            text = expression.get("expression") if isinstance(expression, dict) else None
            self.report.add(
                link_id,
                "targetConstraint",
                f"FHIRPath rule {quoted(text)} ({quoted(human)}) not translated; add a constraint by hand",
            )

    # -- skip logic ----------------------------------------------------------------------

    def resolve_skip_logic(self, pending: _Pending) -> None:
        """``show_when`` for one item or page: the conditions of its groups and its own, joined
        with ``and``; any part our language cannot say is dropped (and reported)."""
        target_id = pending.target["id"]
        earlier = (
            set(self.item_order[: self.item_order.index(target_id)])
            if target_id in self.item_order
            else self.earlier_than_page(pending)
        )
        parts: list[str] = []
        for element in pending.conditions:
            owner = str(element.get("linkId"))
            try:
                condition = self.condition(element, earlier)
            except Untranslatable as problem:
                self.report.add(owner, "enableWhen", f"{problem}; shown without this condition")
                continue
            if condition:
                parts.append(condition)
        if parts:
            joined = parts[0] if len(parts) == 1 else " and ".join(f"({p})" for p in parts)
            pending.target["show_when"] = joined
            if "items" in pending.target:  # keep a page's keys in file order
                items = pending.target.pop("items")
                pending.target["items"] = items

    def earlier_than_page(self, pending: _Pending) -> set[str]:
        first = pending.target.get("items") or []
        if not first:
            return set()
        first_id = first[0]["id"]
        return set(self.item_order[: self.item_order.index(first_id)])

    def condition(self, element: Mapping[str, Any], earlier: set[str]) -> str | None:
        ours = v.extension_value(element, v.CHORUS_SHOW_WHEN)
        if isinstance(ours, str):
            return ours
        expression = v.extension_value(element, v.ENABLE_WHEN_EXPRESSION)
        if isinstance(expression, dict):
            text = expression.get("expression")
            if not isinstance(text, str):
                raise Untranslatable("enableWhenExpression without an expression")
            return self.translate_condition(text, earlier, element)
        conditions = element.get("enableWhen")
        if not isinstance(conditions, list) or not conditions:
            return None
        parts = [self.enable_when(c, earlier) for c in conditions if isinstance(c, dict)]
        if len(parts) == 1:
            return parts[0]
        behavior = element.get("enableBehavior")
        if behavior not in ("all", "any"):
            raise Untranslatable("several enableWhen without enableBehavior")
        joiner = " and " if behavior == "all" else " or "
        return joiner.join(
            f"({part})" if " and " in part or " or " in part else part for part in parts
        )

    def enable_when(self, condition: Mapping[str, Any], earlier: set[str]) -> str:
        question = condition.get("question")
        info = self.items.get(str(question))
        if info is None:
            raise Untranslatable(f"it depends on '{question}', which was not imported")
        if info.id not in earlier:
            raise Untranslatable(
                f"it depends on '{question}', which comes later (Chorus skip logic only looks back)"
            )
        operator = condition.get("operator")
        answers = [(k, val) for k, val in condition.items() if k.startswith("answer")]
        if not answers:
            raise Untranslatable(f"enableWhen on '{question}' has no answer")
        key, answer = answers[0]
        name = info.id
        if operator == "exists":
            return f"answered({name})" if answer is True else f"not answered({name})"
        ordering = operator in ("<", "<=", ">", ">=")
        numeric_choice = info.type == "single_choice" and all(
            isinstance(c, int) for c in info.choices.values()
        )
        if ordering and info.type in ("single_choice", "multiple_choice") and not numeric_choice:
            raise Untranslatable(
                f"'{operator}' on the choice item '{question}' (Chorus orders numbers and dates only)"
            )
        literal = self.literal_for(info, key, answer)
        multiple = info.type == "multiple_choice"
        if operator == "=":
            return f"contains({name}, {literal})" if multiple else f"{name} == {literal}"
        if operator == "!=":
            if multiple:
                return f"answered({name}) and not contains({name}, {literal})"
            return f"answered({name}) and {name} != {literal}"
        if operator in ("<", "<=", ">", ">="):
            numeric = info.type in ("integer", "decimal", *SCALE_DEFAULTS) or (
                info.type == "single_choice"
                and info.choices
                and all(isinstance(c, int) for c in info.choices.values())
            )
            if info.type in ("date", "time") and key in ("answerDate", "answerTime"):
                return f"{name} {operator} {literal}"
            if not numeric or not re.fullmatch(r"-?\d+(\.\d+)?", literal):
                raise Untranslatable(
                    f"'{operator}' on '{question}' ({info.type}) cannot be ordered in Chorus"
                )
            return f"{name} {operator} {literal}"
        raise Untranslatable(f"unknown enableWhen operator {operator!r}")

    def literal_for(self, info: _ItemInfo, key: str, answer: object) -> str:
        if info.type in ("single_choice", "multiple_choice"):
            code = answer.get("code") if isinstance(answer, dict) else answer
            if isinstance(code, float) and code.is_integer():
                code = int(code)
            value = info.choices.get(str(code))
            if value is None:
                raise Untranslatable(f"answer {code!r} is not one of the choices of '{info.id}'")
            return _our_literal(value)
        if key == "answerBoolean" and isinstance(answer, bool):
            return "true" if answer else "false"
        if key in ("answerInteger", "answerDecimal") and isinstance(answer, int | float):
            return _our_literal(answer)
        if key == "answerTime" and isinstance(answer, str):
            return _our_literal(answer[:5])
        if key in ("answerString", "answerDate") and isinstance(answer, str):
            return _our_literal(answer)
        if (
            key == "answerQuantity"
            and isinstance(answer, dict)
            and isinstance(answer.get("value"), int | float)
        ):
            return _our_literal(answer["value"])
        raise Untranslatable(f"{key} cannot be compared with a {info.type} item")

    # -- FHIRPath ------------------------------------------------------------------------

    def add_variable(self, entry: Mapping[str, Any], owner: str | None) -> None:
        expression = entry.get("valueExpression")
        if not isinstance(expression, dict) or not expression.get("name"):
            return
        name = str(expression["name"])
        text = expression.get("expression")
        if expression.get("language") != v.FHIRPATH or not isinstance(text, str):
            self.variables[name] = None
            self.report.add(
                owner,
                f"variable %{name}",
                f"{expression.get('language')} is not FHIRPath; not used",
            )
            return
        try:
            self.variables[name] = parse_fhirpath(text)
        except FhirPathError as error:
            self.variables[name] = None
            self.report.add(owner, f"variable %{name}", f"not read ({error})")

    def translate_condition(self, text: str, earlier: set[str], element: Mapping[str, Any]) -> str:
        try:
            tree = parse_fhirpath(text)
        except FhirPathError as error:
            raise Untranslatable(f"FHIRPath {quoted(text)} not read ({error})") from error
        for variable in v.extensions_named(element, v.VARIABLE):
            self.add_variable(variable, str(element.get("linkId")))
        try:
            return _Translator(self, earlier).condition(tree)
        except RecursionError as error:
            raise Untranslatable("the expression nests too deeply") from error

    def calculated_score(self, entry: Mapping[str, Any], score_id: str) -> None:
        link_id = str(entry.get("linkId"))
        expression = v.extension_value(entry, v.CALCULATED_EXPRESSION)
        text = expression.get("expression") if isinstance(expression, dict) else None
        for variable in v.extensions_named(entry, v.VARIABLE):
            self.add_variable(variable, link_id)
        try:
            if not isinstance(text, str):
                raise Untranslatable("no FHIRPath expression")
            tree = parse_fhirpath(text)
            score = _Translator(self, set(self.item_order)).score(tree)
        except RecursionError:
            self.report.add(
                link_id, "calculatedExpression", "the expression nests too deeply; left out"
            )
            return
        except (Untranslatable, FhirPathError) as problem:
            self.report.add(
                link_id,
                "calculatedExpression",
                f"{quoted(text)} is not a sum or mean of answers ({problem}); the calculated item is "
                "left out",
            )
            return
        label = self.localized(entry, "text", link_id)
        score = {"id": score_id, "label": label.get(self.default) or score_id, **score}
        codes = self.codes(entry.get("code"), link_id)
        if codes:
            score["codes"] = codes
        self.scores.append(score)
        self.report.add(
            link_id,
            "calculatedExpression",
            f"became score '{score_id}' ({score['method']} of {', '.join(score['items'])}); "
            "Chorus computes it only when every item is answered (max_missing: 0)",
            "changed",
        )

    # -- reporting what was not read -------------------------------------------------------

    def report_unread_keys(
        self, element: Mapping[str, Any], known: set[str], where: str | None
    ) -> None:
        for key in element:
            if key not in known and not key.startswith("_"):
                self.report.add(where, key, "not supported; ignored")

    def report_extensions(self, element: Mapping[str, Any], link_id: str) -> None:
        for extension in element.get("extension") or []:
            url = extension.get("url") if isinstance(extension, dict) else None
            if url in _HANDLED_ITEM_EXTENSIONS:
                continue
            self.report.add(link_id, f"extension {url}", "not supported; ignored")


def _our_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


class _Translator:
    """FHIRPath trees → our expression text (conditions) or a score (sums of answer scores)."""

    MAX_EXPANSIONS = 200

    def __init__(self, importer: _Importer, earlier: set[str]) -> None:
        self.importer = importer
        self.earlier = earlier
        self.expansions = 0

    # ---- answers ------------------------------------------------------------------------

    def expand(self, node: Node) -> Node:
        """Replace a %variable by its definition (bounded: variables may refer to each other
        in a loop in a hostile or broken file)."""
        while node[0] == "var" and node[1] in self.importer.variables:
            self.expansions += 1
            if self.expansions > self.MAX_EXPANSIONS:
                raise Untranslatable("variables refer to each other in a loop")
            self.importer.used_variables.add(node[1])
            definition = self.importer.variables[node[1]]
            if definition is None:
                raise Untranslatable(f"variable %{node[1]} could not be read")
            node = definition
        return node

    def answer_of(self, node: Node) -> tuple[_ItemInfo, str] | None:
        """``(item, kind)`` when ``node`` reads one item's answer: kind ``value`` or ``score``."""
        node = self.expand(node)
        steps = _steps(node)
        if not steps:
            return None
        root = steps[0]
        link_ids = [s[1] for s in steps if s[0] == "where-link"]
        if not link_ids:
            return None
        info = self.importer.items.get(link_ids[-1])
        if info is None:
            raise Untranslatable(f"it reads '{link_ids[-1]}', which was not imported")
        names = [s[1] for s in steps]
        if (
            root == ("var", "questionnaire")
            and "answerOption" in names
            and names[-1] == "valueDecimal"
        ):
            return info, "score"
        if root not in (("var", "resource"), ("var", "context"), ("ident", "item")):
            return None
        if "answer" not in names:
            return None
        tail = names[names.index("answer") + 1 :]
        if tail and tail[0] in (
            "value",
            "valueCoding",
            "valueDecimal",
            "valueInteger",
            "valueBoolean",
            "valueString",
            "valueDate",
            "valueTime",
            "valueQuantity",
        ):
            tail = tail[1:]
        if tail and tail[0] in ("code", "value"):
            tail = tail[1:]
        if tail == ["ordinal"] or tail == ["weight"]:
            return info, "score"
        if tail in ([], ["toInteger"], ["toDecimal"]):
            return info, "value"
        return None

    def item_name(self, info: _ItemInfo) -> str:
        if info.id not in self.earlier:
            raise Untranslatable(f"it reads '{info.id}', which is not an earlier item")
        return info.id

    # ---- conditions ---------------------------------------------------------------------

    def condition(self, node: Node) -> str:
        node = self.expand(node)
        kind = node[0]
        if kind == "bin" and node[1] in ("and", "or"):
            return f"({self.condition(node[2])}) {node[1]} ({self.condition(node[3])})"
        if (
            kind == "call"
            and node[2] in ("exists", "empty")
            and node[1] is not None
            and not node[3]
        ):
            read = self.answer_of(node[1])
            if read is None:
                raise Untranslatable(f"{node[2]}() of something other than an answer")
            name = self.item_name(read[0])
            return f"answered({name})" if node[2] == "exists" else f"not answered({name})"
        if kind == "call" and node[2] == "not" and node[1] is not None:
            return f"not ({self.condition(node[1])})"
        if kind == "call" and node[2] == "not" and node[1] is None and len(node[3]) == 1:
            return f"not ({self.condition(node[3][0])})"
        if kind == "bin" and node[1] in ("=", "!=", "<", "<=", ">", ">=", "~", "!~"):
            return self.comparison(node[1], node[2], node[3])
        if kind == "lit" and isinstance(node[1], bool):
            return "true" if node[1] else "false"
        raise Untranslatable(f"FHIRPath {_describe(node)} has no Chorus equivalent")

    def comparison(self, operator: str, left: Node, right: Node) -> str:
        left, right = self.expand(left), self.expand(right)
        read = self.answer_of(left)
        other = right
        if read is None:
            read, other = self.answer_of(right), left
            operator = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(operator, operator)
        if read is None or other[0] != "lit":
            raise Untranslatable("a comparison that is not between an answer and a constant")
        info, kind = read
        if kind == "score":
            raise Untranslatable("a comparison of an answer's score")
        name = self.item_name(info)
        value = other[1]
        if info.type in ("single_choice", "multiple_choice"):
            code = (
                str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
            )
            if code not in info.choices and operator in ("=", "!=", "~", "!~"):
                raise Untranslatable(f"{value!r} is not one of the choices of '{name}'")
            literal = _our_literal(info.choices.get(code, value))
        else:
            literal = _our_literal(value)
        ours = {"=": "==", "~": "==", "!~": "!="}.get(operator, operator)
        if info.type == "multiple_choice":
            if ours == "==":
                return f"contains({name}, {literal})"
            if ours == "!=":
                return f"not contains({name}, {literal})"
            raise Untranslatable("an ordering of a multiple choice answer")
        return f"{name} {ours} {literal}"

    # ---- scores -------------------------------------------------------------------------

    def score(self, node: Node) -> dict[str, Any]:
        node = self.expand(node)
        round_to: int | None = None
        if node[0] == "call" and node[2] == "round" and node[1] is not None:
            places = node[3][0] if node[3] else ("lit", 0.0)
            if places[0] != "lit" or not isinstance(places[1], float):
                raise Untranslatable("round() with a non-constant number of places")
            round_to = int(places[1])
            node = self.expand(node[1])
        if node[0] == "call" and node[1] is None and node[2] == "iif" and len(node[3]) >= 2:
            otherwise = node[3][2] if len(node[3]) > 2 else ("lit", None)
            if otherwise != ("lit", None):
                raise Untranslatable("iif() with a value other than empty when false")
            node = self.expand(node[3][1])
        method = "sum"
        divisor: float | None = None
        if node[0] == "bin" and node[1] == "/" and self.expand(node[3])[0] == "lit":
            divisor = self.expand(node[3])[1]
            node = self.expand(node[2])
            method = "mean"
        items = self.summed_items(node)
        if not items:
            raise Untranslatable("no answers are added up")
        if divisor is not None and divisor != len(items):
            raise Untranslatable(f"divides a sum of {len(items)} answers by {divisor}")
        if len(set(items)) != len(items):
            raise Untranslatable("an answer is added twice")
        for item in items:
            info = next(i for i in self.importer.items.values() if i.id == item)
            if not info.scored:
                raise Untranslatable(f"'{item}' has no numeric value or score for every answer")
        score: dict[str, Any] = {"method": method, "items": items, "max_missing": 0}
        if round_to is not None:
            score["round_to"] = round_to
        return score

    def summed_items(self, node: Node) -> list[str]:
        node = self.expand(node)
        if node[0] == "bin" and node[1] == "+":
            return self.summed_items(node[2]) + self.summed_items(node[3])
        if node[0] == "call" and node[2] == "sum" and node[1] is not None and not node[3]:
            target = self.expand(node[1])
            steps = [s[1] for s in _steps(target)]
            if (
                steps[:2] in (["resource", "answers"],)
                or (_steps(target)[:1] == [("var", "resource")] and "answers" in steps)
            ) and steps[-1] in ("ordinal", "weight"):
                return [
                    info.id
                    for info in self.importer.items.values()
                    if info.type == "single_choice" and info.scored
                ]
            if target[0] == "bin" and target[1] == "|":
                return self.summed_items(target[2]) + self.summed_items(target[3])
            raise Untranslatable(f"sum() of {_describe(target)}")
        if node[0] == "call" and node[1] is None and node[2] == "iif" and len(node[3]) == 3:
            test, then, otherwise = (self.expand(part) for part in node[3])
            if (
                otherwise == ("lit", 0.0)
                and test[0] == "call"
                and test[2] == "exists"
                and self.expand(test[1]) == then
            ):
                return self.summed_items(then)
            raise Untranslatable("iif() other than 'answer if answered else 0'")
        read = self.answer_of(node)
        if read is None:
            raise Untranslatable(f"{_describe(node)} is not an answer")
        info, kind = read
        coded = not all(isinstance(c, int) for c in info.choices.values())
        if kind == "value" and info.type in ("single_choice", "multiple_choice") and coded:
            raise Untranslatable(f"the value of '{info.id}' is a code, not a number")
        return [info.id]


def _steps(node: Node) -> list[tuple[Any, ...]]:
    """A path as a list: the root node, then ("member", name), ("call", name) and
    ("where-link", linkId) steps. Empty when ``node`` is not a path."""
    steps: list[tuple[Any, ...]] = []
    while True:
        kind = node[0]
        if kind == "member":
            steps.append(("member", node[2]))
            node = node[1]
        elif kind == "call" and node[1] is not None:
            if node[2] == "where" and len(node[3]) == 1:
                link = _link_id_test(node[3][0])
                steps.append(("where-link", link) if link is not None else ("call", "where"))
            elif node[2] == "repeat":
                steps.append(("member", "item"))
            else:
                steps.append(("call", node[2]))
            node = node[1]
        elif kind in ("var", "ident"):
            steps.append(node)
            break
        else:
            return []
    steps.reverse()
    return steps


def _link_id_test(node: Node) -> str | None:
    if node[0] == "bin" and node[1] == "=":
        for left, right in ((node[2], node[3]), (node[3], node[2])):
            if left == ("ident", "linkId") and right[0] == "lit" and isinstance(right[1], str):
                return str(right[1])
    return None


def _describe(node: Node) -> str:
    if node[0] == "call":
        return f"{node[2]}()"
    if node[0] == "bin":
        return f"'{node[1]}'"
    if node[0] == "var":
        return f"%{node[1]}"
    return str(node[1])
