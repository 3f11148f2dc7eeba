"""Small shared pieces: the acting user's study, scope filters and the audit actor string."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Nav:
    """What the layout shows: the study switcher and the sections this role may open."""

    study: Study
    studies: list[Study]
    open_alerts: int | None
    participants: bool
    alerts: bool
    keys: bool
    audit: bool
    staff: bool
    exports: bool = False  # dataset exports (issue #14): de-identified at one site or more
    # Co-design (issue #15): patient-group authors and staff who approve instruments.
    codesign: bool = False


def nav_for(session: Session, user: StaffUser, study: Study) -> Nav:
    from app.workspace.overview import open_alert_count

    return Nav(
        study=study,
        studies=studies.studies_for(session, user),
        open_alerts=open_alert_count(session, user, study),
        participants=may_somewhere(user, Permission.VIEW_PARTICIPANTS, study),
        alerts=may_somewhere(user, Permission.VIEW_ALERTS, study),
        keys=may(user, Permission.HOLD_STUDY_KEY, study),
        audit=may(user, Permission.VIEW_AUDIT, study),
        staff=may(user, Permission.MANAGE_STUDY, study),
        exports=may_somewhere(user, Permission.EXPORT_DEIDENTIFIED, study),
        codesign=any(may_somewhere(user, p, study) for p in access.CO_DESIGN_PERMISSIONS),
    )


def studies_of(session: Session, user: StaffUser) -> list[Study]:
    return studies.studies_for(session, user)
