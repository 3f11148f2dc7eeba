"""Messages a person reads stay translatable without Flask (``app.codesign.messages``): English
strings that carry their template and values, the loader's words recognised, and a French
entry for every one of them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.codesign import document as doc
from app.codesign import service as codesign
from app.codesign.document import INSTRUMENT_PART
from app.codesign.messages import N_, Text, loader_text, render
from app.errors import Invalid
from app.instruments.loader import parse_instrument

ROOT = Path(__file__).resolve().parents[2]
FRENCH = ROOT / "app/translations/fr/LC_MESSAGES/messages.po"


def _french() -> dict[str, str]:
    catalog = read_po(io.BytesIO(FRENCH.read_bytes()))
    return {m.id: m.string for m in catalog if m.id and m.string}


def test_a_text_reads_as_english_and_renders_through_a_catalogue() -> None:
    message = N_("Use at most %(limit)s characters (this has %(count)s).", limit=5, count=9)
    assert message == "Use at most 5 characters (this has 9)."
    assert isinstance(message, str) and message.params == {"limit": 5, "count": 9}
    french = _french()
    assert render(message, lambda s: french.get(s, s)) == (
        "Utilisez au plus 5 caractères (ce texte en a 9)."
    )
    assert render("plain words", lambda s: "never asked") == "plain words"


def test_a_broken_catalogue_entry_falls_back_to_english_not_an_error() -> None:
    message = N_("max %(high)s < min %(low)s", high=1, low=2)
    assert render(message, lambda s: "max %(nope)s") == "max 1 < min 2"


@pytest.mark.parametrize(
    ("change", "template"),
    [
        ({"show_when": "pain >"}, "at column %(column)s: %(problem)s"),
        (
            {"show_when": "mood > 1"},
            "'%(name)s' is not an earlier item; skip logic may only refer to items before it",
        ),
        (
            {"text.self.en": None, "text.proxy.en": None},
            "no text in the default language '%(language)s'",
        ),
        ({"choices.1.value": "head"}, "value %(value)s appears twice"),
    ],
)
def test_the_loaders_problems_from_an_edit_are_recognised(session, world, change, template) -> None:
    draft = codesign.create_draft_from_published(session, world.author, world.study, world.diary.id)
    session.commit()
    view = codesign.get_draft(session, world.author, draft.id)
    part = next(p for p in view.items if p.key == "pain_where")
    with pytest.raises(Invalid) as refused:
        codesign.edit(session, world.author, draft.id, "pain_where", change, part.revision)
    session.rollback()
    messages = [m for ms in refused.value.errors.values() for m in ms]
    texts = [m for m in messages if isinstance(m, Text)]
    assert texts, messages
    inner = [t.params.get("message", t) for t in texts]
    assert template in {m.template for m in inner if isinstance(m, Text)}
    assert isinstance(refused.value.message, Text)  # "Not saved: ... %(count)s problem(s)."


def test_an_expression_error_is_translated_to_its_token() -> None:
    text = loader_text("show_when: at column 7: expected an operand, found end of expression")
    french = _french()
    assert render(text, lambda s: french.get(s, s)) == (
        "show_when: à la colonne 7 : une valeur est attendue, trouvé : fin de l'expression"
    )
    assert text == "show_when: at column 7: expected an operand, found end of expression"


def test_an_unknown_loader_message_stays_whole_in_english() -> None:
    message = "pattern: nothing like this (see app/instruments/patterns.py)"
    assert loader_text(message) == message and not isinstance(loader_text(message), Text)


def test_field_path_errors_are_translatable() -> None:
    with pytest.raises(doc.FieldPathError) as refused:
        doc.set_field({"id": "x", "type": "yes_no"}, "id", "y", respondent_types=["self"])
    assert isinstance(refused.value.args[0], Text)
    assert INSTRUMENT_PART.startswith("@")


def test_every_message_of_the_codesign_package_has_a_french_translation() -> None:
    found = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / "app/codesign"), [("**.py", "python")], keywords={"N_": None}
        )
    }
    assert len(found) > 100
    missing = sorted(found - set(_french()))
    assert missing == [], f"translate these in app/translations/fr: {missing}"


def test_the_loaders_missing_translation_warning_is_recognised() -> None:
    _instrument, problems = parse_instrument(
        (ROOT / "instruments/daily_symptom_diary.yaml")
        .read_text("utf-8")
        .replace("fr: Tête, ", "", 1),
        "diary.yaml",
    )
    [warning] = [p for p in problems if not p.is_error]
    text = codesign.problem_text(warning)
    assert text == str(warning)  # the English reads exactly as the check prints it
    french = _french()
    assert render(text, lambda s: french.get(s, s)) == (
        "diary.yaml : question 'pain_where' : attention : choices[0].label: pas de texte en "
        "'fr' ; les lecteurs en 'fr' verront le texte en 'en'"
    )
