"""What an export is asked for, and the records the formats are written from.

Records carry the clear metadata and the opened answers of one response *after*
de-identification: no format module ever sees what a profile removed.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, Literal

from app.instruments.model import Instrument, Item

FORMATS: Final = ("csv", "spss", "stata", "r", "sas", "fhir", "odm")
# Syntax files read the wide CSV, so asking for them brings the CSV along.
NEEDS_CSV: Final = frozenset({"spss", "stata", "r", "sas"})


class Profile(enum.StrEnum):
    """De-identification profiles (see app/exports/deid.py for what each one does)."""

    NONE = "none"
    SHIFTED = "shifted"  # keyed pseudonyms, dates shifted 0-364 days per participant, no free text
    YEAR = "year"  # keyed pseudonyms, dates coarsened to the year, no free text

    @property
    def deidentified(self) -> bool:
        return self is not Profile.NONE


@dataclass(frozen=True)
class ExportOptions:
    formats: frozenset[str] = frozenset({"csv"})
    labels: Literal["codes", "labels"] = "codes"
    language: str | None = None  # None: each instrument's default language
    delimiter: Literal[",", ";"] = ","
    decimal: Literal[".", ","] = "."
    bom: bool = False
    profile: Profile = Profile.NONE

    def __post_init__(self) -> None:
        unknown = self.formats - set(FORMATS)
        if unknown or not self.formats:
            raise ValueError(f"formats must be among {', '.join(FORMATS)}")
        if self.delimiter == self.decimal:
            raise ValueError("the delimiter and the decimal mark must differ")

    @property
    def effective_formats(self) -> frozenset[str]:
        return self.formats | ({"csv"} if self.formats & NEEDS_CSV else frozenset())


@dataclass(frozen=True)
class VersionInfo:
    """One instrument version in the export."""

    key: str
    version: str
    content_hash: str
    instrument: Instrument

    @cached_property
    def answerable_items(self) -> tuple[Item, ...]:
        # Instrument.items builds a new tuple on every call; rows need it once per version.
        return tuple(item for item in self.instrument.items if item.answerable)

    @property
    def stem(self) -> str:
        return f"{self.key}-{self.version}"

    @property
    def reference(self) -> str:
        return f"{self.key}@{self.version}"


@dataclass(frozen=True)
class Occasion:
    """The due questionnaire a response answered (schedule, visit, window), if any."""

    schedule: str
    visit: str
    opens_at: Any  # dt.datetime, or an int year under the year profile
    closes_at: Any
    timing: str  # "on_time" | "late"


@dataclass(frozen=True)
class Record:
    response_id: str
    participant: str  # study code, or a keyed pseudonym
    site: str
    arm: str
    respondent_type: str
    answered_by: str  # "" (the participant), or a caregiver reference
    occasion: Occasion | None
    started_at: Any  # aware UTC datetime, or an int year under the year profile
    finished_at: Any
    started_local: Any  # aware datetime in the participant's zone, or an int year
    finished_local: Any
    time_zone: str
    language: str
    version: VersionInfo
    answers: Mapping[str, Any]
    scores: Mapping[str, Any]
    hard_to_understand: Sequence[str] = field(default_factory=tuple)


# A source of records: called once per pass over the data with the versions wanted
# ("stem" values, or None for all) and the order; the service reads a database cursor.
RecordSource = Callable[[Sequence[str] | None, Literal["time", "participant"]], Iterator[Record]]


@dataclass
class Progress:
    """Responses written so far out of the total, readable while the ZIP streams.

    ``total`` counts each response once per pass over the data (a bundle of several formats
    reads the responses several times)."""

    total: int = 0
    done: int = 0
    finished: bool = False
    on_change: Callable[[Progress], None] | None = None

    def step(self, count: int = 1) -> None:
        self.done += count
        if self.on_change is not None:
            self.on_change(self)


def utc_iso(value: Any) -> str:
    if type(value) is dt.datetime:
        # isoformat, not strftime: several times faster, and this runs for several cells per
        # row. Values from the database are UTC already: only the "+00:00" becomes "Z".
        if value.tzinfo is dt.UTC:
            return value.isoformat(timespec="seconds")[:-6] + "Z"
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    return "" if value is None else str(value)


def local_iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    return "" if value is None else str(value)
