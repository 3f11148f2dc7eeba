"""One scheduler tick over a large study: claim and dispatch 1,000 due reminders.

For each size (a 1,000-participant baseline, 10,000 and 100,000 by default) a fresh database is
migrated and filled with bulk inserts: every participant has a phone with a push subscription, a
timetable, a week of answered questionnaires whose reminders were sent and a week of upcoming
ones whose reminders wait (so the outbox holds 14 rows per participant, as it does in a running
study). Then 1,000 participants get a questionnaire open now with a reminder due, and one tick
(``app.reminders.dispatch.Dispatcher.tick``: claim in batches, re-check, encrypt and sign with
pywebpush, POST, record and commit as sends complete) is timed.

The sink is a real HTTP push endpoint on 127.0.0.1, in a process of its own, that answers 201
without decrypting, so the figure is Chorus's own cost (database work, RFC 8291 encryption,
VAPID signing, HTTP) and not a third party's latency. "CPU s" is this process's CPU time during
the tick (all its threads), which other load on the machine disturbs less than wall time.

SQLite file in a temporary folder by default; PostgreSQL when ``CHORUS_BENCH_DATABASE_URL`` is
set -- a throwaway database: its ``public`` schema is dropped and recreated for every size.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import logging
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.orm import Session, sessionmaker

NAME = "scheduler_tick"
DESCRIPTION = (
    "one scheduler tick claiming and sending 1,000 due reminders, 1k/10k/100k participants"
)

DAYS_BEFORE = 7  # answered questionnaires (reminders sent) per participant
DAYS_AFTER = 7  # upcoming questionnaires (reminders pending) per participant
CHUNK = 20_000
LANGUAGES = ("en", "fr", "es", "de", "pt", "it")
# (figure, value, baseline, ratio) rows for `make bench`'s summary table, filled by main().
summary: list[tuple[str, str, str, str]] = []
SEQUENCED = ("participants", "devices", "push_subscriptions", "timetables", "occurrences", "outbox")


# ── The sink ──────────────────────────────────────────────────────────────────────────────

_received: Any = None  # the shared counter, in the sink's process


class _Accept(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real push services (HTTP/1.1, HTTP/2) allow

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with _received.get_lock():
            _received.value += 1
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _serve(ports: Any, received: Any) -> None:
    global _received
    _received = received
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    server.daemon_threads = True
    ports.put(server.server_address[1])
    server.serve_forever()


class Sink:
    """A push service on 127.0.0.1 that accepts everything (201) and counts it. It runs in its
    own process, so its work does not share this process's CPU time (and GIL) with the tick."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._received = context.Value("q", 0)
        self._ports = context.Queue()
        self._process = context.Process(
            target=_serve, args=(self._ports, self._received), daemon=True
        )
        self.port = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def received(self) -> int:
        return int(self._received.value)

    def __enter__(self) -> Sink:
        self._process.start()
        self.port = int(self._ports.get(timeout=60))
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(timeout=10)


# ── A fresh, filled database ──────────────────────────────────────────────────────────────


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def fresh_database(url: str | None, folder: Path) -> str:
    """Migrate an empty database (Alembic, as ``chorus db upgrade`` does); return its URL."""
    from flask_migrate import upgrade

    from app import create_app
    from app.config import Settings

    if url is None:
        path = folder / "bench.sqlite3"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    settings = Settings.from_env(
        {"CHORUS_ENV": "test", "DATABASE_URL": url, "SECRET_KEY": "b" * 48},
        instance_path=folder / "instance",
    )
    app = create_app(settings)
    logging.disable(logging.INFO)  # Alembic's progress lines; create_app turned INFO on
    with app.app_context():
        upgrade()
        from app.extensions import db

        db.engine.dispose()
    logging.disable(logging.NOTSET)
    return settings.database_url


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Filled:
    participants: int
    outbox_rows: int
    due: int
    seconds: float


def fill(url: str, participants: int, due: int, sink: str, now: dt.datetime) -> Filled:
    """Bulk-insert the study (explicit ids, one transaction, Core executemany)."""
    from app.reminders.models import Occurrence, OutboxMessage, PushSubscription, Timetable

    started = time.perf_counter()
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        # Set-up only (this engine): no fsync per transaction while loading.
        sa.event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA synchronous=OFF"))
    meta = sa.MetaData()
    tables = {
        name: sa.Table(name, meta, autoload_with=engine)
        for name in (
            "studies",
            "sites",
            "instrument_versions",
            "study_schedules",
            "participants",
            "devices",
        )
    }
    key = ec.generate_private_key(ec.SECP256R1())
    p256dh = _b64url(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    auth = _b64url(os.urandom(16))
    rng = random.Random(6)
    due_ids = set(rng.sample(range(1, participants + 1), due))
    with engine.begin() as conn:
        conn.execute(
            tables["studies"].insert(),
            [{"id": 1, "slug": "bench", "name": "Bench study", "created_at": now}],
        )
        conn.execute(
            tables["sites"].insert(),
            [{"id": i, "study_id": 1, "code": f"S{i}", "name": f"Site {i}"} for i in range(1, 11)],
        )
        conn.execute(
            tables["instrument_versions"].insert(),
            [
                {
                    "id": 1,
                    "instrument_key": "stub",
                    "version": "1.0.0",
                    "content_hash": "sha256:" + "0" * 64,
                    "source_text": "",
                    "source_file": "stub.yaml",
                    "title": "Stub",
                    "published_at": now,
                    "published_by": "bench",
                }
            ],
        )
        conn.execute(
            tables["study_schedules"].insert(),
            [
                {
                    "id": 1,
                    "study_id": 1,
                    "name": "diary",
                    "arm": None,
                    "instrument_version_id": 1,
                    "respondent": "self",
                    "spec": {"kind": "daily", "open_time": "18:00", "close_time": "23:00"},
                    "anchor": "enrollment",
                    "reminder_max_count": 1,
                    "reminder_gaps_minutes": [],
                    "created_at": now,
                    "created_by": "bench",
                }
            ],
        )
        ids = range(1, participants + 1)
        for chunk in _chunks(
            {
                "id": i,
                "study_id": 1,
                "site_id": 1 + i % 10,
                "code": f"P-{i:06d}",
                "time_zone": "Europe/Paris",
                "language": LANGUAGES[i % len(LANGUAGES)],
                "age_band": "adult",
                "status": "active",
                "enrolled_at": now - dt.timedelta(days=30),
                "occurrences_until": now + dt.timedelta(days=DAYS_AFTER),
            }
            for i in ids
        ):
            conn.execute(tables["participants"].insert(), chunk)
        for chunk in _chunks(
            {
                "id": i,
                "participant_id": i,
                "token_hash": hashlib.sha256(f"device-{i}".encode()).hexdigest(),
                "label": "phone",
                "created_at": now,
                "last_seen_at": now,
            }
            for i in ids
        ):
            conn.execute(tables["devices"].insert(), chunk)
        for chunk in _chunks(
            {
                "id": i,
                "device_id": i,
                "endpoint": f"{sink}/push/{i}",
                "endpoint_hash": hashlib.sha256(f"{sink}/push/{i}".encode()).hexdigest(),
                "p256dh": p256dh,
                "auth": auth,
                "created_at": now,
            }
            for i in ids
        ):
            conn.execute(sa.insert(PushSubscription.__table__), chunk)
        for chunk in _chunks(
            {
                "id": i,
                "participant_id": i,
                "windows": None,
                "quiet_hours": [],
                "updated_at": now,
                "updated_by": "bench",
            }
            for i in ids
        ):
            conn.execute(sa.insert(Timetable.__table__), chunk)
        outbox_rows = _history(conn, Occurrence, OutboxMessage, ids, due_ids, now)
        if engine.dialect.name == "postgresql":
            for table in SEQUENCED:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                    f" (SELECT max(id) FROM {table}))"
                )
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return Filled(participants, outbox_rows, len(due_ids), time.perf_counter() - started)


def _history(
    conn: sa.Connection,
    occurrence: Any,
    outbox: Any,
    ids: Sequence[int],
    due_ids: set[int],
    now: dt.datetime,
) -> int:
    """Per participant: answered days (reminder sent), upcoming days (reminder pending); and
    for the chosen ones a questionnaire open now with its reminder due."""
    days = [d for d in range(-DAYS_BEFORE, DAYS_AFTER + 1) if d != 0]
    per = len(days) + 1

    def occurrence_rows() -> Iterator[dict[str, Any]]:
        for i in ids:
            for slot, day in enumerate(days):
                opens = now + dt.timedelta(days=day, hours=-1)
                yield {
                    "id": i * per + slot,
                    "schedule_id": 1,
                    "participant_id": i,
                    "respondent": "self",
                    "key": (now + dt.timedelta(days=day)).date().isoformat(),
                    "opens_at": opens,
                    "closes_at": opens + dt.timedelta(hours=5),
                    "completed_at": opens + dt.timedelta(hours=1) if day < 0 else None,
                }
            if i in due_ids:
                yield {
                    "id": i * per + len(days),
                    "schedule_id": 1,
                    "participant_id": i,
                    "respondent": "self",
                    "key": now.date().isoformat(),
                    "opens_at": now - dt.timedelta(hours=1),
                    "closes_at": now + dt.timedelta(hours=4),
                    "completed_at": None,
                }

    def outbox_rows() -> Iterator[dict[str, Any]]:
        for i in ids:
            slots = [*enumerate(days)] + ([(len(days), 0)] if i in due_ids else [])
            for slot, day in slots:
                occurrence_id = i * per + slot
                past = day < 0
                opens = now + dt.timedelta(days=day, hours=-1)
                yield {
                    "id": occurrence_id,
                    "dedupe_key": f"rem:{occurrence_id}:p{i}:0",
                    "kind": "reminder",
                    "channel": "push",
                    "occurrence_id": occurrence_id,
                    "sequence": 0,
                    "participant_id": i,
                    "send_at": now - dt.timedelta(seconds=i % 600) if day == 0 else opens,
                    "state": "sent" if past else "pending",
                    "attempts": 1 if past else 0,
                    "claimed_by": "bench:history" if past else None,
                    "sent_at": opens + dt.timedelta(minutes=1) if past else None,
                    "created_at": now - dt.timedelta(days=DAYS_BEFORE + 1),
                }

    for chunk in _chunks(occurrence_rows()):
        conn.execute(sa.insert(occurrence.__table__), chunk)
    count = 0
    for chunk in _chunks(outbox_rows()):
        conn.execute(sa.insert(outbox.__table__), chunk)
        count += len(chunk)
    return count


# ── The timed tick ────────────────────────────────────────────────────────────────────────


@dataclass
class Measured:
    filled: Filled
    ticks: list[float]
    cpu: list[float]  # CPU seconds of this process (every thread, the sink's included)

    @property
    def median(self) -> float:
        return statistics.median(self.ticks)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def _rearm(engine: sa.Engine, now: dt.datetime) -> None:
    """Make the reminders the last tick sent due again (same rows, same recipients)."""
    from app.reminders.models import OutboxMessage

    with engine.begin() as conn:
        conn.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.claimed_by == "bench")
            .values(
                state="pending",
                attempts=0,
                sent_at=None,
                claimed_by=None,
                claimed_until=None,
                send_at=now - dt.timedelta(seconds=1),
            )
        )


def measure(
    url: str | None,
    participants: int,
    due: int,
    folder: Path,
    *,
    threads: int,
    batch: int,
    repeat: int,
) -> Measured:
    from app.delivery.vapid import ensure_vapid_keys
    from app.reminders.dispatch import DeliveryConfig, Dispatcher
    from app.reminders.models import OutboxMessage

    database = fresh_database(url, folder)
    ticks: list[float] = []
    cpu: list[float] = []
    with Sink() as sink:
        now = dt.datetime.now(dt.UTC)
        filled = fill(database, participants, due, sink.origin, now)
        keys = ensure_vapid_keys(folder / "instance", subject="mailto:bench@localhost")
        engine = sa.create_engine(database)
        config = DeliveryConfig(base_url="http://127.0.0.1:5000", vapid=keys, smtp=None)
        for run in range(repeat):
            if run:
                _rearm(engine, dt.datetime.now(dt.UTC))
            before = sink.received
            with Dispatcher(
                sessionmaker(bind=engine),
                config,
                worker="bench",
                batch_size=batch,
                lease=dt.timedelta(minutes=5),
                threads=threads,
            ) as dispatcher:
                started, started_cpu = time.perf_counter(), time.process_time()
                report = dispatcher.tick()
                ticks.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
            with Session(engine) as session:
                sent = session.scalar(
                    sa.select(sa.func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.state == "sent", OutboxMessage.claimed_by == "bench")
                )
            received = sink.received - before
            if report.outcomes != {"sent": due} or sent != due or received != due:
                raise SystemExit(
                    f"tick did not send every due reminder once: {report}, sink {received}"
                )
        engine.dispose()
    return Measured(filled, ticks, cpu)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m bench {NAME}", description=DESCRIPTION)
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="participant counts, comma-separated (the first is the baseline)",
    )
    parser.add_argument("--due", type=int, default=1000, help="reminders due in the tick")
    parser.add_argument("--threads", type=int, default=4, help="sending threads (as configured)")
    parser.add_argument("--batch", type=int, default=100, help="claim batch size")
    parser.add_argument("--repeat", type=int, default=3, help="ticks per size (median shown)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    url = os.environ.get("CHORUS_BENCH_DATABASE_URL") or None
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine_name = "PostgreSQL" if url else "SQLite (file, WAL)"
    print(
        f"{NAME}: {engine_name}; {args.due} due reminders per tick; {args.threads} sending"
        f" threads; batches of {args.batch}; sink: HTTP push endpoint on 127.0.0.1 (201, own process)",
        flush=True,
    )
    # The tick logs per message at DEBUG only; keep migrations and set-up quiet too.
    logging.getLogger().setLevel(logging.WARNING)
    print(
        f"{'participants':>12} {'outbox rows':>12} {'set-up s':>9} {'tick s':>8}"
        f" {'ms/reminder':>12} {'vs first':>9} {'CPU s':>7}   (medians of --repeat ticks)",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp:
        for size in sizes:
            if size < args.due:
                raise SystemExit(f"--sizes: {size} participants cannot have {args.due} due")
            result = measure(
                url,
                size,
                args.due,
                Path(tmp),
                threads=args.threads,
                batch=args.batch,
                repeat=args.repeat,
            )
            results.append(result)
            ratio = result.median / results[0].median
            print(
                f"{size:>12,} {result.filled.outbox_rows:>12,} {result.filled.seconds:>9.1f}"
                f" {result.median:>8.2f} {1000 * result.median / args.due:>12.2f}"
                f" {ratio:>8.2f}x {result.median_cpu:>7.2f}"
                f"   (ticks: {', '.join(f'{t:.2f}' for t in result.ticks)})",
                flush=True,
            )
    if len(results) >= 2:
        by_size = {r.filled.participants: r.median for r in results}
        cpu_by_size = {r.filled.participants: r.median_cpu for r in results}
        if 10_000 in by_size and 100_000 in by_size:
            print(
                f"growth 10k -> 100k participants: tick x{by_size[100_000] / by_size[10_000]:.2f}"
                f" wall, x{cpu_by_size[100_000] / cpu_by_size[10_000]:.2f} CPU"
                " (x10 participants and outbox rows)"
            )
    for r in results:
        summary.append(
            (
                f"tick of {args.due:,} reminders, {r.filled.participants:,} participants",
                f"{r.median:.2f} s (CPU {r.median_cpu:.2f} s)",
                f"{results[0].median:.2f} s at {results[0].filled.participants:,}",
                f"{r.median / results[0].median:.2f}x",
            )
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at the end of the run")
    return 0
