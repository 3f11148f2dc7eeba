"""`chorus`, the operator command: every command lives in this package, one module per
subject, and calls the services the web API calls (no domain logic here). `main.py` is the
console entry point; `create_app()` attaches the commands with ``register_commands``, so
`chorus`, `flask` and test runners share them."""

from __future__ import annotations

from flask import Flask

from app.cli.backup import backup_command, restore_command
from app.cli.core import (
    audit_group,
    demo,
    instruments_group,
    serve,
    studies_group,
    users,
)
from app.cli.exports import export_command
from app.cli.interop import export_instrument, import_instrument
from app.cli.news import news_group
from app.cli.participants import participants_group
from app.cli.responses import keys_group, responses_group
from app.cli.scheduler import scheduler_command
from app.cli.schedules import schedules_group


def register_commands(app: Flask) -> None:
    """Attach Chorus's commands to the app, so `chorus`, `flask` and test runners share them."""
    for command in (
        serve,
        users,
        studies_group,
        instruments_group,
        keys_group,
        responses_group,
        participants_group,
        schedules_group,
        news_group,
        demo,
        audit_group,
        scheduler_command,
        export_command,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(command)
    instruments_group.add_command(export_instrument)
    instruments_group.add_command(import_instrument)
