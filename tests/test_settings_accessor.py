"""One way to read settings inside the app: `app.extensions.settings()` (issue #12), typed,
instead of `current_app.extensions[...]` lookups spread over the code."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from app.config import Settings
from app.extensions import settings as app_settings

APP = Path(__file__).resolve().parents[1] / "app"


def test_settings_returns_the_apps_own(app: Flask, settings: Settings) -> None:
    with app.app_context():
        assert app_settings() is settings


def test_nothing_else_looks_settings_up_by_key() -> None:
    offenders = [
        str(path.relative_to(APP))
        for path in sorted(APP.rglob("*.py"))
        if path.name != "extensions.py" and '"chorus_settings"' in path.read_text("utf-8")
    ]
    assert offenders == []
