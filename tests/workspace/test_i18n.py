"""English and French on the staff pages: every string of the pages has a French translation,
the catalogs compile at start-up, the browser's language and the staff member's choice apply."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from app.web.site.i18n import SOURCE
from tests.workspace.world import World, csrf_of, sign_in_page

ROOT = Path(__file__).resolve().parents[2]


def source_strings() -> set[str]:
    method_map = [
        ("app/web/**.py", "python"),
        ("app/templates/**.html", "jinja2"),
        ("app/templates/**.txt", "jinja2"),
    ]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_page_string_has_a_french_translation() -> None:
    catalog = read_po(io.BytesIO((SOURCE / "fr/LC_MESSAGES/messages.po").read_bytes()))
    translated = {m.id for m in catalog if m.id and m.string}
    missing = sorted(source_strings() - translated)
    assert missing == [], f"translate these in app/translations/fr (make messages): {missing}"


def test_catalogs_are_compiled_into_the_instance_folder(app: Flask) -> None:
    assert (Path(app.instance_path) / "translations/fr/LC_MESSAGES/messages.mo").is_file()


def test_french_browser_gets_french_pages_and_the_choice_sticks(
    client: FlaskClient, world: World
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    french = client.get("/staff/studies/fatigue/", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    html = french.get_data(as_text=True)
    assert '<html lang="fr">' in html and "Vue d'ensemble" in html
    english = client.get("/staff/studies/fatigue/", headers={"Accept-Language": "en"})
    assert "Overview" in english.get_data(as_text=True)
    switched = client.post(
        "/staff/language",
        data={"lang": "fr", "next": "/staff/studies/fatigue/", "csrf_token": csrf_of(html)},
    )
    assert switched.status_code == 302 and switched.headers["Location"] == "/staff/studies/fatigue/"
    chosen = client.get("/staff/studies/fatigue/", headers={"Accept-Language": "en"})
    assert "Vue d'ensemble" in chosen.get_data(as_text=True)


def test_language_switch_never_redirects_off_site(client: FlaskClient, world: World) -> None:
    html = client.get("/staff/login").get_data(as_text=True)
    response = client.post(
        "/staff/language",
        data={"lang": "fr", "next": "//evil.example/", "csrf_token": csrf_of(html)},
    )
    assert response.headers["Location"] == "/"
