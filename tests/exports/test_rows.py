"""The fast row writers give exactly the cells of the reference ``cell``/``long_rows``, for
every instrument of the library, every dialect and profile, and answers of every shape a
response may hold (each choice, a value of the wrong type, formula-like text, numbers with a
decimal mark, missing answers, year-coarsened dates)."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from app.exports import csv_format
from app.exports.columns import wide_columns
from app.exports.model import ExportOptions, Occasion, Profile, Record, VersionInfo
from app.instruments.loader import instrument_files, load_instrument

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
ODD_VALUES: tuple[Any, ...] = (
    True,
    False,
    0,
    1,
    -3,
    2.5,
    -0.25,
    3.0,
    "1",
    "",
    "=cmd()",
    "-2 better",
    "@SUM(A1)",
    "\tx",
    "plain; with, separators",
    "élan",
)


def _versions() -> list[VersionInfo]:
    found = []
    for path in instrument_files([LIBRARY]):
        instrument, _problems = load_instrument(path)
        found.append(VersionInfo(instrument.id, instrument.version, "hash", instrument))
    return found


def _answers(version: VersionInfo, rng: random.Random) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for item in version.answerable_items:
        roll = rng.random()
        if roll < 0.15:
            continue  # not answered
        choices = [c.value for c in item.choices]
        if item.type == "yes_no":  # validated as a boolean (the column makes it 0/1)
            value: Any = rng.choice((True, False, 0, 1))
        elif roll < 0.3 or not choices:
            value = rng.choice(ODD_VALUES)
        else:
            value = rng.choice(choices)
        if item.type == "multiple_choice":
            value = rng.sample(choices, rng.randint(0, len(choices))) + (
                [rng.choice(ODD_VALUES)] if roll < 0.3 else []
            )
        answers[item.id] = value
    return answers


def _record(version: VersionInfo, rng: random.Random, n: int, year: bool) -> Record:
    moment = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC) + dt.timedelta(hours=n)
    local = moment.astimezone(dt.timezone(dt.timedelta(hours=2)))
    when: Any = moment.year if year else moment
    return Record(
        response_id=f"r-{n}",
        participant=rng.choice(("LY-001", "=P", "-P", "P-ABC")),
        site=rng.choice(("LYON", "+SITE")),
        arm=rng.choice(("A", "", "@arm")),
        respondent_type=rng.choice(("self", "parent")),
        answered_by=rng.choice(("", "caregiver-3")),
        occasion=rng.choice(
            (None, Occasion("weekly", "week-2", when, when, rng.choice(("on_time", "late"))))
        ),
        started_at=when,
        finished_at=when,
        started_local=local.year if year else local,
        finished_local=local.year if year else local,
        time_zone="Europe/Paris",
        language=rng.choice(("en", "fr")),
        version=version,
        answers=_answers(version, rng),
        scores={"total": {"value": rng.choice((None, 3, 4.5, -1.0)), "band": "mild"}},
        hard_to_understand=rng.choice(((), ("pain",), ("a", "b"))),
    )


@pytest.mark.parametrize(
    ("labels", "decimal", "profile", "language"),
    list(
        itertools.product(
            ("codes", "labels"), (".", ","), (Profile.NONE, Profile.YEAR), (None, "fr")
        )
    ),
)
def test_fast_rows_equal_the_reference_cells(labels, decimal, profile, language):
    options = ExportOptions(
        labels=labels,
        decimal=decimal,
        delimiter=";" if decimal == "," else ",",
        profile=profile,
        language=language,
    )
    rng = random.Random(f"{labels}{decimal}{profile}{language}")  # noqa: S311 - test data
    for version in _versions():
        columns = wide_columns(version, options)
        wide = csv_format.wide_row_function(columns, options)
        long = csv_format.long_rows_function(version, options)
        for n in range(150):
            record = _record(version, rng, n, profile is Profile.YEAR)
            assert wide(record) == csv_format.wide_row(columns, record, options)
            assert [list(row) for row in long(record)] == list(
                csv_format.long_rows(record, options)
            )
