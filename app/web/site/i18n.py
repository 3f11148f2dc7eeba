"""Flask-Babel for the staff pages: English (the source strings) and French.

Catalogs live as .po files in app/translations/ (the source of truth in git). At start-up they
are compiled to .mo files under the instance folder when missing or older than the .po, so a
fresh clone's `make run` and `make test` need no separate compile step. The locale is the one
the staff member chose (kept in the session), else the browser's best match, else English.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

# Flask's signed cookie session (named so it is never mistaken for a database session).
from flask import Flask, request
from flask import session as cookie_session
from flask_babel import Babel, get_locale

LANGUAGES = ("en", "fr")
SOURCE = Path(__file__).resolve().parents[2] / "translations"
SESSION_KEY = "lang"


def compile_catalogs(target: Path) -> None:
    for po_path in SOURCE.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(SOURCE).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as source:
            catalog = read_po(source)
        partial = mo_path.with_suffix(".mo.tmp")
        with partial.open("wb") as out:
            write_mo(out, catalog)
        partial.replace(mo_path)  # atomic: several workers may start at once


def select_locale() -> str:
    chosen = cookie_session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def init_babel(app: Flask) -> None:
    compiled = Path(app.instance_path) / "translations"
    compile_catalogs(compiled)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(compiled))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def _locale() -> dict[str, object]:
        return {"get_locale": get_locale}
