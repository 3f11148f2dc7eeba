"""Study keys and the people who hold them.

A study's private key exists on disk only wrapped: once per data manager (under their own
passphrase) and once under a recovery key printed a single time. Unlocking is audited, and a
wrong passphrase is audited too. Unlocked keys live only in memory, inside the crypto module's
opaque UnlockedStudyKey.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import access, crypto
from app.access import Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.db import insert_unique, utcnow
from app.errors import ChorusError, Conflict, ErrorCode, Invalid, NotFound
from app.responses.models import KeyHolderWrap, Response, StudyKey
from app.responses.sealing import seal_context
from app.studies.models import Study

_kdf_params: crypto.KdfParams = crypto.PRODUCTION_KDF


def use_kdf_params(params: crypto.KdfParams) -> crypto.KdfParams:
    """Swap the key-wrapping cost; returns the previous one. For tests' explicit cheap fixture."""
    global _kdf_params
    previous, _kdf_params = _kdf_params, params
    return previous


@dataclass(frozen=True)
class HolderCredential:
    """Who is unlocking, and their secret: a staff holder's passphrase or the recovery key."""

    kind: Literal["staff", "recovery"]
    secret: str
    staff_user: StaffUser | None = None

    def __repr__(self) -> str:  # never show the secret
        who = f"staff:{self.staff_user.id}" if self.staff_user else "recovery"
        return f"HolderCredential({who})"

    @property
    def actor(self) -> str:
        return f"staff:{self.staff_user.id}" if self.staff_user else "recovery-key"


class KeyUnlockFailed(ChorusError):
    code = ErrorCode.FORBIDDEN


class StudyHasNoKey(ChorusError):
    code = ErrorCode.CONFLICT


def current_key(session: Session, study: Study) -> StudyKey:
    key = session.scalar(
        select(StudyKey)
        .where(StudyKey.study_id == study.id, StudyKey.retired_at.is_(None))
        .order_by(StudyKey.id.desc())
    )
    if key is None:
        raise StudyHasNoKey(
            f"Study '{study.slug}' has no key yet: run `chorus keys init --study {study.slug}`."
        )
    return key


def create_study_key(session: Session, study: Study, *, actor: str) -> str:
    """Make the study's first key; returns the recovery key, to be shown once and never stored."""
    if session.scalar(select(StudyKey.id).where(StudyKey.study_id == study.id)) is not None:
        raise Conflict(
            f"Study '{study.slug}' already has a key; use `chorus keys rotate` for a new one."
        )
    return _new_key_with_recovery(session, study, actor=actor, holder=None)


def _new_key_with_recovery(
    session: Session, study: Study, *, actor: str, holder: HolderCredential | None
) -> str:
    unlocked = crypto.new_study_key()
    row = StudyKey(study_id=study.id, key_id=unlocked.key_id, public_key=unlocked.public_key)
    session.add(row)
    session.flush()
    recovery_key = crypto.new_recovery_key()
    session.add(
        KeyHolderWrap(
            study_key_id=row.id,
            holder_kind="recovery",
            wrapped_key=crypto.wrap_with_recovery_key(unlocked, recovery_key, _kdf_params),
        )
    )
    if holder is not None and holder.staff_user is not None:
        session.add(
            KeyHolderWrap(
                study_key_id=row.id,
                holder_kind="staff",
                staff_user_id=holder.staff_user.id,
                wrapped_key=crypto.wrap_for_holder(unlocked, holder.secret, _kdf_params),
            )
        )
    audit.record(
        session,
        actor=actor,
        action="study_key.created",
        target=f"study:{study.id}",
        details={"key_id": row.key_id},
    )
    return recovery_key


def unlock(
    session: Session, study: Study, credential: HolderCredential, *, purpose: str
) -> list[crypto.UnlockedStudyKey]:
    """Every key of the study this credential can open (old ones too, for re-sealing).

    Records the unlock (or the failed attempt) in the audit log; on failure the caller must
    commit before reporting, so the failed attempt is kept.
    """
    if credential.staff_user is not None:
        access.require(credential.staff_user.memberships, Permission.HOLD_STUDY_KEY, study.id)
    wraps = _wraps_for(session, study, credential)
    if not wraps:
        raise KeyUnlockFailed("You are not a key holder of this study.")
    try:
        typed = (
            crypto.normalize_recovery_key(credential.secret)
            if credential.kind == "recovery"
            else credential.secret
        )
    except crypto.RecoveryKeyTypo as typo:
        raise Invalid(errors={"recovery_key": [str(typo)]}) from None
    # Each rotation has its own recovery key, and a holder re-added after a rotation may use a
    # new passphrase: keep every key this secret opens, fail only if it opens none.
    keys: list[crypto.UnlockedStudyKey] = []
    for wrap in wraps:
        try:
            if credential.kind == "recovery":
                keys.append(crypto.unwrap_with_recovery_key(wrap.wrapped_key, typed))
            else:
                keys.append(crypto.unwrap_for_holder(wrap.wrapped_key, typed))
        except (crypto.WrongPassphrase, crypto.WrappedKeyError):
            continue
    if not keys:
        audit.record(
            session,
            actor=credential.actor,
            action="study_key.unlock_failed",
            target=f"study:{study.id}",
            reason=purpose,
        )
        raise KeyUnlockFailed("That passphrase or recovery key does not open this study's key.")
    audit.record(
        session,
        actor=credential.actor,
        action="study_key.unlocked",
        target=f"study:{study.id}",
        reason=purpose,
        details={"key_ids": [k.key_id for k in keys]},
    )
    return keys


def _wraps_for(session: Session, study: Study, credential: HolderCredential) -> list[KeyHolderWrap]:
    query = select(KeyHolderWrap).join(StudyKey).where(StudyKey.study_id == study.id)
    if credential.kind == "recovery":
        query = query.where(KeyHolderWrap.holder_kind == "recovery")
    else:
        assert credential.staff_user is not None
        query = query.where(KeyHolderWrap.staff_user_id == credential.staff_user.id)
    return list(session.scalars(query.order_by(StudyKey.id)))


def add_holder(
    session: Session,
    study: Study,
    *,
    existing: HolderCredential,
    new_holder: StaffUser,
    new_passphrase: str,
    actor: str,
) -> None:
    """Wrap every study key the existing holder can open for a new holder (a data manager)."""
    access.require(new_holder.memberships, Permission.HOLD_STUDY_KEY, study.id)
    if len(new_passphrase) < crypto.MIN_PASSPHRASE_LENGTH:
        raise Invalid(
            errors={"passphrase": [f"Use at least {crypto.MIN_PASSPHRASE_LENGTH} characters."]}
        )
    keys = unlock(session, study, existing, purpose="add key holder")
    rows = {
        r.key_id: r for r in session.scalars(select(StudyKey).where(StudyKey.study_id == study.id))
    }
    for key in keys:
        wrap = KeyHolderWrap(
            study_key_id=rows[key.key_id].id,
            holder_kind="staff",
            staff_user_id=new_holder.id,
            wrapped_key=crypto.wrap_for_holder(key, new_passphrase, _kdf_params),
        )
        if not insert_unique(session, wrap):
            raise Conflict("That person already holds this study's key.")
    audit.record(
        session,
        actor=actor,
        action="study_key.holder_added",
        target=f"staff:{new_holder.id}",
        details={"study_id": study.id},
    )


def rotate(session: Session, study: Study, credential: HolderCredential, *, actor: str) -> str:
    """A new key seals new responses from now on; old keys stay, retired, to open old ones.

    The rotating holder gets the new key; other holders must be added again. Returns the new
    recovery key (shown once)."""
    unlock(session, study, credential, purpose="rotate key")  # proves the right to rotate
    session.execute(
        update(StudyKey)
        .where(StudyKey.study_id == study.id, StudyKey.retired_at.is_(None))
        .values(retired_at=utcnow())
    )
    return _new_key_with_recovery(session, study, actor=actor, holder=credential)


def reseal(
    session: Session, study: Study, credential: HolderCredential, *, batch_size: int = 200
) -> int:
    """Open responses sealed under retired keys and seal them again under the current key.
    Streams in batches so memory stays flat; returns how many were re-sealed."""
    keys = unlock(session, study, credential, purpose="re-seal under the current key")
    decrypt = crypto.decryptor_for_export(keys)
    target = current_key(session, study)
    count = 0
    for batch in _batches(session, study, target.key_id, batch_size):
        for response in batch:
            context = seal_context(response)
            payload = decrypt(response.sealed, context)
            response.sealed = crypto.seal_response(
                target.public_key, target.key_id, context, payload
            )
            response.study_key_id = target.key_id
            count += 1
        session.flush()
    audit.record(
        session,
        actor=credential.actor,
        action="responses.resealed",
        target=f"study:{study.id}",
        details={"count": count, "key_id": target.key_id},
    )
    return count


def _batches(
    session: Session, study: Study, current_key_id: str, size: int
) -> Iterator[list[Response]]:
    last_id = ""
    while True:
        batch = list(
            session.scalars(
                select(Response)
                .where(
                    Response.study_id == study.id,
                    Response.study_key_id != current_key_id,
                    Response.id > last_id,
                )
                .order_by(Response.id)
                .limit(size)
            )
        )
        if not batch:
            return
        yield batch
        last_id = batch[-1].id


def study_by_slug(session: Session, slug: str) -> Study:
    study = session.scalar(select(Study).where(Study.slug == slug))
    if study is None:
        raise NotFound(f"No study with slug '{slug}'.")
    return study
