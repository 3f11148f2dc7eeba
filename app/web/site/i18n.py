"""Flask-Babel for the staff pages: English (the source strings) and French.

Catalogs live as .po files in app/translations/ (the source of truth in git). At start-up they
are compiled to .mo files under the instance folder when missing or older than the .po, so a
fresh clone's `make run` and `make test` need no separate compile step. The locale is the one
the staff member chose (kept in the session), else the browser's best match, else English.

Times: the ``localtime`` filter shows a timestamp in the viewer's time zone (their account's
``time_zone``, UTC when signed out), in the page's locale, with the zone named: every staff
page shows times through it (``when`` in site/macros.html).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

# Flask's signed cookie session (named so it is never mistaken for a database session).
from flask import Flask, g, request
from flask import session as cookie_session
from flask_babel import Babel, get_locale
from markupsafe import Markup

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


def remember_language(language: str) -> None:
    """At sign-in: the language a staff member saved in their account, where they saved one
    other than the default (English leaves the browser's choice in place)."""
    if language in LANGUAGES and language != LANGUAGES[0]:
        cookie_session[SESSION_KEY] = language


def viewer_zone() -> zoneinfo.ZoneInfo:
    """The signed-in staff member's time zone; UTC otherwise (or if the stored name is unknown
    to this machine's zone database)."""
    user = g.get("staff_user")
    name = getattr(user, "time_zone", None) or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def localtime(value: dt.datetime | None, format: str = "short") -> Markup | str:
    """``<time>`` with the moment in the viewer's zone and the zone named: "01/12/2026 18:30
    CET" with title "Europe/Paris" (the abbreviation where the zone has one, else its offset).
    Naive values are taken as UTC, as the database stores them."""
    if value is None:
        return "\u2013"  # an en dash: no time
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    zone = viewer_zone()
    local = value.astimezone(zone)
    text = format_datetime(local, format, tzinfo=zone, locale=str(get_locale() or "en"))
    return Markup('<time datetime="{}" title="{}">{} {}</time>').format(
        value.astimezone(dt.UTC).isoformat(), zone.key, text, local.tzname() or zone.key
    )


def init_babel(app: Flask) -> None:
    compiled = Path(app.instance_path) / "translations"
    compile_catalogs(compiled)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(compiled))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    Babel(app, locale_selector=select_locale)

    app.jinja_env.filters["localtime"] = localtime

    @app.context_processor
    def _locale() -> dict[str, object]:
        return {"get_locale": get_locale, "viewer_zone": viewer_zone}
