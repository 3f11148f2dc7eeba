"""Exports for staff: access by role, unlocking, de-identification, audit, history, progress.

Every channel (API, command line, later the web page) calls :func:`prepare`, commits (the
unlock and the "export.started" audit event are then on record before the first byte), and
streams :meth:`PreparedExport.chunks`, which records "export.completed" with the manifest's
checksum after the last byte. A wrong passphrase raises ``KeyUnlockFailed`` after the failed
attempt is audited; nothing is exported.

No export stays "running" forever: an error in the stream ends it "failed" with a reason code
from :data:`FAILURES` (and raises :class:`ExportFailed`, whose message quotes no data), and
while it streams a thread refreshes its heartbeat; :func:`fail_abandoned`, run whenever the
history, a progress or a new export is read, marks "failed" ("abandoned") any export whose
process stopped beating (a crash, a kill, a restart). Retrying is exporting again: nothing of
the failed run is kept or reused (its spills were anonymous files that died with it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Final, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import access, crypto
from app.access import ALL_SITES
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.db import utcnow
from app.errors import Forbidden, Invalid, NotFound
from app.exports import native
from app.exports.columns import wide_columns
from app.exports.deid import Deidentifier
from app.exports.engine import ExportResult, StudyInfo, stream_export
from app.exports.model import ExportOptions, Occasion, Profile, Progress, Record, VersionInfo
from app.exports.models import ExportRecord
from app.exports.native import NativeTooLarge
from app.library.models import InstrumentVersion
from app.library.service import instrument_of
from app.participants.models import Participant, StudyInstrument
from app.reminders.models import Occurrence, StudySchedule
from app.responses import keys
from app.responses.models import Response
from app.studies.models import Site, Study

PROGRESS_EVERY_SECONDS: Final = 2.0
BATCH: Final = 500
# A running export's process writes its heartbeat this often; one silent for ABANDONED_AFTER
# is taken for dead. Generous, because one step can hold the interpreter for a while (a large
# .sav written by pyreadstat) and a wrongly "failed" export would then end "completed" anyway.
HEARTBEAT_SECONDS: Final = 15.0
ABANDONED_AFTER: Final = dt.timedelta(minutes=5)

# Why an export failed, in words a data manager can act on. Codes are stored and shown; an
# exception's own message never is (it could quote an answer).
FAILURES: Final[dict[str, str]] = {
    "abandoned": "The process running the export stopped (a crash, a restart or a kill) "
    "before it finished.",
    "unreadable_response": "A stored response could not be opened with the study key "
    "(damaged, or sealed to another key). Ask the server's operator to check the responses.",
    "database": "The database failed while the export was being read.",
    "too_large": "An SPSS or Stata file would hold more rows than the server allows in one "
    "file. Export fewer rows at a time (a date range or sites), or choose CSV.",
    "out_of_memory": "The server ran out of memory.",
    "error": "An unexpected error stopped the export. The server's log names this export's id.",
}

log = logging.getLogger(__name__)


class ExportFailed(Exception):
    """An export stopped on an error; ``failure`` is a key of :data:`FAILURES`. The message
    is the readable reason, never the original error's text."""

    def __init__(self, failure: str) -> None:
        super().__init__(FAILURES[failure])
        self.failure = failure


def failure_of(error: BaseException) -> str:
    if isinstance(error, crypto.EnvelopeError):
        return "unreadable_response"
    if isinstance(error, SQLAlchemyError):
        return "database"
    if isinstance(error, NativeTooLarge):
        return "too_large"
    if isinstance(error, MemoryError):
        return "out_of_memory"
    return "error"


def _where(error: BaseException) -> str:
    """The innermost frame of an error as file:line, for the operator: no message, no values."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"


@dataclass(frozen=True)
class ExportRequest:
    study_slug: str
    options: ExportOptions
    profile: Profile | None = None  # None: identified if the role allows it, else "shifted"
    sites: tuple[str, ...] = ()  # site codes; empty: every site the role may export
    instruments: tuple[str, ...] = ()  # "key" or "key@version"; empty: all of the study's
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive


def deidentification_key(secret_key: str) -> bytes:
    """The key of pseudonyms and date shifts, derived from the server's secret: stable across
    exports, unknown to anyone who only receives datasets."""
    return hmac.new(
        secret_key.encode(), b"chorus/export-deidentification/v1", hashlib.sha256
    ).digest()


def chorus_version() -> str:
    try:
        return metadata.version("chorus")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


@dataclass
class PreparedExport:
    record: ExportRecord
    progress: Progress
    result: ExportResult = field(default_factory=ExportResult)
    _stream: Iterator[bytes] | None = None
    _session: Session | None = None
    export_id: str = field(init=False)
    responses: int = field(init=False)
    profile: str = field(init=False)
    filename: str = field(init=False)

    def __post_init__(self) -> None:
        # Kept apart from the ORM object: reading an expired one would open a transaction
        # (and on SQLite take the write lock) before the stream's own read snapshot.
        self.export_id = self.record.id
        self.responses = self.record.responses
        self.profile = self.record.profile
        self.filename = f"chorus-{self.record.parameters['study']}-{self.record.id[:8]}.zip"

    def chunks(self, commit: Callable[[], None]) -> Iterator[bytes]:
        """The ZIP, chunk by chunk; records the end (and commits) after the last byte, or
        "failed" with a reason if the stream raised (then raises :class:`ExportFailed`)."""
        assert self._stream is not None and self._session is not None
        session, size, complete = self._session, 0, False
        failure: str | None = None
        commit()  # the edge has committed already; this makes "before the first byte" certain
        heartbeat = _Heartbeat(cast(Engine, session.get_bind()), self.export_id)
        heartbeat.start()
        # One consistent snapshot for every pass, without holding SQLite's write lock (the
        # progress writer and everyone else keep writing); no effect on PostgreSQL.
        session.connection(execution_options={"sqlite_begin": "DEFERRED"})
        try:
            for chunk in self._stream:
                size += len(chunk)
                yield chunk
            complete = True
        except Exception as error:
            failure = failure_of(error)
            log.error(
                "export %s failed: %s (%s at %s)",
                self.export_id,
                failure,
                type(error).__name__,
                _where(error),
            )
            # Not chained: the original's message could quote an answer, and servers log
            # what escapes a streamed response.
            raise ExportFailed(failure) from None
        finally:
            heartbeat.stop()
            self._finish(session, complete, failure, size, commit)

    def _finish(
        self,
        session: Session,
        complete: bool,
        failure: str | None,
        size: int,
        commit: Callable[[], None],
    ) -> None:
        session.rollback()  # ends the read snapshot; nothing was written in it
        record = session.get(ExportRecord, self.export_id)
        if record is None:  # pragma: no cover - the row was committed by the edge
            return
        session.refresh(record)  # the heartbeat and progress were written on other connections
        if complete:
            status, action = "completed", "export.completed"
        elif failure is not None:
            status, action = "failed", "export.failed"
        else:
            status, action = "incomplete", "export.interrupted"
        record.status = status
        # A slow step can outlast the heartbeat's limit: an export wrongly taken for abandoned
        # that finishes after all says what really happened.
        record.failure = failure
        record.finished_at = utcnow()
        record.zip_bytes = size
        record.progress_done = self.progress.done
        record.progress_total = self.progress.total
        if complete:
            record.manifest_sha256 = self.result.manifest_sha256
        details: dict[str, Any] = {
            "export_id": record.id,
            "manifest_sha256": self.result.manifest_sha256 if complete else None,
            "zip_bytes": size,
            "files": len(self.result.files),
        }
        if failure is not None:
            details["failure"] = failure
        audit.record(
            session,
            actor=record.actor,
            action=action,
            target=f"study:{record.study_id}",
            details=details,
        )
        commit()


class _Heartbeat(threading.Thread):
    """Refreshes a running export's ``heartbeat_at`` on its own connection while this process
    lives. A thread, not the stream's own loop: a download the client reads slowly, or one
    long step, leaves the stream suspended while the process is well."""

    def __init__(self, engine: Engine, export_id: str) -> None:
        super().__init__(name=f"export-heartbeat-{export_id[:8]}", daemon=True)
        self._engine = engine
        self._export_id = export_id
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            try:
                with self._engine.begin() as connection:
                    connection.execute(
                        update(ExportRecord)
                        .where(ExportRecord.id == self._export_id, ExportRecord.status == "running")
                        .values(heartbeat_at=utcnow())
                    )
            except SQLAlchemyError as error:  # the next beat tries again
                log.warning("export %s heartbeat: %s", self._export_id, type(error).__name__)

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=HEARTBEAT_SECONDS)


def fail_abandoned(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Mark "failed" ("abandoned") every running export whose process stopped beating for
    :data:`ABANDONED_AFTER`, with an ``export.failed`` audit event each; returns their ids.

    Safe to run from many workers at once: each row changes only while it is still running
    (a conditional UPDATE), and only the worker that changed it records the event. The caller
    commits."""
    now = now or utcnow()
    limit = now - ABANDONED_AFTER
    silent = or_(
        ExportRecord.heartbeat_at < limit,
        ExportRecord.heartbeat_at.is_(None) & (ExportRecord.started_at < limit),
    )
    found = session.execute(
        select(ExportRecord.id, ExportRecord.actor, ExportRecord.study_id).where(
            ExportRecord.status == "running", silent
        )
    ).all()
    failed = []
    for export_id, actor, study_id in found:
        changed = session.execute(
            update(ExportRecord)
            .where(ExportRecord.id == export_id, ExportRecord.status == "running", silent)
            .values(status="failed", failure="abandoned", finished_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(changed, "rowcount", 0) != 1:
            continue  # another worker got there first, or it finished meanwhile
        audit.record(
            session,
            actor="system",
            action="export.failed",
            target=f"study:{study_id}",
            details={"export_id": export_id, "failure": "abandoned", "exported_by": actor},
            now=now,
        )
        failed.append(export_id)
    if failed:
        log.warning("exports marked abandoned: %s", ", ".join(failed))
        session.expire_all()  # loaded rows must show what was just written
    return failed


def _resolve_versions(
    session: Session, study: Study, wanted: Sequence[str]
) -> list[tuple[InstrumentVersion, VersionInfo]]:
    rows = list(
        session.scalars(
            select(InstrumentVersion)
            .join(StudyInstrument, StudyInstrument.instrument_version_id == InstrumentVersion.id)
            .where(StudyInstrument.study_id == study.id)
            .order_by(InstrumentVersion.instrument_key, InstrumentVersion.id)
        )
    )
    chosen = rows
    if wanted:
        chosen = []
        for spec in wanted:
            key, _, version = spec.partition("@")
            found = [r for r in rows if r.instrument_key == key and version in ("", r.version)]
            if not found:
                raise Invalid(
                    errors={
                        "instruments": [f"{spec!r} is not an instrument (version) of this study."]
                    }
                )
            chosen.extend(r for r in found if r not in chosen)
    return [
        (
            row,
            VersionInfo(row.instrument_key, row.version, row.content_hash, instrument_of(row)),
        )
        for row in chosen
    ]


def _resolve_sites(
    study: Study, user: StaffUser | None, codes: Sequence[str], identified: bool
) -> list[Site]:
    by_code = {s.code: s for s in study.sites}
    unknown = [c for c in codes if c not in by_code]
    if unknown:
        raise Invalid(errors={"sites": [f"No site {', '.join(unknown)} in this study."]})
    if user is None:  # the server's own command line with the recovery key
        return [by_code[c] for c in codes] if codes else list(study.sites)
    scope = access.export_scope(user.memberships, study.id, identified=identified)
    if scope is ALL_SITES:
        return [by_code[c] for c in codes] if codes else list(study.sites)
    assert isinstance(scope, frozenset)
    if codes:
        refused = [c for c in codes if by_code[c].id not in scope]
        if refused:
            raise Forbidden(f"You may not export data of site {', '.join(refused)}.")
        return [by_code[c] for c in codes]
    allowed = [s for s in study.sites if s.id in scope]
    if not allowed:
        raise Forbidden("Your role may not export this study's data.")
    return allowed


def _choose_profile(study: Study, user: StaffUser | None, requested: Profile | None) -> Profile:
    if user is None:
        return requested or Profile.NONE
    if not any(m.study_id == study.id for m in user.memberships):
        raise NotFound("No such study.")
    identified = access.export_scope(user.memberships, study.id, identified=True)
    if requested is Profile.NONE and not identified:
        raise Forbidden("Your role may only export de-identified data; choose a profile.")
    if requested is None:
        return Profile.NONE if identified else Profile.SHIFTED
    return requested


def prepare(
    session: Session,
    *,
    user: StaffUser | None,
    credential: keys.HolderCredential,
    request: ExportRequest,
    deid_key: bytes,
    channel: Literal["api", "cli", "web"],
    now: dt.datetime | None = None,
    export_id: str | None = None,
) -> PreparedExport:
    """Check access, unlock, count and record the start. The caller commits, then streams.

    ``user`` is the acting staff member (None only for the server's command line with the
    recovery key, which the server's operator already holds). ``export_id``: an id the client
    chose beforehand (a random UUID), so a page can poll this export's progress while its
    download streams; a new one when absent."""
    now = now or utcnow()
    fail_abandoned(session, now)
    export_id = _fresh_export_id(session, export_id)
    study = keys.study_by_slug(session, request.study_slug)
    profile = _choose_profile(study, user, request.profile)
    sites = _resolve_sites(study, user, request.sites, identified=not profile.deidentified)
    if user is not None and not profile.deidentified:
        for site in sites:
            access.require(user.memberships, access.Permission.EXPORT_DATA, study.id, site.id)
    versions = _resolve_versions(session, study, request.instruments)
    language = request.options.language
    if language and not any(language in info.instrument.languages for _row, info in versions):
        raise Invalid(
            errors={"language": [f"No instrument in this export is written in {language!r}."]}
        )
    if request.since and request.until and request.until < request.since:
        raise Invalid(errors={"until": ["Must not be before since."]})
    options = ExportOptions(**{**request.options.__dict__, "profile": profile})

    site_ids = [s.id for s in sites]
    version_ids = {info.stem: row.id for row, info in versions}
    filters = _filters(study, site_ids, list(version_ids.values()), request.since, request.until)
    counted = dict(
        session.execute(
            select(Response.instrument_version_id, func.count())
            .join(Participant, Participant.id == Response.participant_id)
            .where(*filters)
            .group_by(Response.instrument_version_id)
        ).all()
    )
    counts = {info.stem: int(counted.get(row.id, 0)) for row, info in versions}
    _check_native_size(options, [info for _row, info in versions], counts)

    unlocked = keys.unlock(session, study, credential, purpose="export")
    decrypt = crypto.decryptor_for_export(unlocked)
    del unlocked
    parameters: dict[str, Any] = {
        "study": study.slug,
        "formats": sorted(options.effective_formats),
        "sites": [s.code for s in sites],
        "instruments": [info.reference for _row, info in versions],
        "since": request.since.isoformat() if request.since else None,
        "until": request.until.isoformat() if request.until else None,
        "labels": options.labels,
        "language": options.language,
        "delimiter": options.delimiter,
        "decimal": options.decimal,
        "bom": options.bom,
        "profile": profile.value,
    }
    actor = f"staff:{user.id}" if user is not None else credential.actor
    record = ExportRecord(
        id=export_id,
        study_id=study.id,
        actor=actor,
        staff_user_id=user.id if user is not None else None,
        channel=channel,
        parameters=parameters,
        profile=profile.value,
        responses=sum(counts.values()),
        started_at=now,
        heartbeat_at=now,
    )
    session.add(record)
    audit.record(
        session,
        actor=actor,
        action="export.started",
        target=f"study:{study.id}",
        details={"export_id": export_id, "responses": sum(counts.values()), **parameters},
        now=now,
    )
    session.flush()

    deid = Deidentifier(profile, deid_key, study.id)
    source = _record_source(
        session,
        study.id,
        {info.stem: (row.id, info) for row, info in versions},
        filters,
        decrypt,
        deid,
    )
    progress = Progress(on_change=_progress_writer(session, export_id))
    prepared = PreparedExport(record=record, progress=progress, _session=session)
    prepared._stream = stream_export(
        study=StudyInfo(study.id, study.slug, study.name),
        versions=[info for _row, info in versions],
        options=options,
        source=source,
        counts=counts,
        parameters=parameters,
        progress=progress,
        result=prepared.result,
        now=now,
        chorus_version=chorus_version(),
        export_id=export_id,
    )
    record.progress_total = 0
    return prepared


def _check_native_size(
    options: ExportOptions, versions: Sequence[VersionInfo], counts: dict[str, int]
) -> None:
    """.sav/.dta files are written whole from memory: refuse, before anything is unlocked or
    written, an export whose file for one instrument version would pass the limit."""
    if not options.effective_formats & {"spss", "stata"}:
        return
    over = []
    for version in versions:
        limit = native.max_rows_of(len(wide_columns(version, options)))
        if counts.get(version.stem, 0) > limit:
            over.append(f"{version.stem}: {counts[version.stem]:,} of at most {limit:,}")
    if over:
        raise Invalid(
            errors={
                "formats": [
                    "SPSS and Stata files are written whole in the server's memory, which "
                    f"limits the responses of one questionnaire version ({'; '.join(over)}). "
                    "Narrow the dates or sites, or leave SPSS and Stata out: the other formats "
                    "have no such limit."
                ]
            }
        )


def _fresh_export_id(session: Session, chosen: str | None) -> str:
    if not chosen:
        return str(uuid.uuid4())
    try:
        parsed = uuid.UUID(chosen)
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 4 or str(parsed) != chosen:
        raise Invalid(errors={"export_token": ["Must be a random UUID in its canonical form."]})
    if session.get(ExportRecord, chosen) is not None:
        raise Invalid(errors={"export_token": ["This export token was used already."]})
    return chosen


def _filters(
    study: Study,
    site_ids: list[int],
    version_ids: list[int],
    since: dt.date | None,
    until: dt.date | None,
) -> list[Any]:
    filters: list[Any] = [
        Response.study_id == study.id,
        Participant.site_id.in_(site_ids),
        Response.instrument_version_id.in_(version_ids),
    ]
    if since is not None:
        filters.append(Response.finished_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
    if until is not None:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
        filters.append(Response.finished_at < end)
    return filters


def _progress_writer(session: Session, export_id: str) -> Callable[[Progress], None]:
    """Write progress to the history row every few seconds, on its own connection, so other
    workers can read it while this one streams (the export's own transaction stays open)."""
    engine = cast(Engine, session.get_bind())
    last = [0.0]

    def write(progress: Progress) -> None:
        moment = time.monotonic()
        if moment - last[0] < PROGRESS_EVERY_SECONDS and progress.done < progress.total:
            return
        last[0] = moment
        with engine.begin() as connection:
            connection.execute(
                update(ExportRecord)
                .where(ExportRecord.id == export_id)
                .values(progress_done=progress.done, progress_total=progress.total)
            )

    return write


def _record_source(
    session: Session,
    study_id: int,
    versions: dict[str, tuple[int, VersionInfo]],
    filters: list[Any],
    decrypt: Callable[[bytes, crypto.SealContext], dict[str, Any]],
    deid: Deidentifier,
) -> Callable[[Sequence[str] | None, Literal["time", "participant"]], Iterator[Record]]:
    by_id = {version_id: info for version_id, info in versions.values()}
    study_text = str(study_id)  # the seal context's parts, made once rather than per row
    bound = {v: f"{i.key}@{i.version}#{i.content_hash}" for v, i in by_id.items()}
    zones: dict[str, ZoneInfo] = {}

    def records(
        stems: Sequence[str] | None, order: Literal["time", "participant"]
    ) -> Iterator[Record]:
        wanted = [versions[s][0] for s in stems] if stems is not None else list(by_id)
        query = (
            select(
                Response.id,
                Response.participant_id,
                Response.instrument_version_id,
                Response.respondent_type,
                Response.answered_by_caregiver_id,
                Response.language,
                Response.started_at,
                Response.finished_at,
                Response.sealed,
                Response.hard_to_understand,
                Participant.code,
                Participant.arm,
                Participant.time_zone,
                Site.code,
                StudySchedule.name,
                Occurrence.key,
                Occurrence.opens_at,
                Occurrence.closes_at,
                Occurrence.completed_at,
            )
            .join(Participant, Participant.id == Response.participant_id)
            .join(Site, Site.id == Participant.site_id)
            .outerjoin(Occurrence, Occurrence.response_id == Response.id)
            .outerjoin(StudySchedule, StudySchedule.id == Occurrence.schedule_id)
            .where(*filters, Response.instrument_version_id.in_(wanted))
        )
        if order == "participant":
            query = query.order_by(Response.participant_id, Response.finished_at, Response.id)
        else:
            query = query.order_by(Response.finished_at, Response.id)
        # A server-side cursor on PostgreSQL (psycopg named cursor), batches on SQLite.
        # On the session's connection, not through the ORM: these are plain columns, and the
        # ORM's per-row loading machinery cost more than the CSV cells of a response.
        rows = session.connection().execute(
            query.execution_options(yield_per=BATCH, stream_results=True)
        )
        # Closed however the pass ends: a server-side cursor left to the garbage collector
        # (after a failed export) would complain from psycopg's __del__.
        with rows:
            yield from _records_of(rows)

    def _records_of(rows: Any) -> Iterator[Record]:
        for row in rows:
            (
                response_id,
                participant_id,
                version_id,
                respondent_type,
                caregiver_id,
                language,
                started_at,
                finished_at,
                sealed,
                hard,
                code,
                arm,
                zone_name,
                site_code,
                schedule_name,
                occurrence_key,
                opens_at,
                closes_at,
                completed_at,
            ) = tuple(row)
            info = by_id[version_id]
            context = crypto.SealContext(
                study_id=study_text, response_id=response_id, instrument_version=bound[version_id]
            )
            payload = decrypt(sealed, context)
            zone = zones.get(zone_name) or zones.setdefault(zone_name, ZoneInfo(zone_name))
            occasion = None
            if occurrence_key is not None:
                occasion = Occasion(
                    schedule=schedule_name,
                    visit=occurrence_key,
                    opens_at=deid.moment(opens_at, participant_id),
                    closes_at=deid.moment(closes_at, participant_id),
                    timing="late" if completed_at and completed_at >= closes_at else "on_time",
                )
            yield Record(
                response_id=response_id,
                participant=deid.participant(participant_id, code),
                site=site_code,
                arm=arm or "",
                respondent_type=respondent_type,
                answered_by=deid.caregiver(caregiver_id),
                occasion=occasion,
                started_at=deid.moment(started_at, participant_id),
                finished_at=deid.moment(finished_at, participant_id),
                started_local=deid.moment(started_at.astimezone(zone), participant_id),
                finished_local=deid.moment(finished_at.astimezone(zone), participant_id),
                time_zone=zone_name,
                language=language,
                version=info,
                answers=deid.answers(info.instrument, payload.get("answers", {}), participant_id),
                scores=payload.get("scores", {}),
                hard_to_understand=tuple(hard or ()),
            )

    return records


def _require_export_access(user: StaffUser, study_id: int) -> None:
    if not any(m.study_id == study_id for m in user.memberships):
        raise NotFound("No such study.")
    if not (
        access.export_scope(user.memberships, study_id, identified=False)
        or access.export_scope(user.memberships, study_id, identified=True)
    ):
        raise Forbidden()


def _visible_to(user: StaffUser, study: Study, record: ExportRecord) -> bool:
    """A site-scoped exporter sees only exports made entirely of their own sites' data (the
    parameters name sites, so another site's export would tell them about it)."""
    scope = access.export_scope(user.memberships, study.id, identified=False)
    if scope is ALL_SITES:
        return True
    assert isinstance(scope, frozenset)
    own = {site.code for site in study.sites if site.id in scope}
    return set(record.parameters.get("sites") or ()) <= own


def history(
    session: Session, user: StaffUser | None, study: Study, limit: int = 50
) -> list[ExportRecord]:
    """Past exports of a study, newest first, for those who may export from it (``user`` None:
    the server's command line, which sees them all). Downloading again means exporting again
    (and unlocking again): nothing of a past ZIP is kept. Abandoned exports are marked failed
    first (the caller commits)."""
    if user is not None:
        _require_export_access(user, study.id)
    fail_abandoned(session)
    found = session.scalars(
        select(ExportRecord)
        .where(ExportRecord.study_id == study.id)
        .order_by(ExportRecord.started_at.desc())
    )
    return [r for r in found if user is None or _visible_to(user, study, r)][:limit]


@dataclass(frozen=True)
class HistoryEntry:
    record: ExportRecord
    who: str  # the staff member's name, or the channel's actor (the command line)


def history_entries(
    session: Session, user: StaffUser, study: Study, limit: int = 50
) -> list[HistoryEntry]:
    """The history with who made each export, for the workspace's history page."""
    records = history(session, user, study, limit)
    ids = {r.staff_user_id for r in records if r.staff_user_id is not None}
    names = dict(
        session.execute(
            select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ids))
        ).all()
    )
    return [
        HistoryEntry(r, names.get(r.staff_user_id, r.actor) if r.staff_user_id else r.actor)
        for r in records
    ]


def progress_of(
    session: Session, user: StaffUser, export_id: str, study_id: int | None = None
) -> ExportRecord:
    """One export as last written (progress_done of progress_total, status): what the export
    page polls while the download streams. ``study_id``: the study the caller is looking at
    (another study's export is "not found" there). An abandoned one is marked failed first
    (the caller commits)."""
    record = session.get(ExportRecord, export_id)
    if record is None or (study_id is not None and record.study_id != study_id):
        raise NotFound("No such export.")
    _require_export_access(user, record.study_id)
    if record.status == "running":
        fail_abandoned(session)
    session.refresh(record)
    study = session.get(Study, record.study_id)
    assert study is not None
    if not _visible_to(user, study, record):
        raise NotFound("No such export.")
    return record


def responses_done(record: ExportRecord) -> int:
    """Progress in responses: the total counts each response once per pass over the data
    (several formats read them several times), so the passes are folded back into one."""
    if record.status == "completed":
        return record.responses
    if record.progress_total <= 0:
        return 0
    return min(record.responses, record.progress_done * record.responses // record.progress_total)


@dataclass(frozen=True)
class ExportChoices:
    """What the export form may offer this user: their sites, profiles and the study's
    instrument versions and languages."""

    study: Study
    sites: list[str]  # site codes the user may export (de-identified at least)
    identified: bool  # may export identified data (profile "none")
    holds_key: bool  # may unlock with their own key passphrase
    versions: list[tuple[str, str]]  # ("key@version", title)
    languages: list[str]


def choices_for(
    session: Session, user: StaffUser, study: Study, locale: str = "en"
) -> ExportChoices:
    _require_export_access(user, study.id)

    def codes(scope: Any) -> list[str]:
        return [s.code for s in study.sites if scope is ALL_SITES or s.id in scope]

    sites = codes(access.export_scope(user.memberships, study.id, identified=False))
    identified_sites = codes(access.export_scope(user.memberships, study.id, identified=True))
    versions = []
    languages: list[str] = []
    for _row, info in _resolve_versions(session, study, ()):
        title = info.instrument.title
        name = title.get(locale) or title.get(info.instrument.default_language) or info.key
        versions.append((info.reference, f"{name} ({info.reference})"))
        languages.extend(lang for lang in info.instrument.languages if lang not in languages)
    return ExportChoices(
        study=study,
        sites=sites,
        # Offered only when every site on the form may be exported identified.
        identified=bool(sites) and set(sites) <= set(identified_sites),
        holds_key=access.can(user.memberships, access.Permission.HOLD_STUDY_KEY, study.id),
        versions=versions,
        languages=sorted(languages),
    )
