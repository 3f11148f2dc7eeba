"""The co-design pages over HTTP (issue #15): starting drafts (new, upload of YAML, XLSForm and
FHIR files with the import report or the problems per item), the expression check as typed and
on saving, two people saving one item (the conflict page shows both versions), the preview's
staff-only instrument and framable shell, translations and feedback rates."""

from __future__ import annotations

import io
import re
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.codesign.models import Draft
from app.responses.models import Response
from tests.workspace.world import World, csrf_of, sign_in_page

ROOT = Path(__file__).resolve().parents[2]
INTEROP = ROOT.parent / "shared" / "interop"
BASE = "/staff/studies/fatigue/instruments"


def _author(client: FlaskClient) -> str:
    sign_in_page(client, "author@example.org")
    return csrf_of(client.get(BASE + "/").get_data(as_text=True))


def _draft_url(world: World) -> str:
    return f"{BASE}/drafts/{world.ids['LYON-0001:draft']}"


def _revision(html: str) -> str:
    found = re.search(r'name="revision" type="hidden" value="(\d+)"', html) or re.search(
        r'id="revision" name="revision" type="hidden" value="(\d+)"', html
    )
    assert found, "no revision on the form"
    return found.group(1)


def test_author_creates_a_draft_after_a_field_error(client: FlaskClient, world: World) -> None:
    token = _author(client)
    refused = client.post(
        BASE + "/new",
        data={"csrf_token": token, "new-instrument_key": "Bad Name", "new-title": "Sleep"},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'class="error-summary"' in html and "lower-case letters" in html.lower()
    made = client.post(
        BASE + "/new",
        data={
            "csrf_token": token,
            "new-instrument_key": "sleep_diary",
            "new-title": "Sleep diary",
            "new-language": "en",
            "new-respondents": "both",
        },
    )
    assert made.status_code == 302
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "Sleep diary" in page and "sleep_diary 1.0.0" in page


def test_coordinator_may_comment_but_not_create(client: FlaskClient, world: World) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    token = csrf_of(client.get(BASE + "/").get_data(as_text=True))
    refused = client.post(
        BASE + "/new",
        data={"csrf_token": token, "new-instrument_key": "x", "new-title": "X"},
    )
    assert refused.status_code == 403
    commented = client.post(
        _draft_url(world) + "/comments", data={"csrf_token": token, "body": "Looks clear."}
    )
    assert commented.status_code == 302
    assert "Looks clear." in client.get(_draft_url(world) + "/").get_data(as_text=True)


def test_skip_logic_checked_as_typed_and_on_saving_with_the_same_words(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    check = client.get(
        _draft_url(world) + "/check.json",
        query_string={"source": "pain >", "part": "pain_where", "field": "show_when"},
    ).get_json()
    assert check["ok"] is False and check["column"] == 7
    url = _draft_url(world) + "/items/pain_where"
    revision = _revision(client.get(url).get_data(as_text=True))
    refused = client.post(
        url, data={"csrf_token": token, "revision": revision, "show_when": "pain >"}
    )
    assert refused.status_code == 422
    assert check["message"] in refused.get_data(as_text=True)
    assert client.get(
        _draft_url(world) + "/check.json",
        query_string={"source": "pain >= 2", "part": "pain_where", "field": "show_when"},
    ).get_json() == {"ok": True, "message": None, "column": None}
    saved = client.post(
        url, data={"csrf_token": token, "revision": revision, "show_when": "pain >= 2"}
    )
    assert saved.status_code == 302
    assert "pain &gt;= 2" in client.get(url).get_data(as_text=True)


def test_two_people_saving_one_item_get_the_conflict_with_both_versions(
    app, client: FlaskClient, world: World
) -> None:
    url = _draft_url(world) + "/items/fatigue"
    first = client
    first_token = _author(first)
    second = app.test_client()
    sign_in_page(second, "admin@example.org")
    page = second.get(url).get_data(as_text=True)
    second_token, revision = csrf_of(page), _revision(page)
    assert _revision(first.get(url).get_data(as_text=True)) == revision

    saved = first.post(
        url,
        data={
            "csrf_token": first_token,
            "revision": revision,
            "required": "y",
            "text.self.en": "How tired were you today?",
        },
    )
    assert saved.status_code == 302
    conflict = second.post(
        url,
        data={
            "csrf_token": second_token,
            "revision": revision,
            "required": "y",
            "text.self.en": "How worn out did you feel today?",
        },
    )
    html = conflict.get_data(as_text=True)
    assert conflict.status_code == 409
    assert "Someone else saved this question" in html
    assert "How worn out did you feel today?" in html  # yours, not saved
    assert "How tired were you today?" in html  # theirs, saved
    assert _revision(html) == str(int(revision) + 1)


def test_a_yaml_upload_with_problems_is_refused_per_item(client: FlaskClient, world: World) -> None:
    token = _author(client)
    text = (ROOT / "instruments" / "gad7.yaml").read_text("utf-8")
    broken = text.replace("id: gad7", "id: gad7_local", 1).replace(
        "type: single_choice", "type: nonsense", 1
    )
    response = client.post(
        BASE + "/upload",
        data={"csrf_token": token, "upload-file": (io.BytesIO(broken.encode()), "gad7_local.yaml")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="upload-problems"' in html and "nonsense" in html


def test_xlsform_and_fhir_uploads_become_drafts_with_the_import_report(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    token = _author(client)
    before = db_session.scalar(select(func.count()).select_from(Draft))
    for path in (
        INTEROP / "xlsform" / "group.xlsx",
        INTEROP / "fhir" / "questionnaire" / "lforms-apgar-itemweight.json",
    ):
        response = client.post(
            BASE + "/upload",
            data={"csrf_token": token, "upload-file": (io.BytesIO(path.read_bytes()), path.name)},
            content_type="multipart/form-data",
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 200, html[:2000]
        assert "File imported as a draft" in html and "Import report" in html
    assert db_session.scalar(select(func.count()).select_from(Draft)) == before + 2


def test_preview_instrument_is_staff_only_and_the_shell_may_be_framed_here_only(
    app, client: FlaskClient, world: World, db_session: Session
) -> None:
    _author(client)
    rendered = client.get(
        _draft_url(world) + "/preview.json", query_string={"language": "fr", "respondent": "proxy"}
    ).get_json()
    assert rendered["language"] == "fr" and rendered["respondent"] == "proxy"
    fatigue = next(i for p in rendered["pages"] for i in p["items"] if i["id"] == "fatigue")
    assert fatigue["text"].startswith("À quel point votre enfant")
    shell = client.get(BASE + "/preview-app/", query_string={"instrument": "/x"})
    assert "frame-ancestors 'self'" in shell.headers["Content-Security-Policy"]
    assert shell.headers["X-Frame-Options"] == "SAMEORIGIN"
    stranger = app.test_client()
    sign_in_page(stranger, "dm@example.org")
    assert stranger.get(_draft_url(world) + "/preview.json").status_code == 403
    # Nothing here writes answers: the preview only reads the draft.
    assert db_session.scalar(select(func.count()).select_from(Response)) == 3


def test_translation_is_stale_after_its_source_changes(client: FlaskClient, world: World) -> None:
    token = _author(client)
    url = _draft_url(world) + "/items/fatigue"
    revision = _revision(client.get(url).get_data(as_text=True))
    client.post(
        url,
        data={
            "csrf_token": token,
            "revision": revision,
            "required": "y",
            "text.self.en": "How tired were you today?",
        },
    )
    page = client.get(_draft_url(world) + "/translations").get_data(as_text=True)
    assert re.search(r'data-language="fr">.*?data-stale="1"', page, re.S)
    csv = client.get(_draft_url(world) + "/translations.csv", query_string={"language": "fr"})
    assert csv.status_code == 200 and "How tired were you today?" in csv.get_data(as_text=True)


def test_feedback_shows_rates_per_item_never_who(client: FlaskClient, world: World) -> None:
    _author(client)
    html = client.get(BASE + "/feedback", query_string={"instrument": "phq9"}).get_data(
        as_text=True
    )
    assert 'data-version="1.1.0"' in html and 'data-item="phq9_9"' in html
    assert "LYON-0001" not in html


def test_instrument_settings_edit_titles_and_refuse_a_bad_alert_rule(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    url = _draft_url(world) + "/settings"
    page = client.get(url).get_data(as_text=True)
    assert 'data-field="alerts.0.when"' in page
    revision = _revision(page)
    refused = client.post(
        url, data={"csrf_token": token, "revision": revision, "alerts.0.when": "pain >>"}
    )
    assert refused.status_code == 422
    assert 'id="alerts.0.when-error"' in refused.get_data(as_text=True)
    saved = client.post(
        url,
        data={"csrf_token": token, "revision": revision, "title.fr": "Mon journal du jour"},
    )
    assert saved.status_code == 302
    assert 'value="Mon journal du jour"' in client.get(url).get_data(as_text=True)


def test_the_study_team_sets_the_readability_target(app, client: FlaskClient, world: World) -> None:
    token = _author(client)
    url = _draft_url(world) + "/readability"
    assert client.post(url, data={"csrf_token": token, "grade": "6"}).status_code == 403
    coordinator = app.test_client()
    sign_in_page(coordinator, "coord_lyon@example.org")
    token = csrf_of(coordinator.get(url).get_data(as_text=True))
    assert coordinator.post(url, data={"csrf_token": token, "grade": "99"}).status_code == 422
    assert coordinator.post(url, data={"csrf_token": token, "grade": "6"}).status_code == 302
    assert "school grade 6.0" in client.get(url).get_data(as_text=True)


def test_removing_a_question_is_confirmed_and_refused_while_logic_uses_it(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    url = _draft_url(world) + "/items/pain/remove"
    confirm = client.get(url).get_data(as_text=True)
    assert "Remove question pain?" in confirm
    revision = re.search(r'name="revision" value="(\d+)"', confirm)
    assert revision
    refused = client.post(url, data={"csrf_token": token, "revision": revision.group(1)})
    assert refused.status_code == 422  # pain_where's skip logic and the alert use it
    assert "pain_where" in refused.get_data(as_text=True)
    notes = _draft_url(world) + "/items/anything_else/remove"
    revision = re.search(r'name="revision" value="(\d+)"', client.get(notes).get_data(as_text=True))
    assert revision
    removed = client.post(notes, data={"csrf_token": token, "revision": revision.group(1)})
    assert removed.status_code == 302
    assert "/items/anything_else" not in client.get(_draft_url(world) + "/").get_data(as_text=True)


def test_a_comment_on_one_field_of_a_question(client: FlaskClient, world: World) -> None:
    token = _author(client)
    item = _draft_url(world) + "/items/fatigue"
    assert '<option value="text.proxy.fr">' in client.get(item).get_data(as_text=True)
    response = client.post(
        _draft_url(world) + "/comments",
        data={
            "csrf_token": token,
            "part_key": "fatigue",
            "path": "text.proxy.fr",
            "body": "Plus simple ?",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/items/fatigue#comments"
    )
    assert "on text.proxy.fr" in client.get(item).get_data(as_text=True)
