"""The co-design pages for moving questions, answer options, shared answer lists and XLIFF
(issue #15), and the services' messages in the page's language: a French page shows the
loader's problems and the edit conflict in French."""

from __future__ import annotations

import io
import re

from flask import Flask
from flask.testing import FlaskClient

from tests.workspace.world import World, csrf_of, sign_in_page

BASE = "/staff/studies/fatigue/instruments"
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


def _author(client: FlaskClient) -> str:
    sign_in_page(client, "author@example.org")
    return csrf_of(client.get(BASE + "/").get_data(as_text=True))


def _draft_url(world: World) -> str:
    return f"{BASE}/drafts/{world.ids['LYON-0001:draft']}"


def _revision(html: str, name: str = "revision") -> str:
    found = re.search(rf'name="{name}" type="hidden" value="(\d+)"', html) or re.search(
        rf'id="{name}" name="{name}" type="hidden" value="(\d+)"', html
    )
    assert found, f"no {name} on the form"
    return found.group(1)


def test_a_french_page_shows_the_loaders_problem_in_french(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    url = _draft_url(world) + "/items/pain_where"
    revision = _revision(client.get(url, headers=FRENCH).get_data(as_text=True))
    refused = client.post(
        url,
        data={"csrf_token": token, "revision": revision, "show_when": "pain >"},
        headers=FRENCH,
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "à la colonne 7 : une valeur est attendue, trouvé : fin de l&#39;expression" in html
    assert "at column" not in html and "expected an operand" not in html
    # The same refusal in English, word for word as the check says it.
    english = client.post(
        url,
        data={"csrf_token": token, "revision": revision, "show_when": "pain >"},
        headers={"Accept-Language": "en"},
    )
    assert "at column 7: expected an operand, found end of expression" in english.get_data(
        as_text=True
    )


def test_a_french_page_shows_the_edit_conflict_in_french(app: Flask, world: World) -> None:
    url = _draft_url(world) + "/items/fatigue"
    first, second = app.test_client(), app.test_client()
    first_token = _author(first)
    sign_in_page(second, "admin@example.org")
    page = second.get(url, headers=FRENCH).get_data(as_text=True)
    second_token, revision = csrf_of(page), _revision(page)
    assert (
        first.post(
            url,
            data={
                "csrf_token": first_token,
                "revision": revision,
                "required": "y",
                "text.self.en": "How tired were you today?",
            },
        ).status_code
        == 302
    )
    conflict = second.post(
        url,
        data={
            "csrf_token": second_token,
            "revision": revision,
            "required": "y",
            "text.self.en": "How worn out did you feel today?",
        },
        headers=FRENCH,
    )
    html = conflict.get_data(as_text=True)
    assert conflict.status_code == 409
    assert "Quelqu&#39;un d&#39;autre a enregistré la question &#39;fatigue&#39;" in html
    assert "Someone else saved" not in html


def test_a_question_moves_to_another_page_from_a_list_of_places(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    url = _draft_url(world) + "/items/sleep/move"
    page = client.get(url).get_data(as_text=True)
    assert '<option selected value="night_and_mood:0">' in page
    assert "(where it is now)" in page and 'value="@new:0"' in page
    revision = _revision(page)
    moved = client.post(
        url,
        data={
            "csrf_token": token,
            "revision": revision,
            "destination": "anything_else_page:1",
        },
    )
    assert moved.status_code == 302 and moved.headers["Location"].endswith("#questions")
    overview = client.get(_draft_url(world) + "/").get_data(as_text=True)
    assert 'data-item="sleep" data-page="anything_else_page"' in overview
    # The same form again, on the revision it was shown with: someone changed the pages.
    stale = client.post(
        url, data={"csrf_token": token, "revision": revision, "destination": "body:0"}
    )
    html = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "Nothing was moved" in html
    assert _revision(html) == str(int(revision) + 1)  # the form now holds the new revision
    # Skip logic may not look forward: pain cannot go after pain_where.
    refused = client.post(
        _draft_url(world) + "/items/pain/move",
        data={"csrf_token": token, "revision": _revision(html), "destination": "body:2"},
        headers=FRENCH,
    )
    assert refused.status_code == 422
    assert "n&#39;est pas une question précédente" in refused.get_data(as_text=True)


def test_only_places_on_the_list_are_accepted(client: FlaskClient, world: World) -> None:
    token = _author(client)
    url = _draft_url(world) + "/items/sleep/move"
    revision = _revision(client.get(url).get_data(as_text=True))
    response = client.post(
        url, data={"csrf_token": token, "revision": revision, "destination": "nowhere:0"}
    )
    assert response.status_code == 422


def test_an_answer_option_is_added_on_the_question_page(client: FlaskClient, world: World) -> None:
    token = _author(client)
    item = _draft_url(world) + "/items/pain_where"
    page = client.get(item).get_data(as_text=True)
    assert 'id="answer-options"' in page and 'name="option-label.fr"' in page
    revision = _revision(page, "option-revision")
    added = client.post(
        item + "/options",
        data={
            "option-csrf_token": token,
            "option-revision": revision,
            "option-value": "chest",
            "option-label.en": "Chest",
            "option-label.fr": "Poitrine",
            "option-score": "",
        },
    )
    assert added.status_code == 302 and added.headers["Location"].endswith("#answer-options")
    page = client.get(item).get_data(as_text=True)
    assert "<code>chest</code>" in page and 'value="Poitrine"' not in page  # labels in cells
    assert ">Poitrine</textarea>" in page
    twice = client.post(
        item + "/options",
        data={
            "option-csrf_token": token,
            "option-revision": _revision(page, "option-revision"),
            "option-value": "chest",
            "option-label.en": "Chest again",
        },
        headers=FRENCH,
    )
    html = twice.get_data(as_text=True)
    assert twice.status_code == 422
    assert "figure deux fois" in html and 'value="Chest again"' in html


def test_a_shared_answer_list_is_edited_and_extended(app: Flask, world: World) -> None:
    client = app.test_client()
    token = _author(client)
    url = _draft_url(world) + "/choice-sets/sleep"
    assert "See or change the list" in client.get(_draft_url(world) + "/items/sleep").get_data(
        as_text=True
    )
    page = client.get(url).get_data(as_text=True)
    assert "Used by the questions sleep." in page
    revision = _revision(page)
    saved = client.post(
        url,
        data={
            "csrf_token": token,
            "revision": revision,
            "choice_sets.sleep.0.label.fr": "Très très bien",
            "choice_sets.sleep.0.score": "5",
        },
    )
    assert saved.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'value="Très très bien"' in page
    # A second person still holding the old revision gets both versions, nothing saved.
    stale = client.post(
        url,
        data={
            "csrf_token": token,
            "revision": revision,
            "choice_sets.sleep.1.label.fr": "Bien dormi",
        },
    )
    html = stale.get_data(as_text=True)
    assert stale.status_code == 409 and 'id="conflict"' in html and "Bien dormi" in html
    not_a_number = client.post(
        url,
        data={"csrf_token": token, "revision": _revision(html), "choice_sets.sleep.1.score": "x"},
    )
    assert not_a_number.status_code == 422
    assert 'id="choice_sets.sleep.1.score-error"' in not_a_number.get_data(as_text=True)
    added = client.post(
        url + "/options",
        data={
            "option-csrf_token": token,
            "option-revision": _revision(html),
            "option-value": "not_at_all",
            "option-label.en": "Not at all",
            "option-score": "0",
        },
    )
    assert added.status_code == 302
    assert "<code>not_at_all</code>" in client.get(url).get_data(as_text=True)
    assert client.get(_draft_url(world) + "/choice-sets/nothing").status_code == 404


def test_translations_go_out_and_come_back_as_xliff(client: FlaskClient, world: World) -> None:
    token = _author(client)
    url = _draft_url(world) + "/translations"
    assert "as XLIFF 2.0 for translation tools" in client.get(url).get_data(as_text=True)
    exported = client.get(url + ".xlf", query_string={"language": "fr"})
    assert exported.status_code == 200 and exported.mimetype == "application/xliff+xml"
    text = exported.get_data(as_text=True)
    assert 'trgLang="fr"' in text and 'id="item.pain.text.self"' in text
    filled = re.sub(
        r'(<unit id="item\.pain\.text\.self".*?<target>)[^<]*(</target>)',
        r"\1Avez-vous eu mal aujourd'hui ?\2",
        text,
        count=1,
        flags=re.S,
    )
    assert filled != text
    uploaded = client.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(filled.encode()), "fr.xlf")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302
    assert "Avez-vous eu mal aujourd&#39;hui ?" in client.get(
        _draft_url(world) + "/items/pain"
    ).get_data(as_text=True)
    broken = filled.replace("</file>", "</fil>")
    line = next(n for n, row in enumerate(broken.splitlines(), start=1) if "</fil>" in row)
    refused = client.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(broken.encode()), "fr.xlf")},
        content_type="multipart/form-data",
        headers=FRENCH,
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert f"ligne {line} : XML mal formé" in html or f"ligne {line}: XML mal formé" in html


def test_the_expression_check_as_typed_speaks_the_pages_language(
    client: FlaskClient, world: World
) -> None:
    _author(client)
    check = client.get(
        _draft_url(world) + "/check.json",
        query_string={"source": "pain >", "part": "pain_where", "field": "show_when"},
        headers=FRENCH,
    ).get_json()
    assert check["ok"] is False and check["column"] == 7
    assert check["message"] == (
        "show_when: à la colonne 7 : une valeur est attendue, trouvé : fin de l'expression"
    )


def test_a_list_question_is_added_with_its_options_or_a_shared_list(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    url = _draft_url(world) + "/items"
    too_few = client.post(
        url,
        data={
            "csrf_token": token,
            "add-id": "appetite",
            "add-type": "single_choice",
            "add-text": "How was your appetite?",
            "add-options": "Good\n",
        },
    )
    assert too_few.status_code == 422 and "at least two answer options" in too_few.get_data(
        as_text=True
    )
    added = client.post(
        url,
        data={
            "csrf_token": token,
            "add-id": "appetite",
            "add-type": "single_choice",
            "add-text": "How was your appetite?",
            "add-options": "Good\nPoor\n",
        },
    )
    assert added.status_code == 302
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    assert "<code>good</code>" in page and "<code>poor</code>" in page
    shared = client.post(
        url,
        data={
            "csrf_token": token,
            "add-id": "nap",
            "add-type": "single_choice",
            "add-text": "How did you sleep during the day?",
            "add-choice_set": "sleep",
        },
    )
    assert shared.status_code == 302
    assert "shared answer list 'sleep'" in client.get(shared.headers["Location"]).get_data(
        as_text=True
    )


def test_the_loaders_warnings_on_a_french_draft_page_are_french(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    added = client.post(
        _draft_url(world) + "/items",
        data={
            "csrf_token": token,
            "add-id": "outside",
            "add-type": "yes_no",
            "add-text": "Did you go outside today?",
        },
    )
    assert added.status_code == 302
    html = client.get(_draft_url(world) + "/", headers=FRENCH).get_data(as_text=True)
    found = re.search(r'<div class="warning">.*?</div>', html, re.S)
    assert found, "no warnings on the page"
    warnings = found.group(0)
    assert "question &#39;outside&#39; : attention : text: pas de texte en &#39;fr&#39;" in (
        warnings
    ), warnings
    assert "readers will see" not in html
