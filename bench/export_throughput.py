"""Exports at scale: seal N responses, then export the CSV and the whole bundle.

For each size a fresh database is migrated and filled: a study with two sites, one participant
per 20 responses, and N responses alternating between the daily diary (rating, multiple and
single choice, free text) and the PHQ-9 (ten choices, a scored total), each sealed with HPKE
to the study key exactly as a submission seals it (the sealing rate is reported too).

Then, each in a process of its own so its peak memory (``ru_maxrss``) is its own:

- **unseal only**: the export's query streamed through the decrypt function, nothing written;
- **csv**: ``chorus export --format csv`` through the export service (wide + long.csv +
  codebook), the ZIP written to /dev/null;
- **streamed**: every format that streams (CSV, syntax, FHIR, ODM: all but .sav/.dta);
- **bundle**: every format (CSV, .sav/.dta, SPSS/Stata/R/SAS syntax, FHIR, ODM).

Responses/s are responses exported per second of wall time; each mode is also shown as a
share of the unseal-only rate measured in the same run, by wall time and by CPU time (the
process's own user+system seconds, which other load on a shared machine does not inflate).
Peak memory is the resident set sampled every 20 ms after the key is unlocked, next to the
resident set before the export began ("base"). SQLite in a temporary folder by default,
PostgreSQL with ``CHORUS_BENCH_DATABASE_URL`` (a throwaway database: its schema is dropped).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.scheduler_tick import fresh_database

NAME = "export_throughput"
DESCRIPTION = "seal N responses; unseal-only vs CSV vs whole-bundle export rate and peak memory"
SECRET = "b" * 48
PER_PARTICIPANT = 20
INSERT_BATCH = 5_000


def _rss_mb() -> float:
    """Resident memory now (MB), from /proc: ru_maxrss would include start-up peaks such as
    the 128 MiB Argon2id unwrap of the study key."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class PeakMemory(threading.Thread):
    """Samples resident memory every 20 ms while an export runs; ``peak`` is the highest."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss_mb()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, _rss_mb())
        return self.peak


def fill(url: str, responses: int) -> dict[str, Any]:
    """Publish instruments, make the study, key and participants, seal and insert responses."""
    from app import crypto
    from app.instruments.scoring import compute_scores
    from app.library import service as library
    from app.library.models import InstrumentVersion
    from app.library.service import instrument_of
    from app.participants.models import Participant, StudyInstrument
    from app.responses import keys
    from app.responses.models import Response
    from app.studies import service as studies

    engine = sa.create_engine(url)
    library_path = Path(__file__).resolve().parents[1] / "instruments"
    with Session(engine) as session:
        library.publish_paths(session, [library_path], actor="bench")
        study = studies.create_study(session, slug="bench", name="Bench study", actor="bench")
        for code in ("LYON", "LEEDS"):
            studies.add_site(session, study, code=code, name=code, actor="bench")
        session.flush()
        recovery = keys.create_study_key(session, study, actor="bench")
        versions = {
            row.instrument_key: row
            for row in session.scalars(sa.select(InstrumentVersion))
            if row.instrument_key in ("daily_symptom_diary", "phq9")
        }
        for row in versions.values():
            session.add(
                StudyInstrument(study_id=study.id, instrument_version_id=row.id, respondents="self")
            )
        sites = list(study.sites)
        people = []
        for n in range(max(1, responses // PER_PARTICIPANT)):
            people.append(
                Participant(
                    study_id=study.id,
                    site_id=sites[n % 2].id,
                    code=f"P-{n:07d}",
                    time_zone="Europe/Paris" if n % 2 else "Europe/London",
                    language="en",
                    age_band="adult",
                    arm="A" if n % 3 else "B",
                )
            )
        session.add_all(people)
        session.flush()
        key = keys.current_key(session, study)
        public_key, key_id, study_id = key.public_key, key.key_id, study.id
        person_ids = [p.id for p in people]
        session.commit()

        rng = random.Random(14)
        diary = instrument_of(versions["daily_symptom_diary"])
        phq9 = instrument_of(versions["phq9"])
        start = dt.datetime(2026, 1, 1, 18, tzinfo=dt.UTC)
        sealing = 0.0
        batch: list[dict[str, Any]] = []
        for n in range(responses):
            if n % 2:
                row, instrument = versions["phq9"], phq9
                answers: dict[str, Any] = {f"phq9_{i}": rng.randint(0, 3) for i in range(1, 10)}
            else:
                row, instrument = versions["daily_symptom_diary"], diary
                pain = rng.randint(0, 10)
                answers = {
                    "fatigue": rng.randint(0, 10),
                    "pain": pain,
                    "sleep": rng.choice(["very_well", "well", "ok", "badly", "very_badly"]),
                    "mood": rng.choice(["very_good", "good", "ok", "low", "very_low"]),
                    **({"pain_where": ["head", "back"]} if pain else {}),
                    **({"anything_else": "tired after the visit"} if n % 7 == 0 else {}),
                }
            scores = {
                sid: {"value": s.value, "band": s.band}
                for sid, s in compute_scores(instrument, answers).items()
            }
            response_id = str(uuid.UUID(int=rng.getrandbits(128)))
            finished = start + dt.timedelta(minutes=37 * n)
            began = time.perf_counter()
            sealed = crypto.seal_response(
                public_key,
                key_id,
                crypto.SealContext(
                    str(study_id),
                    response_id,
                    f"{row.instrument_key}@{row.version}#{row.content_hash}",
                ),
                {"answers": answers, "scores": scores, "dropped_hidden_answers": []},
            )
            sealing += time.perf_counter() - began
            batch.append(
                {
                    "id": response_id,
                    "idempotency_key": uuid.uuid4().hex + uuid.uuid4().hex,
                    "content_mac": "0" * 64,
                    "study_id": study_id,
                    "participant_id": person_ids[n % len(person_ids)],
                    "instrument_version_id": row.id,
                    "respondent_type": "self",
                    "language": "en",
                    "started_at": finished - dt.timedelta(minutes=3),
                    "finished_at": finished,
                    "device_utc_offset_minutes": 60,
                    "received_at": finished,
                    "study_key_id": key_id,
                    "sealed": sealed,
                    "hard_to_understand": [],
                }
            )
            if len(batch) >= INSERT_BATCH:
                session.execute(sa.insert(Response), batch)
                session.commit()
                batch.clear()
        if batch:
            session.execute(sa.insert(Response), batch)
            session.commit()
    engine.dispose()
    return {"recovery": recovery, "seal_per_s": responses / sealing if sealing else 0.0}


def worker(url: str, mode: str, recovery: str) -> dict[str, Any]:
    """One measurement in this (fresh) process; prints JSON."""
    from app import create_app, crypto
    from app.config import Settings
    from app.exports import service as exports
    from app.exports.model import FORMATS, ExportOptions
    from app.library.models import InstrumentVersion
    from app.responses import keys
    from app.responses.models import Response
    from app.studies.models import Study

    settings = Settings.from_env(
        {"CHORUS_ENV": "test", "DATABASE_URL": url, "SECRET_KEY": SECRET},
        instance_path=Path(tempfile.gettempdir()) / "chorus-bench-instance",
    )
    app = create_app(settings)
    with app.app_context():
        from app.extensions import db

        session = db.session()
        baseline = _rss_mb()
        sampler = PeakMemory()  # started once the key is unlocked (Argon2id takes 128 MiB)
        began = time.perf_counter()
        cpu_began = 0.0
        if mode == "unseal":
            study = keys.study_by_slug(session, "bench")
            decrypt = crypto.decryptor_for_export(
                keys.unlock(
                    session, study, keys.HolderCredential("recovery", recovery), purpose="bench"
                )
            )
            session.commit()
            unlocked_at = time.perf_counter()
            cpu_began = _cpu_seconds()
            sampler.start()
            contexts = {
                row.id: f"{row.instrument_key}@{row.version}#{row.content_hash}"
                for row in session.scalars(sa.select(InstrumentVersion))
            }
            query = (
                sa.select(Response.id, Response.instrument_version_id, Response.sealed)
                .where(Response.study_id == study.id)
                .order_by(Response.finished_at, Response.id)
                .execution_options(yield_per=500, stream_results=True)
            )
            rows = session.execute(query)
            count = sum(
                1
                for response_id, version_id, sealed in rows
                if decrypt(
                    sealed, crypto.SealContext(str(study.id), response_id, contexts[version_id])
                )
            )
            elapsed = time.perf_counter() - unlocked_at
            cpu = _cpu_seconds() - cpu_began
            size = 0
        else:
            formats = {
                "csv": frozenset({"csv"}),
                "streamed": frozenset(FORMATS) - {"spss", "stata"},
                "bundle": frozenset(FORMATS),
            }[mode]
            prepared = exports.prepare(
                session,
                user=None,
                credential=keys.HolderCredential("recovery", recovery),
                request=exports.ExportRequest("bench", ExportOptions(formats=formats)),
                deid_key=exports.deidentification_key(SECRET),
                channel="cli",
            )
            session.commit()
            unlocked_at = time.perf_counter()
            cpu_began = _cpu_seconds()
            sampler.start()
            size = 0
            with open(os.devnull, "wb") as sink:
                for chunk in prepared.chunks(session.commit):
                    size += len(chunk)
                    sink.write(chunk)
            elapsed = time.perf_counter() - unlocked_at
            cpu = _cpu_seconds() - cpu_began
            count = prepared.responses
        del Study
    return {
        "mode": mode,
        "responses": count,
        "seconds": elapsed,
        "unlock_seconds": unlocked_at - began,
        "per_s": count / elapsed if elapsed else 0.0,
        "cpu_seconds": cpu,
        "per_cpu_s": count / cpu if cpu else 0.0,
        "zip_mb": size / 1e6,
        "baseline_mb": baseline,
        "peak_mb": sampler.stop(),
    }


def native_memory(rows: int) -> dict[str, Any]:
    """Peak resident memory of one .sav and .dta file of ``rows`` daily-diary rows, written as
    the export writes them (NativeTable, then pyreadstat into a memory file); in this process,
    which must be a fresh one. Records are made here: no database, no key."""
    from app.exports import native
    from app.exports.columns import wide_columns
    from app.exports.model import ExportOptions, Record, VersionInfo
    from app.instruments.loader import load_instrument

    path = Path(__file__).resolve().parents[1] / "instruments" / "daily_symptom_diary.yaml"
    instrument, _problems = load_instrument(path)
    version = VersionInfo(instrument.id, instrument.version, "0" * 64, instrument)
    columns = wide_columns(version, ExportOptions())
    rng = random.Random(14)
    start = dt.datetime(2026, 1, 1, 18, tzinfo=dt.UTC)
    paris = dt.timezone(dt.timedelta(hours=1))
    baseline = _rss_mb()
    sampler = PeakMemory()
    sampler.start()
    table = native.NativeTable(columns, "bench", limit=rows)
    for n in range(rows):
        pain = rng.randint(0, 10)
        finished = start + dt.timedelta(minutes=37 * n)
        table.add(
            Record(
                response_id=str(uuid.UUID(int=rng.getrandbits(128))),
                participant=f"P-{n // PER_PARTICIPANT:07d}",
                site=("LYON", "LEEDS")[n % 2],
                arm="A",
                respondent_type="self",
                answered_by="",
                occasion=None,
                started_at=finished - dt.timedelta(minutes=3),
                finished_at=finished,
                started_local=(finished - dt.timedelta(minutes=3)).astimezone(paris),
                finished_local=finished.astimezone(paris),
                time_zone="Europe/Paris",
                language="en",
                version=version,
                answers={
                    "fatigue": rng.randint(0, 10),
                    "pain": pain,
                    "sleep": rng.choice(["very_well", "well", "ok", "badly", "very_badly"]),
                    "mood": rng.choice(["very_good", "good", "ok", "low", "very_low"]),
                    **({"pain_where": ["head", "back"]} if pain else {}),
                },
                scores={},
            )
        )
    held = _rss_mb() - baseline
    for write in (table.write_sav, table.write_dta):
        with native.memory_file() as (_fd, memory_path):
            write(memory_path)
    peak = sampler.stop() - baseline
    return {
        "rows": rows,
        "columns": len(columns),
        "held_mb": held,
        "peak_mb": peak,
        "bytes_per_row": peak * 1e6 / rows,
        "limit_rows": native.max_rows_of(len(columns)),
    }


def _measure(url: str, mode: str, recovery: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench", NAME, "--worker", mode, "--url", url],
        input=recovery,
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    if done.returncode:
        raise RuntimeError(f"{mode} worker failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m bench {NAME}", description=DESCRIPTION)
    parser.add_argument("--sizes", default="10000,100000", help="responses, comma-separated")
    parser.add_argument("--modes", default="unseal,csv,streamed,bundle")
    parser.add_argument(
        "--native-rows",
        type=int,
        help="only measure the memory of one .sav/.dta file of this many rows, and exit",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.native_rows:
        r = native_memory(args.native_rows)
        print(
            f"{r['rows']:,} rows x {r['columns']} columns: held {r['held_mb']:.0f} MB, peak "
            f"{r['peak_mb']:.0f} MB above base while writing .sav then .dta "
            f"({r['bytes_per_row']:,.0f} bytes a row); limit {r['limit_rows']:,} rows"
        )
        return 0
    if args.worker:
        print(json.dumps(worker(args.url, args.worker, sys.stdin.read().strip())))
        return 0
    base = os.environ.get("CHORUS_BENCH_DATABASE_URL")
    print(
        f"{'responses':>10} {'mode':>8} {'resp/s':>9} {'% unseal':>8} {'resp/cpu-s':>10} "
        f"{'% unseal':>8} {'seconds':>8} {'ZIP MB':>7} {'peak MB':>8} {'base MB':>8}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(s) for s in args.sizes.split(",")):
            url = fresh_database(base, Path(folder))
            began = time.perf_counter()
            filled = fill(url, size)
            print(
                f"# {size} responses sealed at {filled['seal_per_s']:,.0f}/s "
                f"(filled in {time.perf_counter() - began:,.0f} s)",
                flush=True,
            )
            unseal: dict[str, Any] | None = None
            for mode in args.modes.split(","):
                r = _measure(url, mode, filled["recovery"])
                if mode == "unseal":
                    unseal = r
                share = f"{100 * r['per_s'] / unseal['per_s']:.0f}%" if unseal else "-"
                cpu_share = f"{100 * r['per_cpu_s'] / unseal['per_cpu_s']:.0f}%" if unseal else "-"
                print(
                    f"{size:>10} {mode:>8} {r['per_s']:>9,.0f} {share:>8} "
                    f"{r['per_cpu_s']:>10,.0f} {cpu_share:>8} {r['seconds']:>8.1f} "
                    f"{r['zip_mb']:>7.1f} {r['peak_mb']:>8.0f} {r['baseline_mb']:>8.0f}",
                    flush=True,
                )
    return 0
