"""The `chorus` console script: a FlaskGroup around create_app(), whose commands
``app.cli.register_commands`` attached. Apart from ``app.cli`` because it imports the factory,
which imports ``app.cli``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from app import create_app


def _create_app() -> Flask:
    return create_app()


@click.group(
    cls=FlaskGroup, create_app=_create_app, add_default_commands=True, add_version_option=False
)
def main() -> None:
    """Chorus operator commands (the app's own commands are found through FlaskGroup)."""
