"""`chorus news post|withdraw|list`: study news from a shell, until the site workspace exists.

The same service as the staff API, acting as the staff user named by ``--as`` (their
permissions apply and the audit log names them).
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.accounts import service as accounts
from app.accounts.models import StaffUser
from app.cli.helpers import fail as _fail
from app.cli.helpers import study_by_slug as _study
from app.errors import ChorusError
from app.extensions import db
from app.news import service as news
from app.studies.models import Site


def _staff(email: str) -> StaffUser:
    user = db.session.scalar(
        select(StaffUser).where(StaffUser.email == accounts.normalise_email(email))
    )
    if user is None:
        raise click.UsageError(f"No staff user {email!r}.")
    return user


@click.group("news")
def news_group() -> None:
    """Study news shown in the participant app."""


@news_group.command("post")
@click.option("--study", "slug", required=True)
@click.option("--site", "site_code", help="Only this site's participants (default: whole study).")
@click.option("--language", required=True, help="e.g. en, fr.")
@click.option("--title", required=True)
@click.option("--body", required=True, help="Plain text; use - to read it from standard input.")
@click.option("--as", "email", required=True, help="The staff user posting (e-mail).")
@with_appcontext
def post(
    slug: str, site_code: str | None, language: str, title: str, body: str, email: str
) -> None:
    """Post news for a site's participants, or for the whole study."""
    study = _study(slug)
    site = None
    if site_code is not None:
        site = db.session.scalar(
            select(Site).where(Site.study_id == study.id, Site.code == site_code)
        )
        if site is None:
            raise click.UsageError(f"Study {slug!r} has no site {site_code!r}.")
    if body == "-":
        body = sys.stdin.read()
    try:
        created = news.post_news(db.session(), _staff(email), study, site, language, title, body)
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    where = f"site {site.code}" if site is not None else "the whole study"
    click.echo(f"Posted news {created.id} for {where} ({created.language}).")


@news_group.command("withdraw")
@click.option("--study", "slug", required=True)
@click.option("--id", "post_id", required=True, type=int)
@click.option("--as", "email", required=True, help="The staff user withdrawing (e-mail).")
@with_appcontext
def withdraw(slug: str, post_id: int, email: str) -> None:
    """Hide a news post from participants (it stays on record)."""
    try:
        post_ = news.get_post(db.session(), _study(slug), post_id)
        news.withdraw(db.session(), _staff(email), post_)
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Withdrew news {post_id}.")
