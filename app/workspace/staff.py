"""Staff and sites of a study, for its admins (MANAGE_STUDY, study-wide): who has which role
where, adding someone (a new account gets a first password shown once, to hand over in person,
or an e-mailed invitation link with which they choose it), ending a role, adding a site. Every
change is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app import access
from app.access import Permission
from app.accounts import service as accounts
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.delivery.email import EmailDelivered, OutgoingEmail, SmtpSettings, send_email
from app.errors import Invalid, NotFound
from app.studies import service as studies
from app.studies.models import Membership, Role, Site, Study
from app.workspace import common


@dataclass(frozen=True)
class Added:
    user: StaffUser
    membership: Membership
    first_password: str | None  # only when the account is new and not invited; shown once
    invited: bool = False  # a new account whose first password comes by an invitation link


def members(session: Session, user: StaffUser, study: Study) -> list[Membership]:
    access.require(user.memberships, Permission.MANAGE_STUDY, study.id)
    return list(
        session.scalars(
            select(Membership)
            .where(Membership.study_id == study.id)
            .options(selectinload(Membership.user), selectinload(Membership.site))
            .join(StaffUser, StaffUser.id == Membership.user_id)
            .order_by(StaffUser.display_name, Membership.id)
        )
    )


def add_member(
    session: Session,
    user: StaffUser,
    study: Study,
    *,
    email: str,
    display_name: str,
    role: str,
    site_code: str,
    by_email: bool = False,
) -> Added:
    """Give `email` a role; a new account gets a first password, shown once, or (`by_email`)
    none anyone knows until they choose one through the invitation link."""
    access.require(user.memberships, Permission.MANAGE_STUDY, study.id)
    try:
        chosen = Role(role)
    except ValueError:
        raise Invalid(errors={"role": ["Choose a role."]}) from None
    site = None
    if site_code:
        site = next((s for s in study.sites if s.code == site_code), None)
        if site is None:
            raise Invalid(errors={"site": ["Choose one of the study's sites."]})
    member = accounts.find_by_email(session, email)
    first_password = None
    if member is None:
        # 20 characters from the URL-safe alphabet: about 120 bits, typed once at first sign-in.
        first_password = secrets.token_urlsafe(15)
        member = accounts.create_user(
            session,
            email=email,
            display_name=display_name or email,
            password=first_password,
            actor=common.actor(user),
        )
    membership = studies.grant(session, member, study, chosen, site=site, actor=common.actor(user))
    invited = by_email and first_password is not None
    if invited:
        first_password = None
        audit.record(
            session,
            actor=common.actor(user),
            action="staff.invited",
            target=f"staff:{member.id}",
            details={"study_id": study.id},
        )
    return Added(member, membership, first_password, invited)


def email_invitation(
    smtp: SmtpSettings | None, member: StaffUser, *, subject: str, text: str, language: str
) -> bool:
    """Send the invitation e-mail (its text written by the caller, in the inviter's language);
    False when e-mail is not set up or the relay did not take it, and the page shows the link
    once instead."""
    if smtp is None:
        return False
    message = OutgoingEmail(
        to=member.email,
        subject=subject,
        text=text,
        idempotency_key=f"staff-invitation-{member.id}-{secrets.token_hex(6)}",
        language=language,
    )
    return isinstance(send_email(message, smtp), EmailDelivered)


def end_membership(session: Session, user: StaffUser, study: Study, membership_id: int) -> None:
    access.require(user.memberships, Permission.MANAGE_STUDY, study.id)
    membership = session.get(Membership, membership_id)
    if membership is None or membership.study_id != study.id:
        raise NotFound("No such role in this study.")
    remaining = [m for m in user.memberships if m.id != membership.id]
    if membership.user_id == user.id and not access.can(
        remaining, Permission.MANAGE_STUDY, study.id
    ):
        # Nobody locks themselves out of managing the study by accident.
        raise Invalid(
            errors={"membership": ["You cannot end the role that lets you manage staff."]}
        )
    audit.record(
        session,
        actor=common.actor(user),
        action="membership.ended",
        target=f"staff:{membership.user_id}",
        details={"study_id": study.id, "site_id": membership.site_id, "role": membership.role},
    )
    session.delete(membership)
    session.flush()


def add_site(session: Session, user: StaffUser, study: Study, *, code: str, name: str) -> Site:
    """A new site of the study: study-wide admins only (app.studies.service audits it)."""
    access.require(user.memberships, Permission.MANAGE_STUDY, study.id)
    return studies.add_site(session, study, code=code, name=name, actor=common.actor(user))
