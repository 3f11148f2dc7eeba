"""`chorus serve`, `users`, `studies`, `demo`, `instruments` and `audit`: the operator's own
commands. Each runs inside an app context and calls the same services as the web API."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask.cli import with_appcontext
from flask_migrate import upgrade as migrate_upgrade
from sqlalchemy import inspect

from app.accounts import service as accounts
from app.audit import service as audit
from app.cli.helpers import fail as _fail
from app.errors import ChorusError
from app.extensions import db, settings
from app.studies import service as studies
from app.studies.models import Role, Site, Study


def database_is_empty() -> bool:
    return (
        not inspect(db.engine).has_table("staff_users")
        or db.session.query(Study.id).first() is None
    )


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Load the demo study into an empty database.",
)
@with_appcontext
def serve(host: str, port: int, demo: bool) -> None:
    """Development server: migrate the database, load the demo if empty, serve."""
    from flask import current_app

    migrate_upgrade()
    _publish_library()
    if settings().is_production:
        # Public demo passwords must never exist in production (issue #10), whatever --demo says.
        click.echo("production: the demo is not loaded; create users with `chorus users create`")
    elif demo and database_is_empty():
        from app.demo import load_demo

        click.echo(load_demo(db.session()))
    click.echo(f"\nChorus is running: open http://{host}:{port}/staff/login  (Ctrl+C to stop)\n")
    # The set-up above must not keep a transaction open: on SQLite it would hold the write
    # lock for as long as the server runs and every request would wait on it.
    db.session.remove()
    # Flask ignores app.run() inside a CLI command, so serve with werkzeug directly.
    from werkzeug.serving import run_simple

    run_simple(host, port, current_app._get_current_object(), use_reloader=False, threaded=True)  # type: ignore[attr-defined]


def _publish_library() -> None:
    """Publish the shipped library (a no-op for versions already published)."""
    from app.library.service import PublishStatus, publish_paths

    try:
        results = publish_paths(db.session(), _instrument_paths(()), actor="cli")
    except ChorusError as error:
        db.session.rollback()
        _fail(error)
    db.session.commit()
    for result in results:
        if result.status is PublishStatus.PUBLISHED:
            click.echo(f"published instrument {result.label}")


@click.group("users")
def users() -> None:
    """Staff accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--study", "study_slug", help="Grant a role in this study (slug).")
@click.option("--site", "site_code", help="Limit the role to this site (code); default: all sites.")
@click.option("--role", type=click.Choice([r.value for r in Role]), help="The role to grant.")
@click.option(
    "--language", default="en", show_default=True, help="Language of alert e-mails (en, fr, ar…)."
)
@click.password_option(prompt="Password (12+ characters)")
@with_appcontext
def create_user(
    email: str,
    display_name: str,
    study_slug: str | None,
    site_code: str | None,
    role: str | None,
    language: str,
    password: str,
) -> None:
    """Create a staff user, optionally with a role in a study."""
    if bool(study_slug) != bool(role):
        raise click.UsageError("--study and --role go together.")
    try:
        user = accounts.create_user(
            db.session(),
            email=email,
            display_name=display_name,
            password=password,
            actor="cli",
            language=language,
        )
        if study_slug and role:
            study = db.session.query(Study).filter_by(slug=study_slug).one_or_none()
            if study is None:
                raise click.UsageError(f"No study with slug {study_slug!r}.")
            site = None
            if site_code:
                site = (
                    db.session.query(Site)
                    .filter_by(study_id=study.id, code=site_code)
                    .one_or_none()
                )
                if site is None:
                    raise click.UsageError(f"Study {study_slug!r} has no site {site_code!r}.")
            studies.grant(db.session(), user, study, Role(role), site=site, actor="cli")
    except ChorusError as error:
        db.session.rollback()
        _fail(error)
    db.session.commit()
    click.echo(f"Created staff user {user.id} ({user.email}).")


@click.group("studies")
def studies_group() -> None:
    """Studies and sites."""


@users.command("set-language")
@click.option("--email", required=True)
@click.option("--language", required=True, help="e.g. en, fr, ar: alert e-mails use it.")
@with_appcontext
def set_user_language(email: str, language: str) -> None:
    """Set the language Chorus writes to a staff member in (alert e-mails)."""
    user = accounts.find_by_email(db.session(), email)
    if user is None:
        raise click.UsageError(f"No staff account for {email!r}.")
    try:
        accounts.set_language(db.session(), user, language, actor="cli")
    except ChorusError as error:
        db.session.rollback()
        _fail(error)
    db.session.commit()
    click.echo(f"{user.email} now gets e-mails in '{language}'.")


@studies_group.command("create")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--site", "sites", multiple=True, metavar="CODE=NAME", help="Add a site; repeatable.")
@with_appcontext
def create_study(slug: str, name: str, sites: tuple[str, ...]) -> None:
    """Create a study with its sites."""
    try:
        study = studies.create_study(db.session(), slug=slug, name=name, actor="cli")
        for spec in sites:
            code, _, site_name = spec.partition("=")
            studies.add_site(db.session(), study, code=code, name=site_name or code, actor="cli")
    except ChorusError as error:
        db.session.rollback()
        _fail(error)
    from app.cli.responses import _show_recovery_key
    from app.responses.keys import create_study_key

    recovery = create_study_key(db.session(), study, actor="cli")
    db.session.commit()
    click.echo(f"Created study {study.slug}.")
    _show_recovery_key(recovery)


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Load the demo study (development only) and print how to sign in."""
    from app.demo import DemoRefused, load_demo, refuse_in_production

    try:
        refuse_in_production()
    except DemoRefused as error:
        raise click.ClickException(str(error)) from None
    migrate_upgrade()
    _publish_library()
    try:
        click.echo(load_demo(db.session()))
    except ChorusError as error:
        db.session.rollback()
        _fail(error)


@click.group("instruments")
def instruments_group() -> None:
    """The instrument library: check files, publish versions."""


def _instrument_paths(paths: tuple[str, ...]) -> list[str]:
    return list(paths) or [str(settings().instruments_path)]


@instruments_group.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--readability",
    is_flag=True,
    help="Also report a readability measure for every participant-visible string.",
)
@click.option(
    "--warnings/--no-warnings",
    default=True,
    show_default=True,
    help="Show warnings (e.g. missing translations).",
)
@with_appcontext
def check_instruments(paths: tuple[str, ...], readability: bool, warnings: bool) -> None:
    """Validate instrument files (default: the library); exit 1 on any error."""
    from app.instruments.loader import (
        InstrumentLoadError,
        check_paths,
        instrument_files,
        load_instrument,
    )
    from app.instruments.readability import readability_report

    targets = _instrument_paths(paths)
    problems = check_paths(targets, include_warnings=warnings)
    for problem in problems:
        click.echo(str(problem), err=problem.is_error)
    files = instrument_files(targets)
    if readability:
        for path in files:
            try:
                instrument, _ = load_instrument(path)
            except InstrumentLoadError:
                continue
            click.echo(f"\n{path}: readability")
            for entry in readability_report(instrument):
                value = "n/a" if entry.value is None else f"{entry.value}"
                click.echo(
                    f"  [{entry.language}] {entry.location}: {entry.measure or 'no measure'} {value} ({entry.note})"
                )
    errors = [p for p in problems if p.is_error]
    if errors:
        click.echo(f"{len(errors)} error(s) in {len(files)} file(s).", err=True)
        sys.exit(1)
    click.echo(f"{len(files)} instrument file(s) OK.")


@instruments_group.command("publish")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@with_appcontext
def publish_instruments(paths: tuple[str, ...]) -> None:
    """Publish new versions (default: the library). All or nothing; unchanged versions are skipped."""
    from app.library.service import publish_paths

    try:
        results = publish_paths(db.session(), _instrument_paths(paths), actor="cli")
    except ChorusError as error:
        db.session.rollback()
        _fail(error)
    db.session.commit()
    for result in results:
        click.echo(
            f"{result.status:<10} {result.label}  ({result.file}, {result.content_hash[:19]}…)"
        )


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.File("r"),
    default=None,
    help="A file of checkpoints (from `chorus audit checkpoint`) kept outside the database: "
    "proves nothing at or before each was removed or changed.",
)
@with_appcontext
def verify_audit(checkpoint_file: Any) -> None:
    """Check the whole keyed chain; exit 1 and name the first bad event if it was tampered with.

    Without checkpoints, events cut from the end (with the head rewound) cannot be seen."""
    try:
        pins = audit.parse_checkpoints(checkpoint_file) if checkpoint_file else []
    except audit.CheckpointUnreadable as error:
        raise click.ClickException(f"{checkpoint_file.name}: {error}") from None
    report = audit.verify(db.session(), pins)
    if report.ok:
        click.echo(
            f"audit log intact: {report.events_checked} events verified"
            + (f", {report.checkpoints_checked} checkpoints matched" if pins else "")
            + (
                f" ({report.plain_events} from before the keyed chain, sealed)"
                if report.plain_events
                else ""
            )
        )
        if not pins:
            click.echo(
                "note: without --checkpoint, events removed from the end cannot be detected",
                err=True,
            )
        return
    click.echo(
        f"audit log TAMPERED: first bad event {report.first_bad_seq}: {report.problem}", err=True
    )
    sys.exit(1)


@audit_group.command("checkpoint")
@click.option(
    "--append",
    "append_to",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also append the line to this file (keep it where the database host cannot write).",
)
@with_appcontext
def checkpoint_audit(append_to: str | None) -> None:
    """Verify the chain, then print its keyed head as one JSON line (sequence, hash, time) for
    a log shipper or a file outside the database; exit 1 without printing if it is broken."""
    report = audit.verify(db.session())
    if not report.ok:
        click.echo(
            f"audit log TAMPERED: first bad event {report.first_bad_seq}: {report.problem}",
            err=True,
        )
        sys.exit(1)
    line = audit.checkpoint(db.session(), report).to_line()
    db.session.rollback()
    if append_to:
        with open(append_to, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    click.echo(line)
