"""`chorus scheduler`: the one process that plans reminders and sends what is due.

It runs on its own (``chorus scheduler``; systemd or a container keeps it up), never inside a
web worker: APScheduler in gunicorn would run every job once per worker (flask-apscheduler
#51, apscheduler #766). Two jobs on an APScheduler ``BlockingScheduler``:

* ``tick`` every ``CHORUS_SCHEDULER_TICK_SECONDS``: claim due outbox rows and send them, batch
  after batch until nothing is due (``app.reminders.dispatch``);
* ``plan`` every ``CHORUS_SCHEDULER_PLAN_SECONDS``: ``app.reminders.planner.materialise``
  extends participants' occurrences and reminder rows (skipped while the planner is absent).

Both have ``max_instances=1`` (a slow tick is never overlapped by the next), ``coalesce=True``
(ticks missed while busy or suspended run once, not once each) and a ``misfire_grace_time`` of
one interval (a late tick still runs; the outbox, not the timer, says what is due).

Several schedulers may run on PostgreSQL (claims use ``FOR UPDATE SKIP LOCKED``). On SQLite one
holds ``<database>.scheduler.lock`` (``outbox.SchedulerLock``); another waits as a standby, or
with ``--once`` exits with status 75 (EX_TEMPFAIL).

SIGTERM / SIGINT: no new message is started; messages in flight finish and are recorded; rows
claimed but not yet started are given back (PENDING, attempt not counted); then exit 0.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.config import ConfigError, Settings
from app.db import utcnow
from app.delivery import vapid
from app.reminders import planner
from app.reminders.dispatch import DeliveryConfig, Dispatcher, TickReport
from app.reminders.models import PushSubscription
from app.reminders.outbox import SchedulerBusy, SchedulerLock

log = logging.getLogger("chorus.scheduler")

EX_TEMPFAIL = 75  # sysexits.h: try again later (another scheduler holds the SQLite lock)
EX_CONFIG = 78  # sysexits.h: configuration error
PLAN_ROUNDS_PER_JOB = 20  # materialise() batches per plan job, so one job cannot run forever


def worker_id() -> str:
    """Names this process in ``outbox.claimed_by``: host, pid and a nonce (pids get reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def sqlite_database_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    if not url.database or url.database == ":memory:":
        raise ConfigError("chorus scheduler needs a SQLite database file, not an in-memory one")
    return Path(url.database).resolve()


def load_vapid(settings: Settings, sessions: Callable[[], Session]) -> vapid.VapidKeys:
    """The VAPID key pair; the scheduler owns it and creates it once when there is none.

    ``CHORUS_VAPID_PRIVATE_KEY`` or ``<instance>/vapid_private_key.pem`` if present. Otherwise a
    new pair is written to the instance folder (0600) -- except in production when push
    subscriptions already exist: they were made with a key this node has lost, a new one would
    silently orphan all of them, so start-up stops and says what to restore.
    """
    have_env = bool(os.environ.get(vapid.VAPID_ENV_VAR, "").strip())
    key_file = settings.instance_path / vapid.VAPID_KEY_FILENAME
    if have_env or key_file.exists():
        return vapid.load_vapid_keys(
            subject=settings.push_subject, instance_path=settings.instance_path
        )
    if settings.is_production:
        with sessions() as session:
            existing = session.scalar(select(PushSubscription.id).limit(1))
        if existing is not None:
            raise vapid.VapidConfigError(
                f"no VAPID key, but push subscriptions exist: restore {vapid.VAPID_ENV_VAR}"
                f" or {key_file} (a new key would orphan every subscription)"
            )
    keys = vapid.ensure_vapid_keys(settings.instance_path, subject=settings.push_subject)
    log.info("VAPID key pair created in the instance folder (mode 0600)")
    return keys


def delivery_config(settings: Settings, keys: vapid.VapidKeys | None) -> DeliveryConfig:
    return DeliveryConfig(
        base_url=settings.base_url,
        vapid=keys,
        smtp=settings.smtp,
        max_attempts=settings.outbox_max_attempts,
        push_timeout=settings.push_timeout_seconds,
    )


def plan(sessions: Callable[[], Session], stop: threading.Event) -> int:
    """Run the planner until it has nothing left to plan (bounded)."""
    materialise = planner.materialise
    batch = 500
    total = 0
    for _ in range(PLAN_ROUNDS_PER_JOB):
        if stop.is_set():
            break
        with sessions() as session:
            planned = materialise(session, utcnow(), batch=batch)
            session.commit()
        total += planned
        if planned < batch:
            break
    return total


class SchedulerProcess:
    """Everything `chorus scheduler` runs, callable without the CLI."""

    def __init__(self, settings: Settings, engine: Engine, *, with_plan: bool = True) -> None:
        self.settings = settings
        self.engine = engine
        self.with_plan = with_plan
        self.stop = threading.Event()
        self.sessions = sessionmaker(bind=engine)
        self.worker = worker_id()
        path = sqlite_database_path(settings.database_url)
        self.lock = SchedulerLock.for_database(path) if path is not None else None
        self._scheduler: Any = None
        self._stopper: threading.Thread | None = None

    # ── set-up ──

    def dispatcher(self) -> Dispatcher:
        keys = load_vapid(self.settings, self.sessions)
        if self.settings.smtp is None:
            log.warning(
                "e-mail is off (CHORUS_SMTP_HOST not set): e-mail reminders and alert"
                " notices will be marked failed"
            )
        return Dispatcher(
            self.sessions,
            delivery_config(self.settings, keys),
            worker=self.worker,
            batch_size=self.settings.scheduler_batch_size,
            lease=dt.timedelta(seconds=self.settings.scheduler_lease_seconds),
            threads=self.settings.scheduler_send_threads,
            stop=self.stop,
        )

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            return
        log.info("%s: finishing the messages in flight, then stopping", signal.Signals(signum).name)
        self.stop.set()
        scheduler = self._scheduler
        if scheduler is not None:
            # Not from the handler itself: shutdown(wait=True) joins the job threads, and the
            # handler runs on the main thread between two bytecodes of the scheduler's loop.
            self._stopper = threading.Thread(target=self._shutdown, args=(scheduler,))
            self._stopper.start()

    @staticmethod
    def _shutdown(scheduler: Any) -> None:
        from apscheduler.schedulers import SchedulerNotRunningError

        with contextlib.suppress(SchedulerNotRunningError):
            scheduler.shutdown(wait=True)

    def acquire_lock(self, *, wait: bool) -> bool:
        """On SQLite, become the one scheduler (or wait as a standby). False: stopped first."""
        if self.lock is None:
            return True
        announced = False
        while not self.stop.is_set():
            try:
                self.lock.acquire()
                if announced:
                    log.info("took over: this is now the scheduler for this database")
                return True
            except SchedulerBusy:
                if not wait:
                    raise
                if not announced:
                    log.warning("another scheduler is running on this database; standing by")
                    announced = True
                self.stop.wait(1.0)
        return False

    # ── running ──

    def run_once(self) -> TickReport:
        """Plan (unless disabled), then one tick: everything due now is claimed and sent."""
        with self.dispatcher() as dispatcher:
            if self.with_plan:
                planned = plan(self.sessions, self.stop)
                if planned:
                    log.info("planned %d participant(s)", planned)
            report = dispatcher.tick()
        log.info("tick: %s", report)
        return report

    def run_forever(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor as JobThreads
        from apscheduler.schedulers.blocking import BlockingScheduler

        # One job at a time on SQLite (a single writer anyway); tick and plan side by side on
        # PostgreSQL.
        threads = 1 if self.lock is not None else 2
        scheduler = BlockingScheduler(timezone=dt.UTC, executors={"default": JobThreads(threads)})
        with self.dispatcher() as dispatcher:
            tick_every = self.settings.scheduler_tick_seconds
            scheduler.add_job(
                self._tick_job,
                "interval",
                args=(dispatcher,),
                seconds=tick_every,
                id="tick",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=tick_every,
                next_run_time=dt.datetime.now(dt.UTC),
            )
            if self.with_plan:
                plan_every = self.settings.scheduler_plan_seconds
                scheduler.add_job(
                    self._plan_job,
                    "interval",
                    seconds=plan_every,
                    id="plan",
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=plan_every,
                    next_run_time=dt.datetime.now(dt.UTC),
                )
            self._scheduler = scheduler
            log.info(
                "scheduler %s started: tick every %d s, batches of %d, lease %d s",
                self.worker,
                tick_every,
                self.settings.scheduler_batch_size,
                self.settings.scheduler_lease_seconds,
            )
            if not self.stop.is_set():
                scheduler.start()
            if self._stopper is not None:
                self._stopper.join()
        log.info("scheduler stopped")

    def _tick_job(self, dispatcher: Dispatcher) -> None:
        try:
            report = dispatcher.tick()
        except Exception:
            # The database may be restarting: log it; the next tick tries again.
            log.exception("tick failed")
            return
        if report.claimed:
            log.info("tick: %s", report)

    def _plan_job(self) -> None:
        try:
            planned = plan(self.sessions, self.stop)
        except Exception:
            log.exception("planning failed")
            return
        if planned:
            log.info("planned %d participant(s)", planned)

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()
        self.engine.dispose()
