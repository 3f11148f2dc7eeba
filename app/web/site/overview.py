"""Study overview, the study switcher and the language choice."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, session, url_for
from werkzeug.wrappers import Response

from app.db import utcnow
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.web.site.i18n import LANGUAGES, SESSION_KEY
from app.workspace import common, overview

switch_bp = Blueprint("site_switch", __name__, url_prefix="/staff")


@bp.get("/")
@signed_in
def study_overview(slug: str) -> str:
    found = overview.study_overview(db_session(), staff(), slug, utcnow())
    return page("site/overview.html", found.study, overview=found)


@switch_bp.get("/go")
@signed_in
def go_to_study() -> Response:
    """The header's study switcher: a plain GET form, so it works without JavaScript."""
    slug = request.args.get("study", "")
    known = {s.slug for s in common.studies_of(db_session(), staff())}
    if slug not in known:
        abort(404)
    return redirect(url_for("site.study_overview", slug=slug))


@switch_bp.post("/language")
def choose_language() -> Response:
    chosen = request.form.get("lang", "")
    if chosen in LANGUAGES:
        session[SESSION_KEY] = chosen
    back = request.form.get("next", "")
    # Only paths on this site: never an open redirect.
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = url_for("staff.index")
    return redirect(back)
