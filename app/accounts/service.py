"""Staff sign-in and account management. Plain functions over a SQLAlchemy session.

Sign-in failures are *returned*, not raised, because the failure count must be committed
even though the request fails; the HTTP layer commits and then reports the failure.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass

import pyotp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import passwords, throttle
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.errors import ChorusError, Conflict, ErrorCode, Invalid, TooManyAttempts

_STAFF_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    ip_max_failures: int
    lockout: dt.timedelta


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    display_name: str,
    password: str,
    actor: str,
    language: str = "en",
) -> StaffUser:
    """A staff account; ``language`` is what alert e-mails to them are written in (#11)."""
    email = normalise_email(email)
    if not _STAFF_LANGUAGE.match(language):
        raise Invalid(errors={"language": ["Use a language code such as 'en', 'fr' or 'ar'."]})
    if "@" not in email or len(email) > 254:
        raise Invalid(errors={"email": ["Enter an e-mail address like name@example.org."]})
    try:
        passwords.check_strength(password)
    except passwords.WeakPassword as weak:
        raise Invalid(errors={"password": [str(weak)]}) from None
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise Conflict(f"A staff account for {email} already exists.")
    user = StaffUser(
        email=email,
        display_name=display_name.strip() or email,
        password_hash=passwords.hash_password(password),
        language=language,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="staff.created", target=f"staff:{user.id}")
    return user


def set_language(session: Session, user: StaffUser, language: str, *, actor: str) -> None:
    """The language of what Chorus writes to this staff member (alert e-mails)."""
    if not _STAFF_LANGUAGE.match(language):
        raise Invalid(errors={"language": ["Use a language code such as 'en', 'fr' or 'ar'."]})
    user.language = language
    audit.record(
        session,
        actor=actor,
        action="staff.language_set",
        target=f"staff:{user.id}",
        details={"language": language},
    )


def find_by_email(session: Session, email: str) -> StaffUser | None:
    return session.scalar(
        select(StaffUser).where(func.lower(StaffUser.email) == normalise_email(email))
    )


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    totp_code: str | None,
    client_ip: str,
    policy: ThrottlePolicy,
    now: dt.datetime,
) -> StaffUser | ChorusError:
    """The user, or the error to report. Locked-out keys are refused before any password check,
    with the same message whether or not the account exists."""
    email_key = throttle.throttle_key("email", email)
    ip_key = throttle.throttle_key("ip", client_ip)
    locked_for = throttle.seconds_locked(session, [email_key, ip_key], now)
    if locked_for:
        return TooManyAttempts(locked_for)

    user = find_by_email(session, email)
    password_ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        _count_failure(session, email_key, ip_key, policy, now)
        if user is not None:
            audit.record(
                session,
                actor="anonymous",
                action="staff.login_failed",
                target=f"staff:{user.id}",
                now=now,
            )
        return ChorusError(code=ErrorCode.INVALID_CREDENTIALS)

    if user.totp_enabled:
        if not totp_code:
            # Only reachable with the right password, so it reveals nothing to a guesser.
            return ChorusError(code=ErrorCode.SECOND_FACTOR_REQUIRED)
        if not _accept_totp(user, totp_code, now):
            _count_failure(session, email_key, ip_key, policy, now)
            audit.record(
                session,
                actor="anonymous",
                action="staff.login_failed",
                target=f"staff:{user.id}",
                reason="second factor",
                now=now,
            )
            return ChorusError(
                code=ErrorCode.SECOND_FACTOR_REQUIRED,
                message="That code is not right or was already used. Enter the current code.",
            )

    throttle.clear(session, email_key)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    audit.record(
        session, actor=f"staff:{user.id}", action="staff.login", target=f"staff:{user.id}", now=now
    )
    return user


def _count_failure(
    session: Session, email_key: str, ip_key: str, policy: ThrottlePolicy, now: dt.datetime
) -> None:
    throttle.record_failure(
        session, email_key, limit=policy.max_failures, window=policy.lockout, now=now
    )
    throttle.record_failure(
        session, ip_key, limit=policy.ip_max_failures, window=policy.lockout, now=now
    )


# --- second factor (TOTP, RFC 6238) -------------------------------------------------------

TOTP_ISSUER = "Chorus"


def begin_totp_enrolment(session: Session, user: StaffUser) -> str:
    """A fresh secret, kept unconfirmed until the user proves their app has it."""
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled = False
    user.totp_last_step = None
    return str(
        pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    )


def confirm_totp_enrolment(session: Session, user: StaffUser, code: str, now: dt.datetime) -> None:
    if not user.totp_secret:
        raise Invalid(errors={"code": ["Start setting up the authenticator app first."]})
    if not _accept_totp(user, code, now):
        raise Invalid(errors={"code": ["That code is not right. Enter the current 6-digit code."]})
    user.totp_enabled = True
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="staff.totp_enabled",
        target=f"staff:{user.id}",
        now=now,
    )


def _accept_totp(user: StaffUser, code: str, now: dt.datetime) -> bool:
    """Accept the current, previous or next 30 s step (clock drift), never a step used before."""
    assert user.totp_secret is not None
    totp = pyotp.TOTP(user.totp_secret)
    code = code.strip().replace(" ", "")
    current_step = int(now.timestamp()) // totp.interval
    for step in (current_step - 1, current_step, current_step + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False
