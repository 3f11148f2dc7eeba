"""What an import could not carry over exactly, and what it did instead.

An import never drops anything silently: every feature of the source that our instrument format
cannot hold, or holds differently, is one :class:`ReportEntry`. The text form is one line per
entry (documented in ``instruments/README.md``)::

    <source>: item '<id>': <feature>: <what was done instead>
    <source>: <feature>: <what was done instead>           (entries about the whole form)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# How much the participant-facing form differs from the source because of this entry.
#   dropped  - the feature is gone (the item, the condition, the default value ...)
#   changed  - it is there, in a different form (a dateTime asked as a date, a renamed id)
#   filled   - the source had nothing for a field our format requires; a placeholder was written
#   note     - nothing lost, worth knowing (codes kept, a score made from a calculation)
KINDS: Final = ("dropped", "changed", "filled", "note")


@dataclass(frozen=True)
class ReportEntry:
    item: str | None  # the item as the source names it (linkId, XLSForm name); None: whole form
    feature: str  # the source feature, in the source's own words ("enableWhenExpression")
    action: str  # what the importer did instead
    kind: str = "dropped"

    def line(self, source: str) -> str:
        where = f"item '{self.item}': " if self.item else ""
        return f"{source}: {where}{self.feature}: {self.action}"


@dataclass
class ImportReport:
    source: str  # the file name, as the lines name it
    source_format: str  # "fhir" or "xlsform"
    found_version: str | None = None  # e.g. "FHIR R4"
    entries: list[ReportEntry] = field(default_factory=list)

    def add(self, item: str | None, feature: str, action: str, kind: str = "dropped") -> None:
        assert kind in KINDS
        entry = ReportEntry(item, feature, action, kind)
        if entry not in self.entries:
            self.entries.append(entry)

    def of_kind(self, kind: str) -> list[ReportEntry]:
        return [entry for entry in self.entries if entry.kind == kind]

    def lines(self) -> list[str]:
        return [entry.line(self.source) for entry in self.entries]

    def text(self) -> str:
        return "\n".join(self.lines())


class InteropError(ValueError):
    """The file cannot be imported at all (not JSON, not a workbook, another FHIR version ...).

    The message says what was found and what was expected; nothing is written."""
