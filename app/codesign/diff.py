"""What changed between two versions of an instrument, and whether it breaks comparability.

Both sides are loaded instruments (a draft and a published version load the same way), so the
diff sees what participants and analysts see, not YAML layout. Each change says how it bears
on data already collected:

* ``breaks`` -- answers before and after cannot be pooled as they are: an item's type, answer
  values, option scores, scale or unit changed; a score is computed differently; the recall
  period changed.
* ``may_affect`` -- people may answer differently: the question reworded in the source
  language, options added or relabelled, who is asked (skip logic, respondents, required),
  answer limits.
* ``keeps`` -- translations, help, titles, alerts, order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from app.instruments.expressions import CompiledExpression
from app.instruments.model import Instrument, Item, LocalizedText, Score

BREAKS: Final = "breaks"
MAY_AFFECT: Final = "may_affect"
KEEPS: Final = "keeps"


@dataclass(frozen=True)
class Change:
    kind: str  # e.g. item_added, reworded, translation_changed, options_recoded, logic_changed
    comparability: str  # breaks | may_affect | keeps
    summary: str  # one line in English; pages translate by ``kind``
    item_id: str | None = None
    field: str | None = None
    language: str | None = None
    before: Any = None
    after: Any = None

    @property
    def breaks_comparability(self) -> bool:
        return self.comparability == BREAKS


@dataclass(frozen=True)
class VersionDiff:
    older: str
    newer: str
    changes: tuple[Change, ...]

    @property
    def breaking(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.breaks_comparability)

    def kinds(self) -> set[str]:
        return {change.kind for change in self.changes}

    def for_item(self, item_id: str) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.item_id == item_id)


def _plain(value: Any) -> Any:
    if isinstance(value, CompiledExpression):
        return value.source
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _texts(
    before: LocalizedText,
    after: LocalizedText,
    *,
    default: str,
    item_id: str | None,
    field: str,
    source_kind: str,
    source_comparability: str,
) -> Iterator[Change]:
    for language in sorted(set(before) | set(after), key=lambda lang: (lang != default, lang)):
        old, new = before.get(language), after.get(language)
        if old == new:
            continue
        where = f"item '{item_id}' {field}" if item_id else field
        if language == default:
            yield Change(
                source_kind,
                source_comparability,
                f"{where} changed in {language}",
                item_id,
                field,
                language,
                old,
                new,
            )
        else:
            state = "added" if old is None else "removed" if new is None else "changed"
            yield Change(
                "translation_changed",
                KEEPS,
                f"{where}: {language} translation {state}",
                item_id,
                field,
                language,
                old,
                new,
            )


def diff_instruments(older: Instrument, newer: Instrument) -> VersionDiff:
    """Every change from ``older`` to ``newer``, instrument-level first, then items in order."""
    default = newer.default_language
    changes: list[Change] = []
    changes += _instrument_changes(older, newer, default)
    old_items = {item.id: item for item in older.items}
    new_items = {item.id: item for item in newer.items}
    old_pages = {item.id: page for page in older.pages for item in page.items}
    new_pages = {item.id: page for page in newer.pages for item in page.items}
    for item_id, item in old_items.items():
        if item_id not in new_items:
            changes.append(
                Change(
                    "item_removed",
                    MAY_AFFECT,
                    f"item '{item_id}' removed",
                    item_id,
                    before=_plain(item.text),
                )
            )
    old_order = [item_id for item_id in old_items if item_id in new_items]
    new_order = [item_id for item_id in new_items if item_id in old_items]
    for item_id, item in new_items.items():
        if item_id not in old_items:
            changes.append(
                Change(
                    "item_added", KEEPS, f"item '{item_id}' added", item_id, after=_plain(item.text)
                )
            )
            continue
        changes += _item_changes(old_items[item_id], item, default)
        old_page, new_page = old_pages[item_id], new_pages[item_id]
        if old_page.show_when != new_page.show_when:
            changes.append(
                Change(
                    "logic_changed",
                    MAY_AFFECT,
                    f"item '{item_id}': when its page is shown changed",
                    item_id,
                    "page.show_when",
                    before=_plain(old_page.show_when),
                    after=_plain(new_page.show_when),
                )
            )
    if old_order != new_order:
        changes.append(
            Change("items_reordered", KEEPS, "items reordered", before=old_order, after=new_order)
        )
    changes += _score_changes(older.scores, newer.scores)
    if _plain(older.alerts) != _plain(newer.alerts):
        changes.append(
            Change(
                "alerts_changed",
                KEEPS,
                "alert rules changed",
                field="alerts",
                before=_plain(older.alerts),
                after=_plain(newer.alerts),
            )
        )
    return VersionDiff(f"{older.id} {older.version}", f"{newer.id} {newer.version}", tuple(changes))


def _instrument_changes(older: Instrument, newer: Instrument, default: str) -> Iterator[Change]:
    for field in ("title", "description"):
        yield from _texts(
            getattr(older, field),
            getattr(newer, field),
            default=default,
            item_id=None,
            field=field,
            source_kind="metadata_changed",
            source_comparability=KEEPS,
        )
    yield from _texts(
        older.recall_period,
        newer.recall_period,
        default=default,
        item_id=None,
        field="recall_period",
        source_kind="recall_period_changed",
        source_comparability=BREAKS,
    )
    if older.languages != newer.languages:
        yield Change(
            "languages_changed",
            KEEPS,
            "languages changed",
            field="languages",
            before=list(older.languages),
            after=list(newer.languages),
        )
    if older.respondents != newer.respondents:
        yield Change(
            "respondents_changed",
            MAY_AFFECT,
            "who answers changed",
            field="respondents",
            before=list(older.respondents),
            after=list(newer.respondents),
        )
    if (older.age_min, older.age_max) != (newer.age_min, newer.age_max):
        yield Change(
            "metadata_changed",
            MAY_AFFECT,
            "age range changed",
            field="age_range",
            before=[older.age_min, older.age_max],
            after=[newer.age_min, newer.age_max],
        )


def _field(
    kind: str, comparability: str, item: Item, field: str, before: Any, after: Any
) -> Iterator[Change]:
    before, after = _plain(before), _plain(after)
    if before != after:
        yield Change(
            kind,
            comparability,
            f"item '{item.id}' {field} changed",
            item.id,
            field,
            None,
            before,
            after,
        )


def _item_changes(old: Item, new: Item, default: str) -> Iterator[Change]:
    if old.type != new.type:
        yield from _field("type_changed", BREAKS, new, "type", old.type, new.type)
    for respondent in sorted(set(old.text) | set(new.text)):
        yield from _texts(
            old.text.get(respondent, {}),
            new.text.get(respondent, {}),
            default=default,
            item_id=new.id,
            field=f"text.{respondent}",
            source_kind="reworded",
            source_comparability=MAY_AFFECT,
        )
    for respondent in sorted(set(old.help) | set(new.help)):
        yield from _texts(
            old.help.get(respondent, {}),
            new.help.get(respondent, {}),
            default=default,
            item_id=new.id,
            field=f"help.{respondent}",
            source_kind="help_changed",
            source_comparability=KEEPS,
        )
    yield from _choice_changes(old, new, default)
    if old.scale is not None and new.scale is not None:
        yield from _field(
            "range_changed",
            BREAKS,
            new,
            "scale",
            (old.scale.minimum, old.scale.maximum),
            (new.scale.minimum, new.scale.maximum),
        )
        for name in ("minimum_label", "maximum_label"):
            yield from _texts(
                getattr(old.scale, name),
                getattr(new.scale, name),
                default=default,
                item_id=new.id,
                field=f"scale.{name}",
                source_kind="reworded",
                source_comparability=MAY_AFFECT,
            )
    yield from _field(
        "range_changed",
        MAY_AFFECT,
        new,
        "limits",
        (old.minimum, old.maximum, old.decimals, old.min_choices, old.max_choices, old.max_length),
        (new.minimum, new.maximum, new.decimals, new.min_choices, new.max_choices, new.max_length),
    )
    yield from _texts(
        old.unit,
        new.unit,
        default=default,
        item_id=new.id,
        field="unit",
        source_kind="unit_changed",
        source_comparability=BREAKS,
    )
    yield from _field("required_changed", MAY_AFFECT, new, "required", old.required, new.required)
    yield from _field("logic_changed", MAY_AFFECT, new, "show_when", old.show_when, new.show_when)
    yield from _field(
        "constraint_changed",
        MAY_AFFECT,
        new,
        "constraint",
        (old.constraint.condition if old.constraint else None, old.pattern),
        (new.constraint.condition if new.constraint else None, new.pattern),
    )
    if old.constraint is not None and new.constraint is not None:
        yield from _texts(
            old.constraint.message,
            new.constraint.message,
            default=default,
            item_id=new.id,
            field="constraint.message",
            source_kind="help_changed",
            source_comparability=KEEPS,
        )
    yield from _field("codes_changed", KEEPS, new, "codes", old.codes, new.codes)


def _choice_changes(old: Item, new: Item, default: str) -> Iterator[Change]:
    def key(value: object) -> tuple[str, str]:
        return (type(value).__name__, str(value))

    old_choices = {key(c.value): c for c in old.choices}
    new_choices = {key(c.value): c for c in new.choices}
    removed = [c.value for k, c in old_choices.items() if k not in new_choices]
    added = [c.value for k, c in new_choices.items() if k not in old_choices]
    if removed:
        yield Change(
            "options_recoded",
            BREAKS,
            f"item '{new.id}': answer value(s) {', '.join(map(repr, removed))} no longer exist",
            new.id,
            "choices",
            before=removed,
        )
    if added:
        yield Change(
            "options_added",
            MAY_AFFECT,
            f"item '{new.id}': new answer value(s) {', '.join(map(repr, added))}",
            new.id,
            "choices",
            after=added,
        )
    for k, choice in new_choices.items():
        previous = old_choices.get(k)
        if previous is None:
            continue
        if previous.scoring_value != choice.scoring_value:
            yield Change(
                "options_recoded",
                BREAKS,
                f"item '{new.id}': answer {choice.value!r} now scores "
                f"{choice.scoring_value} (was {previous.scoring_value})",
                new.id,
                f"choices.{choice.value}.score",
                before=previous.scoring_value,
                after=choice.scoring_value,
            )
        if previous.exclusive != choice.exclusive:
            yield Change(
                "options_recoded",
                MAY_AFFECT,
                f"item '{new.id}': answer {choice.value!r} exclusive changed",
                new.id,
                f"choices.{choice.value}.exclusive",
                before=previous.exclusive,
                after=choice.exclusive,
            )
        yield from _texts(
            previous.label,
            choice.label,
            default=default,
            item_id=new.id,
            field=f"choices.{choice.value}.label",
            source_kind="reworded",
            source_comparability=MAY_AFFECT,
        )
    common_old = [k for k in old_choices if k in new_choices]
    common_new = [k for k in new_choices if k in old_choices]
    if common_old != common_new:
        yield Change(
            "options_reordered",
            MAY_AFFECT,
            f"item '{new.id}': answers shown in a different order",
            new.id,
            "choices",
        )


_SCORE_PRESENTATION: Final = ("label", "bands", "codes")


def _score_changes(older: tuple[Score, ...], newer: tuple[Score, ...]) -> Iterator[Change]:
    old_scores = {score.id: score for score in older}
    new_scores = {score.id: score for score in newer}
    for score_id in old_scores.keys() - new_scores.keys():
        yield Change(
            "scoring_changed",
            MAY_AFFECT,
            f"score '{score_id}' removed",
            field=f"scores.{score_id}",
        )
    for score_id, score in new_scores.items():
        previous = old_scores.get(score_id)
        if previous is None:
            yield Change(
                "scoring_changed", KEEPS, f"score '{score_id}' added", field=f"scores.{score_id}"
            )
            continue
        old_plain, new_plain = _plain(previous), _plain(score)
        computing = [
            name
            for name in old_plain
            if name not in _SCORE_PRESENTATION and old_plain[name] != new_plain[name]
        ]
        presenting = [name for name in _SCORE_PRESENTATION if old_plain[name] != new_plain[name]]
        if computing:
            yield Change(
                "scoring_changed",
                BREAKS,
                f"score '{score_id}' is computed differently ({', '.join(computing)})",
                field=f"scores.{score_id}",
                before={name: old_plain[name] for name in computing},
                after={name: new_plain[name] for name in computing},
            )
        if presenting:
            yield Change(
                "scoring_changed",
                MAY_AFFECT if "bands" in presenting else KEEPS,
                f"score '{score_id}' is presented differently ({', '.join(presenting)})",
                field=f"scores.{score_id}",
                before={name: old_plain[name] for name in presenting},
                after={name: new_plain[name] for name in presenting},
            )
