"""VAPID (RFC 8292) key pair for Web Push: generated once, loaded from the environment or a file.

The private key never lives in the repository or the database. It comes from
``CHORUS_VAPID_PRIVATE_KEY`` (PEM, or the 32-byte raw scalar in base64url) or from
``<instance>/vapid_private_key.pem``, written once with 0600 permissions by an explicit
:func:`ensure_vapid_keys` call. Browsers need the public key as the base64url
"application server key"; it is derived here, never stored separately.

Key handling goes through py_vapid (which uses ``cryptography`` internally): only
``app/crypto.py`` may import ``cryptography`` directly.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

# py_vapid ships no type hints or py.typed marker; the few calls made here are wrapped in
# typed functions below, so nothing untyped leaks out of this module.
from py_vapid import Vapid  # type: ignore[import-untyped]

__all__ = [
    "VAPID_ENV_VAR",
    "VAPID_KEY_FILENAME",
    "VapidConfigError",
    "VapidKeys",
    "ensure_vapid_keys",
    "load_vapid_keys",
]

VAPID_ENV_VAR: Final = "CHORUS_VAPID_PRIVATE_KEY"
VAPID_KEY_FILENAME: Final = "vapid_private_key.pem"

# DER SubjectPublicKeyInfo for an uncompressed P-256 point is always this 26-byte prefix
# (id-ecPublicKey + prime256v1 OIDs, BIT STRING of 66 bytes) followed by 0x04 || X || Y.
# Checking it both extracts the raw point and refuses keys on any other curve or algorithm.
_P256_SPKI_PREFIX: Final = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
_RAW_PUBLIC_KEY_LEN: Final = 65

# What py_vapid itself accepts for ``sub`` (it refuses to sign otherwise); checked at load so a
# bad CHORUS_VAPID_SUBJECT stops start-up instead of failing every push.
_SUBJECT = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+(/\S*)?)$", re.IGNORECASE)


class VapidConfigError(ValueError):
    """The VAPID key or subject is missing or unusable; the message says what to fix."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    cleaned = text.strip()
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


@dataclass(frozen=True)
class VapidKeys:
    """A loaded VAPID key pair plus the ``sub`` claim push services use to contact us.

    ``signer`` is py_vapid's key object (kept out of ``repr`` so it never reaches logs);
    ``application_server_key`` is what the PWA passes to ``pushManager.subscribe``.
    """

    subject: str
    application_server_key: str
    signer: Any = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _SUBJECT.match(self.subject):
            raise VapidConfigError(
                f"VAPID subject must be a mailto: address or an https: URL, got {self.subject!r}"
                " (set CHORUS_VAPID_SUBJECT, e.g. mailto:ops@example.org)"
            )


def _public_key_raw(signer: Any) -> bytes:
    pem = signer.public_pem()
    body = b"".join(line for line in pem.strip().splitlines() if not line.startswith(b"-----"))
    der = base64.b64decode(body)
    if not der.startswith(_P256_SPKI_PREFIX) or len(der) != len(_P256_SPKI_PREFIX) + 65:
        raise VapidConfigError("the VAPID private key is not a P-256 (prime256v1) EC key")
    raw = der[len(_P256_SPKI_PREFIX) :]
    if len(raw) != _RAW_PUBLIC_KEY_LEN or raw[0] != 0x04:
        raise VapidConfigError("the VAPID public key is not an uncompressed P-256 point")
    return raw


def _signer_from_text(text: str, *, source: str) -> Any:
    """py_vapid signer from PEM (SEC1 or PKCS#8) or a base64url raw 32-byte scalar."""
    # Env files often carry PEM on one line with literal \n escapes.
    text = text.strip().replace("\\n", "\n")
    try:
        if text.startswith("-----BEGIN"):
            return Vapid.from_pem(text.encode("ascii"))
        raw = _b64url_decode(text)
        if len(raw) != 32:
            raise VapidConfigError(
                f"{source}: expected a PEM private key or a base64url 32-byte raw key,"
                f" got {len(raw)} bytes"
            )
        return Vapid.from_raw(text.encode("ascii"))
    except VapidConfigError:
        raise
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        # The message names the source only: key material must never end up in logs.
        raise VapidConfigError(f"{source}: not a readable VAPID private key") from exc


def _keys_from_signer(signer: Any, subject: str) -> VapidKeys:
    return VapidKeys(
        subject=subject,
        application_server_key=_b64url(_public_key_raw(signer)),
        signer=signer,
    )


def load_vapid_keys(
    *, subject: str, instance_path: Path, environ: Mapping[str, str] | None = None
) -> VapidKeys:
    """Load the key pair: ``CHORUS_VAPID_PRIVATE_KEY`` wins, else the instance-folder file.

    Never generates a key: generation is the explicit :func:`ensure_vapid_keys` step, so a
    node that lost its configuration fails loudly instead of silently rotating the key (which
    would invalidate every browser subscription).
    """
    env = os.environ if environ is None else environ
    from_env = env.get(VAPID_ENV_VAR, "").strip()
    if from_env:
        return _keys_from_signer(_signer_from_text(from_env, source=VAPID_ENV_VAR), subject)
    path = instance_path / VAPID_KEY_FILENAME
    if not path.exists():
        raise VapidConfigError(
            f"no VAPID key: set {VAPID_ENV_VAR} or create {path} once with ensure_vapid_keys()"
        )
    _check_owner_only(path)
    return _keys_from_signer(_signer_from_text(path.read_text("ascii"), source=str(path)), subject)


def _check_owner_only(path: Path) -> None:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise VapidConfigError(
            f"{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}"
        )


def ensure_vapid_keys(instance_path: Path, *, subject: str) -> VapidKeys:
    """Create ``<instance>/vapid_private_key.pem`` (0600) if absent, then load it.

    Safe when several processes start together: the key is written to a private temporary
    file and published with ``os.link``, which fails if the final name exists, so the loser
    reads the winner's complete key and every node ends up with the same pair.
    """
    path = instance_path / VAPID_KEY_FILENAME
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        signer = Vapid()
        signer.generate_keys()
        pem: bytes = signer.private_pem()
        tmp = instance_path / f".{VAPID_KEY_FILENAME}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            # FileExistsError: another process won the race; use its key.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return load_vapid_keys(subject=subject, instance_path=instance_path, environ={})
