"""`chorus scheduler`: the one process that plans and sends reminders and alert e-mails
(``app.reminders.process``), never run inside web workers."""

from __future__ import annotations

import logging
import sys

import click
from flask.cli import with_appcontext

from app.config import ConfigError
from app.delivery import vapid
from app.extensions import db, settings
from app.reminders.outbox import SchedulerBusy
from app.reminders.process import EX_CONFIG, EX_TEMPFAIL, SchedulerProcess


@click.command("scheduler")
@with_appcontext
@click.option("--once", is_flag=True, help="Plan, then send everything due now, and exit (cron).")
@click.option(
    "--no-plan",
    is_flag=True,
    help="Do not run the planner (e.g. another node plans); only send what is due.",
)
def scheduler_command(once: bool, no_plan: bool) -> None:
    """Plan and send reminders and alert e-mails (run exactly this, never in web workers)."""
    cfg = settings()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    problems = cfg.scheduler_problems()
    if problems:
        click.echo(
            "error: chorus scheduler will not start in production without: " + "; ".join(problems),
            err=True,
        )
        sys.exit(EX_CONFIG)
    process = SchedulerProcess(cfg, db.engine, with_plan=not no_plan)
    process.install_signal_handlers()
    try:
        try:
            if not process.acquire_lock(wait=not once):
                return
        except SchedulerBusy as busy:
            click.echo(f"error: {busy}", err=True)
            sys.exit(EX_TEMPFAIL)
        try:
            if once:
                process.run_once()
            else:
                process.run_forever()
        except (ConfigError, vapid.VapidConfigError) as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EX_CONFIG)
    finally:
        process.close()
