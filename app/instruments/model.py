"""The in-memory model of one instrument version: frozen dataclasses built only by the loader.

Everything a participant can read is a ``LocalizedText`` (language code → text); wording that
differs between a participant and a caregiver answering for them is a ``Wording``
(respondent type → LocalizedText). Staff-facing strings (score labels, alert messages) are plain
English: sites work in the study's working language and the patient never sees them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from app.instruments.expressions import CompiledExpression

RESPONDENT_TYPES: Final = ("self", "proxy")

CHOICE_TYPES: Final = ("single_choice", "multiple_choice")
SCALE_TYPES: Final = ("rating_0_10", "vas_0_100")
NUMBER_TYPES: Final = ("integer", "decimal")
TEXT_TYPES: Final = ("short_text", "long_text")
ITEM_TYPES: Final = (
    *CHOICE_TYPES,
    *SCALE_TYPES,
    *NUMBER_TYPES,
    "yes_no",
    "date",
    "time",
    *TEXT_TYPES,
    "display",
)
# Default bounds for the two scale types; an instrument may narrow or move them.
SCALE_DEFAULTS: Final = {"rating_0_10": (0, 10), "vas_0_100": (0, 100)}
# Default maximum lengths keep a single answer from becoming a document.
TEXT_MAX_LENGTH_DEFAULTS: Final = {"short_text": 200, "long_text": 4000}

ALERT_SEVERITIES: Final = ("info", "warning", "urgent")
SCORE_METHODS: Final = ("sum", "mean")

LocalizedText = Mapping[str, str]
Wording = Mapping[str, LocalizedText]
ChoiceValue = str | int


@dataclass(frozen=True)
class Code:
    """A code from an external terminology, e.g. LOINC ``44249-1``."""

    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True)
class Choice:
    value: ChoiceValue
    label: LocalizedText
    # The ordinal value used by scoring; ``None`` means "use the value if it is a number".
    score: float | None = None
    # Selecting an exclusive choice ("None of these") rules out every other choice.
    exclusive: bool = False

    @property
    def scoring_value(self) -> float | None:
        if self.score is not None:
            return self.score
        return float(self.value) if isinstance(self.value, int) else None


@dataclass(frozen=True)
class Scale:
    minimum: int
    maximum: int
    minimum_label: LocalizedText
    maximum_label: LocalizedText


@dataclass(frozen=True)
class Constraint:
    """A condition an answered item must meet, with the message shown when it does not."""

    condition: CompiledExpression
    message: LocalizedText


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    text: Wording
    help: Wording = field(default_factory=dict)
    required: bool = False
    show_when: CompiledExpression | None = None
    choices: tuple[Choice, ...] = ()
    scale: Scale | None = None
    minimum: float | None = None
    maximum: float | None = None
    unit: LocalizedText = field(default_factory=dict)
    decimals: int | None = None
    min_choices: int | None = None
    max_choices: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    constraint: Constraint | None = None
    codes: tuple[Code, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.type != "display"

    def choice(self, value: object) -> Choice | None:
        """The choice whose value is ``value`` with the same type (``1`` is not ``'1'``)."""
        for choice in self.choices:
            if type(choice.value) is type(value) and choice.value == value:
                return choice
        return None


@dataclass(frozen=True)
class Page:
    id: str
    title: LocalizedText
    items: tuple[Item, ...]
    show_when: CompiledExpression | None = None


@dataclass(frozen=True)
class Band:
    """An inclusive range of final score values with its interpretation."""

    minimum: float
    maximum: float
    label: str


@dataclass(frozen=True)
class Score:
    id: str
    label: str
    method: str
    items: tuple[str, ...]
    reverse: tuple[str, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)
    # Up to this many missing items the score is prorated (sum) or averaged over the answered
    # items (mean); one more and there is no score.
    max_missing: int = 0
    round_to: int | None = None
    when: CompiledExpression | None = None
    lookup: tuple[tuple[float, float], ...] = ()
    bands: tuple[Band, ...] = ()
    codes: tuple[Code, ...] = ()


# Fields added after instruments were first published: left out of the content hash while
# empty (app/instruments/canonical.py), so versions published before them keep their hash.
OMIT_IF_EMPTY: Final = {"omit_if_empty": True}


@dataclass(frozen=True)
class AlertRule:
    id: str
    when: CompiledExpression
    severity: str
    message: str  # for site staff
    # What the participant sees on the thank-you screen when the rule fires (#11), e.g. where
    # to get help now. Any language the app speaks, not only the instrument's: a safety message
    # must reach a reader whose questionnaire is untranslated. The study's or site's own
    # contacts are shown below it (Study/Site.safety_contacts).
    participant_message: LocalizedText = field(default_factory=dict, metadata=OMIT_IF_EMPTY)


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    title: LocalizedText
    description: LocalizedText
    languages: tuple[str, ...]
    default_language: str
    licence: str
    copyright: str
    authors: tuple[str, ...]
    co_design: str | None
    respondents: tuple[str, ...]
    age_min: int | None
    age_max: int | None
    recall_period: LocalizedText
    estimated_minutes: int
    pages: tuple[Page, ...]
    scores: tuple[Score, ...] = ()
    alerts: tuple[AlertRule, ...] = ()
    codes: tuple[Code, ...] = ()

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for page in self.pages for item in page.items)

    def item(self, item_id: str) -> Item | None:
        for item in self.items:
            if item.id == item_id:
                return item
        return None
