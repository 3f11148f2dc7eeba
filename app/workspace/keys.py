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
from app.responses import keys
from app.responses.models import KeyHolderWrap, StudyKey
from app.studies.models import Study
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
