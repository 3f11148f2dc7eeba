"""Extensions created unbound; create_app() binds them. Nothing here starts at import time.

``settings()`` is the one way code running in the app reads its settings (``app/config.py``)."""

from typing import cast

from flask import Flask, current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app.config import Settings
from app.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()

_SETTINGS = "chorus_settings"


def init_settings(app: Flask, settings: Settings) -> None:
    app.extensions[_SETTINGS] = settings


def settings() -> Settings:
    """The settings of the app in context, typed."""
    return cast(Settings, current_app.extensions[_SETTINGS])
