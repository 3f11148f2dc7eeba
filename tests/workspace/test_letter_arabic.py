"""The printable invitation letter in Arabic (the participant app ships ar): every string of
the letter has an Arabic translation, and the letter is laid out right to left, with the
code and link kept left to right inside it."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from app.web.site.i18n import SOURCE
from tests.workspace.world import World, csrf_of, sign_in_page

ROOT = Path(__file__).resolve().parents[2]
BASE = "/staff/studies/fatigue"


def test_every_string_of_the_letter_has_an_arabic_translation() -> None:
    keywords = {"_": None, "gettext": None}
    letter = {
        message
        for _line, message, _comments, _context in extract_from_file(
            "jinja2", str(ROOT / "app/templates/site/letter.html"), keywords=keywords
        )
    }
    assert len(letter) >= 8
    catalog = read_po(io.BytesIO((SOURCE / "ar/LC_MESSAGES/messages.po").read_bytes()))
    translated = {m.id: m.string for m in catalog if m.id and m.string}
    assert sorted(letter - set(translated)) == []
    for message in letter:  # the placeholders survive translation
        for name in ("%(study)s", "%(address)s", "%(day)s", "%(code)s"):
            assert (name in message) == (name in translated[message]), message


def test_an_arabic_participant_gets_a_right_to_left_letter_in_arabic(
    client: FlaskClient, world: World
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    token = csrf_of(client.get(f"{BASE}/participants/new").get_data(as_text=True))
    enrolled = client.post(
        f"{BASE}/participants/new",
        data={
            "csrf_token": token,
            "code": "LYON-0077",
            "site": "LYON",
            "age_band": "adult",
            "language": "ar",
            "time_zone": "Europe/Paris",
        },
    )
    assert enrolled.status_code == 302
    form = client.get(enrolled.headers["Location"]).get_data(as_text=True)
    shown = client.post(
        f"{BASE}/participants/LYON-0077/invite",
        data={"csrf_token": csrf_of(form), "valid_for_days": "14"},
    )
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert '<article class="letter" lang="ar" dir="rtl"' in html
    letter = html.split('<article class="letter"')[1].split("</article>")[0]
    assert "دعوتك للمشاركة في" in letter and "امسح رمز الاستجابة السريعة" in letter
    assert "Scan this QR code" not in letter
    assert '<strong class="code" dir="ltr">' in letter and '<span dir="ltr">http' in letter
    # The page around the letter stays in the coordinator's language.
    assert '<html lang="en">' in html


def test_a_french_letter_stays_left_to_right(client: FlaskClient, world: World) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    form = client.get(f"{BASE}/participants/LYON-0001/invite").get_data(as_text=True)
    shown = client.post(
        f"{BASE}/participants/LYON-0001/invite",
        data={"csrf_token": csrf_of(form), "valid_for_days": "14"},
    )
    assert '<article class="letter" lang="en" dir="ltr"' in shown.get_data(as_text=True)
