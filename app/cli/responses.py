"""`chorus keys ...` and `chorus responses ...`: key holders, rotation, opening sealed answers.

Secrets are always prompted for (hidden), never taken as arguments, so they stay out of shell
history and process listings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TypeVar

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.accounts.models import StaffUser
from app.cli.helpers import fail as _fail
from app.errors import ChorusError
from app.extensions import db
from app.responses import keys
from app.responses import service as responses


def _staff(email: str) -> StaffUser:
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        raise click.UsageError(f"No staff account {email!r}.")
    return user


def _credential(holder_email: str | None) -> keys.HolderCredential:
    if holder_email:
        secret = click.prompt(f"Key passphrase of {holder_email}", hide_input=True)
        return keys.HolderCredential("staff", secret, _staff(holder_email))
    return keys.HolderCredential("recovery", click.prompt("Recovery key", hide_input=True))


holder_option = click.option(
    "--holder",
    "holder_email",
    metavar="EMAIL",
    help="Unlock as this key holder (default: with the recovery key).",
)


T = TypeVar("T")


def _run(action: Callable[[], T]) -> T:
    """Run a key operation; keep the audit record of a failed unlock, then report the failure."""
    try:
        result = action()
    except ChorusError as error:
        if isinstance(error, keys.KeyUnlockFailed):
            db.session.commit()  # the failed attempt is audited
        else:
            db.session.rollback()
        _fail(error)
    db.session.commit()
    return result


@click.group("keys")
def keys_group() -> None:
    """Study keys and key holders."""


@keys_group.command("init")
@click.option("--study", "slug", required=True)
@with_appcontext
def init_key(slug: str) -> None:
    """Create a study's key and print its recovery key once."""
    recovery = _run(
        lambda: keys.create_study_key(
            db.session(), keys.study_by_slug(db.session(), slug), actor="cli"
        )
    )
    _show_recovery_key(recovery)


def _show_recovery_key(recovery: str) -> None:
    click.echo("\nRECOVERY KEY (shown once; store it offline, e.g. printed in a safe):\n")
    click.echo(f"    {recovery}\n")
    click.echo("Anyone with this key can open every answer in the study. Chorus does not keep it.")


@keys_group.command("add-holder")
@click.option("--study", "slug", required=True)
@click.option("--email", "new_email", required=True, help="The data manager who will hold the key.")
@holder_option
@with_appcontext
def add_holder(slug: str, new_email: str, holder_email: str | None) -> None:
    """Give a data manager their own passphrase to the study key (needs an existing holder)."""
    study = keys.study_by_slug(db.session(), slug)
    existing = _credential(holder_email)
    new_holder = _staff(new_email)
    passphrase = click.prompt(
        f"New key passphrase for {new_email} (12+ characters)",
        hide_input=True,
        confirmation_prompt=True,
    )
    _run(
        lambda: keys.add_holder(
            db.session(),
            study,
            existing=existing,
            new_holder=new_holder,
            new_passphrase=passphrase,
            actor=existing.actor,
        )
    )
    click.echo(f"{new_email} now holds the key of {slug}.")


@keys_group.command("rotate")
@click.option("--study", "slug", required=True)
@holder_option
@with_appcontext
def rotate(slug: str, holder_email: str | None) -> None:
    """Start sealing new responses under a new key; prints the new recovery key."""
    study = keys.study_by_slug(db.session(), slug)
    credential = _credential(holder_email)
    recovery = _run(lambda: keys.rotate(db.session(), study, credential, actor=credential.actor))
    click.echo("New key in use. Other key holders must be added again (chorus keys add-holder).")
    _show_recovery_key(recovery)


@keys_group.command("reseal")
@click.option("--study", "slug", required=True)
@holder_option
@with_appcontext
def reseal(slug: str, holder_email: str | None) -> None:
    """Re-seal responses made under retired keys with the current key."""
    study = keys.study_by_slug(db.session(), slug)
    credential = _credential(holder_email)
    count = _run(lambda: keys.reseal(db.session(), study, credential))
    click.echo(f"Re-sealed {count} response(s).")


@click.group("responses")
def responses_group() -> None:
    """Sealed responses."""


@responses_group.command("open")
@click.option("--response", "response_id", required=True)
@holder_option
@with_appcontext
def open_response(response_id: str, holder_email: str | None) -> None:
    """Print one response's answers and scores (JSON), opened in memory."""
    credential = _credential(holder_email)
    payload = _run(lambda: responses.open_one(db.session(), response_id, credential))
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True))


@responses_group.command("dump")
@click.option("--study", "slug", required=True)
@holder_option
@with_appcontext
def dump(slug: str, holder_email: str | None) -> None:
    """Write every response of a study as NDJSON to standard output (opened in memory)."""
    credential = _credential(holder_email)

    def write_all() -> None:
        for response, payload in responses.open_study(db.session(), slug, credential):
            line = {
                "response_id": response.id,
                "participant_id": response.participant_id,
                "instrument_version_id": response.instrument_version_id,
                "respondent_type": response.respondent_type,
                "finished_at": response.finished_at.isoformat(),
                **payload,
            }
            sys.stdout.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")

    _run(write_all)
