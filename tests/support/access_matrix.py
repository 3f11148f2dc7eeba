"""Machinery for the access matrix (issue #10): every route of the URL map x every kind of
caller x {own site, other site, other study}, against an allowed set written out as data.

How it works
------------
* ``ACTORS`` are the callers: ``anonymous``, a ``participant``'s phone (adult A-1 at site A of
  study "fatigue"), a ``caregiver``'s phone (linked to child A-2 at site A), and one staff user
  per role: ``admin`` and ``patient_group_author`` study-wide on "fatigue",
  ``site_coordinator`` and ``data_manager`` at site A only.
* ``SCOPES`` say whose records the request names: ``own_site`` (site A of "fatigue"; for a
  phone, its own person), ``other_site`` (site B of "fatigue") and ``other_study`` ("sleep").
  ``MatrixWorld.args(actor, scope)`` gives the value of every URL variable for that cell
  (``slug``, ``code``, ``caregiver_id``, ``device_id``, ``pause_id``, ``post_id``, ...) and
  ``person_id`` for bodies and queries.
* Each cell is one request against a fresh copy of the same database (a SQLite snapshot taken
  after the world and every sign-in were made), so a withdraw or delete in one cell cannot
  change another. A cell is *allowed* when authorization let the request through: any status
  but 401, 403, 404 and a redirect to the sign-in page. Requests carry a valid body, so
  validation (which runs before some views check scope) cannot mask a refusal; a 5xx fails.

Adding rows (e.g. the staff pages of /staff/... from branch h/site)
------------------------------------------------------------------
Append an ``Entry`` to the list in ``tests/test_access_matrix.py`` (or extend it from another
module): the method, the rule exactly as ``app.url_map`` spells it, and who may pass::

    Entry("GET", "/staff/studies/<slug>/participants",
          allowed=staff_at(site_scoped=("site_coordinator", "data_manager"),
                           study_wide=("admin",))),
    Entry("POST", "/staff/studies/<slug>/participants/<code>/withdraw",
          form=lambda a: {"reason": "moved"}, allowed=managers()),

Helpers build the common ``allowed`` shapes: ``public()``, ``nobody()``, ``phones()``,
``participant_only()``, ``any_staff()``, ``staff_at(...)`` and ``managers()``; a mapping
``{actor: {scopes}}`` works too. A route of the URL map without an entry fails the test by
name, so a new route cannot ship without a decision about who may reach it. Staff web forms
need a CSRF token: give ``form=`` (sent with the actor's ``csrf_token`` field added) and it
is handled like JSON bodies are.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

ACTORS = (
    "anonymous",
    "participant",
    "caregiver",
    "admin",
    "site_coordinator",
    "data_manager",
    "patient_group_author",
)
PHONES = ("participant", "caregiver")
STAFF = ("admin", "site_coordinator", "data_manager", "patient_group_author")
SITE_SCOPED = ("site_coordinator", "data_manager")
SCOPES = ("own_site", "other_site", "other_study")
ALL = frozenset(SCOPES)
OWN = frozenset({"own_site"})
STUDY = frozenset({"own_site", "other_site"})
DENIED_STATUSES = frozenset({401, 403, 404})

Allowed = Mapping[str, frozenset[str]]
Args = Mapping[str, Any]


def public() -> Allowed:
    return {actor: ALL for actor in ACTORS}


def nobody() -> Allowed:
    return {}


def phones(scopes: frozenset[str] = ALL) -> Allowed:
    return {actor: scopes for actor in PHONES}


def any_staff(scopes: frozenset[str] = ALL) -> Allowed:
    return {actor: scopes for actor in STAFF}


def staff_at(*, site_scoped: Iterable[str] = (), study_wide: Iterable[str] = ()) -> Allowed:
    """Site-scoped roles reach their own site, study-wide roles both sites of their study."""
    return {
        **{actor: OWN for actor in site_scoped},
        **{actor: STUDY for actor in study_wide},
    }


def managers() -> Allowed:
    """MANAGE_PARTICIPANTS: the site coordinator at their site, the admin study-wide."""
    return staff_at(site_scoped=("site_coordinator",), study_wide=("admin",))


def viewers() -> Allowed:
    """VIEW_PARTICIPANTS: coordinator and data manager at their site, the admin study-wide."""
    return staff_at(site_scoped=SITE_SCOPED, study_wide=("admin",))


def merge(*parts: Allowed) -> Allowed:
    merged: dict[str, frozenset[str]] = {}
    for part in parts:
        for actor, scopes in part.items():
            merged[actor] = merged.get(actor, frozenset()) | scopes
    return merged


@dataclass(frozen=True)
class Entry:
    """One route and method, what to send, and who passes authorization where."""

    method: str
    rule: str
    allowed: Allowed
    body: Callable[[Args], Any] | None = None  # JSON body
    form: Callable[[Args], dict[str, str]] | None = None  # staff web form (CSRF added)
    query: Callable[[Args], str] | None = None  # without the "?"
    rename: Mapping[str, str] = field(default_factory=dict)  # URL variable -> args key

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.rule)

    def expected(self) -> set[tuple[str, str]]:
        return {(actor, scope) for actor, scopes in self.allowed.items() for scope in scopes}


def routes_of(app: Flask) -> set[tuple[str, str]]:
    """Every (method, rule) the app serves, HEAD and OPTIONS aside."""
    found = set()
    for rule in app.url_map.iter_rules():
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                found.add((method, rule.rule))
    return found


@dataclass
class Caller:
    """What an actor's client carries: cookies (staff session, CSRF secret) and headers."""

    cookies: dict[str, str]
    headers: dict[str, str]
    csrf: str | None


@dataclass
class MatrixWorld:
    """The snapshot to restore before each cell, the callers, and the URL values per cell."""

    app: Flask
    database: Path
    snapshot: Path
    callers: dict[str, Caller]
    values: Callable[[str, str], dict[str, Any]]

    def args(self, actor: str, scope: str) -> dict[str, Any]:
        return self.values(actor, scope)

    def restore(self) -> None:
        from app.extensions import db

        with self.app.app_context():
            db.engine.dispose()
        shutil.copyfile(self.snapshot, self.database)

    def client_for(self, actor: str) -> FlaskClient:
        client = self.app.test_client()
        for name, value in self.callers[actor].cookies.items():
            client.set_cookie(name, value)
        return client


def url_for_cell(entry: Entry, args: Args) -> str:
    import re

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(args[entry.rename.get(name, name)])

    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, entry.rule)
    if entry.query is not None:
        path += "?" + entry.query(args)
    return path


def run_cell(world: MatrixWorld, entry: Entry, actor: str, scope: str) -> tuple[int, str | None]:
    """Restore the world, send the request, and return its status and any Location."""
    world.restore()
    args = world.args(actor, scope)
    caller = world.callers[actor]
    client = world.client_for(actor)
    headers = dict(caller.headers)
    kwargs: dict[str, Any] = {}
    if entry.method not in ("GET",) and caller.csrf:
        headers["X-CSRFToken"] = caller.csrf
    if entry.body is not None:
        kwargs["json"] = entry.body(args)
    elif entry.form is not None:
        kwargs["data"] = {**entry.form(args), "csrf_token": caller.csrf or ""}
    response = client.open(
        url_for_cell(entry, args), method=entry.method, headers=headers, **kwargs
    )
    status, location = response.status_code, response.headers.get("Location")
    response.close()  # file responses (static, PWA assets) hold the file open until closed
    return status, location


def is_allowed(status: int, location: str | None = None, method: str = "GET") -> bool:
    """Past authorization? A page (GET) that redirects to the sign-in form was refused, and so
    was a form post sent there to sign in first (``?next=``); signing out lands there too,
    without ``next``, and was not refused."""
    if status in DENIED_STATUSES:
        return False
    sent_to_sign_in = status in (302, 303) and bool(location) and "/staff/login" in str(location)
    return not (sent_to_sign_in and (method == "GET" or "next=" in str(location)))
