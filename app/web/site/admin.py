"""Schedules, news, the audit viewer and the staff member's own second factor."""

from __future__ import annotations

import base64
import datetime as dt
import io

import segno
from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from app.access import Permission
from app.accounts import service as accounts
from app.db import utcnow
from app.errors import ChorusError, Forbidden
from app.extensions import db
from app.web.site import forms
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.workspace import audit_log, common
from app.workspace import news as news_workspace
from app.workspace import schedules as schedule_workspace

account_bp = Blueprint("account", __name__, url_prefix="/staff/account")


@bp.get("/schedules/")
@signed_in
def schedule_list(slug: str) -> str:
    study = common.study_for(db_session(), staff(), slug)
    rows, may_manage = schedule_workspace.list_for(db_session(), staff(), study)
    return page(
        "site/schedules.html",
        study,
        schedules=rows,
        may_manage=may_manage,
        button=forms.EmptyForm(),
    )


@bp.route("/schedules/<int:schedule_id>/retire", methods=["GET", "POST"])
@signed_in
def retire_schedule(slug: str, schedule_id: int) -> Response | str:
    """GET: the confirm page (retiring cannot be undone); POST: retire."""
    study = common.study_for(db_session(), staff(), slug, Permission.MANAGE_STUDY)
    rows, _may = schedule_workspace.list_for(db_session(), staff(), study)
    schedule = next((s for s in rows if s.id == schedule_id), None)
    form = forms.EmptyForm()
    if schedule is not None and form.validate_on_submit():
        schedule_workspace.retire(db_session(), staff(), study, schedule_id, utcnow())
        db.session.commit()
        flash(_("Schedule retired."))
        return redirect(url_for("site.schedule_list", slug=slug))
    if schedule is None:
        schedule_workspace.retire(db_session(), staff(), study, schedule_id, utcnow())  # 404
    return page("site/retire_schedule.html", study, schedule=schedule, form=form)


@bp.route("/news/", methods=["GET", "POST"])
@signed_in
def news(slug: str) -> str | Response | tuple[str, int]:
    study = common.study_for(db_session(), staff(), slug)
    study_wide, sites = news_workspace.sites_for_posting(staff(), study)
    form = forms.NewsForm()
    choices = [SelectChoice("", _("Everyone in the study"))] if study_wide else []
    form.site.choices = choices + [
        SelectChoice(s.code, _("Participants at %(site)s", site=s.name)) for s in sites
    ]
    preview = None
    status = 200
    if request.method == "POST" and not form.site.choices:
        raise Forbidden()  # the role posts no news anywhere in this study
    if request.method == "POST" and form.validate_on_submit():
        if request.form.get("action") == "preview":
            preview = {
                "title": form.title.data,
                "body": form.body.data,
                "language": form.language.data,
            }
        else:
            with forms.saving(form, field="title") as change:
                news_workspace.post(
                    db_session(),
                    staff(),
                    study,
                    site_code=form.site.data or "",
                    language=form.language.data or "en",
                    title=form.title.data or "",
                    body=form.body.data or "",
                )
            if change.saved:
                flash(_("News posted."))
                return redirect(url_for("site.news", slug=slug))
    if form.errors or form.form_errors:
        status = 422
    posts = news_workspace.news_page(db_session(), staff(), study)
    return page(
        "site/news.html",
        study,
        posts=posts,
        form=form,
        preview=preview,
        may_post=bool(form.site.choices),
        button=forms.EmptyForm(),
    ), status


@bp.post("/news/<int:post_id>/withdraw")
@signed_in
def withdraw_news(slug: str, post_id: int) -> Response:
    study = common.study_for(db_session(), staff(), slug)
    news_workspace.withdraw(db_session(), staff(), study, post_id)
    db.session.commit()
    flash(_("News withdrawn: participants no longer see it."))
    return redirect(url_for("site.news", slug=slug))


@bp.get("/audit/")
@signed_in
def audit_events(slug: str) -> str:
    study = common.study_for(db_session(), staff(), slug, Permission.VIEW_AUDIT)
    since = None
    raw_since = request.args.get("since", "")
    if raw_since:
        try:
            since = dt.date.fromisoformat(raw_since)
        except ValueError:
            since = None
    query = audit_log.AuditQuery(
        action=request.args.get("action", "").strip(),
        actor=request.args.get("actor", "").strip(),
        target=request.args.get("target", "").strip(),
        since=since,
    )
    found = audit_log.study_events(db_session(), staff(), study, query)
    return page("site/audit.html", study, result=found, query=query, raw_since=raw_since)


def _qr(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=4)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@account_bp.route("/authenticator", methods=["GET", "POST"])
@signed_in
def authenticator() -> Response | str | tuple[str, int]:
    """Set up a TOTP authenticator app for one's own account: a secret shown as a QR code and
    as text, confirmed by a current code before sign-in asks for it."""
    from flask import render_template

    user = g.staff_user
    form = forms.TotpForm()
    if request.method == "POST" and request.form.get("start") and not user.totp_enabled:
        uri = accounts.begin_totp_enrolment(db_session(), user)
        db.session.commit()
        secret = uri.split("secret=")[1].split("&")[0]
        return render_template(
            "site/authenticator.html", user=user, form=form, qr=_qr(uri), secret=secret
        )
    if form.validate_on_submit():
        try:
            accounts.confirm_totp_enrolment(db_session(), user, form.code.data or "", utcnow())
        except ChorusError as error:
            db.session.rollback()
            forms.attach_errors(form, error.errors)
        else:
            db.session.commit()
            flash(_("Your authenticator app is set up: sign-in will ask for its code."))
            return redirect(url_for("staff.home"))
    status = 422 if form.errors else 200
    return render_template(
        "site/authenticator.html", user=user, form=form, qr=None, secret=None
    ), status
