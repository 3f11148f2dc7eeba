"""What every `chorus` command group shares: reporting a domain error and finding a study."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from sqlalchemy import select

from app.errors import ChorusError
from app.extensions import db
from app.studies.models import Study


def fail(error: ChorusError) -> NoReturn:
    """Print the error with each field's messages and exit 1, leaving no transaction open
    (an open one would hold SQLite's write lock)."""
    db.session.rollback()
    click.echo(f"error: {error.message}", err=True)
    for field, messages in error.errors.items():
        for message in messages:
            click.echo(f"  {field}: {message}", err=True)
    sys.exit(1)


def study_by_slug(slug: str) -> Study:
    study = db.session.scalar(select(Study).where(Study.slug == slug))
    if study is None:
        db.session.rollback()
        raise click.UsageError(f"No study with slug {slug!r}.")
    return study
