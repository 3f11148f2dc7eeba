"""Native SPSS (.sav) and Stata (.dta) files through pyreadstat, written into memory.

pyreadstat writes to a path, so the file is a memory-backed ``os.memfd_create`` file: the
answers never reach a disk, not even as a temporary file. A .sav/.dta file is written whole,
so memory grows with one instrument version's rows (the streamed formats stay flat).

Missing answers: in .sav, -99 with the label "Not answered", declared user-missing; in .dta,
the extended missing value ``.a``. String choice codes become numbers (see the codebook's
``numeric_codes``), since Stata labels numbers only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, Final

import pandas as pd
import pyreadstat

from app.exports.columns import NUMERIC_KINDS, Column
from app.exports.model import Record

SAV_MISSING: Final = -99
SAV_MISSING_LABEL: Final = "Not answered"
DTA_MISSING: Final = "a"
CHUNK: Final = 1 << 16


class NativeTooLarge(Exception):
    """A .sav/.dta file would hold more rows than one export may keep in memory."""


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
    """One instrument version's rows in memory, ready for pyreadstat."""

    def __init__(self, columns: Sequence[Column], label: str) -> None:
        self.columns = list(columns)
        self.label = label[:80]
        self._rows: list[list[Any]] = []

    def add(self, record: Record) -> None:
        self._rows.append([_convert(c, c.get(record)) for c in self.columns])

    def _frame(self, missing: Any) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for index, column in enumerate(self.columns):
            values = [row[index] for row in self._rows]
            if _numeric(column):
                answered = any(v is not None for v in values)
                if column.source == "item" and (answered or missing != DTA_MISSING):
                    # (A Stata column holding only ".a" codes would be written as text: an
                    # item nobody answered stays numeric, all system-missing.)
                    values = [missing if v is None else v for v in values]
                    data[column.name] = pd.Series(
                        values, dtype="object" if missing == DTA_MISSING else "float64"
                    )
                else:
                    data[column.name] = pd.Series(
                        [math.nan if v is None else v for v in values], dtype="float64"
                    )
            else:
                data[column.name] = pd.Series(
                    ["" if v is None else v for v in values], dtype="object"
                )
        return pd.DataFrame(data)

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
