"""A draft's texts for translators as XLIFF 2.0, beside the CSV of ``translations``.

XLIFF 2.0 (OASIS, 2014) is what translation tools exchange: one ``<file>`` per target
language, one ``<unit>`` per text, holding a ``<segment>`` with the ``<source>`` and, once
translated, the ``<target>``. A unit's id names the text (``item.fatigue.text.self``,
``instrument.title``; ids are XML name tokens, so the instrument part's ``@`` is spelled out),
and a ``<note category="source_hash">`` carries the fingerprint of the source text the
translator saw, exactly as the CSV's ``source_hash`` column does: a translation made from an
older source shows as stale once imported. A stale translation is exported with
``state="initial"``, so tools show it as needing work.

Files come from outside, so they are read with ``defusedxml`` (no DTDs, no entities) through
SAX, which knows the line of every element: each problem names its line, and a file with any
problem changes nothing.
"""

from __future__ import annotations

import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesNSImpl, Locator

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.expatreader import DefusedExpatParser  # type: ignore[import-untyped]

from app.codesign.document import INSTRUMENT_PART, TextSlot, source_hash
from app.codesign.messages import N_
from app.codesign.translations import (
    MAX_ROWS,
    MAX_TRANSLATION_LENGTH,
    ImportedTranslation,
    TranslationEntry,
)

NAMESPACE: Final = "urn:oasis:names:tc:xliff:document:2.0"
SOURCE_HASH_NOTE: Final = "source_hash"
_HASH: Final = re.compile(r"[0-9a-f]{32}")
_INSTRUMENT_UNIT: Final = "instrument."
_ITEM_UNIT: Final = "item."


def unit_id(part: str, path: str) -> str:
    """The unit id of one text (without its language): a name token, unique in the draft."""
    if part == INSTRUMENT_PART:
        return _INSTRUMENT_UNIT + path
    return f"{_ITEM_UNIT}{part}.{path}"


def parse_unit_id(unit: str) -> tuple[str, str] | None:
    """``(part, path)`` of a unit id made by :func:`unit_id`, or None."""
    if unit.startswith(_INSTRUMENT_UNIT):
        return INSTRUMENT_PART, unit.removeprefix(_INSTRUMENT_UNIT)
    if unit.startswith(_ITEM_UNIT):
        part, _dot, path = unit.removeprefix(_ITEM_UNIT).partition(".")
        return (part, path) if part and path else None
    return None


def export_xliff(
    entries: Iterable[TranslationEntry], *, source_language: str, language: str, original: str
) -> bytes:
    """One language's texts as an XLIFF 2.0 document (UTF-8, with its XML declaration)."""
    ET.register_namespace("", NAMESPACE)
    root = ET.Element(
        f"{{{NAMESPACE}}}xliff", {"version": "2.0", "srcLang": source_language, "trgLang": language}
    )
    file = ET.SubElement(root, f"{{{NAMESPACE}}}file", {"id": "f1", "original": original})
    for entry in entries:
        unit = ET.SubElement(
            file,
            f"{{{NAMESPACE}}}unit",
            {"id": unit_id(entry.part, entry.path), "name": f"{entry.part} {entry.path}"},
        )
        notes = ET.SubElement(unit, f"{{{NAMESPACE}}}notes")
        note = ET.SubElement(notes, f"{{{NAMESPACE}}}note", {"category": SOURCE_HASH_NOTE})
        note.text = source_hash(entry.source)
        if entry.stale:
            stale = ET.SubElement(notes, f"{{{NAMESPACE}}}note", {"category": "stale"})
            stale.text = "The source text changed after this translation was made."
        state = "translated" if entry.translation is not None and not entry.stale else "initial"
        segment = ET.SubElement(unit, f"{{{NAMESPACE}}}segment", {"state": state})
        ET.SubElement(segment, f"{{{NAMESPACE}}}source").text = entry.source
        if entry.translation is not None:
            ET.SubElement(segment, f"{{{NAMESPACE}}}target").text = entry.translation
    ET.indent(root)
    out = io.BytesIO()
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    out.write(b"\n")
    return out.getvalue()


# -- reading a translator's file ----------------------------------------------------------


@dataclass
class _Unit:
    line: int
    id: str
    source_hash: str | None = None
    target: str | None = None


class _Reader(ContentHandler):
    """Collects units and their lines; markup inside a target is a problem, not dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.locator: Locator | None = None
        self.version: str | None = None
        self.target_language: str | None = None
        self.root_line = 1
        self.units: list[_Unit] = []
        self.problems: dict[int, list[str]] = {}
        self._unit: _Unit | None = None
        self._stack: list[str] = []
        self._text: list[str] | None = None
        self._note_category: str | None = None

    def setDocumentLocator(self, locator: Locator) -> None:
        self.locator = locator

    def _line(self) -> int:
        line = self.locator.getLineNumber() if self.locator is not None else None
        return line or 0

    def _problem(self, message: str, line: int | None = None) -> None:
        self.problems.setdefault(line or self._line(), []).append(message)

    def startElementNS(
        self, name: tuple[str | None, str], qname: str | None, attrs: AttributesNSImpl
    ) -> None:
        namespace, local = name
        values = {key[1]: value for key, value in attrs.items() if key[0] is None}
        if not self._stack:
            if namespace != NAMESPACE or local != "xliff":
                self._problem(N_("this is not an XLIFF 2.0 file (<xliff> in %(ns)s)", ns=NAMESPACE))
            self.version = values.get("version")
            self.target_language = values.get("trgLang")
            self.root_line = self._line()
        inside_target = "target" in self._stack
        self._stack.append(local if namespace == NAMESPACE else f"{{{namespace}}}{local}")
        if inside_target:
            self._problem(
                N_("the translation holds markup (<%(tag)s>); keep it plain text", tag=local)
            )
            return
        if namespace != NAMESPACE:
            return
        if local == "unit":
            self._unit = _Unit(self._line(), values.get("id", ""))
            self.units.append(self._unit)
        elif local == "segment" and self._unit is not None and self._unit.target is not None:
            self._problem(N_("a text is one segment; join the segments"))
        elif local == "note" and self._unit is not None:
            self._note_category = values.get("category")
            self._text = []
        elif local == "target" and self._unit is not None:
            self._text = []

    def endElementNS(self, name: tuple[str | None, str], qname: str | None) -> None:
        namespace, local = name
        self._stack.pop()
        if namespace != NAMESPACE or "target" in self._stack:
            return
        if local == "unit":
            self._unit = None
        elif local == "note" and self._unit is not None and self._text is not None:
            if self._note_category == SOURCE_HASH_NOTE:
                self._unit.source_hash = "".join(self._text).strip()
            self._text = None
        elif local == "target" and self._unit is not None and self._text is not None:
            self._unit.target = "".join(self._text)
            self._text = None

    def characters(self, content: str) -> None:
        if self._text is not None:
            self._text.append(content)


def parse_xliff(
    data: bytes, slots: Sequence[TextSlot], languages: Sequence[str], default: str
) -> tuple[list[ImportedTranslation], dict[str, list[str]]]:
    """The translations to apply and the problems by line (``"line 12"``: [...]). Units with
    an empty or missing target are skipped, as empty CSV cells are."""
    reader = _Reader()
    parser = DefusedExpatParser(
        namespaceHandling=1, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    parser.setContentHandler(reader)
    try:
        parser.parse(io.BytesIO(data))
    except SAXParseException as error:
        return [], {
            f"line {error.getLineNumber()}": [
                N_("not well-formed XML: %(reason)s", reason=error.getMessage())
            ]
        }
    except DefusedXmlException:
        return [], {"line 1": [N_("the file declares a DTD or entities; remove them")]}
    problems = reader.problems
    if problems:
        return [], {f"line {line}": messages for line, messages in sorted(problems.items())}
    if reader.version not in ("2.0", "2.1", "2.2"):
        problems.setdefault(reader.root_line, []).append(
            N_("expected XLIFF version 2.0, found %(version)s", version=reader.version or "none")
        )
    language = reader.target_language or ""
    if language == default:
        problems.setdefault(reader.root_line, []).append(
            N_("trgLang '%(language)s' is the source language", language=language)
        )
    elif language not in languages:
        problems.setdefault(reader.root_line, []).append(
            N_(
                "trgLang '%(language)s' is not one of the draft's languages (%(languages)s)",
                language=language,
                languages=", ".join(languages),
            )
        )
    known = {(slot.part, slot.path) for slot in slots if default in slot.texts}
    seen: dict[tuple[str, str], int] = {}
    rows: list[ImportedTranslation] = []
    if len(reader.units) > MAX_ROWS:
        problems.setdefault(reader.root_line, []).append(
            N_("a file may hold at most %(count)s texts", count=MAX_ROWS)
        )
    for unit in reader.units[:MAX_ROWS]:
        found = _unit_problems(unit, known, seen)
        if found:
            problems.setdefault(unit.line, []).extend(found)
            continue
        text = (unit.target or "").replace("\r\n", "\n").strip()
        named = parse_unit_id(unit.id)
        assert named is not None and unit.source_hash is not None
        if text:
            rows.append(
                ImportedTranslation(
                    unit.line, named[0], f"{named[1]}.{language}", text, unit.source_hash
                )
            )
    errors = {f"line {line}": messages for line, messages in sorted(problems.items())}
    return ([] if errors else rows), errors


def _unit_problems(
    unit: _Unit, known: set[tuple[str, str]], seen: dict[tuple[str, str], int]
) -> list[str]:
    problems: list[str] = []
    named = parse_unit_id(unit.id)
    if named is None or named not in known:
        problems.append(N_("no text '%(unit)s' in this draft", unit=unit.id))
    elif named in seen:
        problems.append(N_("the same text as the unit on line %(line)s", line=seen[named]))
    else:
        seen[named] = unit.line
    if unit.source_hash is None or not _HASH.fullmatch(unit.source_hash):
        problems.append(N_("keep the source_hash note from the exported file"))
    text = unit.target or ""
    if len(text) > MAX_TRANSLATION_LENGTH:
        problems.append(
            N_("use at most %(count)s characters in a translation", count=MAX_TRANSLATION_LENGTH)
        )
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text):
        problems.append(N_("remove control characters from the translation"))
    return problems
