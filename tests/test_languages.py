"""The participant app's UI languages: one list (``APP_LANGUAGES``), one locale file each, the
same strings in every locale, and every place that offers a language offering exactly those."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel import Locale
from flask.testing import FlaskClient

from app import create_app
from app.api.me_settings import LanguageSchema
from app.participants.preferences import APP_LANGUAGES
from app.web.site.forms import PARTICIPANT_LANGUAGES
from tests.conftest import make_settings

LOCALES = Path(__file__).resolve().parents[1] / "frontend" / "locales"
CATEGORIES = ("zero", "one", "two", "few", "many", "other")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def strings(code: str) -> dict[str, str]:
    loaded = json.loads((LOCALES / f"{code}.json").read_text("utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def split_plurals(table: dict[str, str]) -> tuple[set[str], dict[str, set[str]]]:
    """Plain keys, and plural bases with their categories ("key.one", "key.other", …): a key
    is a plural form when its last part is a CLDR category and its base has an "other"."""
    plain: set[str] = set()
    plurals: dict[str, set[str]] = {}
    for key in table:
        base, _, last = key.rpartition(".")
        if last in CATEGORIES and f"{base}.other" in table:
            plurals.setdefault(base, set()).add(last)
        else:
            plain.add(key)
    return plain, plurals


def placeholders(table: dict[str, str], key: str, plurals: dict[str, set[str]]) -> set[str]:
    texts = [table[f"{key}.{c}"] for c in plurals[key]] if key in plurals else [table[key]]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def test_every_app_language_has_a_locale_file_and_no_other_file_exists() -> None:
    assert APP_LANGUAGES[0] == "en", "English first: every other language falls back to it"
    assert len(set(APP_LANGUAGES)) == len(APP_LANGUAGES)
    assert sorted(path.stem for path in LOCALES.glob("*.json")) == sorted(APP_LANGUAGES)


def test_the_shell_hands_the_one_list_to_the_app(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'unused.sqlite3'}", tmp_path))
    client: FlaskClient = app.test_client()
    html = client.get("/app/").get_data(as_text=True)
    match = re.search(r'<html [^>]*data-languages="([^"]*)"', html)
    assert match is not None
    assert match.group(1).split(" ") == list(APP_LANGUAGES)


def test_staff_forms_and_the_api_offer_exactly_the_app_languages() -> None:
    assert [choice.value for choice in PARTICIPANT_LANGUAGES] == list(APP_LANGUAGES)
    # Each is named in itself, so a coordinator finds the family's language whatever their own.
    names = {choice.value: choice.label for choice in PARTICIPANT_LANGUAGES}
    assert (names["en"], names["fr"], names["ar"]) == ("English", "Français", "العربية")
    field = LanguageSchema().fields["language"]
    assert field.metadata["enum"] == list(APP_LANGUAGES)


def test_no_frontend_module_keeps_its_own_language_list() -> None:
    # The list reaches the app through the shell (i18n.js uiLanguages()); a literal copy of it
    # in a module would drift.
    codes = "".join(rf"\s*['\"]{code}['\"]\s*,?" for code in APP_LANGUAGES)
    literal = re.compile(rf"\[{codes}\s*\]")
    js = Path(__file__).resolve().parents[1] / "frontend" / "js"
    copies = [p.name for p in js.rglob("*.js") if literal.search(p.read_text("utf-8"))]
    assert copies == []


@pytest.mark.parametrize("code", [c for c in APP_LANGUAGES if c != "en"])
def test_every_locale_has_the_english_keys_and_placeholders(code: str) -> None:
    english, table = strings("en"), strings(code)
    en_plain, en_plurals = split_plurals(english)
    plain, plurals = split_plurals(table)
    assert sorted(plain ^ en_plain) == [], "keys missing from one side"
    assert sorted(set(plurals) ^ set(en_plurals)) == [], "plural keys missing from one side"
    for key in [*plain, *plurals]:
        unknown = placeholders(table, key, plurals) - placeholders(english, key, en_plurals)
        assert not unknown, f"{code} {key}: {{{', '.join(sorted(unknown))}}} is not filled in"


@pytest.mark.parametrize("code", APP_LANGUAGES)
def test_plural_forms_follow_the_language_rules(code: str) -> None:
    # i18n.js plural() picks "key.<category>" with Intl.PluralRules, else "key.other"; where a
    # language has a category English has too and the locale lacks it, English would show.
    rules = set(Locale.parse(code).plural_form.tags) | {"other"}
    en_plurals = split_plurals(strings("en"))[1]
    for key, categories in split_plurals(strings(code))[1].items():
        assert "other" in categories, f"{code} {key}.other"
        assert categories <= rules, f"{code} {key}: {sorted(categories - rules)} never chosen"
        missing = (en_plurals[key] & rules) - categories
        assert not missing, f"{code} {key}: English would show for {sorted(missing)}"


@pytest.mark.parametrize("code", APP_LANGUAGES)
def test_locale_files_are_sorted_and_every_string_is_filled(code: str) -> None:
    table = strings(code)
    assert list(table) == sorted(table)
    assert [
        key for key, text in table.items() if not isinstance(text, str) or not text.strip()
    ] == []
