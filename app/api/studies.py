"""Studies and sites, as far as the signed-in staff user may see them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from app.access import Permission
from app.api import Blueprint
from app.api.schemas import StrictSchema
from app.auth import current_staff, staff_required
from app.extensions import db
from app.studies import service as studies
from app.studies.models import Site, Study
from app.workspace import staff


class SiteSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)


class SiteCreateSchema(StrictSchema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class StudySummarySchema(ma.Schema):
    slug = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)


class StudyDetailSchema(StudySummarySchema):
    sites = ma.fields.List(
        ma.fields.Nested(SiteSchema),
        dump_only=True,
        metadata={"description": "Only the sites you may see"},
    )


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
        site = staff.add_site(db.session(), user, study, code=payload["code"], name=payload["name"])
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


class SafetyContactsSchema(ma.Schema):
    site = ma.fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "A site code for that site's own contacts; omit for the study's"},
    )
    contacts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={
            "description": "Language → who to contact for help, shown to participants under an "
            "instrument's safety message, e.g. {'en': 'Call the study nurse on 01 23 45 67 89 "
            "(weekdays 9-17) or 3114, the suicide prevention line, any time.'}. Replaces the "
            "previous contacts; a blank text removes that language."
        },
    )


class SafetyContactsViewSchema(ma.Schema):
    study = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), dump_only=True)
    sites = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String()),
        dump_only=True,
        metadata={"description": "Site code → that site's own contacts (the sites you may see)"},
    )


@blp.route("/<slug>/safety-contacts")
class SafetyContacts(MethodView):
    """Where participants can get help, shown with an instrument's safety message (#11)."""

    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, SafetyContactsViewSchema)
    @blp.alt_response(401, description="Not signed in")
    @blp.alt_response(404, description="No such study, or you are not a member")
    def get(self, slug: str) -> dict[str, Any]:
        """The study's contacts and those of each site you may see."""
        user = current_staff()
        study = studies.get_study_for(db.session(), user, slug, Permission.VIEW_STUDY)
        sites = studies.visible_sites(user, study)
        return {
            "study": study.safety_contacts,
            "sites": {site.code: site.safety_contacts for site in sites},
        }

    @blp.arguments(SafetyContactsSchema)
    @blp.response(200, SafetyContactsViewSchema)
    @blp.alt_response(401, description="Not signed in")
    @blp.alt_response(
        403, description="The study's contacts need a study-wide manager; a site's, its manager"
    )
    @blp.alt_response(404, description="No such study or site")
    @blp.alt_response(422, description="A language code is not valid or a text is too long")
    def put(self, payload: dict[str, Any], slug: str) -> dict[str, Any]:
        """Set the study's contacts, or one site's own."""
        user = current_staff()
        session = db.session()
        study = studies.get_study_for(session, user, slug, Permission.VIEW_STUDY)
        studies.set_safety_contacts(
            session, user, study, payload["contacts"], site_code=payload["site"]
        )
        db.session.commit()
        sites = studies.visible_sites(user, study)
        return {
            "study": study.safety_contacts,
            "sites": {site.code: site.safety_contacts for site in sites},
        }
