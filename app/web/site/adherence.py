"""The adherence dashboard (grid, weekly completion chart and table) and its CSV download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import request
from werkzeug.wrappers import Response

from app.access import Permission
from app.db import utcnow
from app.errors import Invalid
from app.extensions import db
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.workspace import adherence as workspace
from app.workspace import common


def _query() -> workspace.GridQuery:
    def number(name: str, default: int | None) -> int | None:
        raw = request.args.get(name, "")
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise Invalid(errors={name: ["Enter a whole number."]}) from None

    return workspace.GridQuery(
        schedule_id=number("schedule", None),
        site=request.args.get("site", ""),
        days=number("days", 14) or 14,
        page=number("page", 1) or 1,
    )


@bp.get("/adherence/")
@signed_in
def adherence(slug: str) -> str:
    study = common.study_for(db_session(), staff(), slug, Permission.VIEW_PARTICIPANTS)
    grid = workspace.grid(db_session(), staff(), study, _query(), utcnow())
    return page("site/adherence.html", study, grid=grid)


@bp.get("/adherence/weekly")
@signed_in
def adherence_weekly(slug: str) -> str:
    study = common.study_for(db_session(), staff(), slug, Permission.VIEW_PARTICIPANTS)
    found = workspace.weekly(db_session(), staff(), study, _query(), utcnow())
    return page("site/adherence_weekly.html", study, weekly=found)


@bp.get("/adherence.csv")
@signed_in
def adherence_csv(slug: str) -> Response:
    study = common.study_for(db_session(), staff(), slug, Permission.VIEW_PARTICIPANTS)
    rows = workspace.grid_csv_rows(db_session(), staff(), study, _query(), utcnow())
    db.session.commit()  # the audit event of the download

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for start in range(0, len(rows), 2000):
            writer.writerows(rows[start : start + 2000])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="adherence-{study.slug}.csv"'},
    )
