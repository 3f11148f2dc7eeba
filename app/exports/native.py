"""Native SPSS (.sav) and Stata (.dta) files through pyreadstat, written into memory.

pyreadstat writes to a path, so the file is a memory-backed ``os.memfd_create`` file: the
answers never reach a disk, not even as a temporary file. A .sav/.dta file is written whole,
so memory grows with one instrument version's rows (the streamed formats stay flat), up to
the :data:`MAX_CELLS` budget.

Missing answers: in .sav, -99 with the label "Not answered", declared user-missing; in .dta,
the extended missing value ``.a``. String choice codes become numbers (see the codebook's
``numeric_codes``), since Stata labels numbers only.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, Final

import numpy as np
import pandas as pd
import pyreadstat

from app.exports.columns import NUMERIC_KINDS, Column
from app.exports.model import Record

SAV_MISSING: Final = -99
SAV_MISSING_LABEL: Final = "Not answered"
DTA_MISSING: Final = "a"
CHUNK: Final = 1 << 16
# The cells (rows x columns) one .sav/.dta file may hold: all are in memory while it is
# written, about 35 bytes a cell at the peak (`python -m bench export_throughput
# --native-rows N`; README "Datasets"), so about 550 MB.
# An export asking for more is refused before it starts, with a message saying to narrow it
# or leave SPSS and Stata out.
MAX_CELLS: Final = 16_000_000
# Distinct texts a column shares (sites, arms, participant codes, bands); past that, the
# column's texts are taken as unique (ids, times) and kept as they come.
SHARED_TEXTS: Final = 1 << 16
# An unanswered item in the numbers of a column: answers and scores come from JSON, which has
# no infinities, so this cannot be a value (NaN already means "a value with no code").
_NOT_ANSWERED: Final = -math.inf


class NativeTooLarge(Exception):
    """A .sav/.dta file would hold more rows than one export may keep in memory."""


def max_rows_of(columns: int) -> int:
    """The rows a .sav/.dta file of this many columns may hold."""
    return MAX_CELLS // max(columns, 1)


def _numeric(column: Column) -> bool:
    return column.kind in NUMERIC_KINDS or column.kind == "choice"


def _convert(column: Column, value: Any) -> Any:
    if value is None or value == "":
        return None
    if column.kind == "choice":
        return float(column.numeric_codes.get(value, math.nan))
    if column.kind in NUMERIC_KINDS:
        return float(value)
    return str(value)


@contextmanager
def memory_file() -> Iterator[tuple[int, str]]:
    fd = os.memfd_create("chorus-export", os.MFD_CLOEXEC)
    try:
        yield fd, f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def copy_fd(fd: int, out: IO[bytes] | Any) -> Iterator[None]:
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, CHUNK):
        out.write(chunk)
        yield


class NativeTable:
    """One instrument version's rows in memory, column by column, ready for pyreadstat.

    pyreadstat writes a whole DataFrame, so a .sav/.dta file's rows are all held at once.
    They are held compactly: numbers in ``array('d')`` (8 bytes a cell, against 32 for a float
    in a list), repeated texts (sites, arms, codes, bands) as one shared string each, and
    unique ones (ids, times) as they come. Above ``limit`` rows (default: the
    :data:`MAX_CELLS` budget) the table refuses (:class:`NativeTooLarge`); the service refuses
    such an export before it starts."""

    def __init__(self, columns: Sequence[Column], label: str, limit: int | None = None) -> None:
        self.columns = list(columns)
        self.label = label[:80]
        self.max_rows = max_rows_of(len(self.columns)) if limit is None else limit
        self.rows = 0
        self._numbers: list[array[float] | None] = [
            array("d") if _numeric(c) else None for c in self.columns
        ]
        self._texts: list[list[str] | None] = [None if _numeric(c) else [] for c in self.columns]
        self._shared: list[dict[str, str]] = [{} for _ in self.columns]

    def add(self, record: Record) -> None:
        if self.rows >= self.max_rows:
            raise NativeTooLarge(self.max_rows)
        self.rows += 1
        for index, column in enumerate(self.columns):
            value = _convert(column, column.get(record))
            numbers = self._numbers[index]
            if numbers is not None:
                numbers.append(_NOT_ANSWERED if value is None else value)
                continue
            texts = self._texts[index]
            assert texts is not None
            text = "" if value is None else value
            shared = self._shared[index]
            if len(shared) < SHARED_TEXTS:
                text = shared.setdefault(text, text)
            texts.append(text)

    def _frame(self, missing: Any) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for index, column in enumerate(self.columns):
            numbers = self._numbers[index]
            if numbers is None:
                data[column.name] = pd.Series(self._texts[index], dtype="object")
                continue
            values = np.frombuffer(numbers, dtype=np.float64)
            unanswered = values == _NOT_ANSWERED
            answered = not bool(unanswered.all()) if len(values) else False
            if column.source == "item" and (answered or missing != DTA_MISSING):
                # (A Stata column holding only ".a" codes would be written as text: an
                # item nobody answered stays numeric, all system-missing.)
                if missing == DTA_MISSING:
                    # Python floats mixed with ".a" codes; each distinct value made once and
                    # pointed to (8 bytes a cell), not a float object per cell (32).
                    distinct, where = np.unique(values, return_inverse=True)
                    shared = np.empty(len(distinct), dtype=object)
                    for at, number in enumerate(distinct.tolist()):
                        shared[at] = missing if number == _NOT_ANSWERED else number
                    data[column.name] = pd.Series(shared[where], dtype="object")
                else:
                    data[column.name] = pd.Series(
                        np.where(unanswered, missing, values), dtype="float64"
                    )
            else:
                data[column.name] = pd.Series(
                    np.where(unanswered, math.nan, values), dtype="float64"
                )
        return pd.DataFrame(data, copy=False)

    def _value_labels(self) -> dict[str, dict[int | float, str]]:
        labels: dict[str, dict[int | float, str]] = {}
        for column in self.columns:
            if column.values:
                codes = column.numeric_codes
                labels[column.name] = {float(codes[v]): text for v, text in column.values}
        return labels

    def write_sav(self, path: str) -> None:
        labels = self._value_labels()
        missing: dict[str, list[Any]] = {}
        for column in self.columns:
            if _numeric(column) and column.source == "item":
                missing[column.name] = [SAV_MISSING]
                labels.setdefault(column.name, {})[float(SAV_MISSING)] = SAV_MISSING_LABEL
        pyreadstat.write_sav(
            self._frame(float(SAV_MISSING)),
            path,
            file_label=self.label,
            column_labels={c.name: c.label for c in self.columns},
            variable_value_labels=labels,
            missing_ranges=missing,
        )

    def write_dta(self, path: str) -> None:
        missing = {
            c.name: [DTA_MISSING] for c in self.columns if _numeric(c) and c.source == "item"
        }
        pyreadstat.write_dta(
            self._frame(DTA_MISSING),
            path,
            file_label=self.label,
            # Stata variable labels are at most 80 characters.
            column_labels={c.name: c.label[:80].rstrip() for c in self.columns},
            variable_value_labels=self._value_labels(),
            missing_user_values=missing,
        )
