"""Small shared pieces: the acting user's study, scope filters and the audit actor string."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import Session

from app import access
from app.access import ALL_SITES, Permission
from app.accounts.models import StaffUser
from app.studies import service as studies
from app.studies.models import Site, Study


def actor(user: StaffUser) -> str:
    return f"staff:{user.id}"


def study_for(
    session: Session, user: StaffUser, slug: str, permission: Permission = Permission.VIEW_STUDY
) -> Study:
    """The study if the user holds `permission` at one site of it or more (404 for strangers)."""
    return studies.get_study_for(session, user, slug, permission)


def site_filter(
    user: StaffUser, study: Study, permission: Permission, column: Any
) -> ColumnElement[bool]:
    """A WHERE clause limiting `column` (a site id column) to the sites the user may see."""
    scope = access.sites_in_scope(user.memberships, permission, study.id)
    if scope is ALL_SITES:
        return true()
    return column.in_(sorted(scope))  # type: ignore[arg-type, no-any-return]


def sites_for(user: StaffUser, study: Study, permission: Permission) -> list[Site]:
    scope = access.sites_in_scope(user.memberships, permission, study.id)
    if scope is ALL_SITES:
        return list(study.sites)
    return [site for site in study.sites if site.id in scope]  # type: ignore[operator]


def may(user: StaffUser, permission: Permission, study: Study, site_id: int | None = None) -> bool:
    return access.can(user.memberships, permission, study.id, site_id)


def may_somewhere(user: StaffUser, permission: Permission, study: Study) -> bool:
    return bool(access.sites_in_scope(user.memberships, permission, study.id))


def studies_of(session: Session, user: StaffUser) -> list[Study]:
    return studies.studies_for(session, user)
