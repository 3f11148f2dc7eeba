"""The staff sign-in page and a first workspace page listing the studies you belong to.

Same services as the JSON API; forms carry Flask-WTF's CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.accounts import service as accounts
from app.auth import client_ip, login_throttle_policy, sign_in, sign_out
from app.db import utcnow
from app.errors import ChorusError
from app.extensions import db
from app.studies import service as studies

bp = Blueprint("staff", __name__)


@bp.get("/")
def index() -> Response | str:
    if g.get("staff_user") is not None:
        return redirect(url_for("staff.home"))
    return render_template("index.html")


@bp.route("/staff/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    if request.method == "GET":
        return render_template("staff/login.html", error=None, email="")
    email = request.form.get("email", "")
    outcome = accounts.authenticate(
        db.session(),
        email=email,
        password=request.form.get("password", ""),
        totp_code=request.form.get("totp_code") or None,
        client_ip=client_ip(),
        policy=login_throttle_policy(),
        now=utcnow(),
    )
    db.session.commit()
    if isinstance(outcome, ChorusError):
        return render_template("staff/login.html", error=outcome, email=email), outcome.status
    sign_in(outcome)
    db.session.commit()
    from app.web.site.i18n import remember_language

    remember_language(outcome.language)
    back = request.args.get("next", "")
    # Only a workspace path on this site: never an open redirect.
    if back.startswith("/staff/") and not back.startswith("//"):
        return redirect(back)
    return redirect(url_for("staff.home"))


@bp.post("/staff/logout")
def logout() -> Response:
    sign_out()
    db.session.commit()
    return redirect(url_for("staff.login"))


@bp.get("/staff/")
def home() -> Response | str:
    user = g.get("staff_user")
    if user is None:
        return redirect(url_for("staff.login"))
    rows = [
        (study, studies.visible_sites(user, study))
        for study in studies.studies_for(db.session(), user)
    ]
    return render_template("staff/home.html", user=user, studies=rows)
