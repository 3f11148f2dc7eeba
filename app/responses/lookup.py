"""What a submission needs from the database, in one round trip, with per-process caches.

A submission used to read the participant, the resend check, the assigned instrument version
(with its whole source text), the study and its current key one query after the other. Here
one SELECT returns the participant with three correlated scalar subqueries: the id of an
existing response with the same idempotency key, the assigned version's id and content hash,
and the study's current key id. What those ids point to never changes, so it is cached in
this process:

- a published instrument version is immutable and content-hashed: cached by (id, content
  hash), so a row with the same id in another database (tests, a restore) is never confused;
- a study public key is immutable and its key id is a hash of the key itself: cached by key id
  (and checked against it when loaded).

Which version a study asks for and which key is current are decided by the database on every
submission, never by the cache: rotating a key (or assigning another version) takes effect on
the next submission in every process, with nothing to invalidate.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar, cast

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from app import crypto
from app.instruments.model import Instrument
from app.library.models import InstrumentVersion
from app.library.service import instrument_of
from app.participants.models import Participant, StudyInstrument
from app.responses.models import Response, StudyKey

__all__ = ["PublishedVersion", "SubmissionContext", "clear_caches", "submission_context"]

K = TypeVar("K")
V = TypeVar("V")


class _Bounded(Generic[K, V]):
    """A small thread-safe LRU map (gunicorn threads share a process)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class PublishedVersion:
    """A published instrument version as plain values (safe to share between sessions)."""

    id: int
    instrument_key: str
    version: str
    content_hash: str
    instrument: Instrument

    @property
    def label(self) -> str:
        return f"{self.instrument_key} {self.version}"

    @property
    def seal_label(self) -> str:
        """What an envelope binds (``app.responses.sealing.seal_context``)."""
        return f"{self.instrument_key}@{self.version}#{self.content_hash}"


@dataclass(frozen=True)
class StudyPublicKey:
    key_id: str
    public_key: bytes


_versions: _Bounded[tuple[int, str], PublishedVersion] = _Bounded(256)
_public_keys: _Bounded[str, StudyPublicKey] = _Bounded(256)


def clear_caches() -> None:
    """Forget everything cached (tests; never needed for correctness)."""
    _versions.clear()
    _public_keys.clear()


@dataclass(frozen=True)
class SubmissionContext:
    participant: Participant | None
    existing_response_id: str | None = None
    version: PublishedVersion | None = None  # None: not assigned to this study for that wording
    study_key: StudyPublicKey | None = None  # None: the study has no key yet


def submission_context(
    session: Session,
    *,
    participant_id: int,
    idempotency_key: str,
    instrument_key: str,
    version: str,
    wording: str,
) -> SubmissionContext:
    """Everything :func:`app.responses.service.submit` reads before it writes, in one query
    (plus one more the first time this process meets a version or a key)."""
    row = session.execute(
        _context_statement(),
        {
            "participant_id": participant_id,
            "idempotency_key": idempotency_key,
            "instrument_key": instrument_key,
            "version": version,
            "wording": wording,
        },
    ).one_or_none()
    if row is None:
        return SubmissionContext(participant=None)
    participant, existing_id, version_id, version_hash, key_id = tuple(row)
    return SubmissionContext(
        participant=cast(Participant, participant),
        existing_response_id=None if existing_id is None else str(existing_id),
        version=None
        if version_id is None
        else _version(session, int(cast(int, version_id)), str(version_hash)),
        study_key=None if key_id is None else _study_key(session, str(key_id)),
    )


@lru_cache(maxsize=1)
def _context_statement() -> Select[Participant, str | None, int | None, str | None, str | None]:
    """The statement of :func:`submission_context`, built once: building it on every
    submission cost more CPU than the database spent running it."""
    existing = (
        select(Response.id)
        .where(Response.idempotency_key == bindparam("idempotency_key"))
        .scalar_subquery()
        .label("existing")
    )
    assigned = (
        select(InstrumentVersion.id, InstrumentVersion.content_hash)
        .join(StudyInstrument, StudyInstrument.instrument_version_id == InstrumentVersion.id)
        .where(
            StudyInstrument.study_id == Participant.study_id,
            or_(
                StudyInstrument.respondents == bindparam("wording"),
                StudyInstrument.respondents == "both",
            ),
            InstrumentVersion.instrument_key == bindparam("instrument_key"),
            InstrumentVersion.version == bindparam("version"),
        )
        .limit(1)
    )
    current_key = (
        select(StudyKey.key_id)
        .where(StudyKey.study_id == Participant.study_id, StudyKey.retired_at.is_(None))
        .order_by(StudyKey.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("key_id")
    )
    return select(
        Participant,
        existing,
        assigned.with_only_columns(InstrumentVersion.id).scalar_subquery().label("vid"),
        assigned.with_only_columns(InstrumentVersion.content_hash).scalar_subquery().label("vhash"),
        current_key,
    ).where(Participant.id == bindparam("participant_id"))


def _version(session: Session, version_id: int, digest: str) -> PublishedVersion:
    cached = _versions.get((version_id, digest))
    if cached is not None:
        return cached
    row = session.get(InstrumentVersion, version_id)
    assert row is not None and row.content_hash == digest  # read in this same transaction
    loaded = PublishedVersion(
        id=row.id,
        instrument_key=row.instrument_key,
        version=row.version,
        content_hash=row.content_hash,
        instrument=instrument_of(row),
    )
    _versions.put((version_id, digest), loaded)
    return loaded


def _study_key(session: Session, key_id: str) -> StudyPublicKey:
    cached = _public_keys.get(key_id)
    if cached is not None:
        return cached
    public_key = session.scalar(select(StudyKey.public_key).where(StudyKey.key_id == key_id))
    assert public_key is not None  # read in this same transaction
    if crypto.public_key_id(public_key) != key_id:
        # A key id is a hash of its key: a mismatch is a corrupt row, never something to seal to.
        raise RuntimeError(f"study key {key_id} does not match its public key")
    loaded = StudyPublicKey(key_id, bytes(public_key))
    _public_keys.put(key_id, loaded)
    return loaded
