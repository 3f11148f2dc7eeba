"""Every /staff/ page x every staff role x own site, other site and other study, against the
data in tests/support/site_access_matrix.py (generated from the URL map, so a new page without
an entry fails), and a LYON coordinator never sees a LEEDS code on any page."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import site_access_matrix as matrix
from tests.workspace.world import World, csrf_of, sign_in_page

_PARAM = re.compile(r"<(?:int:)?(\w+)>")


def staff_routes(app: Flask) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff/"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule))
    return found


def url_for_target(rule: str, target: str, world: World) -> str:
    values = matrix.TARGET_VALUES[target]
    code = values["code"]

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        return str(world.ids[f"{code}:{name.removesuffix('_id')}"])

    return _PARAM.sub(fill, rule)


def test_every_staff_route_has_an_entry(app: Flask) -> None:
    missing = [
        (method, rule)
        for method, rule in staff_routes(app)
        if (method, rule) not in matrix.ALLOWED and rule not in matrix.OUTSIDE_A_STUDY
    ]
    assert missing == [], f"add these to tests/support/site_access_matrix.py: {missing}"
    stale = set(matrix.ALLOWED) - set(staff_routes(app))
    assert stale == set()


@pytest.mark.slow
def test_pages_follow_the_matrix(app: Flask, world: World) -> None:
    """One world, every role in turn (each with its own browser session)."""
    wrong: list[str] = []
    for role in matrix.ROLES:
        wrong += _mismatches(app, app.test_client(), world, role)
    assert wrong == []


def _mismatches(app: Flask, client: FlaskClient, world: World, role: str) -> list[str]:
    sign_in_page(client, f"{role}@example.org")
    token = csrf_of(client.get("/staff/").get_data(as_text=True))
    wrong: list[str] = []
    for method, rule in staff_routes(app):
        if rule in matrix.OUTSIDE_A_STUDY:
            continue
        for target in matrix.TARGETS:
            url = url_for_target(rule, target, world)
            expected = matrix.allowed(method, rule, role, target)
            if method == "GET":
                response = client.get(url)
                body = response.get_data(as_text=True)
                ok = response.status_code == 200 if expected else response.status_code in (403, 404)
                if ok and expected and role in ("coord_lyon", "dm_lyon"):
                    # A LYON-scoped member sees nothing of LEEDS on any page.
                    ok = "LEEDS" not in body
            else:
                if expected:
                    continue  # allowed actions are exercised by their own tests
                response = client.post(url, data={"csrf_token": token})
                ok = response.status_code in (403, 404)
            if not ok:
                wrong.append(f"{role} {method} {url}: {response.status_code} (allowed={expected})")
    return wrong


def test_study_switcher_only_opens_your_studies(client: FlaskClient, world: World) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    assert client.get("/staff/go?study=fatigue").status_code == 302
    assert client.get("/staff/go?study=other").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient, world: World) -> None:
    response = client.get("/staff/studies/fatigue/participants/")
    assert response.status_code == 302
    assert "/staff/login?next=" in response.headers["Location"]
