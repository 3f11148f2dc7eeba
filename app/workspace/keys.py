"""The study key as data managers see it in the workspace: who holds the current key, and
rotating it with their own passphrase. Passphrases and recovery keys pass through here in
memory only: never logged, never stored, never put in an exception message."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import access
from app.access import Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.errors import Invalid, NotFound
from app.responses import keys
from app.responses.models import KeyHolderWrap, StudyKey
from app.studies.models import Membership, Study
from app.workspace import common


@dataclass(frozen=True)
class KeyStatus:
    key_id: str | None
    created_at: dt.datetime | None
    holders: list[StaffUser]
    has_recovery: bool
    retired: int  # older keys kept to open older responses
    you_hold: bool


def key_status(session: Session, user: StaffUser, study: Study) -> KeyStatus:
    access.require(user.memberships, Permission.HOLD_STUDY_KEY, study.id)
    rows = list(
        session.scalars(select(StudyKey).where(StudyKey.study_id == study.id).order_by(StudyKey.id))
    )
    current = next((k for k in rows if k.retired_at is None), None)
    wraps = (
        list(session.scalars(select(KeyHolderWrap).where(KeyHolderWrap.study_key_id == current.id)))
        if current is not None
        else []
    )
    holders = [w.staff_user for w in wraps if w.staff_user is not None]
    return KeyStatus(
        key_id=current.key_id if current else None,
        created_at=current.created_at if current else None,
        holders=sorted(holders, key=lambda u: u.display_name),
        has_recovery=any(w.holder_kind == "recovery" for w in wraps),
        retired=sum(1 for k in rows if k.retired_at is not None),
        you_hold=any(u.id == user.id for u in holders),
    )


def rotate(session: Session, user: StaffUser, study: Study, passphrase: str) -> str:
    """A new study key sealed for this holder; returns the new recovery key (show it once).
    A wrong passphrase raises keys.KeyUnlockFailed after recording the failed attempt: the
    caller commits before answering so the attempt stays in the audit log."""
    access.require(user.memberships, Permission.HOLD_STUDY_KEY, study.id)
    credential = keys.HolderCredential(kind="staff", secret=passphrase, staff_user=user)
    return keys.rotate(session, study, credential, actor=common.actor(user))


def possible_holders(session: Session, user: StaffUser, study: Study) -> list[StaffUser]:
    """Study members whose role may hold the key and who do not hold the current one yet."""
    access.require(user.memberships, Permission.HOLD_STUDY_KEY, study.id)
    status = key_status(session, user, study)
    held = {u.id for u in status.holders}
    found: dict[int, StaffUser] = {}
    for membership in session.scalars(select(Membership).where(Membership.study_id == study.id)):
        member = membership.user
        if member.id not in held and access.can(
            member.memberships, Permission.HOLD_STUDY_KEY, study.id
        ):
            found[member.id] = member
    return sorted(found.values(), key=lambda u: u.display_name)


def add_holder(
    session: Session,
    user: StaffUser,
    study: Study,
    *,
    passphrase: str,
    new_holder_id: int,
    new_passphrase: str,
) -> StaffUser:
    """The acting holder opens the key with their passphrase and wraps it for the new holder
    under the passphrase the new holder types (in person, on this screen)."""
    access.require(user.memberships, Permission.HOLD_STUDY_KEY, study.id)
    candidates = {u.id: u for u in possible_holders(session, user, study)}
    new_holder = candidates.get(new_holder_id)
    if new_holder is None:
        raise Invalid(errors={"new_holder": ["Choose a data manager of this study."]})
    credential = keys.HolderCredential(kind="staff", secret=passphrase, staff_user=user)
    keys.add_holder(
        session,
        study,
        existing=credential,
        new_holder=new_holder,
        new_passphrase=new_passphrase,
        actor=common.actor(user),
    )
    return new_holder


def remove_holder(session: Session, user: StaffUser, study: Study, holder_id: int) -> None:
    """Delete a staff holder's wrapped copies of every study key (someone leaving the study).
    The last staff holder cannot be removed: the recovery key alone is for emergencies."""
    access.require(user.memberships, Permission.HOLD_STUDY_KEY, study.id)
    wraps = list(
        session.scalars(
            select(KeyHolderWrap)
            .join(StudyKey, StudyKey.id == KeyHolderWrap.study_key_id)
            .where(StudyKey.study_id == study.id, KeyHolderWrap.staff_user_id == holder_id)
        )
    )
    if not wraps:
        raise NotFound("That person holds no key of this study.")
    others = session.scalars(
        select(KeyHolderWrap.id)
        .join(StudyKey, StudyKey.id == KeyHolderWrap.study_key_id)
        .where(
            StudyKey.study_id == study.id,
            StudyKey.retired_at.is_(None),
            KeyHolderWrap.holder_kind == "staff",
            KeyHolderWrap.staff_user_id != holder_id,
        )
    ).first()
    if others is None:
        raise Invalid(errors={"holder": ["The last staff key holder cannot be removed."]})
    for wrap in wraps:
        session.delete(wrap)
    audit.record(
        session,
        actor=common.actor(user),
        action="study_key.holder_removed",
        target=f"staff:{holder_id}",
        details={"study_id": study.id},
    )
    session.flush()
