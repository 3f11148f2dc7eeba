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


@click.command("import")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--from", "source_format", type=click.Choice(["xlsform", "fhir"]), required=True, help="Format."
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The instrument file to write, e.g. instruments/my_form.yaml (its name is the id).",
)
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def import_instrument(source: Path, source_format: str, out: Path, force: bool) -> None:
    """Import an XLSForm or FHIR R4 Questionnaire as a draft instrument, with a report."""
    from app.interop import import_instrument as run_import
    from app.interop.document import INSTRUMENT_ID
    from app.interop.report import InteropError

    if out.suffix not in (".yaml", ".yml"):
        raise click.BadParameter("the instrument file must end in .yaml", param_hint="--out")
    if not INSTRUMENT_ID.fullmatch(out.stem):
        raise click.BadParameter(
            f"{out.name!r}: the file name is the instrument id: lower case letters, digits and _, "
            "starting with a letter (e.g. my_form.yaml)",
            param_hint="--out",
        )
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; choose another --out or add --force")
    try:
        yaml_text, report = run_import(source, source_format, instrument_id=out.stem)
    except InteropError as error:
        raise click.ClickException(str(error)) from error
    write_atomically(out, yaml_text)
    for line in report.lines():
        click.echo(line)
    counts = ", ".join(
        f"{len(report.of_kind(kind))} {kind}" for kind in ("dropped", "changed", "filled", "note")
    )
    click.echo(f"imported {source.name} ({report.found_version}) to {out}: report {counts}")
