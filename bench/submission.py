"""Submissions under load, next to an insert-only baseline on the same server and database.

gunicorn (``--workers 2``, sync workers, as in production) serves ``bench.submission_app``: the
real app plus ``POST /bench/insert``, which parses the same JSON and inserts and commits one
row -- the least a durable acknowledgement costs on this stack. ``wrk`` (Debian's package) on
127.0.0.1 sends, through 16 connections, first to the baseline and then to the submission
endpoint (a PHQ-9-sized daily diary, a new UUID v4 per request, the participant's own phone
token), for ``--duration`` seconds each after a short warm-up. The figure is submissions/s as
a share of inserts/s measured in the same run, and the p99 latency of each.

Afterwards the database must hold one response per acknowledged submission (wrk's count of 2xx)
and nothing else: no request may fail.

SQLite file by default; PostgreSQL too when ``CHORUS_BENCH_DATABASE_URL`` names a throwaway
database (its ``public`` schema is dropped and recreated).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

NAME = "submission"
DESCRIPTION = (
    "submissions/s and p99 under gunicorn (2 workers, 16 connections) vs an insert-only endpoint"
)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-" + "s" * 40

# (figure, value, baseline, ratio) rows for `make bench`'s summary table, filled by main().
summary: list[tuple[str, str, str, str]] = []

_WRK_SCRIPT = """
local token, participant, path = "%(token)s", %(participant)d, "%(path)s"
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local function uuid4()
  local r = math.random
  return string.format("%%08x-%%04x-4%%03x-%%04x-%%012x",
    r(0, 0xffffffff), r(0, 0xffff), r(0, 0xfff), 0x8000 + r(0, 0x3fff), r(0, 0xffffffffffff))
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
request = function()
  local body = string.format(
    '{"id":"%%s","participant_id":%%d,"instrument":"daily_symptom_diary","version":"1.0.0",' ..
    '"respondent_type":"self","language":"en","started_at":"2026-11-20T18:00:00+01:00",' ..
    '"finished_at":"2026-11-20T18:04:30+01:00","answers":{"fatigue":6,"pain":3,' ..
    '"pain_where":["head"],"sleep":"ok","mood":"ok"}}', uuid4(), participant)
  return wrk.format(nil, path, nil, body)
end
"""


@dataclass
class Load:
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors


@dataclass
class EngineResult:
    engine: str
    baseline: Load
    submission: Load
    stored: int

    @property
    def ratio(self) -> float:
        return self.submission.per_second / self.baseline.per_second


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(database_url: str, instance: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CHORUS_ENV": "production",
        "SECRET_KEY": SECRET,
        "CHORUS_AUDIT_KEY": SECRET[::-1],  # production needs its own audit-chain key
        "DATABASE_URL": database_url,
        "CHORUS_BASE_URL": "https://chorus.example.org",
        "CHORUS_INSTANCE_PATH": str(instance),
        "CHORUS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def seed(url: str | None, folder: Path) -> tuple[str, str, int]:
    """A fresh migrated database (SQLite in ``folder`` when ``url`` is None) with a study, its
    key, the instrument library, one adult participant and their phone.
    Returns (database URL, device token, participant id)."""
    from bench.scheduler_tick import fresh_database

    database_url = fresh_database(url, folder)
    from app import create_app, crypto
    from app.config import Settings
    from app.extensions import db
    from app.library import service as library
    from app.library.models import InstrumentVersion
    from app.participants import service as participants
    from app.participants.models import Device, Participant
    from app.responses import keys
    from app.studies import service as studies
    from bench.submission_app import BENCH_TABLE

    settings = Settings.from_env(
        {"CHORUS_ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": SECRET},
        instance_path=folder / "instance",
    )
    flask_app = create_app(settings)
    with flask_app.app_context():
        session = db.session()
        library.publish_paths(session, [ROOT / "instruments"], actor="bench")
        study = studies.create_study(session, slug="bench", name="Bench study", actor="bench")
        site = studies.add_site(session, study, code="S1", name="Site 1", actor="bench")
        keys.create_study_key(session, study, actor="bench")
        version = session.scalars(
            sa.select(InstrumentVersion).where(
                InstrumentVersion.instrument_key == "daily_symptom_diary"
            )
        ).first()
        assert version is not None
        participants.assign_instrument(session, study, version, "both", "bench")
        person = Participant(
            study_id=study.id,
            site_id=site.id,
            code="B-0001",
            time_zone="Europe/Paris",
            language="en",
            age_band="adult",
        )
        session.add(person)
        session.flush()
        token = crypto.new_token()
        session.add(Device(token_hash=crypto.hash_token(token), participant_id=person.id))
        session.commit()
        BENCH_TABLE.create(db.engine, checkfirst=True)
        participant_id = person.id
        db.engine.dispose()
    return database_url, token, participant_id


class Gunicorn:
    def __init__(self, env: dict[str, str], port: int, workers: int, log: Path) -> None:
        self.port = port
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "bench.submission_app:build()",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--backlog",
                "256",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not answer /healthz within a minute")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


_LATENCY = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> Load:
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {m.group(1): float(m.group(2)) * _UNIT[m.group(3)] for m in _LATENCY.finditer(output)}
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(found.group(1))
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in found.groups())
    return Load(requests, rate, latency["50"], latency["99"], errors)


def wrk(port: int, path: str, script: Path, *, seconds: float, connections: int) -> Load:
    command = [
        "wrk",
        "--threads",
        "2",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds:g}s",
        "--timeout",
        "10s",
        "--latency",
        "--script",
        str(script),
        f"http://127.0.0.1:{port}{path}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse_wrk(done.stdout)


def _script(folder: Path, name: str, token: str, participant: int, path: str) -> Path:
    script = folder / f"{name}.lua"
    script.write_text(_WRK_SCRIPT % {"token": token, "participant": participant, "path": path})
    return script


def measure(
    url: str | None, engine: str, folder: Path, *, seconds: float, connections: int
) -> EngineResult:
    database_url, token, participant = seed(url, folder)
    env = _environment(database_url, folder / "instance")
    port = _free_port()
    server = Gunicorn(env, port, workers=2, log=folder / f"gunicorn-{engine}.log")
    try:
        server.wait_ready()
        loads: dict[str, Load] = {}
        for name, path in (("baseline", "/bench/insert"), ("submission", "/api/v1/me/responses/")):
            script = _script(folder, name, token, participant, path)
            wrk(port, path, script, seconds=min(2.0, seconds), connections=connections)  # warm-up
            loads[name] = wrk(port, path, script, seconds=seconds, connections=connections)
    finally:
        server.stop()
    checker = sa.create_engine(database_url)
    with checker.connect() as conn:
        stored = int(conn.execute(sa.text("SELECT count(*) FROM responses")).scalar_one())
    checker.dispose()
    return EngineResult(engine, loads["baseline"], loads["submission"], stored)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m bench {NAME}", description=DESCRIPTION)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print(f"{NAME}: wrk is missing (apt-get install wrk)", file=sys.stderr)
        return 2
    engines: list[tuple[str, str | None]] = [("SQLite", None)]
    url = os.environ.get("CHORUS_BENCH_DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engines.append(("PostgreSQL", url))
    print(
        f"{NAME}: gunicorn 2 sync workers; wrk 2 threads, {args.connections} connections,"
        f" {args.duration:g} s per endpoint after a warm-up; loopback",
        flush=True,
    )
    print(
        f"{'engine':<11} {'endpoint':<11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}",
        flush=True,
    )
    status = 0
    results: list[EngineResult] = []
    with tempfile.TemporaryDirectory(prefix="chorus-bench-submission-") as tmp:
        for engine, engine_url in engines:
            folder = Path(tmp) / engine
            folder.mkdir()
            result = measure(
                engine_url, engine, folder, seconds=args.duration, connections=args.connections
            )
            results.append(result)
            for name, load in (("insert", result.baseline), ("submission", result.submission)):
                ratio = f"{result.ratio:>6.0%}" if name == "submission" else "      "
                print(
                    f"{engine:<11} {name:<11} {load.per_second:>8.0f} {load.p50_ms:>8.1f}"
                    f" {load.p99_ms:>8.1f} {ratio:>7}",
                    flush=True,
                )
            errors = result.baseline.errors + result.submission.errors
            if errors:
                print(f"  {errors} request(s) failed", flush=True)
                status = 1
            # Every acknowledged submission stored: wrk counts the ones answered, warm-up
            # included, so the database holds at least the measured ones and no failures.
            if result.stored < result.submission.requests:
                print(
                    f"  stored {result.stored} responses, fewer than the"
                    f" {result.submission.requests} acknowledged",
                    flush=True,
                )
                status = 1
    load_average = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load_average:.2f} at the end of the run")
    summary.extend(
        (
            f"submission/s ({r.engine})",
            f"{r.submission.per_second:.0f}/s p99 {r.submission.p99_ms:.0f} ms",
            f"{r.baseline.per_second:.0f}/s inserts",
            f"{r.ratio:.0%}",
        )
        for r in results
    )
    return status
