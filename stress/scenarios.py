"""The reliability scenarios. Each yields report lines; a line starting with FAIL fails the run.

- ``kill9``: gunicorn (2 workers) under submission load; workers are SIGKILLed again and again,
  then the master (and its group, as a supervisor's crash would leave it) and gunicorn is
  started again. Clients retry with the same UUID until acknowledged.
- ``flaky``: clients talk to gunicorn through a proxy on 127.0.0.1 that drops requests, drops
  responses after the server answered (so after it committed) and delays others.
- ``two_servers`` (PostgreSQL): two gunicorns on two ports share one database; submissions go
  through both while two ``chorus scheduler --once`` processes send the same due reminders to
  a counting push endpoint: each must arrive exactly once.

SQLite in a temporary folder; PostgreSQL when ``CHORUS_BENCH_DATABASE_URL`` names a throwaway
database (its ``public`` schema is dropped and recreated).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.submission import SECRET, seed

ROOT = Path(__file__).resolve().parents[1]
CLIENT_TIMEOUT = 10.0  # seconds per attempt
GIVE_UP_AFTER = 180.0  # seconds per submission: a client that cannot get through is a failure
CLIENTS = 8
KILL_EVERY = 8  # acknowledged submissions between two SIGKILLs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _body(participant: int, client_uuid: str) -> bytes:
    return json.dumps(
        {
            "id": client_uuid,
            "participant_id": participant,
            "instrument": "daily_symptom_diary",
            "version": "1.0.0",
            "respondent_type": "self",
            "language": "en",
            "started_at": "2026-11-20T18:00:00+01:00",
            "finished_at": "2026-11-20T18:04:30+01:00",
            "answers": {
                "fatigue": 6,
                "pain": 3,
                "pain_where": ["head"],
                "sleep": "ok",
                "mood": "ok",
            },
        }
    ).encode()


@dataclass
class Tally:
    acknowledged: dict[str, str] = field(default_factory=dict)  # client UUID -> response id
    attempts: int = 0
    retried: int = 0
    lost: list[str] = field(default_factory=list)  # gave up (never acknowledged)
    conflicts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit_until_acknowledged(
    ports: Callable[[int], int], token: str, participant: int, client_uuid: str, tally: Tally
) -> None:
    """POST one submission, resending the SAME UUID after any failure, until a 201."""
    body = _body(participant, client_uuid)
    deadline = time.monotonic() + GIVE_UP_AFTER
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        with tally.lock:
            tally.attempts += 1
            tally.retried += attempt > 1
        conn = http.client.HTTPConnection("127.0.0.1", ports(attempt), timeout=CLIENT_TIMEOUT)
        try:
            conn.request(
                "POST",
                "/api/v1/me/responses/",
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {token}",
                    "Connection": "close",
                },
            )
            answer = conn.getresponse()
            payload = answer.read()
            if answer.status == 201:
                with tally.lock:
                    tally.acknowledged[client_uuid] = json.loads(payload)["response_id"]
                return
            if answer.status == 409:  # a resend refused as different: must never happen
                with tally.lock:
                    tally.conflicts.append(client_uuid)
                return
        except (OSError, http.client.HTTPException):
            pass  # refused, reset, timed out, cut mid-answer: resend
        finally:
            conn.close()
        time.sleep(min(0.05 * attempt, 1.0) * random.uniform(0.5, 1.5))
    with tally.lock:
        tally.lost.append(client_uuid)


def run_clients(
    count: int, ports: Callable[[int], int], token: str, participant: int
) -> Iterator[Tally]:
    """Start ``count`` submissions on CLIENTS threads; yields the live tally once, then waits."""
    tally = Tally()
    pool = ThreadPoolExecutor(max_workers=CLIENTS)
    futures = [
        pool.submit(submit_until_acknowledged, ports, token, participant, str(uuid.uuid4()), tally)
        for _ in range(count)
    ]
    yield tally
    for future in futures:
        future.result()
    pool.shutdown()


def check(database_url: str, tally: Tally, label: str) -> list[str]:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        stored = list(conn.execute(sa.text("SELECT id FROM responses")).scalars())
    engine.dispose()
    acknowledged = set(tally.acknowledged.values())
    problems = []
    if tally.lost:
        problems.append(f"{len(tally.lost)} submissions never acknowledged")
    if tally.conflicts:
        problems.append(f"{len(tally.conflicts)} resends refused as conflicts")
    if len(stored) != len(set(stored)):
        problems.append("duplicate response ids stored")
    if set(stored) != acknowledged:
        problems.append(
            f"stored {len(stored)} != acknowledged {len(acknowledged)}"
            f" (missing {len(acknowledged - set(stored))}, unacknowledged {len(set(stored) - acknowledged)})"
        )
    if len(acknowledged) != len(tally.acknowledged):
        problems.append("two client UUIDs got the same response")
    verdict = "FAIL" if problems else "ok  "
    summary = (
        f"{verdict} {label}: {len(tally.acknowledged)} acknowledged, {len(stored)} stored,"
        f" {tally.attempts} requests ({tally.retried} resends)"
    )
    return [summary, *(f"     {p}" for p in problems)]


class Gunicorn:
    def __init__(self, env: dict[str, str], port: int, workers: int, log: Path) -> None:
        self.env, self.port, self.workers, self.log = env, port, workers, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("gunicorn")),
                    "wsgi:app",
                    "--workers",
                    str(self.workers),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--timeout",
                    "30",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Ready when a worker answers (the master listens long before the app is imported).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
            finally:
                conn.close()
        raise RuntimeError(f"gunicorn did not answer within two minutes; see {self.log}")

    def workers_pids(self) -> list[int]:
        assert self.process is not None
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def kill_group(self) -> None:
        """SIGKILL the master and every worker, as a crashed supervisor leaves it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_group()


def _environment(database_url: str, instance: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CHORUS_ENV": "production",
        "SECRET_KEY": SECRET,
        "CHORUS_AUDIT_KEY": SECRET[::-1],  # production needs its own audit-chain key (#10)
        "DATABASE_URL": database_url,
        "CHORUS_BASE_URL": "https://chorus.example.org",
        "CHORUS_INSTANCE_PATH": str(instance),
        "CHORUS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def _engines() -> list[tuple[str, str | None]]:
    engines: list[tuple[str, str | None]] = [("SQLite", None)]
    url = os.environ.get("CHORUS_BENCH_DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engines.append(("PostgreSQL", url))
    return engines


# ── kill -9 ────────────────────────────────────────────────────────────────────────────────


def kill9(submissions: int, engines: list[tuple[str, str | None]] | None = None) -> list[str]:
    lines = []
    for engine, url in engines or _engines():
        with tempfile.TemporaryDirectory(prefix="chorus-stress-") as tmp:
            folder = Path(tmp)
            database_url, token, participant = seed(url, folder)
            server = Gunicorn(
                _environment(database_url, folder / "instance"),
                _free_port(),
                2,
                folder / "gunicorn.log",
            )
            server.start()
            kills = {"workers": 0, "master": 0}
            try:
                clients = run_clients(submissions, lambda _, s=server: s.port, token, participant)
                tally = next(clients)
                last_kill_at = 0
                while len(tally.acknowledged) + len(tally.lost) < submissions:
                    time.sleep(random.uniform(0.3, 0.8))
                    done = len(tally.acknowledged)
                    if done < last_kill_at + KILL_EVERY:
                        continue  # let the replacement worker boot and serve first
                    last_kill_at = done
                    if kills["master"] == 0 and done >= submissions // 2:
                        server.kill_group()
                        kills["master"] += 1
                        time.sleep(0.5)
                        server.start()
                        continue
                    pids = server.workers_pids()
                    if pids:
                        os.kill(random.choice(pids), signal.SIGKILL)
                        kills["workers"] += 1
                for _ in clients:
                    pass
            finally:
                server.stop()
            lines += check(
                database_url,
                tally,
                f"kill9 {engine}: {kills['workers']} workers and {kills['master']} master SIGKILLed",
            )
    return lines


# ── The flaky proxy ────────────────────────────────────────────────────────────────────────


class FlakyProxy:
    """Per connection (clients send ``Connection: close``): drop the request, drop the answer
    after the server gave it, delay, or pass it through."""

    def __init__(self, upstream: int, *, seed: int = 17) -> None:
        self.upstream = upstream
        self.rng = random.Random(seed)
        self.fates: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _fate(self) -> str:
        with self._lock:
            draw = self.rng.random()
            fate = (
                "drop request"
                if draw < 0.15
                else "drop answer"
                if draw < 0.35
                else "delay"
                if draw < 0.55
                else "pass"
            )
            self.fates[fate] += 1
            return fate

    @staticmethod
    def _read_request(client: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return b""
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = client.recv(65536)
            if not chunk:
                return b""
            rest += chunk
        return head + b"\r\n\r\n" + rest

    def _serve(self, client: socket.socket) -> None:
        with client:
            client.settimeout(CLIENT_TIMEOUT)
            try:
                request = self._read_request(client)
                if not request:
                    return
                fate = self._fate()
                if fate == "drop request":
                    return
                if fate == "delay":
                    time.sleep(self.rng.uniform(0.1, 0.6))
                with socket.create_connection(("127.0.0.1", self.upstream), timeout=30) as up:
                    up.sendall(request)
                    answer = b""
                    while chunk := up.recv(65536):
                        answer += chunk
                if fate == "drop answer":
                    return  # the server has answered, so it has committed; the client never knows
                client.sendall(answer)
            except OSError:
                return


def flaky(submissions: int, engines: list[tuple[str, str | None]] | None = None) -> list[str]:
    lines = []
    for engine, url in engines or _engines():
        with tempfile.TemporaryDirectory(prefix="chorus-stress-") as tmp:
            folder = Path(tmp)
            database_url, token, participant = seed(url, folder)
            server = Gunicorn(
                _environment(database_url, folder / "instance"),
                _free_port(),
                2,
                folder / "gunicorn.log",
            )
            server.start()
            try:
                with FlakyProxy(server.port) as proxy:
                    clients = run_clients(submissions, lambda _: proxy.port, token, participant)
                    tally = next(clients)
                    for _ in clients:
                        pass
                    fates = ", ".join(f"{k} {v}" for k, v in sorted(proxy.fates.items()))
            finally:
                server.stop()
            lines += check(database_url, tally, f"flaky proxy {engine}: {fates}")
    return lines


# ── Two servers and two schedulers on one PostgreSQL ──────────────────────────────────────


class _CountingSink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counts: Counter[str]
    lock: threading.Lock

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.counts[self.path] += 1
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _due_reminders(database_url: str, sink: str, count: int) -> None:
    """``count`` participants of the seeded study, each with a phone subscribed at ``sink``,
    no quiet hours, and one questionnaire open now whose reminder is due."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from bench.scheduler_tick import _b64url

    key = ec.generate_private_key(ec.SECP256R1())
    p256dh = _b64url(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    auth = _b64url(os.urandom(16))
    now = dt.datetime.now(dt.UTC)
    engine = sa.create_engine(database_url)
    meta = sa.MetaData()
    names = (
        "participants",
        "devices",
        "push_subscriptions",
        "timetables",
        "study_schedules",
        "occurrences",
        "outbox",
        "sites",
        "study_instruments",
    )
    t = {name: sa.Table(name, meta, autoload_with=engine) for name in names}
    with engine.begin() as conn:
        site = conn.execute(sa.select(t["sites"].c.id, t["sites"].c.study_id)).first()
        assert site is not None
        version = conn.execute(sa.select(t["study_instruments"].c.instrument_version_id)).scalar()
        schedule = conn.execute(
            t["study_schedules"]
            .insert()
            .values(
                study_id=site.study_id,
                name="stress",
                instrument_version_id=version,
                respondent="self",
                spec={"kind": "daily", "open_time": "00:00", "close_time": "23:59"},
                anchor="enrollment",
                reminder_max_count=1,
                reminder_gaps_minutes=[],
                created_at=now,
                created_by="stress",
            )
            .returning(t["study_schedules"].c.id)
        ).scalar_one()
        for i in range(count):
            person = conn.execute(
                t["participants"]
                .insert()
                .values(
                    study_id=site.study_id,
                    site_id=site.id,
                    code=f"R-{i:05d}",
                    time_zone="Europe/Paris",
                    language="en",
                    age_band="adult",
                    status="active",
                    enrolled_at=now,
                )
                .returning(t["participants"].c.id)
            ).scalar_one()
            device = conn.execute(
                t["devices"]
                .insert()
                .values(
                    participant_id=person,
                    token_hash=hashlib.sha256(f"stress-{i}".encode()).hexdigest(),
                    label="phone",
                    created_at=now,
                    last_seen_at=now,
                )
                .returning(t["devices"].c.id)
            ).scalar_one()
            endpoint = f"{sink}/push/{i}"
            conn.execute(
                t["push_subscriptions"]
                .insert()
                .values(
                    device_id=device,
                    endpoint=endpoint,
                    endpoint_hash=hashlib.sha256(endpoint.encode()).hexdigest(),
                    p256dh=p256dh,
                    auth=auth,
                    created_at=now,
                )
            )
            conn.execute(
                t["timetables"]
                .insert()
                .values(
                    participant_id=person,
                    windows=None,
                    quiet_hours=[],
                    updated_at=now,
                    updated_by="stress",
                )
            )
            occurrence = conn.execute(
                t["occurrences"]
                .insert()
                .values(
                    schedule_id=schedule,
                    participant_id=person,
                    respondent="self",
                    key=now.date().isoformat(),
                    opens_at=now - dt.timedelta(hours=1),
                    closes_at=now + dt.timedelta(hours=4),
                )
                .returning(t["occurrences"].c.id)
            ).scalar_one()
            conn.execute(
                t["outbox"]
                .insert()
                .values(
                    dedupe_key=f"stress:{occurrence}",
                    kind="reminder",
                    channel="push",
                    occurrence_id=occurrence,
                    sequence=0,
                    participant_id=person,
                    send_at=now - dt.timedelta(seconds=1),
                    state="pending",
                    attempts=0,
                    created_at=now,
                )
            )
    engine.dispose()


def two_servers(submissions: int, reminders: int = 300) -> list[str]:
    urls = [url for _, url in _engines() if url]
    if not urls:
        return ["skip two_servers: set CHORUS_BENCH_DATABASE_URL to a throwaway PostgreSQL"]
    from app.delivery.vapid import ensure_vapid_keys

    handler = type("Sink", (_CountingSink,), {"counts": Counter(), "lock": threading.Lock()})
    sink = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    sink.daemon_threads = True
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{sink.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="chorus-stress-") as tmp:
        folder = Path(tmp)
        database_url, token, participant = seed(urls[0], folder)
        _due_reminders(database_url, origin, reminders)
        instance = folder / "instance"
        ensure_vapid_keys(instance, subject="mailto:stress@localhost")
        env = _environment(database_url, instance)
        servers = [Gunicorn(env, _free_port(), 1, folder / f"gunicorn-{n}.log") for n in (1, 2)]
        for server in servers:
            server.start()
        scheduler_env = {**env, "CHORUS_ENV": "test", "CHORUS_BASE_URL": "http://127.0.0.1:5000"}
        try:
            clients = run_clients(
                submissions, lambda attempt: servers[attempt % 2].port, token, participant
            )
            tally = next(clients)
            schedulers = [
                subprocess.Popen(
                    [
                        str(Path(sys.executable).with_name("chorus")),
                        "scheduler",
                        "--once",
                        "--no-plan",
                    ],
                    cwd=ROOT,
                    env=scheduler_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(2)
            ]
            codes = [process.wait(timeout=600) for process in schedulers]
            for _ in clients:
                pass
        finally:
            for server in servers:
                server.stop()
            sink.shutdown()
        counts = handler.counts
    lines = check(database_url, tally, "two servers on one PostgreSQL: submissions through both")
    once = sum(1 for n in counts.values() if n == 1)
    problems = []
    if codes != [0, 0]:
        problems.append(f"schedulers exited with {codes}")
    if len(counts) != reminders or once != reminders:
        problems.append(
            f"{reminders} reminders due; {len(counts)} recipients reached, {once} exactly once,"
            f" {sum(counts.values())} pushes in all"
        )
    verdict = "FAIL" if problems else "ok  "
    lines.append(
        f"{verdict} two schedulers: {sum(counts.values())} pushes for {reminders} reminders"
    )
    lines += [f"     {p}" for p in problems]
    return lines


SCENARIOS: dict[str, Callable[[int], list[str]]] = {
    "kill9": kill9,
    "flaky": flaky,
    "two_servers": two_servers,
}
