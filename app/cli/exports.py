"""`chorus export`: a dataset ZIP from the server's command line.

The secret (the holder's passphrase, or the recovery key without ``--holder``) is prompted for
on a terminal and read from the first line of standard input otherwise, never taken as an
argument. The ZIP goes to ``FILE.part`` and is renamed when complete, so a failed export
leaves no file; ``--out -`` writes to standard output (e.g. through ssh, leaving nothing on
the server). A progress bar is shown when standard error is a terminal.

An export that fails says why, removes its partial file and exits 1; running the same command
again retries it from the start (a ``FILE.part`` left by a killed run is overwritten, never
appended to). ``--history`` lists the study's exports with their status and any failure.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import IO, Any

import click
from flask.cli import with_appcontext

from app.cli.helpers import fail
from app.cli.responses import _staff
from app.errors import ChorusError
from app.exports import service as exports
from app.exports.model import FORMATS, ExportOptions, Profile
from app.extensions import db, settings
from app.responses import keys


def _secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.UsageError(f"{prompt}: expected on the first line of standard input.")
    return line


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


@click.command("export")
@click.option("--study", "slug", required=True, metavar="SLUG")
@click.option("--out", "out_path", metavar="FILE.zip", help="'-' for stdout.")
@click.option("--history", "show_history", is_flag=True, help="List the study's exports and exit.")
@click.option(
    "--holder",
    "holder_email",
    metavar="EMAIL",
    help="Unlock as this key holder (default: recovery key).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(FORMATS),
    help="Repeat for several (default csv).",
)
@click.option("--site", "sites", multiple=True, metavar="CODE")
@click.option("--instrument", "instruments", multiple=True, metavar="KEY[@VERSION]")
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Finished on or after (UTC)."
)
@click.option(
    "--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Finished on or before (UTC)."
)
@click.option(
    "--labels", type=click.Choice(["codes", "labels"]), default="codes", show_default=True
)
@click.option("--language", metavar="LANG", help="Label language (default: each instrument's own).")
@click.option(
    "--deidentify",
    "profile",
    type=click.Choice([p.value for p in Profile]),
    help="Default: none if your role allows, else shifted.",
)
@click.option("--delimiter", type=click.Choice([",", ";"]), default=",", show_default=True)
@click.option("--decimal", type=click.Choice([".", ","]), default=".", show_default=True)
@click.option("--bom/--no-bom", default=False, help="UTF-8 byte-order mark on CSV files (Excel).")
@with_appcontext
def export_command(
    slug: str,
    out_path: str | None,
    show_history: bool,
    holder_email: str | None,
    formats: tuple[str, ...],
    sites: tuple[str, ...],
    instruments: tuple[str, ...],
    since: dt.datetime | None,
    until: dt.datetime | None,
    labels: str,
    language: str | None,
    profile: str | None,
    delimiter: str,
    decimal: str,
    bom: bool,
) -> None:
    """Export a study's responses as one ZIP (CSV + codebook, SPSS, Stata, R, SAS, FHIR, ODM)."""
    cfg = settings()
    if show_history:
        _print_history(slug)
        return
    if not out_path:
        raise click.UsageError("Missing option '--out' (or give --history).")
    if delimiter == decimal:
        raise click.UsageError(
            "--delimiter and --decimal must differ (use ; with a decimal comma)."
        )
    user = _staff(holder_email) if holder_email else None
    if holder_email:
        credential = keys.HolderCredential(
            "staff", _secret(f"Key passphrase of {holder_email}"), user
        )
    else:
        credential = keys.HolderCredential("recovery", _secret("Recovery key"))
    options: dict[str, Any] = {
        "formats": frozenset(formats or ("csv",)),
        "labels": labels,
        "language": language,
        "delimiter": delimiter,
        "decimal": decimal,
        "bom": bom,
    }
    request = exports.ExportRequest(
        study_slug=slug,
        options=ExportOptions(**options),
        profile=Profile(profile) if profile else None,
        sites=sites,
        instruments=instruments,
        since=_date(since),
        until=_date(until),
    )
    session = db.session()
    try:
        prepared = exports.prepare(
            session,
            user=user,
            credential=credential,
            request=request,
            deid_key=exports.deidentification_key(cfg.secret_key),
            channel="cli",
        )
    except ChorusError as error:
        if isinstance(error, keys.KeyUnlockFailed):
            session.commit()  # the failed attempt stays on record
        fail(error)
    session.commit()  # the unlock and "export.started" are on record before the first byte

    to_stdout = out_path == "-"
    target = Path(out_path)
    partial = target.with_name(target.name + ".part")
    stream: IO[bytes] = sys.stdout.buffer if to_stdout else partial.open("wb")
    show_bar = sys.stderr.isatty()
    try:
        length = max(prepared.responses, 1)
        with click.progressbar(
            length=length,
            label="Exporting",
            file=sys.stderr,
            hidden=not show_bar,
        ) as bar:
            shown = 0
            for chunk in prepared.chunks(session.commit):
                stream.write(chunk)
                progress = prepared.progress
                if progress.total:
                    now_shown = progress.done * length // progress.total
                    bar.update(now_shown - shown)
                    shown = now_shown
        stream.flush()
    except exports.ExportFailed as error:
        if not to_stdout:
            stream.close()
            partial.unlink(missing_ok=True)
        click.echo(
            f"error: export {prepared.export_id} failed ({error.failure}): {error} "
            "Nothing was kept; run the same command again to retry.",
            err=True,
        )
        sys.exit(1)
    except BaseException:
        if not to_stdout:
            stream.close()
            partial.unlink(missing_ok=True)
        raise
    if not to_stdout:
        os.fsync(stream.fileno())
        stream.close()
        partial.replace(target)
    summary = prepared.result.manifest.get("counts", {}).get("responses", 0)
    click.echo(
        f"Exported {summary} response(s) of {slug} ({prepared.profile}); "
        f"manifest sha256 {prepared.result.manifest_sha256}",
        err=to_stdout,
    )


def _print_history(slug: str) -> None:
    session = db.session()
    study = keys.study_by_slug(session, slug)
    records = exports.history(session, None, study)
    session.commit()  # abandoned exports found while listing are now marked failed
    if not records:
        click.echo(f"No export of {slug} yet.")
        return
    for record in records:
        started = record.started_at.astimezone(dt.UTC).isoformat(timespec="seconds")
        line = (
            f"{started}  {record.id}  {record.status:<10}  {record.responses:>8} response(s)  "
            f"{record.channel}:{record.actor}  {','.join(record.parameters.get('formats') or ())}"
        )
        if record.manifest_sha256:
            line += f"  sha256 {record.manifest_sha256}"
        click.echo(line)
        if record.status == "failed":
            reason = exports.FAILURES.get(record.failure or "", exports.FAILURES["error"])
            click.echo(f"    failed ({record.failure}): {reason}")
