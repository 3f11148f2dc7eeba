"""Alerts triage (acknowledge, resolve with an outcome and a note) and the header's live count."""

from __future__ import annotations

from flask import flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.access import Permission
from app.db import utcnow
from app.errors import ChorusError, Invalid
from app.extensions import db
from app.web.site import forms
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.workspace import alerts as workspace
from app.workspace import common, overview


@bp.get("/alerts/")
@signed_in
def alert_list(slug: str) -> str | tuple[str, int]:
    """Open, acknowledged and resolved alerts; ?status= shows one group only."""
    study = common.study_for(db_session(), staff(), slug, Permission.VIEW_ALERTS)
    status = request.args.get("status", "")[:20]
    try:
        found = workspace.triage(db_session(), staff(), study, status)
    except Invalid as error:
        db.session.rollback()
        found = workspace.triage(db_session(), staff(), study)
        html = page(
            "site/alerts.html",
            study,
            triage=found,
            form=forms.AcknowledgeForm(),
            now=utcnow(),
            filter_errors=error.errors,
        )
        return html, 422
    return page("site/alerts.html", study, triage=found, form=forms.AcknowledgeForm(), now=utcnow())


@bp.get("/alerts/count.json")
@signed_in
def alert_count(slug: str) -> Response:
    """For the header's counter (static/workspace.js); a count, naming nobody."""
    study = common.study_for(db_session(), staff(), slug, Permission.VIEW_ALERTS)
    count = overview.open_alert_count(db_session(), staff(), study)
    return jsonify({"open": count})


@bp.post("/alerts/<int:alert_id>/acknowledge")
@signed_in
def acknowledge(slug: str, alert_id: int) -> Response | tuple[str, int]:
    study = common.study_for(db_session(), staff(), slug, Permission.VIEW_ALERTS)
    form = forms.AcknowledgeForm()
    if form.validate_on_submit():
        try:
            workspace.acknowledge(
                db_session(), staff(), study, alert_id, form.note.data or "", utcnow()
            )
        except ChorusError as error:
            if error.status != 422:
                raise
            db.session.rollback()
            forms.attach_errors(form, error.errors)
        else:
            db.session.commit()
            flash(_("Alert acknowledged."))
            return redirect(url_for("site.alert_list", slug=slug))
    found = workspace.triage(db_session(), staff(), study)
    return page("site/alerts.html", study, triage=found, form=form, now=utcnow()), 422


@bp.route("/alerts/<int:alert_id>/resolve", methods=["GET", "POST"])
@signed_in
def resolve(slug: str, alert_id: int) -> Response | str | tuple[str, int]:
    """GET: the alert and the resolve form; POST: close it with the outcome and the note. An
    alert already resolved shows who resolved it, when and how (POST: 409)."""
    study = common.study_for(db_session(), staff(), slug, Permission.VIEW_ALERTS)
    # Access is checked here, before the form: a refusal is a 403/404, never a form error.
    alert = workspace.alert_for_resolving(db_session(), staff(), study, alert_id)
    form = forms.ResolveForm()
    if request.method == "POST" and alert.status == "resolved":
        return page("site/resolve_alert.html", study, alert=alert, form=form), 409
    if form.validate_on_submit():
        with forms.saving(form, field="note") as change:
            workspace.resolve(
                db_session(),
                staff(),
                study,
                alert_id,
                outcome=form.outcome.data or "",
                note=form.note.data or "",
                now=utcnow(),
            )
        if change.saved:
            flash(_("Alert for %(code)s resolved.", code=alert.participant_code))
            return redirect(url_for("site.alert_list", slug=slug))
        # The refusal rolled back this request's audit event of the view: record it again.
        alert = workspace.alert_for_resolving(db_session(), staff(), study, alert_id)
    status = 422 if form.errors or form.form_errors else 200
    return page("site/resolve_alert.html", study, alert=alert, form=form), status
