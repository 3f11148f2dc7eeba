"""The one authorization helper, as plain rules and through the API."""

from dataclasses import dataclass

import pytest

from app import access
from app.access import ALL_SITES, Permission
from app.errors import Forbidden, NotFound
from app.studies.models import Role
from tests.factories import make_staff, make_study, sign_in

STUDY, OTHER_STUDY, SITE_A, SITE_B = 1, 2, 10, 20


@dataclass(frozen=True)
class M:
    study_id: int
    site_id: int | None
    role: str


def test_site_coordinator_acts_only_at_their_own_site():
    coordinator = [M(STUDY, SITE_A, Role.SITE_COORDINATOR)]
    assert access.can(coordinator, Permission.MANAGE_PARTICIPANTS, STUDY, SITE_A)
    assert not access.can(coordinator, Permission.MANAGE_PARTICIPANTS, STUDY, SITE_B)
    assert not access.can(coordinator, Permission.MANAGE_PARTICIPANTS, STUDY), (
        "study-wide needs an all-sites membership"
    )
    assert access.sites_in_scope(coordinator, Permission.VIEW_PARTICIPANTS, STUDY) == {SITE_A}


def test_all_sites_membership_covers_every_site_and_study_wide_actions():
    manager = [M(STUDY, None, Role.DATA_MANAGER)]
    assert access.can(manager, Permission.EXPORT_DATA, STUDY)
    assert access.can(manager, Permission.EXPORT_DATA, STUDY, SITE_B)
    assert access.sites_in_scope(manager, Permission.VIEW_PARTICIPANTS, STUDY) is ALL_SITES


def test_membership_in_one_study_grants_nothing_in_another():
    admin = [M(STUDY, None, Role.ADMIN)]
    assert not access.can(admin, Permission.VIEW_STUDY, OTHER_STUDY)
    with pytest.raises(NotFound):
        access.require(admin, Permission.VIEW_STUDY, OTHER_STUDY)


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (Role.SITE_COORDINATOR, Permission.MANAGE_PARTICIPANTS, Permission.EXPORT_DATA),
        (Role.DATA_MANAGER, Permission.EXPORT_DATA, Permission.MANAGE_PARTICIPANTS),
        (Role.PATIENT_GROUP_AUTHOR, Permission.AUTHOR_INSTRUMENTS, Permission.VIEW_PARTICIPANTS),
        (Role.ADMIN, Permission.MANAGE_STUDY, None),
    ],
)
def test_each_role_gets_its_permissions_and_not_others(role, allowed, refused):
    member = [M(STUDY, None, role)]
    assert access.can(member, allowed, STUDY)
    if refused is not None:
        assert not access.can(member, refused, STUDY)
        with pytest.raises(Forbidden):
            access.require(member, refused, STUDY)


def test_patient_group_authors_never_see_participant_data():
    assert Permission.VIEW_PARTICIPANTS not in access.ROLE_PERMISSIONS[Role.PATIENT_GROUP_AUTHOR]
    assert Permission.EXPORT_DATA not in access.ROLE_PERMISSIONS[Role.PATIENT_GROUP_AUTHOR]


def test_no_module_outside_access_checks_roles_itself():
    """Every decision goes through app/access.py; a stray `role ==` elsewhere is a bypass."""
    from pathlib import Path

    offenders = []
    for path in Path("app").rglob("*.py"):
        if path.name == "access.py" or "migrations" in path.parts:
            continue
        text = path.read_text()
        if ".role ==" in text or "Role.ADMIN in" in text or "role in (" in text:
            offenders.append(str(path))
    assert offenders == []


# --- through the API -----------------------------------------------------------------------


def test_coordinator_of_site_a_cannot_see_site_b(client, db_session):
    study = make_study(db_session)
    make_staff(db_session, "a@example.org", study=study, role=Role.SITE_COORDINATOR, site_code="A")
    signed = sign_in(client, "a@example.org")
    detail = signed.client.get(f"/api/v1/studies/{study.slug}").get_json()
    assert [s["code"] for s in detail["sites"]] == ["A"]
    assert signed.client.get(f"/api/v1/studies/{study.slug}/sites/A").status_code == 200
    refused = signed.client.get(f"/api/v1/studies/{study.slug}/sites/B")
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "forbidden"


def test_staff_see_only_studies_they_belong_to(client, db_session):
    mine = make_study(db_session, "mine")
    theirs = make_study(db_session, "theirs")
    make_staff(db_session, "a@example.org", study=mine, role=Role.ADMIN)
    signed = sign_in(client, "a@example.org")
    assert [s["slug"] for s in signed.client.get("/api/v1/studies/").get_json()] == ["mine"]
    hidden = signed.client.get(f"/api/v1/studies/{theirs.slug}")
    assert hidden.status_code == 404, "another study's existence is not revealed"


def test_only_admins_add_sites(client, db_session):
    study = make_study(db_session)
    make_staff(
        db_session, "coord@example.org", study=study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    make_staff(db_session, "admin@example.org", study=study, role=Role.ADMIN)
    coordinator = sign_in(client, "coord@example.org")
    assert (
        coordinator.post(
            f"/api/v1/studies/{study.slug}/sites", json={"code": "C", "name": "Site C"}
        ).status_code
        == 403
    )
    admin = sign_in(client, "admin@example.org")
    created = admin.post(
        f"/api/v1/studies/{study.slug}/sites", json={"code": "C", "name": "Site C"}
    )
    assert created.status_code == 201
    assert created.get_json()["code"] == "C"
