"""Reordering and removing answer options on the question page and the shared answer list
page (issue #15): one button per action, the same conflict and refusal messages as every
edit, in the page's language."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.workspace.world import World, csrf_of, sign_in_page

BASE = "/staff/studies/fatigue/instruments"
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


def _author(client: FlaskClient) -> str:
    sign_in_page(client, "author@example.org")
    return csrf_of(client.get(BASE + "/").get_data(as_text=True))


def _draft_url(world: World) -> str:
    return f"{BASE}/drafts/{world.ids['LYON-0001:draft']}"


def _order_revision(html: str) -> str:
    section = html[html.index('id="option-order"') :]
    found = re.search(r'name="revision" value="(\d+)"', section)
    assert found, "no revision on the order forms"
    return found.group(1)


def _codes(html: str) -> list[str]:
    section = html[html.index('id="option-order"') :]
    section = section[: section.index("</section>")]
    return re.findall(r"<code>([^<]+)</code>", section)


def test_an_option_moves_and_goes_on_the_question_page(client: FlaskClient, world: World) -> None:
    token = _author(client)
    item = _draft_url(world) + "/items/pain_where"
    page = client.get(item).get_data(as_text=True)
    assert _codes(page)[:3] == ["head", "tummy", "back"]
    assert f'action="{item}/options/1/remove"' in page
    assert 'Remove<span class="visually-hidden"> answer option tummy</span>' in page
    revision = _order_revision(page)
    moved = client.post(item + "/options/1/up", data={"csrf_token": token, "revision": revision})
    assert moved.status_code == 302 and moved.headers["Location"].endswith("#option-order")
    page = client.get(item).get_data(as_text=True)
    assert _codes(page)[:3] == ["tummy", "head", "back"]
    # A second person still holding the old revision: nothing changes, they are told why.
    stale = client.post(
        item + "/options/0/remove", data={"csrf_token": token, "revision": revision}
    )
    assert stale.status_code == 409
    assert "Someone else saved item" in stale.get_data(as_text=True)
    removed = client.post(
        item + "/options/0/remove", data={"csrf_token": token, "revision": _order_revision(page)}
    )
    assert removed.status_code == 302
    page = client.get(item).get_data(as_text=True)
    assert "tummy" not in _codes(page)
    assert "Answer option removed." in page
    missing = client.post(
        item + "/options/40/remove", data={"csrf_token": token, "revision": _order_revision(page)}
    )
    assert missing.status_code == 404
    unknown = client.post(
        item + "/options/0/sideways", data={"csrf_token": token, "revision": _order_revision(page)}
    )
    assert unknown.status_code == 404


def test_an_option_skip_logic_uses_is_kept_with_the_reason_in_french(
    client: FlaskClient, world: World
) -> None:
    token = _author(client)
    sleep = _draft_url(world) + "/items/sleep"
    html = client.get(sleep).get_data(as_text=True)
    revision = re.search(r'id="revision" name="revision" type="hidden" value="(\d+)"', html)
    assert revision
    saved = client.post(
        sleep,
        data={
            "csrf_token": token,
            "revision": revision.group(1),
            "show_when": "'head' in pain_where",
        },
    )
    assert saved.status_code == 302
    item = _draft_url(world) + "/items/pain_where"
    page = client.get(item).get_data(as_text=True)
    refused = client.post(
        item + "/options/0/remove",
        data={"csrf_token": token, "revision": _order_revision(page)},
        headers=FRENCH,
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "sleep show_when compare une réponse avec head" in html
    assert "compares an answer" not in html
    assert "head" in _codes(client.get(item).get_data(as_text=True))


def test_a_shared_list_option_moves_and_goes(client: FlaskClient, world: World) -> None:
    token = _author(client)
    url = _draft_url(world) + "/choice-sets/sleep"
    page = client.get(url).get_data(as_text=True)
    assert _codes(page)[0] == "very_well"
    moved = client.post(
        url + "/options/0/down", data={"csrf_token": token, "revision": _order_revision(page)}
    )
    assert moved.status_code == 302 and moved.headers["Location"].endswith("#option-order")
    page = client.get(url).get_data(as_text=True)
    assert _codes(page)[:2] == ["well", "very_well"]
    removed = client.post(
        url + "/options/1/remove", data={"csrf_token": token, "revision": _order_revision(page)}
    )
    assert removed.status_code == 302
    assert "very_well" not in _codes(client.get(url).get_data(as_text=True))
    # The question that uses the list offers no buttons of its own: the list is changed here.
    assert 'id="option-order"' not in client.get(_draft_url(world) + "/items/sleep").get_data(
        as_text=True
    )
