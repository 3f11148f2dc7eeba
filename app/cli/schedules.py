"""`chorus schedules ...`: add, list and retire study schedules, and plan occurrences now.

The same services as the staff API; the actor is "cli". Every command ends its transaction
(commit or rollback) so the embedded SQLite database is never left locked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from app.cli.helpers import fail as _fail
from app.cli.helpers import study_by_slug as _study
from app.db import utcnow
from app.errors import ChorusError
from app.extensions import db
from app.reminders import planner
from app.reminders import study_schedules as service

ACTOR = "cli"


def _spec(value: str) -> Any:
    """The spec as JSON text, or @path to a JSON file."""
    text = Path(value[1:]).read_text("utf-8") if value.startswith("@") else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--spec") from None


@click.group("schedules")
def schedules_group() -> None:
    """Study schedules: which questionnaire, of whom, when; and their reminders."""


@schedules_group.command("add")
@click.option("--study", "slug", required=True)
@click.option("--name", required=True, help="For staff, e.g. 'Daily diary'.")
@click.option("--instrument", required=True, help="Instrument key, e.g. daily_symptom_diary.")
@click.option("--version", "version", required=True, help="Published version, e.g. 1.0.0.")
@click.option("--respondent", type=click.Choice(service.RESPONDENTS), required=True)
@click.option("--spec", "spec_text", required=True, help="JSON, or @file.json.")
@click.option("--arm", default=None, help="Only this arm (default: every arm).")
@click.option("--anchor", default=service.ENROLLMENT, show_default=True)
@click.option("--reminders", "max_count", type=int, default=1, show_default=True)
@click.option(
    "--gap", "gaps", type=int, multiple=True, help="Minutes between reminders; repeatable."
)
@with_appcontext
def add(
    slug: str,
    name: str,
    instrument: str,
    version: str,
    respondent: str,
    spec_text: str,
    arm: str | None,
    anchor: str,
    max_count: int,
    gaps: tuple[int, ...],
) -> None:
    """Add a schedule, e.g. --spec '{"kind": "daily", "open_time": "18:00", "close_time": "23:59"}'."""
    spec = _spec(spec_text)
    study = _study(slug)
    try:
        row = service.add_schedule(
            db.session(),
            study,
            name=name,
            instrument_key=instrument,
            instrument_version=version,
            respondent=respondent,
            spec=spec,
            arm=arm,
            anchor=anchor,
            reminder_max_count=max_count,
            reminder_gaps_minutes=list(gaps),
            actor=ACTOR,
        )
    except ChorusError as error:
        _fail(error)
    warnings = service.language_warnings(db.session(), study, row)
    db.session.commit()
    click.echo(f"Added schedule {row.id} ({row.name}) to {study.slug}.")
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)


@schedules_group.command("list")
@click.option("--study", "slug", required=True)
@click.option("--all", "include_retired", is_flag=True, help="Include retired schedules.")
@with_appcontext
def list_command(slug: str, include_retired: bool) -> None:
    """The study's schedules, one per line."""
    study = _study(slug)
    rows = service.list_schedules(db.session(), study, include_retired=include_retired)
    lines = []
    for row in rows:
        version = row.instrument_version
        retired = f"  retired {row.retired_at:%Y-%m-%d}" if row.retired_at else ""
        lines.append(
            f"{row.id:>4}  {row.name}  {version.instrument_key} {version.version}  "
            f"{row.respondent}  arm={row.arm or '*'}  anchor={row.anchor}  "
            f"reminders={row.reminder_max_count} gaps={row.reminder_gaps_minutes}  "
            f"{json.dumps(row.spec, sort_keys=True)}{retired}"
        )
    db.session.rollback()  # read only; release the transaction
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("No schedules.")


@schedules_group.command("retire")
@click.option("--study", "slug", required=True)
@click.option("--id", "schedule_id", type=int, required=True)
@with_appcontext
def retire(slug: str, schedule_id: int) -> None:
    """Retire a schedule: occurrences not yet open are cancelled with their reminders."""
    study = _study(slug)
    try:
        row = service.retire_schedule(db.session(), study, schedule_id, actor=ACTOR, now=utcnow())
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Retired schedule {row.id} ({row.name}).")


@schedules_group.command("plan")
@click.option("--batch", type=int, default=500, show_default=True)
@with_appcontext
def plan(batch: int) -> None:
    """Plan occurrences and reminders now for everyone whose horizon runs low (what the
    scheduler does on each tick), committing batch by batch."""
    total = 0
    while True:
        done = planner.materialise(db.session(), utcnow(), batch=batch)
        db.session.commit()
        total += done
        if done < batch:
            break
    click.echo(f"Planned {total} participant(s).")
