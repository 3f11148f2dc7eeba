"""Alerts triage and the header's live count."""

from __future__ import annotations

from flask import flash, jsonify, redirect, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.access import Permission
from app.db import utcnow
from app.errors import ChorusError
from app.extensions import db
from app.web.site import forms
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.workspace import alerts as workspace
from app.workspace import common, overview


@bp.get("/alerts/")
@signed_in
def alert_list(slug: str) -> str:
    study = common.study_for(db_session(), staff(), slug, Permission.VIEW_ALERTS)
    found = workspace.triage(db_session(), staff(), study)
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
