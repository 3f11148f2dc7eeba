"""Create studies and sites, grant memberships, and list what a staff user may see."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import access
from app.access import ALL_SITES, Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.db import insert_unique
from app.errors import Conflict, Invalid, NotFound
from app.studies.models import Membership, Role, Site, Study

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_SITE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def create_study(session: Session, *, slug: str, name: str, actor: str) -> Study:
    if not _SLUG.match(slug):
        raise Invalid(
            errors={
                "slug": ["Use 2-63 lower-case letters, digits and dashes, e.g. 'fatigue-2026'."]
            }
        )
    study = Study(slug=slug, name=name.strip())
    if not insert_unique(session, study):
        raise Conflict(f"A study with slug '{slug}' already exists.")
    audit.record(session, actor=actor, action="study.created", target=f"study:{study.id}")
    return study


def add_site(session: Session, study: Study, *, code: str, name: str, actor: str) -> Site:
    if not _SITE_CODE.match(code):
        raise Invalid(errors={"code": ["Use up to 32 letters, digits, '-' or '_', e.g. 'LYON'."]})
    site = Site(study_id=study.id, code=code, name=name.strip())
    if not insert_unique(session, site):
        raise Conflict(f"Study '{study.slug}' already has a site with code '{code}'.")
    audit.record(
        session,
        actor=actor,
        action="site.created",
        target=f"site:{site.id}",
        details={"study_id": study.id},
    )
    return site


def grant(
    session: Session, user: StaffUser, study: Study, role: Role, *, site: Site | None, actor: str
) -> Membership:
    if site is not None and site.study_id != study.id:
        raise Invalid(errors={"site": [f"Site '{site.code}' is not part of study '{study.slug}'."]})
    membership = Membership(
        user_id=user.id, study_id=study.id, site_id=site.id if site else None, role=str(role)
    )
    if not insert_unique(session, membership):
        raise Conflict("That person already has this role there.")
    audit.record(
        session,
        actor=actor,
        action="membership.granted",
        target=f"staff:{user.id}",
        details={"study_id": study.id, "site_id": membership.site_id, "role": str(role)},
    )
    return membership


def studies_for(session: Session, user: StaffUser) -> list[Study]:
    study_ids = {m.study_id for m in user.memberships}
    if not study_ids:
        return []
    return list(session.scalars(select(Study).where(Study.id.in_(study_ids)).order_by(Study.name)))


def get_study_for(session: Session, user: StaffUser, slug: str, permission: Permission) -> Study:
    study = session.scalar(select(Study).where(Study.slug == slug))
    if study is None:
        raise NotFound("No such study.")
    access.require_somewhere(user.memberships, permission, study.id)
    return study


def visible_sites(user: StaffUser, study: Study) -> list[Site]:
    scope = access.sites_in_scope(user.memberships, Permission.VIEW_STUDY, study.id)
    if scope is ALL_SITES:
        return list(study.sites)
    return [site for site in study.sites if site.id in scope]  # type: ignore[operator]


def get_site_for(
    session: Session, user: StaffUser, study: Study, code: str, permission: Permission
) -> Site:
    site = session.scalar(select(Site).where(Site.study_id == study.id, Site.code == code))
    if site is None:
        raise NotFound(f"Study '{study.slug}' has no site '{code}'.")
    access.require(user.memberships, permission, study.id, site.id)
    return site
