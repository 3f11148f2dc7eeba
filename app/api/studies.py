"""Studies and sites, as far as the signed-in staff user may see them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flask.views import MethodView

from app import access
from app.access import Permission
from app.api import Blueprint
from app.api.schemas import SiteCreateSchema, SiteSchema, StudyDetailSchema, StudySummarySchema
from app.auth import current_staff, staff_required
from app.extensions import db
from app.studies import service as studies
from app.studies.models import Site, Study

blp = Blueprint(
    "studies", __name__, url_prefix="/api/v1/studies", description="Studies and their sites"
)


@blp.route("/")
class StudyList(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, StudySummarySchema(many=True))
    @blp.alt_response(401, description="Not signed in")
    def get(self) -> list[Study]:
        """Studies you are a member of."""
        return studies.studies_for(db.session(), current_staff())


@blp.route("/<slug>")
class StudyDetail(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, StudyDetailSchema)
    @blp.alt_response(401, description="Not signed in")
    @blp.alt_response(404, description="No such study, or you are not a member")
    def get(self, slug: str) -> dict[str, Any]:
        """A study with the sites you may see (a site coordinator sees only their own site)."""
        user = current_staff()
        study = studies.get_study_for(db.session(), user, slug, Permission.VIEW_STUDY)
        return {"slug": study.slug, "name": study.name, "sites": studies.visible_sites(user, study)}


@blp.route("/<slug>/sites")
class SiteCollection(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SiteSchema)
    @blp.alt_response(401, description="Not signed in")
    @blp.alt_response(403, description="Only study admins add sites")
    @blp.alt_response(404, description="No such study")
    @blp.alt_response(409, description="The study already has a site with that code")
    @blp.alt_response(422, description="A field is missing or malformed")
    def post(self, payload: dict[str, str], slug: str) -> Site:
        user = current_staff()
        study = studies.get_study_for(db.session(), user, slug, Permission.VIEW_STUDY)
        access.require(user.memberships, Permission.MANAGE_STUDY, study.id)
        site = studies.add_site(
            db.session(),
            study,
            code=payload["code"],
            name=payload["name"],
            actor=f"staff:{user.id}",
        )
        db.session.commit()
        return site


@blp.route("/<slug>/sites/<code>")
class SiteDetail(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, SiteSchema)
    @blp.alt_response(401, description="Not signed in")
    @blp.alt_response(403, description="The site is not one of yours")
    @blp.alt_response(404, description="No such study or site")
    def get(self, slug: str, code: str) -> Site:
        user = current_staff()
        study = studies.get_study_for(db.session(), user, slug, Permission.VIEW_STUDY)
        return studies.get_site_for(db.session(), user, study, code, Permission.VIEW_STUDY)
