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
_CONTACT_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


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


# --- safety contacts (#11) -------------------------------------------------------------------

_CONTACTS_MAX_LENGTH = 1000


def set_safety_contacts(
    session: Session,
    user: StaffUser,
    study: Study,
    contacts: dict[str, str],
    *,
    site_code: str | None = None,
) -> dict[str, str]:
    """Replace the help contacts shown under an instrument's safety message, per language:
    the study's (a study-wide manager) or one site's own (whoever manages that site's
    participants). A blank text removes that language. Returns what is now stored."""
    cleaned: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for language, text in contacts.items():
        if not _CONTACT_LANGUAGE.match(language):
            errors.setdefault(language, []).append("Not a language code such as 'en' or 'fr'.")
        elif len(text.strip()) > _CONTACTS_MAX_LENGTH:
            errors.setdefault(language, []).append(f"At most {_CONTACTS_MAX_LENGTH} characters.")
        elif text.strip():
            cleaned[language] = text.strip()
    if errors:
        raise Invalid(errors={"contacts": errors})
    target: Study | Site
    if site_code is None:
        access.require(user.memberships, Permission.MANAGE_STUDY, study.id)
        target = study
    else:
        target = get_site_for(session, user, study, site_code, Permission.MANAGE_PARTICIPANTS)
    target.safety_contacts = cleaned
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="safety_contacts.updated",
        target=f"site:{target.id}" if isinstance(target, Site) else f"study:{study.id}",
        details={"languages": sorted(cleaned)},
    )
    session.flush()
    return cleaned


def safety_contacts_for(site: Site, language: str) -> str | None:
    """The contacts a participant of ``site`` reads in ``language``: the site's own, then the
    study's, then either in English or any language (help in another language beats none)."""
    own, shared = site.safety_contacts or {}, site.study.safety_contacts or {}
    root = language.split("-")[0]
    for contacts in (own, shared):
        for candidate in (language, root):
            if candidate in contacts:
                return contacts[candidate]
    for contacts in (own, shared):
        if "en" in contacts:
            return contacts["en"]
        if contacts:
            return next(iter(contacts.values()))
    return None
