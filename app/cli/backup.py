"""``chorus backup --out FILE`` and ``chorus restore FILE``: the CLI edge of app/backup.py."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from app import backup as backups
from app.cli.helpers import fail
from app.extensions import settings


def _database_url() -> str:
    return settings().database_url


@click.command("backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The new backup file (never overwritten; written 0600).",
)
@with_appcontext
def backup_command(out: Path) -> None:
    """Back up the database while the service runs (SQLite online backup; PostgreSQL pg_dump)."""
    try:
        report = backups.backup(_database_url(), out)
    except backups.BackupError as error:
        fail(error)
    click.echo(f"backed up the {report.engine} database to {out} ({report.size_bytes:,} bytes)")
    click.echo(
        "Keep it with the VAPID key and the secrets (see README, Production), not beside the"
        " database."
    )


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@with_appcontext
def restore_command(source: Path) -> None:
    """Restore a backup into the configured database, which must be empty."""
    try:
        report = backups.restore(_database_url(), source)
    except backups.BackupError as error:
        fail(error)
    click.echo(f"restored {source} into the {report.engine} database")
    click.echo("Next: `chorus audit verify`, then start the service.")
