"""Argon2id password hashing for staff accounts (argon2-cffi, RFC 9106 parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults are RFC 9106's "low memory" profile (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()

# Verified against when no account matches, so an unknown e-mail costs as much time as a
# known one and response timing does not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash("chorus-no-such-account")

MIN_PASSWORD_LENGTH = 12


class WeakPassword(ValueError):
    pass


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Swap the hasher; returns the previous one. Tests use it to make hashing cheap."""
    global _hasher, _DUMMY_HASH
    previous, _hasher = _hasher, hasher
    _DUMMY_HASH = hasher.hash("chorus-no-such-account")
    return previous


def check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if password.strip() != password or len(set(password)) < 5:
        raise WeakPassword("Use a password with more variety (a few words work well).")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
