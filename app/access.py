"""The one authorization helper. Every decision about what a staff user may see or do in a
study goes through `can`/`require`/`sites_in_scope`; nothing else in Chorus checks roles.

A membership with no site covers every site of its study; one with a site covers that site.
A study-wide action (site_id None) needs a study-wide membership.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Protocol

from app.errors import Forbidden, NotFound
from app.studies.models import Role


class Permission(enum.StrEnum):
    VIEW_STUDY = "view_study"
    MANAGE_STUDY = "manage_study"  # sites, staff memberships
    VIEW_PARTICIPANTS = "view_participants"
    MANAGE_PARTICIPANTS = "manage_participants"  # enrol, invite, pause, withdraw
    VIEW_ALERTS = "view_alerts"
    POST_NEWS = "post_news"
    EXPORT_DATA = "export_data"  # identified datasets (exact dates, codes, free text)
    EXPORT_DEIDENTIFIED = "export_deidentified"  # datasets under a de-identification profile
    HOLD_STUDY_KEY = "hold_study_key"
    AUTHOR_INSTRUMENTS = "author_instruments"
    APPROVE_INSTRUMENTS = "approve_instruments"
    VIEW_AUDIT = "view_audit"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SITE_COORDINATOR: frozenset(
        {
            Permission.VIEW_STUDY,
            Permission.VIEW_PARTICIPANTS,
            Permission.MANAGE_PARTICIPANTS,
            Permission.VIEW_ALERTS,
            Permission.POST_NEWS,
            Permission.APPROVE_INSTRUMENTS,
            Permission.EXPORT_DEIDENTIFIED,
        }
    ),
    Role.DATA_MANAGER: frozenset(
        {
            Permission.VIEW_STUDY,
            Permission.VIEW_PARTICIPANTS,
            Permission.EXPORT_DATA,
            Permission.EXPORT_DEIDENTIFIED,
            Permission.HOLD_STUDY_KEY,
            Permission.VIEW_AUDIT,
        }
    ),
    Role.PATIENT_GROUP_AUTHOR: frozenset({Permission.VIEW_STUDY, Permission.AUTHOR_INSTRUMENTS}),
}


class MembershipLike(Protocol):
    @property
    def study_id(self) -> int: ...
    @property
    def site_id(self) -> int | None: ...
    @property
    def role(self) -> str: ...


class AllSites:
    """Marker: the scope is every site of the study, including ones created later."""

    def __repr__(self) -> str:
        return "ALL_SITES"


ALL_SITES = AllSites()


def _granting(
    memberships: Iterable[MembershipLike], permission: Permission, study_id: int
) -> list[MembershipLike]:
    return [
        m
        for m in memberships
        if m.study_id == study_id and permission in ROLE_PERMISSIONS[Role(m.role)]
    ]


def can(
    memberships: Iterable[MembershipLike],
    permission: Permission,
    study_id: int,
    site_id: int | None = None,
) -> bool:
    for m in _granting(memberships, permission, study_id):
        if m.site_id is None or (site_id is not None and m.site_id == site_id):
            return True
    return False


def require(
    memberships: Iterable[MembershipLike],
    permission: Permission,
    study_id: int,
    site_id: int | None = None,
) -> None:
    memberships = list(memberships)
    if not any(m.study_id == study_id for m in memberships):
        # Not a member at all: say "not found" so study names cannot be probed.
        raise NotFound("No such study.")
    if not can(memberships, permission, study_id, site_id):
        raise Forbidden()


def require_somewhere(
    memberships: Iterable[MembershipLike], permission: Permission, study_id: int
) -> None:
    """For study pages a site-scoped member may open: granted at one site or more suffices."""
    memberships = list(memberships)
    if not any(m.study_id == study_id for m in memberships):
        raise NotFound("No such study.")
    if not sites_in_scope(memberships, permission, study_id):
        raise Forbidden()


def sites_in_scope(
    memberships: Iterable[MembershipLike], permission: Permission, study_id: int
) -> AllSites | frozenset[int]:
    """Which sites' records a list view may show: ALL_SITES, or a (possibly empty) set of ids."""
    site_ids: set[int] = set()
    for m in _granting(memberships, permission, study_id):
        if m.site_id is None:
            return ALL_SITES
        site_ids.add(m.site_id)
    return frozenset(site_ids)


def export_scope(
    memberships: Iterable[MembershipLike], study_id: int, *, identified: bool
) -> AllSites | frozenset[int]:
    """Sites whose responses an export may contain: identified data needs EXPORT_DATA there,
    a de-identified dataset EXPORT_DEIDENTIFIED (site coordinators: their own sites only)."""
    permission = Permission.EXPORT_DATA if identified else Permission.EXPORT_DEIDENTIFIED
    return sites_in_scope(memberships, permission, study_id)


# -- instrument co-design (issue #15) ---------------------------------------------------------
# Instruments are study-wide, but site coordinators are usually site-scoped: a grant at one
# site or more is enough to take part, as for the other study pages.

CO_DESIGN_PERMISSIONS = (Permission.AUTHOR_INSTRUMENTS, Permission.APPROVE_INSTRUMENTS)


class ApprovalSide(enum.StrEnum):
    """The two kinds of approval a co-designed instrument needs before it is published."""

    PATIENT_GROUP = "patient_group"
    STUDY_STAFF = "study_staff"


def require_any_somewhere(
    memberships: Iterable[MembershipLike], permissions: Iterable[Permission], study_id: int
) -> None:
    """Granted at least one of ``permissions`` at one site or more of the study."""
    memberships = list(memberships)
    if not any(m.study_id == study_id for m in memberships):
        raise NotFound("No such study.")
    if not any(sites_in_scope(memberships, p, study_id) for p in permissions):
        raise Forbidden()


def approval_sides(memberships: Iterable[MembershipLike], study_id: int) -> frozenset[ApprovalSide]:
    """For whom a user may approve an instrument: patient-group authors for the patient group,
    staff who may approve instruments (coordinators, admins) for the study team."""
    sides: set[ApprovalSide] = set()
    for m in memberships:
        if m.study_id != study_id:
            continue
        if Role(m.role) is Role.PATIENT_GROUP_AUTHOR:
            sides.add(ApprovalSide.PATIENT_GROUP)
        elif Permission.APPROVE_INSTRUMENTS in ROLE_PERMISSIONS[Role(m.role)]:
            sides.add(ApprovalSide.STUDY_STAFF)
    return frozenset(sides)
