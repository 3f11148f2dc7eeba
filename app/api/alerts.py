"""Alerts for site staff: urgent answers flagged by instrument rules (rule and severity only)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.access import Permission
from app.api import Blueprint
from app.auth import current_staff, staff_required
from app.db import utcnow
from app.extensions import db
from app.responses import alerts
from app.studies import service as studies

blp = Blueprint(
    "alerts",
    __name__,
    url_prefix="/api/v1/studies/<slug>/alerts",
    description="Alerts for site staff",
)


class AlertQuerySchema(ma.Schema):
    open_only = ma.fields.Boolean(
        load_default=True, metadata={"description": "Only alerts not yet acknowledged"}
    )


class AlertSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    participant_code = ma.fields.String(dump_only=True)
    site_code = ma.fields.String(dump_only=True)
    rule_id = ma.fields.String(dump_only=True)
    severity = ma.fields.String(dump_only=True)
    message = ma.fields.String(dump_only=True)
    raised_at = ma.fields.AwareDateTime(dump_only=True)
    acknowledged_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    repeat = ma.fields.Boolean(
        dump_only=True,
        metadata={"description": "Raised by a repeat answer to a questionnaire already answered"},
    )


@blp.get("/")
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertSchema(many=True))
@blp.alt_response(401, description="Not signed in")
@blp.alt_response(403, description="Your role does not see alerts")
@blp.alt_response(404, description="No such study")
@staff_required
def list_alerts(query: dict[str, Any], slug: str) -> list[alerts.AlertView]:
    """Alerts at the sites you may see, newest first."""
    user = current_staff()
    study = studies.get_study_for(db.session(), user, slug, Permission.VIEW_STUDY)
    found = alerts.list_for(db.session(), user, study, open_only=query["open_only"])
    db.session.commit()  # keeps the audit record of this view
    return found


@blp.post("/<int:alert_id>/acknowledge")
@blp.response(200, AlertSchema)
@blp.alt_response(401, description="Not signed in")
@blp.alt_response(403, description="Not an alert of your site, or CSRF token missing")
@blp.alt_response(404, description="No such alert")
@staff_required
def acknowledge(slug: str, alert_id: int) -> alerts.AlertView:
    user = current_staff()
    study = studies.get_study_for(db.session(), user, slug, Permission.VIEW_STUDY)
    view = alerts.acknowledge(db.session(), user, study, alert_id, now=utcnow())
    db.session.commit()
    return view
