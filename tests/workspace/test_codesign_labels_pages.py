"""French co-design pages name the places of their problems in French: the ``item 'x'
field`` labels in error summaries, the instrument-wide heading of an upload's problems and
the lines of a translation file (issue #15). Fails if any of them comes back in English."""

from __future__ import annotations

import io
import re
from pathlib import Path

from flask.testing import FlaskClient

from tests.workspace.world import World, csrf_of, sign_in_page

ROOT = Path(__file__).resolve().parents[2]
BASE = "/staff/studies/fatigue/instruments"
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


def _author(client: FlaskClient) -> str:
    sign_in_page(client, "author@example.org")
    return csrf_of(client.get(BASE + "/").get_data(as_text=True))


def _draft_url(world: World) -> str:
    return f"{BASE}/drafts/{world.ids['LYON-0001:draft']}"


def _summary(html: str) -> str:
    start = html.index('class="error-summary"')
    return html[start : html.index("</div>", start)]


def test_a_refused_removal_names_the_other_question_in_french(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    url = _draft_url(world) + "/items/pain/remove"
    page = client.get(url, headers=FRENCH).get_data(as_text=True)
    revision = re.search(r'name="revision" value="(\d+)"', page)
    assert revision
    refused = client.post(
        url, data={"csrf_token": token, "revision": revision.group(1)}, headers=FRENCH
    )
    assert refused.status_code == 422
    summary = _summary(refused.get_data(as_text=True))
    assert "question &#39;pain_where&#39; show_when" in summary
    assert "item &#39;" not in summary
    english = client.post(
        url,
        data={"csrf_token": token, "revision": revision.group(1)},
        headers={"Accept-Language": "en"},
    )
    assert "item &#39;pain_where&#39; show_when" in _summary(english.get_data(as_text=True))


def test_an_uploads_problems_are_headed_in_french(client: FlaskClient, world: World) -> None:
    token = _author(client)
    text = (ROOT / "instruments" / "gad7.yaml").read_text("utf-8")
    broken = (
        text.replace("id: gad7", "id: gad7_local", 1).replace(
            "type: single_choice", "type: nonsense", 1
        )
        + "\ncolour: red\n"
    )
    response = client.post(
        BASE + "/upload",
        data={"csrf_token": token, "upload-file": (io.BytesIO(broken.encode()), "gad7_local.yaml")},
        content_type="multipart/form-data",
        headers=FRENCH,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    problems = html[html.index('id="upload-problems"') :]
    headings = re.findall(r"<dt>([^<]*)</dt>", problems)
    assert "L&#39;instrument dans son ensemble" in headings, headings
    assert any(h.startswith("question &#39;") for h in headings), headings
    assert not any(h == "instrument" or h.startswith("item ") for h in headings), headings


def test_a_translation_files_lines_are_named_in_french_only(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    url = _draft_url(world) + "/translations"
    exported = client.get(url + ".xlf", query_string={"language": "fr"}).get_data(as_text=True)
    broken = exported.replace("</file>", "</fil>")
    refused = client.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(broken.encode()), "fr.xlf")},
        content_type="multipart/form-data",
        headers=FRENCH,
    )
    assert refused.status_code == 422
    summary = _summary(refused.get_data(as_text=True))
    assert "ligne " in summary and "line " not in summary
