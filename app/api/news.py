"""Study news for site staff: post, list, withdraw. Participants read it at /api/v1/me/news.

Staff session and CSRF as every staff endpoint. Posting or withdrawing needs POST_NEWS at the
post's site, or on the whole study for a study-wide post (app.access decides); both are
audited. The list shows study-wide posts and those of the sites you may see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import marshmallow as ma
from flask import Response
from flask.views import MethodView

from app.access import Permission
from app.api import Blueprint, documented_errors
from app.api.schemas import NewsItemSchema, StrictSchema
from app.auth import current_staff, staff_required
from app.extensions import db
from app.news import service as news
from app.news.models import NewsPost
from app.studies import service as studies


class NewsCreateSchema(StrictSchema):
    site = ma.fields.String(
        load_default=None, allow_none=True, metadata={"description": "Site code; null: whole study"}
    )
    language = ma.fields.String(required=True, metadata={"description": "BCP 47, e.g. fr"})
    title = ma.fields.String(required=True)
    body = ma.fields.String(required=True)


class NewsPostSchema(NewsItemSchema):
    """A news post as staff see it, withdrawn ones included."""

    site = ma.fields.Function(
        lambda p: p.site.code if p.site_id is not None else None, dump_only=True
    )
    posted_by = ma.fields.Integer(dump_only=True, allow_none=True)
    withdrawn_at = ma.fields.DateTime(dump_only=True, allow_none=True)


blp = Blueprint(
    "news",
    __name__,
    url_prefix="/api/v1/studies/<slug>/news",
    description="Study news shown in the participant app (site staff)",
)

_ERRORS = [
    (401, "Not signed in"),
    (403, "Outside your sites or role (or CSRF token missing)"),
    (404, "No such study (or news post)"),
]


_document = documented_errors(blp, *_ERRORS)


@blp.route("/")
class NewsCollection(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, NewsPostSchema(many=True))
    @_document()
    def get(self, slug: str) -> list[NewsPost]:
        """Newest first, withdrawn posts included (marked)."""
        user = current_staff()
        study = studies.get_study_for(db.session(), user, slug, Permission.VIEW_STUDY)
        return news.news_for_staff(db.session(), user, study)

    @blp.arguments(NewsCreateSchema)
    @blp.response(201, NewsPostSchema)
    @_document((422, "A field is missing or not valid (named in errors)"))
    def post(self, payload: dict[str, Any], slug: str) -> NewsPost:
        """Post news for one site's participants (`site`), or for the whole study (no site:
        needs a study-wide role)."""
        user = current_staff()
        study = studies.get_study_for(db.session(), user, slug, Permission.VIEW_STUDY)
        site = None
        if payload["site"] is not None:
            site = studies.get_site_for(
                db.session(), user, study, payload["site"], Permission.POST_NEWS
            )
        post = news.post_news(
            db.session(),
            user,
            study,
            site,
            payload["language"],
            payload["title"],
            payload["body"],
        )
        db.session.commit()
        return post


@blp.route("/<int:post_id>")
class NewsItem(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(204)
    @_document()
    def delete(self, slug: str, post_id: int) -> Response:
        """Withdraw: participants no longer see it; it stays on record. Idempotent."""
        user = current_staff()
        study = studies.get_study_for(db.session(), user, slug, Permission.VIEW_STUDY)
        news.withdraw(db.session(), user, news.get_post(db.session(), study, post_id))
        db.session.commit()
        return Response(status=204)
