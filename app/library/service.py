"""Publish instrument files into the database, and load published versions back.

Publishing is all or nothing: every file is checked first, and one invalid file or one edited
published version stops the whole run with nothing written.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.db import insert_unique
from app.errors import Conflict, Invalid, NotFound
from app.instruments.canonical import content_hash
from app.instruments.loader import (
    Problem,
    check_paths,
    instrument_files,
    load_instrument,
    parse_instrument,
)
from app.instruments.model import Instrument
from app.library.models import InstrumentVersion


class PublishStatus(enum.StrEnum):
    PUBLISHED = "published"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PublishResult:
    file: str
    label: str
    status: PublishStatus
    content_hash: str


class InvalidInstrumentFiles(Invalid):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in instrument files; nothing was published.",
            errors={"instruments": [str(p) for p in problems]},
        )
        self.problems = problems


def publish_paths(
    session: Session, paths: Iterable[str | Path], *, actor: str
) -> list[PublishResult]:
    """Check every file, then publish each version not yet in the database.

    Re-publishing an unchanged version is a no-op, so this is safe to run on every start.
    The caller commits; on any error it must roll back (nothing is half-published).
    """
    paths = list(paths)
    problems = check_paths(paths)
    if problems:
        raise InvalidInstrumentFiles(problems)
    results = []
    for path in instrument_files(paths):
        instrument, _warnings = load_instrument(path)
        results.append(
            _publish_one(session, instrument, path.read_text("utf-8"), str(path), path.name, actor)
        )
    return results


def publish_text(
    session: Session, source_text: str, source_file: str, *, actor: str
) -> tuple[PublishResult, InstrumentVersion]:
    """Publish one instrument file given as text (e.g. a co-designed draft), with the same
    checks and immutability as files on disk. The caller commits."""
    instrument, problems = parse_instrument(source_text, source_file)
    if instrument is None:
        raise InvalidInstrumentFiles([p for p in problems if p.is_error])
    result = _publish_one(session, instrument, source_text, source_file, source_file, actor)
    row = _find(session, instrument.id, instrument.version)
    assert row is not None
    return result, row


def _publish_one(
    session: Session,
    instrument: Instrument,
    source_text: str,
    where: str,
    file_name: str,
    actor: str,
) -> PublishResult:
    digest = content_hash(instrument)
    existing = _find(session, instrument.id, instrument.version)
    if existing is None:
        row = InstrumentVersion(
            instrument_key=instrument.id,
            version=instrument.version,
            content_hash=digest,
            source_text=source_text,
            source_file=file_name,
            title=_default_title(instrument),
            published_by=actor,
        )
        # The unique constraint decides between two publishers racing on one version.
        if not insert_unique(session, row):
            existing = _find(session, instrument.id, instrument.version)
        else:
            audit.record(
                session,
                actor=actor,
                action="instrument.published",
                target=f"instrument_version:{row.id}",
                details={
                    "instrument": instrument.id,
                    "version": instrument.version,
                    "content_hash": digest,
                },
            )
            return PublishResult(
                file_name, f"{instrument.id} {instrument.version}", PublishStatus.PUBLISHED, digest
            )
    assert existing is not None
    if existing.content_hash != digest:
        raise Conflict(
            f"{where}: {instrument.id} {instrument.version} is already published with different content "
            f"({existing.content_hash}, now {digest}). Published versions never change: "
            f"give the edited file a new `version:` (e.g. {_next_patch(instrument.version)}) and publish again."
        )
    return PublishResult(file_name, existing.label, PublishStatus.UNCHANGED, digest)


def _find(session: Session, key: str, version: str) -> InstrumentVersion | None:
    return session.scalar(
        select(InstrumentVersion).where(
            InstrumentVersion.instrument_key == key, InstrumentVersion.version == version
        )
    )


def _default_title(instrument: Instrument) -> str:
    return instrument.title.get(instrument.default_language) or next(
        iter(instrument.title.values()), instrument.id
    )


def _next_patch(version: str) -> str:
    major, minor, patch = [*version.split("."), "0", "0"][:3]
    return f"{major}.{minor}.{int(patch) + 1}" if patch.isdigit() else f"{version}.1"


def get_version(session: Session, key: str, version: str) -> tuple[InstrumentVersion, Instrument]:
    row = _find(session, key, version)
    if row is None:
        raise NotFound(f"No published instrument {key} {version}.")
    return row, instrument_of(row)


def instrument_of(row: InstrumentVersion) -> Instrument:
    """The engine's model for a published row (parsed once per content hash and cached)."""
    return _parse_published(row.content_hash, row.source_text, row.source_file)


@lru_cache(maxsize=256)
def _parse_published(digest: str, source_text: str, source_file: str) -> Instrument:
    instrument, _problems = parse_instrument(source_text, source_file)
    if instrument is None or content_hash(instrument) != digest:
        # Only possible if the engine changed how it reads a file after publication; refusing
        # is safer than serving a questionnaire that differs from what was approved.
        raise RuntimeError(
            f"published {source_file} no longer loads to its recorded content hash {digest}; "
            "the instrument engine changed incompatibly"
        )
    return instrument


def most_recently_published(session: Session) -> list[InstrumentVersion]:
    rows = session.scalars(
        select(InstrumentVersion).order_by(InstrumentVersion.instrument_key, InstrumentVersion.id)
    )
    latest: dict[str, InstrumentVersion] = {}
    for row in rows:
        latest[row.instrument_key] = row
    return list(latest.values())
