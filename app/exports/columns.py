"""The wide table of one instrument version: every column with its label, type, allowed
values, unit and scoring rule. The CSV, codebook, SPSS/Stata files and syntax are all written
from this one definition, so they cannot disagree."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from app.exports.deid import dropped_items
from app.exports.model import ExportOptions, Profile, Record, VersionInfo, local_iso, utc_iso
from app.instruments.model import Instrument, Item, LocalizedText, Score

# Column kinds, as the codebook states them (and pandas/SPSS/Stata/R/SAS read them):
#   string, integer, decimal, datetime (ISO 8601), date (YYYY-MM-DD), time (HH:MM), year,
#   choice (codes with labels), flag (0/1)
NUMERIC_KINDS: Final = frozenset({"integer", "decimal", "year", "flag"})
YES_NO: Final[dict[str, tuple[str, str]]] = {
    "en": ("Yes", "No"),
    "fr": ("Oui", "Non"),
    "es": ("Sí", "No"),
    "de": ("Ja", "Nein"),
    "ar": ("نعم", "لا"),
}
SELECTED: Final[dict[str, tuple[str, str]]] = {
    "en": ("Selected", "Not selected"),
    "fr": ("Coché", "Non coché"),
    "es": ("Marcado", "No marcado"),
    "de": ("Gewählt", "Nicht gewählt"),
    "ar": ("محدد", "غير محدد"),
}


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str
    get: Callable[[Record], Any] = field(compare=False, repr=False)
    # Allowed values (code, label) for choice and flag columns, in the instrument's order.
    values: tuple[tuple[Any, str], ...] = ()
    unit: str = ""
    source: str = "metadata"  # metadata | item | score
    item_id: str = ""
    scoring_rule: str = ""

    @property
    def numeric_codes(self) -> dict[Any, int]:
        """The number standing for each value in .sav/.dta files and syntax: the value itself
        when it is a whole number, else its 1-based position among the choices."""
        if all(isinstance(v, int) and not isinstance(v, bool) for v, _ in self.values):
            return {v: v for v, _ in self.values}
        return {v: i for i, (v, _) in enumerate(self.values, start=1)}

    @property
    def string_codes(self) -> bool:
        return self.kind == "choice" and any(isinstance(v, str) for v, _ in self.values)


def text_in(text: LocalizedText, language: str, fallback: str) -> str:
    return text.get(language) or text.get(fallback) or next(iter(text.values()), "")


def label_language(instrument: Instrument, options: ExportOptions) -> str:
    wanted = options.language or instrument.default_language
    return wanted if wanted in instrument.languages else instrument.default_language


_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")
MAX_NAME: Final = 31  # Stata allows 32, but its value-label set (named after the variable) only 31


def _safe_name(raw: str, taken: set[str]) -> str:
    name = _NAME_CHARS.sub("_", raw)
    if not name or not name[0].isalpha():
        name = "v_" + name
    name = name[:MAX_NAME]
    candidate, n = name, 2
    while candidate.lower() in taken:
        suffix = f"_{n}"
        candidate = name[: MAX_NAME - len(suffix)] + suffix
        n += 1
    taken.add(candidate.lower())
    return candidate


def _moment(kind_if_clear: str, profile: Profile) -> str:
    return "year" if profile is Profile.YEAR else kind_if_clear


def wide_columns(version: VersionInfo, options: ExportOptions) -> list[Column]:
    instrument = version.instrument
    language = label_language(instrument, options)
    profile = options.profile
    taken: set[str] = set()
    columns: list[Column] = []

    def add(raw: str, label: str, kind: str, get: Callable[[Record], Any], **kw: Any) -> None:
        columns.append(Column(_safe_name(raw, taken), label, kind, get, **kw))

    moment = _moment("datetime", profile)
    add("response_id", "Response id", "string", lambda r: r.response_id)
    participant_label = "Participant pseudonym" if profile.deidentified else "Participant code"
    add("participant", participant_label, "string", lambda r: r.participant)
    add("site", "Site code", "string", lambda r: r.site)
    add("arm", "Study arm", "string", lambda r: r.arm)
    add(
        "respondent_type", "Who answered (self, parent, ...)", "string", lambda r: r.respondent_type
    )
    add("answered_by", "Caregiver who answered", "string", lambda r: r.answered_by)
    add("schedule", "Schedule", "string", lambda r: r.occasion.schedule if r.occasion else None)
    add("visit", "Visit (occurrence)", "string", lambda r: r.occasion.visit if r.occasion else None)
    add(
        "window_opens_utc",
        "Window opened (UTC)",
        moment,
        lambda r: utc_iso(r.occasion.opens_at) if r.occasion else None,
    )
    add(
        "window_closes_utc",
        "Window closed (UTC)",
        moment,
        lambda r: utc_iso(r.occasion.closes_at) if r.occasion else None,
    )
    add("timing", "On time or late", "string", lambda r: r.occasion.timing if r.occasion else None)
    add("started_utc", "Started (UTC)", moment, lambda r: utc_iso(r.started_at))
    add("finished_utc", "Finished (UTC)", moment, lambda r: utc_iso(r.finished_at))
    add(
        "started_local",
        "Started (participant's local time)",
        moment,
        lambda r: local_iso(r.started_local),
    )
    add(
        "finished_local",
        "Finished (participant's local time)",
        moment,
        lambda r: local_iso(r.finished_local),
    )
    add("time_zone", "Participant's time zone", "string", lambda r: r.time_zone)
    add("language", "Language answered in", "string", lambda r: r.language)
    add("instrument", "Instrument", "string", lambda r: r.version.key)
    add("version", "Instrument version", "string", lambda r: r.version.version)
    add("content_hash", "Instrument content hash", "string", lambda r: r.version.content_hash)

    dropped = set(dropped_items(instrument, profile))
    for item in instrument.items:
        if item.answerable and item.id not in dropped:
            _item_columns(item, language, instrument.default_language, profile, add)
    for score in instrument.scores:
        add(
            f"score_{score.id}",
            score.label,
            "decimal",
            _score_part(score.id, "value"),
            source="score",
            scoring_rule=scoring_rule(score),
        )
        if score.bands:
            add(
                f"score_{score.id}_band",
                f"{score.label}: band",
                "string",
                _score_part(score.id, "band"),
                source="score",
                scoring_rule="; ".join(
                    f"{b.minimum:g}-{b.maximum:g}: {b.label}" for b in score.bands
                ),
            )
    add(
        "hard_to_understand",
        "Items flagged hard to understand (space-separated ids)",
        "string",
        lambda r: " ".join(r.hard_to_understand),
    )
    return columns


def _score_part(score_id: str, part: str) -> Callable[[Record], Any]:
    def get(record: Record) -> Any:
        return (record.scores.get(score_id) or {}).get(part)

    return get


def _answer(item_id: str) -> Callable[[Record], Any]:
    def get(record: Record) -> Any:
        return record.answers.get(item_id)

    return get


def _yes_no(item_id: str) -> Callable[[Record], int | None]:
    def get(record: Record) -> int | None:
        value = record.answers.get(item_id)
        return None if value is None else int(value)

    return get


def item_label(item: Item, language: str, fallback: str) -> str:
    wording = item.text.get("self") or item.text.get("proxy") or {}
    return text_in(wording, language, fallback)


def _item_columns(
    item: Item, language: str, fallback: str, profile: Profile, add: Callable[..., None]
) -> None:
    label = item_label(item, language, fallback)
    unit = text_in(item.unit, language, fallback) if item.unit else ""
    common: dict[str, Any] = {"source": "item", "item_id": item.id, "unit": unit}
    answer = _answer(item.id)
    if item.type == "single_choice":
        values = tuple((c.value, text_in(c.label, language, fallback)) for c in item.choices)
        add(item.id, label, "choice", answer, values=values, **common)
    elif item.type == "multiple_choice":
        selected, not_selected = SELECTED.get(language, SELECTED["en"])
        for choice in item.choices:
            choice_label = text_in(choice.label, language, fallback)

            def flag(r: Record, iid: str = item.id, value: Any = choice.value) -> int | None:
                chosen = r.answers.get(iid)
                return None if chosen is None else int(value in chosen)

            add(
                f"{item.id}__{choice.value}",
                f"{label} [{choice_label}]",
                "flag",
                flag,
                values=((1, selected), (0, not_selected)),
                **common,
            )
    elif item.type == "yes_no":
        yes, no = YES_NO.get(language, YES_NO["en"])
        add(
            item.id,
            label,
            "flag",
            _yes_no(item.id),
            values=((1, yes), (0, no)),
            **common,
        )
    elif item.type in ("rating_0_10", "vas_0_100", "integer"):
        add(item.id, label, "integer", answer, **common)
    elif item.type == "decimal":
        add(item.id, label, "decimal", answer, **common)
    elif item.type == "date":
        add(item.id, label, "year" if profile is Profile.YEAR else "date", answer, **common)
    elif item.type == "time":
        add(item.id, label, "time", answer, **common)
    else:
        add(item.id, label, "string", answer, **common)


def scoring_rule(score: Score) -> str:
    parts = [f"{score.method} of {', '.join(score.items)}"]
    if score.reverse:
        parts.append(f"reversed: {', '.join(score.reverse)}")
    if score.weights:
        parts.append("weights: " + ", ".join(f"{k}={v:g}" for k, v in score.weights.items()))
    if score.max_missing:
        parts.append(f"up to {score.max_missing} missing (prorated)")
    if score.round_to is not None:
        parts.append(f"rounded to {score.round_to} decimals")
    if score.lookup:
        parts.append("converted through a lookup table")
    return "; ".join(parts)
