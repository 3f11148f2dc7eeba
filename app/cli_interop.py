"""`chorus instruments import` and `chorus instruments export`: the CLI edge of app/interop.

Parse, call, write. Output files are written whole or not at all (a temporary file renamed into
place), so a failed run never leaves a half-written instrument or Questionnaire behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.errors import ChorusError


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@click.command("export")
@click.argument("reference", metavar="KEY[@VERSION]")
@click.option("--to", "target", type=click.Choice(["fhir"]), required=True, help="Format.")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File."
)
@with_appcontext
def export_instrument(reference: str, target: str, out: Path) -> None:
    """Export a published instrument version (default: the latest) as a FHIR R4 Questionnaire."""
    from app.extensions import db
    from app.interop.fhir_export import instrument_to_questionnaire
    from app.library import service as library

    key, _, version = reference.partition("@")
    session = db.session()
    try:
        if version:
            _row, instrument = library.get_version(session, key, version)
        else:
            latest = [
                row for row in library.most_recently_published(session) if row.instrument_key == key
            ]
            if not latest:
                raise click.ClickException(
                    f"No published instrument {key!r}; publish it first with "
                    "`chorus instruments publish`."
                )
            instrument = library.instrument_of(latest[0])
    except ChorusError as error:
        session.rollback()
        raise click.ClickException(error.message) from error
    finally:
        session.rollback()
    questionnaire = instrument_to_questionnaire(instrument)
    write_atomically(out, json.dumps(questionnaire, indent=2, ensure_ascii=False) + "\n")
    click.echo(
        f"exported {instrument.id} {instrument.version} as FHIR R4 Questionnaire "
        f"{questionnaire['id']} to {out}"
    )
