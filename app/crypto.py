# ┌──────────────────────────────────────────────────────────────────────────────────────┐
# │ DANGER: a regression in this module can make research data UNRECOVERABLE.            │
# │ Every change must keep tests/test_crypto.py green, including the tests that decrypt  │
# │ the stored fixtures in tests/fixtures/crypto/. Never regenerate those fixtures to    │
# │ make a failing test pass: old envelopes and wrapped keys must open forever.          │
# └──────────────────────────────────────────────────────────────────────────────────────┘
"""All of Chorus's cryptography, behind intention-named functions.

Answers are sealed to a study public key with HPKE (RFC 9180, base mode); the study private
key exists on disk only wrapped by key-holder passphrases or a recovery key (Argon2id +
AES-256-GCM). This is the only module in ``app/`` that imports ``cryptography`` (a test
enforces it); it imports no Flask and no SQLAlchemy.

Envelope format, version 1 (all integers big-endian)::

    offset  size  field
    0       4     magic            b"\\x89CSE"   (0x89 is not ASCII: no text or JSON starts so)
    4       1     format version   1
    5       2     HPKE KEM id      RFC 9180 registry, 0x0020 = DHKEM(X25519, HKDF-SHA256)
    7       2     HPKE KDF id      0x0001 = HKDF-SHA256
    9       2     HPKE AEAD id     0x0002 = AES-256-GCM
    11      1     key id length n  (1..64, ASCII)
    12      n     key id
    12+n    Nenc  HPKE enc         (32 bytes for X25519)
    ...     rest  HPKE ciphertext  canonical JSON payload + 16-byte tag

The HPKE ``info`` is ``b"chorus/sealed-response/v1" || header || context``, where ``header`` is
bytes 0..12+n above and ``context`` is the study id, response id and instrument version, each
as a 2-byte length and UTF-8 bytes. So every header byte and the row the envelope belongs to
are authenticated: an envelope edited, re-labelled or moved to another row does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from argon2.low_level import Type as _Argon2Type
from argon2.low_level import hash_secret_raw as _argon2_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "PRODUCTION_KDF",
    "CryptoError",
    "EnvelopeError",
    "EphemeralSpill",
    "KdfParams",
    "NotSealed",
    "RecoveryKeyTypo",
    "SealContext",
    "UnlockedStudyKey",
    "WeakPassphrase",
    "WrappedKeyError",
    "WrongPassphrase",
    "decryptor_for_export",
    "envelope_key_id",
    "hash_token",
    "is_sealed_envelope",
    "new_recovery_key",
    "new_study_key",
    "new_token",
    "normalize_recovery_key",
    "open_response",
    "public_key_id",
    "require_sealed",
    "seal_response",
    "token_matches_hash",
    "unwrap_for_holder",
    "unwrap_with_recovery_key",
    "wrap_for_holder",
    "wrap_with_recovery_key",
]


# ── Errors ────────────────────────────────────────────────────────────────────────────────
# Messages are fixed strings plus non-secret identifiers (key ids, versions): never plaintext,
# passphrases or key bytes, because exceptions end up in logs and error reports.


class CryptoError(Exception):
    """Base class for every error raised by this module."""


class EnvelopeError(CryptoError):
    """The envelope does not open: tampered, wrong context (row), wrong key or malformed."""


class NotSealed(EnvelopeError):
    """The bytes are not a Chorus sealed envelope (e.g. a plaintext payload reached storage)."""


class WrongPassphrase(CryptoError):
    """The passphrase or recovery key does not unwrap this key (or the wrapped blob was altered:
    AES-GCM cannot tell the two apart)."""


class WrappedKeyError(CryptoError):
    """The wrapped-key blob is not in a format this module can read."""


class RecoveryKeyTypo(CryptoError, ValueError):
    """The recovery key fails its checksum: a character was mistyped, missing or swapped."""


class WeakPassphrase(CryptoError, ValueError):
    """The passphrase is too short to protect a study key."""


# ── Suites ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class _HpkeSuite:
    kem_id: int
    kdf_id: int
    aead_id: int
    enc_length: int  # hard-coded: KEM.enc_length() only exists from cryptography 49

    @property
    def ids(self) -> tuple[int, int, int]:
        return (self.kem_id, self.kdf_id, self.aead_id)

    @property
    def name(self) -> str:
        return f"hpke-{self.kem_id:04x}-{self.kdf_id:04x}-{self.aead_id:04x}"

    def primitive(self) -> hpke.Suite:
        # Only one suite so far; a new one adds a branch here and an entry in _SUITES.
        return hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


# RFC 9180 §7 registry ids: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
_X25519_HKDF256_AES256GCM: Final = _HpkeSuite(0x0020, 0x0001, 0x0002, enc_length=32)
DEFAULT_SUITE: Final = _X25519_HKDF256_AES256GCM
_SUITES: Final[dict[tuple[int, int, int], _HpkeSuite]] = {DEFAULT_SUITE.ids: DEFAULT_SUITE}
_SUITES_BY_NAME: Final[dict[str, _HpkeSuite]] = {s.name: s for s in _SUITES.values()}


# ── Study keys ────────────────────────────────────────────────────────────────────────────


def _key_id(suite: _HpkeSuite, public_key: bytes) -> str:
    label = b"chorus/study-key-id/v1\x00" + suite.name.encode("ascii") + b"\x00"
    return hashlib.sha256(label + public_key).hexdigest()[:16]


def public_key_id(public_key: bytes) -> str:
    """Short, stable id of a default-suite study public key (16 hex chars of SHA-256).

    Not a security boundary (HPKE authenticates the key anyway); it lets an envelope say which
    key opens it, so rotated keys can coexist.
    """
    return _key_id(DEFAULT_SUITE, bytes(public_key))


class UnlockedStudyKey:
    """A study private key in memory. Hand it to functions in this module; never persist it.

    It deliberately has no getter for the raw private key, a redacted ``repr`` and refuses to be
    pickled, so it cannot leak into logs, caches or task queues by accident.
    """

    __slots__ = ("_key_id", "_private", "_public", "_suite")

    def __init__(self, private: x25519.X25519PrivateKey, suite: _HpkeSuite = DEFAULT_SUITE):
        self._private = private
        self._suite = suite
        self._public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._key_id = _key_id(suite, self._public)

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def public_key(self) -> bytes:
        """Raw public key bytes (32 for X25519), safe to store in clear with the study."""
        return self._public

    @property
    def suite_name(self) -> str:
        return self._suite.name

    def __repr__(self) -> str:
        return f"UnlockedStudyKey(key_id={self.key_id!r}, private=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("UnlockedStudyKey must not be pickled or copied out of memory")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UnlockedStudyKey):
            return NotImplemented
        return self.key_id == other.key_id

    def __hash__(self) -> int:
        return hash(self.key_id)


def new_study_key() -> UnlockedStudyKey:
    """Generate a fresh study key pair for the default suite."""
    return UnlockedStudyKey(x25519.X25519PrivateKey.generate())


# ── Sealing responses ─────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class SealContext:
    """The row an envelope belongs to; bound into HPKE ``info`` so envelopes cannot move."""

    study_id: str
    response_id: str
    instrument_version: str

    def __post_init__(self) -> None:
        for name in ("study_id", "response_id", "instrument_version"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"SealContext.{name} must be a non-empty string")
            if len(value.encode("utf-8")) > 0xFFFF:
                raise ValueError(f"SealContext.{name} is too long")

    def _encoded(self) -> bytes:
        parts = (self.study_id, self.response_id, self.instrument_version)
        out = bytearray()
        for part in parts:
            raw = part.encode("utf-8")
            out += struct.pack(">H", len(raw)) + raw
        return bytes(out)


_MAGIC: Final = b"\x89CSE"
_ENVELOPE_V1: Final = 1
_FIXED_HEADER: Final = struct.Struct(">4sBHHHB")  # magic, version, kem, kdf, aead, key id len
_TAG_LENGTH: Final = 16
_MAX_KEY_ID_LENGTH: Final = 64
_INFO_LABEL: Final = b"chorus/sealed-response/v1"


@dataclass(frozen=True)
class _ParsedEnvelope:
    suite: _HpkeSuite
    key_id: str
    header: bytes
    hpke_ciphertext: bytes  # enc || ct, as cryptography's Suite expects it


def _parse_envelope(data: object) -> _ParsedEnvelope:
    """Structural parse; raises NotSealed for anything that is not a v1 envelope."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise NotSealed("expected envelope bytes")
    data = bytes(data)
    if len(data) < _FIXED_HEADER.size or not data.startswith(_MAGIC):
        raise NotSealed("not a Chorus sealed envelope")
    _magic, version, kem, kdf, aead, id_len = _FIXED_HEADER.unpack_from(data)
    if version != _ENVELOPE_V1:
        raise NotSealed(f"unknown envelope version {version}")
    suite = _SUITES.get((kem, kdf, aead))
    if suite is None:
        raise NotSealed(f"unknown HPKE suite {kem:#06x}/{kdf:#06x}/{aead:#06x}")
    if not 1 <= id_len <= _MAX_KEY_ID_LENGTH:
        raise NotSealed("bad key id length")
    header_end = _FIXED_HEADER.size + id_len
    if len(data) < header_end + suite.enc_length + _TAG_LENGTH:
        raise NotSealed("envelope is truncated")
    raw_key_id = data[_FIXED_HEADER.size : header_end]
    if not raw_key_id.isascii() or not raw_key_id.decode("ascii").isprintable():
        raise NotSealed("bad key id")
    key_id = raw_key_id.decode("ascii")
    return _ParsedEnvelope(suite, key_id, data[:header_end], data[header_end:])


def _info(header: bytes, context: SealContext) -> bytes:
    return _INFO_LABEL + header + context._encoded()


def _canonical_json(payload: Mapping[str, Any]) -> bytes:
    # Canonical so the same answers always give the same plaintext length and bytes to hash.
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def seal_response(
    public_key: bytes, key_id: str, context: SealContext, payload: Mapping[str, Any]
) -> bytes:
    """Seal ``payload`` (JSON-serializable, no NaN) to a study public key for one row.

    ``key_id`` must be ``public_key_id(public_key)``; it is checked so a mislabelled key can
    never produce envelopes that no key id lookup will find.
    """
    if not isinstance(payload, Mapping):
        raise TypeError("payload must be a mapping")
    if not isinstance(context, SealContext):
        raise TypeError("context must be a SealContext")
    public_key = bytes(public_key)
    if public_key_id(public_key) != key_id:
        raise ValueError("key_id does not match public_key")
    suite = DEFAULT_SUITE
    recipient = x25519.X25519PublicKey.from_public_bytes(public_key)
    key_id_bytes = key_id.encode("ascii")
    header = _FIXED_HEADER.pack(
        _MAGIC, _ENVELOPE_V1, suite.kem_id, suite.kdf_id, suite.aead_id, len(key_id_bytes)
    )
    header += key_id_bytes
    sealed = suite.primitive().encrypt(
        _canonical_json(payload), recipient, info=_info(header, context)
    )
    return header + sealed


def _open_parsed(
    key: UnlockedStudyKey, env: _ParsedEnvelope, context: SealContext
) -> dict[str, Any]:
    if env.key_id != key.key_id:
        raise EnvelopeError(f"envelope is sealed to key {env.key_id}, not {key.key_id}")
    if env.suite != key._suite:
        raise EnvelopeError("envelope suite does not match the key's suite")
    # Errors are raised *after* the except blocks, not inside them, so they carry no
    # __context__: a JSONDecodeError holds the whole plaintext in .doc, and error reporters
    # walk __context__ even when "from None" hides it from tracebacks.
    plaintext: bytes | None
    try:
        plaintext = env.suite.primitive().decrypt(
            env.hpke_ciphertext, key._private, info=_info(env.header, context)
        )
    except Exception:
        # InvalidTag in practice; anything the backend raises on hostile input means the same.
        plaintext = None
    if plaintext is None:
        raise EnvelopeError("envelope does not open: altered, or sealed for another row or key")
    value: object = None
    try:
        value = json.loads(plaintext)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise EnvelopeError("envelope payload is not a JSON object")
    return value


def open_response(key: UnlockedStudyKey, envelope: bytes, context: SealContext) -> dict[str, Any]:
    """Open an envelope sealed by :func:`seal_response` for exactly this ``context``."""
    return _open_parsed(key, _parse_envelope(envelope), context)


def decryptor_for_export(
    keys: Iterable[UnlockedStudyKey],
) -> Callable[[bytes, SealContext], dict[str, Any]]:
    """Return a function that opens envelopes with whichever of ``keys`` they were sealed to.

    Export and re-seal code gets this function, never the keys (SecureDrop/ODK Central pattern).
    """
    by_id = {key.key_id: key for key in keys}

    def decrypt(envelope: bytes, context: SealContext) -> dict[str, Any]:
        parsed = _parse_envelope(envelope)
        key = by_id.get(parsed.key_id)
        if key is None:
            raise EnvelopeError(f"no unlocked key with id {parsed.key_id}")
        return _open_parsed(key, parsed, context)

    return decrypt


def is_sealed_envelope(data: object) -> bool:
    """True when ``data`` is structurally a v1 envelope (does not decrypt anything)."""
    try:
        _parse_envelope(data)
    except NotSealed:
        return False
    return True


def require_sealed(data: object) -> None:
    """Raise :class:`NotSealed` unless ``data`` is a sealed envelope (storage guard)."""
    _parse_envelope(data)


def envelope_key_id(envelope: bytes) -> str:
    """Id of the study key an envelope is sealed to (to find what to re-seal after rotation)."""
    return _parse_envelope(envelope).key_id


# ── Key holders: wrapping the study private key ───────────────────────────────────────────


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters (RFC 9106). Stored in every wrapped blob, so they can rise."""

    memory_kib: int
    iterations: int
    lanes: int

    def __post_init__(self) -> None:
        # Bounds also protect unwrap from a crafted blob asking for terabytes of memory.
        for value in (self.memory_kib, self.iterations, self.lanes):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError("Argon2id parameters must be integers")
        if not 1 <= self.lanes <= 16:
            raise ValueError("lanes must be 1..16")
        if not 1 <= self.iterations <= 64:
            raise ValueError("iterations must be 1..64")
        if not 8 * self.lanes <= self.memory_kib <= 4 * 1024 * 1024:
            raise ValueError("memory_kib must be between 8*lanes and 4 GiB")


# 128 MiB, 3 passes, 1 lane: above RFC 9106's second recommended option (64 MiB, t=3) and well
# above OWASP's Argon2id floor (46 MiB, t=1). Measured on the 2-core AMD EPYC dev VM with
# argon2-cffi 25.1: 0.32 s per wrap or unwrap (0.3-0.45 s under load). Unwrapping happens only
# when a key holder opens a study (export, adding a holder, rotation), so users pay it rarely,
# while every offline passphrase guess costs an attacker the same 128 MiB and ~0.3 s.
PRODUCTION_KDF: Final = KdfParams(memory_kib=128 * 1024, iterations=3, lanes=1)

MIN_PASSPHRASE_LENGTH: Final = 12
_WRAP_FORMAT: Final = "chorus-wrapped-study-key"
_WRAP_V1: Final = 1
_SALT_LENGTH: Final = 16
_NONCE_LENGTH: Final = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise WrappedKeyError("wrapped key field is not a string")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise WrappedKeyError("wrapped key field is not base64") from None


def _passphrase_bytes(passphrase: str) -> bytes:
    # NFC so the same passphrase typed on macOS (NFD input) and elsewhere derives the same key.
    if not isinstance(passphrase, str):
        raise TypeError("passphrase must be a str")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _derive_wrapping_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    return _argon2_raw(
        secret=_passphrase_bytes(passphrase),
        salt=salt,
        time_cost=params.iterations,
        memory_cost=params.memory_kib,
        parallelism=params.lanes,
        hash_len=32,
        type=_Argon2Type.ID,
    )


def _wrap_header_aad(header: Mapping[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii")


def wrap_for_holder(
    key: UnlockedStudyKey, passphrase: str, params: KdfParams = PRODUCTION_KDF
) -> bytes:
    """Wrap the study private key under a key holder's passphrase.

    Output is UTF-8 JSON: format/version, suite, key id, Argon2id parameters and salt, nonce
    and ciphertext. Everything except the ciphertext is the AES-GCM associated data, so the
    key id and parameters cannot be swapped without the unwrap failing.
    """
    if len(unicodedata.normalize("NFC", passphrase)) < MIN_PASSPHRASE_LENGTH:
        raise WeakPassphrase(f"passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters")
    salt = secrets.token_bytes(_SALT_LENGTH)
    nonce = secrets.token_bytes(_NONCE_LENGTH)
    header: dict[str, Any] = {
        "format": _WRAP_FORMAT,
        "version": _WRAP_V1,
        "suite": key.suite_name,
        "key_id": key.key_id,
        "kdf": {
            "alg": "argon2id",
            "v": 0x13,
            "m": params.memory_kib,
            "t": params.iterations,
            "p": params.lanes,
            "salt": _b64(salt),
        },
        "aead": "aes-256-gcm",
        "nonce": _b64(nonce),
    }
    wrapping_key = _derive_wrapping_key(passphrase, salt, params)
    private_raw = key._private.private_bytes_raw()
    ciphertext = AESGCM(wrapping_key).encrypt(nonce, private_raw, _wrap_header_aad(header))
    blob = dict(header, ciphertext=_b64(ciphertext))
    return json.dumps(blob, sort_keys=True, indent=1).encode("ascii") + b"\n"


def _read_wrapped(wrapped: bytes) -> tuple[dict[str, Any], _HpkeSuite, KdfParams, bytes, bytes]:
    try:
        blob = json.loads(wrapped)
    except (ValueError, TypeError):
        raise WrappedKeyError("wrapped key is not JSON") from None
    if not isinstance(blob, dict) or blob.get("format") != _WRAP_FORMAT:
        raise WrappedKeyError("not a Chorus wrapped study key")
    if blob.get("version") != _WRAP_V1:
        raise WrappedKeyError(f"unsupported wrapped key version {blob.get('version')!r}")
    header = {k: v for k, v in blob.items() if k != "ciphertext"}
    suite = _SUITES_BY_NAME.get(str(header.get("suite")))
    kdf = header.get("kdf")
    if suite is None or not isinstance(kdf, dict) or header.get("aead") != "aes-256-gcm":
        raise WrappedKeyError("unsupported suite, KDF or cipher in wrapped key")
    if kdf.get("alg") != "argon2id" or kdf.get("v") != 0x13:
        raise WrappedKeyError("unsupported KDF in wrapped key")
    try:
        params = KdfParams(memory_kib=kdf["m"], iterations=kdf["t"], lanes=kdf["p"])
    except (KeyError, TypeError, ValueError):
        raise WrappedKeyError("bad KDF parameters in wrapped key") from None
    salt = _unb64(kdf.get("salt"))
    if len(salt) < _SALT_LENGTH:
        raise WrappedKeyError("bad salt in wrapped key")
    return header, suite, params, salt, _unb64(blob.get("ciphertext"))


def unwrap_for_holder(wrapped: bytes, passphrase: str) -> UnlockedStudyKey:
    """Unwrap a study key; raise :class:`WrongPassphrase` (and nothing more) if it fails."""
    header, suite, params, salt, ciphertext = _read_wrapped(wrapped)
    nonce = _unb64(header.get("nonce"))
    if len(nonce) != _NONCE_LENGTH:
        raise WrappedKeyError("bad nonce in wrapped key")
    wrapping_key = _derive_wrapping_key(passphrase, salt, params)
    private_raw: bytes | None
    try:
        private_raw = AESGCM(wrapping_key).decrypt(nonce, ciphertext, _wrap_header_aad(header))
    except InvalidTag:
        private_raw = None
    if private_raw is None:  # raised outside the except block: no __context__ to leak
        raise WrongPassphrase("wrong passphrase or recovery key")
    key = UnlockedStudyKey(x25519.X25519PrivateKey.from_private_bytes(private_raw), suite)
    if key.key_id != header.get("key_id"):
        # Authenticated, so only reachable through a bug when wrapping; fail loudly anyway.
        raise WrappedKeyError("unwrapped key does not match the recorded key id")
    return key


# ── Recovery key ──────────────────────────────────────────────────────────────────────────
# 256 random bits + 24-bit checksum = 280 bits = 56 Crockford base32 characters, shown as 14
# groups of 4. Crockford's alphabet has no I, L, O or U, and reading accepts lower case and
# maps I/L to 1 and O to 0, so the usual transcription slips still decode; anything else is
# caught by the checksum before the (slow) unwrap is tried.
#
# Wrapping with the recovery key reuses the passphrase wrap (same blob format, Argon2id and
# all) with the canonical recovery key string as the passphrase. Argon2id adds nothing to a
# 256-bit secret, but one format and one code path to keep correct is worth ~0.4 s.

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_READ: Final = {c: i for i, c in enumerate(_CROCKFORD)} | {"I": 1, "L": 1, "O": 0}
_RECOVERY_SECRET_BYTES: Final = 32
_RECOVERY_CHECK_BYTES: Final = 3
_RECOVERY_CHARS: Final = (_RECOVERY_SECRET_BYTES + _RECOVERY_CHECK_BYTES) * 8 // 5  # 56
_RECOVERY_GROUP: Final = 4


def _recovery_checksum(secret: bytes) -> bytes:
    return hashlib.sha256(b"chorus/recovery-key/v1\x00" + secret).digest()[:_RECOVERY_CHECK_BYTES]


def new_recovery_key() -> str:
    """A fresh recovery key (256 bits) to show once, e.g. ``"7K2M-Q9XD-..."`` (14 groups)."""
    secret = secrets.token_bytes(_RECOVERY_SECRET_BYTES)
    number = int.from_bytes(secret + _recovery_checksum(secret), "big")
    chars = [_CROCKFORD[(number >> (5 * i)) & 31] for i in reversed(range(_RECOVERY_CHARS))]
    text = "".join(chars)
    return "-".join(text[i : i + _RECOVERY_GROUP] for i in range(0, len(text), _RECOVERY_GROUP))


def normalize_recovery_key(typed: str) -> str:
    """Canonical form of a typed recovery key, or :class:`RecoveryKeyTypo` saying what is off.

    Errors name positions and counts only, never the characters, since they may be logged.
    """
    cleaned = "".join(ch for ch in typed.upper() if ch not in " -\t\r\n")
    values: list[int] = []
    for position, ch in enumerate(cleaned, start=1):
        value = _CROCKFORD_READ.get(ch)
        if value is None:
            raise RecoveryKeyTypo(f"character {position} of the recovery key is not valid")
        values.append(value)
    if len(values) != _RECOVERY_CHARS:
        raise RecoveryKeyTypo(
            f"a recovery key has {_RECOVERY_CHARS} characters; {len(values)} were entered"
        )
    number = 0
    for value in values:
        number = (number << 5) | value
    raw = number.to_bytes(_RECOVERY_SECRET_BYTES + _RECOVERY_CHECK_BYTES, "big")
    secret, check = raw[:_RECOVERY_SECRET_BYTES], raw[_RECOVERY_SECRET_BYTES:]
    if not hmac.compare_digest(check, _recovery_checksum(secret)):
        raise RecoveryKeyTypo("the recovery key has a typo (checksum does not match)")
    text = "".join(_CROCKFORD[v] for v in values)
    return "-".join(text[i : i + _RECOVERY_GROUP] for i in range(0, len(text), _RECOVERY_GROUP))


def wrap_with_recovery_key(
    key: UnlockedStudyKey, recovery_key: str, params: KdfParams = PRODUCTION_KDF
) -> bytes:
    """Wrap the study key under a recovery key from :func:`new_recovery_key`."""
    return wrap_for_holder(key, normalize_recovery_key(recovery_key), params)


def unwrap_with_recovery_key(wrapped: bytes, recovery_key: str) -> UnlockedStudyKey:
    """Unwrap with a typed recovery key; :class:`RecoveryKeyTypo` before any slow work."""
    return unwrap_for_holder(wrapped, normalize_recovery_key(recovery_key))


# ── Tokens (invitations, device credentials) ──────────────────────────────────────────────


def new_token(nbytes: int = 32) -> str:
    """URL-safe random token (default 256 bits) to hand out once and store only as a hash."""
    if nbytes < 16:
        raise ValueError("tokens need at least 16 random bytes")
    return secrets.token_urlsafe(nbytes)


def is_p256_public_point(point: bytes) -> bool:
    """Is ``point`` an uncompressed NIST P-256 public key (65 bytes, ``0x04 || X || Y``) on the
    curve? What a browser's push subscription hands over as ``p256dh``."""
    if len(point) != 65 or point[0] != 0x04:
        return False
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return False
    return True


def hash_token(token: str) -> str:
    """SHA-256 hex of a token. Plain SHA-256 is right for high-entropy tokens; short
    human-typed codes need rate limiting and expiry as well, as hashing alone cannot save them."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches_hash(token: str, token_hash: str) -> bool:
    """Constant-time check of a presented token against a stored :func:`hash_token` value."""
    return hmac.compare_digest(hash_token(token), token_hash)


# ── Ephemeral spill (exports) ─────────────────────────────────────────────────────────────


class EphemeralSpill:
    """Bytes an export must hold for a while (e.g. long.csv rows while the wide files are
    written), kept on disk only as AES-256-GCM ciphertext under a key that exists in this
    object's memory alone. The file is anonymous (unlinked from the start), so neither a
    crash nor a copy of the disk reveals or even names it; memory stays flat however large the
    export. Write everything, then :meth:`chunks` once.

    Chunks are numbered by their nonce (a counter) and the last one is marked in the AAD, so a
    chunk dropped, reordered or cut off would fail to open rather than go unnoticed.
    """

    _CHUNK = 1 << 20
    _LENGTH = struct.Struct(">I")

    def __init__(self) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by chunks()/close()
        self._pending = bytearray()
        self._written = 0
        self.size = 0

    def __repr__(self) -> str:
        return f"EphemeralSpill(size={self.size}, key=<redacted>)"

    def write(self, data: bytes) -> int:
        self._pending += data
        self.size += len(data)
        if len(self._pending) >= self._CHUNK:
            self._seal(bytes(self._pending[: self._CHUNK]), last=False)
            del self._pending[: self._CHUNK]
        return len(data)

    def _seal(self, plaintext: bytes, *, last: bool) -> None:
        nonce = self._written.to_bytes(12, "big")
        sealed = self._aead.encrypt(nonce, plaintext, b"last" if last else b"more")
        self._file.write(self._LENGTH.pack(len(sealed)) + sealed)
        self._written += 1

    def chunks(self) -> Iterator[bytes]:
        """The bytes written, in order, chunk by chunk; then the spill is gone."""
        self._seal(bytes(self._pending), last=True)
        self._pending.clear()
        self._file.seek(0)
        try:
            for index in range(self._written):
                (length,) = self._LENGTH.unpack(self._file.read(self._LENGTH.size))
                last = index == self._written - 1
                nonce = index.to_bytes(12, "big")
                yield self._aead.decrypt(
                    nonce, self._file.read(length), b"last" if last else b"more"
                )
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()
