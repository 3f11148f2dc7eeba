"""Tests for app/crypto.py: sealing, key holders, recovery keys, stored-fixture regression guard.

Plain pytest, no Flask app. Argon2id is made cheap with the explicit ``cheap_kdf`` fixture (never
via an environment or production switch).
"""

from __future__ import annotations

import ast
import json
import pickle
import string
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import crypto
from app.crypto import (
    PRODUCTION_KDF,
    EnvelopeError,
    KdfParams,
    NotSealed,
    RecoveryKeyTypo,
    SealContext,
    UnlockedStudyKey,
    WeakPassphrase,
    WrappedKeyError,
    WrongPassphrase,
    decryptor_for_export,
    envelope_key_id,
    hash_token,
    is_sealed_envelope,
    new_recovery_key,
    new_study_key,
    new_token,
    normalize_recovery_key,
    open_response,
    public_key_id,
    require_sealed,
    seal_response,
    token_matches_hash,
    unwrap_for_holder,
    unwrap_with_recovery_key,
    wrap_for_holder,
    wrap_with_recovery_key,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "crypto"

PASSPHRASE = "tall stamp of the lighthouse keeper"
CANARY = "CANARY-7f3a9c-answer-must-never-appear"
CONTEXT = SealContext("study-1", "6a1f2d3e-0000-4000-8000-000000000001", "phq9@1.0.0")


@pytest.fixture(scope="module")
def cheap_kdf() -> KdfParams:
    # The smallest legal Argon2id cost: tests exercise the format, not the strength.
    return KdfParams(memory_kib=8, iterations=1, lanes=1)


@pytest.fixture(scope="module")
def key() -> UnlockedStudyKey:
    return new_study_key()


@pytest.fixture(scope="module")
def other_key() -> UnlockedStudyKey:
    return new_study_key()


def seal(key: UnlockedStudyKey, payload: dict[str, Any], context: SealContext = CONTEXT) -> bytes:
    return seal_response(key.public_key, key.key_id, context, payload)


# ── Stored fixtures: the regression guard the module banner asks for ─────────────────────
# Values duplicated from tests/fixtures/crypto/generate.py on purpose (the test is the spec).

FIXTURE_PASSPHRASE = "fixture passphrase: Bärlauch & Zwölf 12"
FIXTURE_RECOVERY_KEY = "C6AF-1Q14-YW3R-G13G-7RBR-WZV4-XA46-C7N1-31MQ-6WQY-Y2RC-AGEF-FD31-50MG"
FIXTURE_ENVELOPES = {
    "envelope_1.bin": (
        SealContext("study-fixture", "0b6e1c4e-6f3a-4f43-9c55-1d1f3c1f0001", "fatigue@1.0.0"),
        {
            "answers": {
                "fatigue": 3,
                "pain_today": "moderate",
                "notes": "Müde nach der Schule — 疲れた",
            },
            "scores": {"total": 7.5},
        },
    ),
    "envelope_2.bin": (
        SealContext("study-fixture", "0b6e1c4e-6f3a-4f43-9c55-1d1f3c1f0002", "sleep@2.1.0"),
        {
            "answers": {"sleep_hours": 6, "skipped": None, "symptoms": ["cough", "fever"]},
            "scores": {},
        },
    ),
}


@pytest.fixture(scope="module")
def fixture_manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text())
    return manifest


def test_stored_passphrase_wrapped_key_still_unwraps(fixture_manifest: dict[str, Any]) -> None:
    wrapped = (FIXTURES / "study_key.wrapped.json").read_bytes()
    key = unwrap_for_holder(wrapped, FIXTURE_PASSPHRASE)
    assert key.key_id == fixture_manifest["key_id"]
    assert key.public_key.hex() == fixture_manifest["public_key_hex"]


def test_stored_recovery_wrapped_key_still_unwraps(fixture_manifest: dict[str, Any]) -> None:
    wrapped = (FIXTURES / "study_key.recovery.wrapped.json").read_bytes()
    key = unwrap_with_recovery_key(wrapped, FIXTURE_RECOVERY_KEY)
    assert key.key_id == fixture_manifest["key_id"]


@pytest.mark.parametrize("name", sorted(FIXTURE_ENVELOPES))
def test_stored_envelopes_still_open(name: str, fixture_manifest: dict[str, Any]) -> None:
    context, expected = FIXTURE_ENVELOPES[name]
    key = unwrap_for_holder((FIXTURES / "study_key.wrapped.json").read_bytes(), FIXTURE_PASSPHRASE)
    envelope = (FIXTURES / name).read_bytes()
    assert envelope_key_id(envelope) == fixture_manifest["key_id"]
    assert open_response(key, envelope, context) == expected
    assert decryptor_for_export([key])(envelope, context) == expected


def test_stored_fixtures_refuse_wrong_secrets() -> None:
    with pytest.raises(WrongPassphrase):
        unwrap_for_holder((FIXTURES / "study_key.wrapped.json").read_bytes(), PASSPHRASE)
    with pytest.raises(WrongPassphrase):
        unwrap_for_holder(
            (FIXTURES / "study_key.recovery.wrapped.json").read_bytes(), FIXTURE_PASSPHRASE
        )


# ── Sealing ───────────────────────────────────────────────────────────────────────────────


def test_round_trip(key: UnlockedStudyKey) -> None:
    payload = {"answers": {"q1": 2, "q2": "Ja, ständig", "q3": [1, 2]}, "scores": {"total": 4.5}}
    envelope = seal(key, payload)
    assert is_sealed_envelope(envelope)
    assert envelope_key_id(envelope) == key.key_id
    assert open_response(key, envelope, CONTEXT) == payload


def test_sealing_twice_gives_different_envelopes(key: UnlockedStudyKey) -> None:
    assert seal(key, {"a": 1}) != seal(key, {"a": 1})


def test_envelope_header_records_version_suite_and_key_id(key: UnlockedStudyKey) -> None:
    envelope = seal(key, {"a": 1})
    assert envelope[:5] == b"\x89CSE\x01"
    assert envelope[5:11] == bytes.fromhex("002000010002")  # X25519, HKDF-SHA256, AES-256-GCM
    assert envelope[11] == len(key.key_id)
    assert envelope[12 : 12 + len(key.key_id)] == key.key_id.encode()


def test_tampering_with_any_single_byte_fails(key: UnlockedStudyKey) -> None:
    envelope = seal(key, {"answers": {"q1": 1}})
    # Every position: magic, version, suite ids, key id, enc, ciphertext and tag.
    for position in range(len(envelope)):
        for flip in (0x01, 0x80):
            tampered = bytearray(envelope)
            tampered[position] ^= flip
            with pytest.raises(EnvelopeError):
                open_response(key, bytes(tampered), CONTEXT)


@pytest.mark.parametrize("cut", [1, 16, 17])
def test_truncated_or_extended_envelope_fails(key: UnlockedStudyKey, cut: int) -> None:
    envelope = seal(key, {"answers": {"q1": 1}})
    with pytest.raises(EnvelopeError):
        open_response(key, envelope[:-cut], CONTEXT)
    with pytest.raises(EnvelopeError):
        open_response(key, envelope + b"\x00" * cut, CONTEXT)


@pytest.mark.parametrize(
    "moved_to",
    [
        SealContext(CONTEXT.study_id, "6a1f2d3e-0000-4000-8000-000000000002", "phq9@1.0.0"),
        SealContext("study-2", CONTEXT.response_id, CONTEXT.instrument_version),
        SealContext(CONTEXT.study_id, CONTEXT.response_id, "phq9@1.0.1"),
        # Length-prefixed encoding: shifting characters between fields changes the info.
        SealContext("study-16a1f2d3e", "-0000-4000-8000-000000000001", "phq9@1.0.0"),
    ],
    ids=["other-response", "other-study", "other-instrument-version", "shifted-fields"],
)
def test_envelope_moved_to_another_row_does_not_open(
    key: UnlockedStudyKey, moved_to: SealContext
) -> None:
    envelope = seal(key, {"answers": {"q1": 1}})
    with pytest.raises(EnvelopeError):
        open_response(key, envelope, moved_to)


def test_wrong_key_fails(key: UnlockedStudyKey, other_key: UnlockedStudyKey) -> None:
    envelope = seal(key, {"answers": {"q1": 1}})
    with pytest.raises(EnvelopeError):
        open_response(other_key, envelope, CONTEXT)
    # Relabelling the envelope with the other key's id does not help either.
    relabelled = envelope.replace(key.key_id.encode(), other_key.key_id.encode())
    with pytest.raises(EnvelopeError):
        open_response(other_key, relabelled, CONTEXT)


def test_seal_refuses_key_id_that_does_not_match_public_key(
    key: UnlockedStudyKey, other_key: UnlockedStudyKey
) -> None:
    with pytest.raises(ValueError, match="key_id"):
        seal_response(key.public_key, other_key.key_id, CONTEXT, {"a": 1})
    assert public_key_id(key.public_key) == key.key_id


def test_seal_refuses_non_json_payload(key: UnlockedStudyKey) -> None:
    with pytest.raises(ValueError):
        seal(key, {"score": float("nan")})
    with pytest.raises(TypeError):
        seal(key, {"when": object()})


def test_seal_context_requires_non_empty_strings() -> None:
    with pytest.raises(ValueError):
        SealContext("", "r", "v")
    with pytest.raises(ValueError):
        SealContext("s", 42, "v")  # type: ignore[arg-type]


# ── Rotation and export ───────────────────────────────────────────────────────────────────


def test_rotation_old_envelopes_open_through_decryptor_with_both_keys(
    key: UnlockedStudyKey, other_key: UnlockedStudyKey
) -> None:
    old_context = SealContext("study-1", "r-old", "v1")
    new_context = SealContext("study-1", "r-new", "v1")
    old = seal(key, {"answers": {"q": "old"}}, old_context)
    new = seal(other_key, {"answers": {"q": "new"}}, new_context)

    decrypt = decryptor_for_export([other_key, key])
    assert decrypt(old, old_context) == {"answers": {"q": "old"}}
    assert decrypt(new, new_context) == {"answers": {"q": "new"}}

    only_new = decryptor_for_export([other_key])
    with pytest.raises(EnvelopeError, match="no unlocked key"):
        only_new(old, old_context)

    # Re-sealing under the new key after rotation: find old ones by key id, open, seal again.
    assert envelope_key_id(old) == key.key_id
    resealed = seal(other_key, decrypt(old, old_context), old_context)
    assert envelope_key_id(resealed) == other_key.key_id
    assert only_new(resealed, old_context) == {"answers": {"q": "old"}}


# ── Storage guard ─────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "data",
    [
        b'{"answers": {"q1": 3}}',
        b"",
        b"\x89CSE",
        b"\x89CSE\x02" + b"\x00" * 80,  # unknown version
        "a string",
        None,
        {"answers": {}},
    ],
)
def test_require_sealed_refuses_plaintext(data: Any) -> None:
    assert not is_sealed_envelope(data)
    with pytest.raises(NotSealed):
        require_sealed(data)


def test_require_sealed_accepts_envelope(key: UnlockedStudyKey) -> None:
    envelope = seal(key, {"a": 1})
    require_sealed(envelope)
    require_sealed(bytearray(envelope))
    require_sealed(memoryview(envelope))


def test_not_sealed_is_an_envelope_error() -> None:
    # Callers opening envelopes need to catch only EnvelopeError.
    assert issubclass(NotSealed, EnvelopeError)


# ── Key holders ───────────────────────────────────────────────────────────────────────────


def test_wrap_unwrap_round_trip(key: UnlockedStudyKey, cheap_kdf: KdfParams) -> None:
    wrapped = wrap_for_holder(key, PASSPHRASE, cheap_kdf)
    unwrapped = unwrap_for_holder(wrapped, PASSPHRASE)
    assert unwrapped.key_id == key.key_id
    assert open_response(unwrapped, seal(key, {"a": 1}), CONTEXT) == {"a": 1}


def test_wrapped_blob_is_self_describing(key: UnlockedStudyKey, cheap_kdf: KdfParams) -> None:
    blob = json.loads(wrap_for_holder(key, PASSPHRASE, cheap_kdf))
    assert blob["format"] == "chorus-wrapped-study-key"
    assert blob["version"] == 1
    assert blob["key_id"] == key.key_id
    assert blob["kdf"]["alg"] == "argon2id"
    assert (blob["kdf"]["m"], blob["kdf"]["t"], blob["kdf"]["p"]) == (8, 1, 1)
    assert len(blob["kdf"]["salt"]) >= 24  # 16 bytes of salt in base64


def test_each_wrap_uses_fresh_salt_and_nonce(key: UnlockedStudyKey, cheap_kdf: KdfParams) -> None:
    first = json.loads(wrap_for_holder(key, PASSPHRASE, cheap_kdf))
    second = json.loads(wrap_for_holder(key, PASSPHRASE, cheap_kdf))
    assert first["kdf"]["salt"] != second["kdf"]["salt"]
    assert first["nonce"] != second["nonce"]


def test_wrong_passphrase_fails_cleanly(key: UnlockedStudyKey, cheap_kdf: KdfParams) -> None:
    wrapped = wrap_for_holder(key, PASSPHRASE, cheap_kdf)
    with pytest.raises(WrongPassphrase) as raised:
        unwrap_for_holder(wrapped, PASSPHRASE + "!")
    assert PASSPHRASE not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("key_id", "0000000000000000"), ("m", 16), ("t", 2), ("nonce", "AAAAAAAAAAAAAAAA")],
)
def test_altered_wrapped_header_does_not_unwrap(
    key: UnlockedStudyKey, cheap_kdf: KdfParams, field: str, value: Any
) -> None:
    blob = json.loads(wrap_for_holder(key, PASSPHRASE, cheap_kdf))
    if field in ("m", "t"):
        blob["kdf"][field] = value
    else:
        blob[field] = value
    with pytest.raises(WrongPassphrase):
        unwrap_for_holder(json.dumps(blob).encode(), PASSPHRASE)


@pytest.mark.parametrize(
    "wrapped",
    [
        b"not json",
        b"[]",
        b'{"format": "something-else"}',
        b'{"format": "chorus-wrapped-study-key", "version": 99}',
    ],
)
def test_malformed_wrapped_key_is_reported_as_such(wrapped: bytes) -> None:
    with pytest.raises(WrappedKeyError):
        unwrap_for_holder(wrapped, PASSPHRASE)


@pytest.mark.parametrize("memory", [2**40, 1024.0, True, "1024", None])
def test_crafted_blob_cannot_demand_huge_or_odd_argon2_memory(
    key: UnlockedStudyKey, cheap_kdf: KdfParams, memory: Any
) -> None:
    blob = json.loads(wrap_for_holder(key, PASSPHRASE, cheap_kdf))
    blob["kdf"]["m"] = memory
    with pytest.raises(WrappedKeyError):
        unwrap_for_holder(json.dumps(blob).encode(), PASSPHRASE)


def test_any_single_byte_change_to_a_wrapped_key_fails_cleanly(
    key: UnlockedStudyKey, cheap_kdf: KdfParams
) -> None:
    wrapped = wrap_for_holder(key, PASSPHRASE, cheap_kdf)
    outcomes: set[str] = set()
    for position in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[position] ^= 0x01
        try:
            unwrapped = unwrap_for_holder(bytes(tampered), PASSPHRASE)
        except (WrongPassphrase, WrappedKeyError) as error:
            outcomes.add(type(error).__name__)
        else:
            # Only a non-canonical base64 spelling of the same ciphertext can get here.
            assert unwrapped.key_id == key.key_id
    assert outcomes == {"WrongPassphrase", "WrappedKeyError"}


def test_short_passphrase_is_refused(key: UnlockedStudyKey, cheap_kdf: KdfParams) -> None:
    with pytest.raises(WeakPassphrase):
        wrap_for_holder(key, "short", cheap_kdf)


def test_passphrase_unicode_normalization(key: UnlockedStudyKey, cheap_kdf: KdfParams) -> None:
    composed = unicodedata.normalize("NFC", "Grüße aus Zürich, 2024")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    wrapped = wrap_for_holder(key, composed, cheap_kdf)
    assert unwrap_for_holder(wrapped, decomposed).key_id == key.key_id


def test_production_kdf_is_strong() -> None:
    # Guard against someone "temporarily" lowering the cost; raise it freely.
    assert PRODUCTION_KDF.memory_kib >= 64 * 1024
    assert PRODUCTION_KDF.iterations >= 3


def test_production_kdf_round_trip(key: UnlockedStudyKey) -> None:
    # The one test paying the real cost (~0.3 s x 2, 128 MiB): proves the parameters are
    # accepted by libargon2 and recorded in the blob.
    wrapped = wrap_for_holder(key, PASSPHRASE)
    assert json.loads(wrapped)["kdf"]["m"] == PRODUCTION_KDF.memory_kib
    assert unwrap_for_holder(wrapped, PASSPHRASE).key_id == key.key_id


def test_wrap_defaults_to_production_kdf() -> None:
    import inspect

    assert inspect.signature(wrap_for_holder).parameters["params"].default is PRODUCTION_KDF


# ── Recovery key ──────────────────────────────────────────────────────────────────────────

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def test_recovery_key_shape() -> None:
    recovery = new_recovery_key()
    groups = recovery.split("-")
    assert len(groups) == 14
    assert all(len(g) == 4 and set(g) <= set(CROCKFORD) for g in groups)
    # 56 base32 characters = 280 bits, of which 24 are checksum: 256 bits of entropy.
    assert len("".join(groups)) * 5 - 24 >= 256
    assert new_recovery_key() != recovery
    assert normalize_recovery_key(recovery) == recovery


def test_recovery_key_accepts_sloppy_but_unambiguous_typing() -> None:
    recovery = FIXTURE_RECOVERY_KEY
    sloppy = recovery.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert normalize_recovery_key(sloppy) == recovery


def test_recovery_key_detects_every_single_character_typo() -> None:
    recovery = new_recovery_key()
    compact = recovery.replace("-", "")
    for position, ch in enumerate(compact):
        wrong = CROCKFORD[(CROCKFORD.index(ch) + 1) % 32]
        typo = compact[:position] + wrong + compact[position + 1 :]
        with pytest.raises(RecoveryKeyTypo):
            normalize_recovery_key(typo)


def test_recovery_key_detects_swaps_and_missing_characters() -> None:
    compact = FIXTURE_RECOVERY_KEY.replace("-", "")
    swaps = [
        compact[:i] + compact[i + 1] + compact[i] + compact[i + 2 :]
        for i in range(len(compact) - 1)
        if compact[i] != compact[i + 1]
    ]
    for swapped in swaps:
        with pytest.raises(RecoveryKeyTypo):
            normalize_recovery_key(swapped)
    with pytest.raises(RecoveryKeyTypo, match="56 characters; 55 were entered"):
        normalize_recovery_key(compact[:-1])
    with pytest.raises(RecoveryKeyTypo, match="character 3 "):
        normalize_recovery_key(compact[:2] + "U" + compact[3:])


def test_recovery_key_wraps_and_unwraps(key: UnlockedStudyKey, cheap_kdf: KdfParams) -> None:
    recovery = new_recovery_key()
    wrapped = wrap_with_recovery_key(key, recovery, cheap_kdf)
    assert unwrap_with_recovery_key(wrapped, recovery.lower()).key_id == key.key_id
    with pytest.raises(WrongPassphrase):
        unwrap_with_recovery_key(wrapped, new_recovery_key())


def test_recovery_key_typo_is_reported_before_unwrapping(
    key: UnlockedStudyKey, cheap_kdf: KdfParams
) -> None:
    recovery = new_recovery_key()
    wrapped = wrap_with_recovery_key(key, recovery, cheap_kdf)
    typo = ("X" if recovery[0] != "X" else "Y") + recovery[1:]
    with pytest.raises(RecoveryKeyTypo) as raised:
        unwrap_with_recovery_key(wrapped, typo)
    assert recovery.replace("-", "")[1:] not in str(raised.value)


# ── Leaks ─────────────────────────────────────────────────────────────────────────────────


def test_canary_plaintext_does_not_appear_in_envelope(key: UnlockedStudyKey) -> None:
    envelope = seal(key, {"answers": {"free_text": CANARY}})
    for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
        assert CANARY.encode(encoding) not in envelope
    assert CANARY[:12].encode() not in envelope


def test_key_repr_and_str_hold_no_key_material(key: UnlockedStudyKey, cheap_kdf: KdfParams) -> None:
    from cryptography.hazmat.primitives.serialization import (  # only tests may import it too
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    raw = key._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert key.key_id in text
        assert "redacted" in text
        for form in (raw.hex(), raw.hex().upper(), repr(raw), raw.decode("latin-1")):
            assert form not in text
    assert not hasattr(key, "__dict__")  # no stray attributes to dump
    assert not [name for name in dir(key) if "private" in name and not name.startswith("_")]


def test_key_cannot_be_pickled(key: UnlockedStudyKey) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_exceptions_hold_no_plaintext_or_passphrase(
    key: UnlockedStudyKey, other_key: UnlockedStudyKey, cheap_kdf: KdfParams
) -> None:
    envelope = seal(key, {"answers": {"free_text": CANARY}})
    failures: list[BaseException] = []
    for attempt in (
        lambda: open_response(other_key, envelope, CONTEXT),
        lambda: open_response(key, envelope, SealContext("x", "y", "z")),
        lambda: open_response(key, envelope[:-1] + bytes([envelope[-1] ^ 0x01]), CONTEXT),
        lambda: require_sealed(json.dumps({"answers": {"free_text": CANARY}}).encode()),
        lambda: unwrap_for_holder(wrap_for_holder(key, PASSPHRASE, cheap_kdf), CANARY),
    ):
        with pytest.raises(crypto.CryptoError) as raised:
            attempt()
        failures.append(raised.value)
    for error in failures:
        for text in (str(error), repr(error), repr(error.args)):
            assert CANARY not in text
            assert PASSPHRASE not in text
        assert error.__cause__ is None
        assert error.__context__ is None


@pytest.mark.parametrize(
    "plaintext", [b"not json " + CANARY.encode(), b'["' + CANARY.encode() + b'"]']
)
def test_authentic_but_non_object_payload_is_refused_without_leaking(
    key: UnlockedStudyKey, plaintext: bytes
) -> None:
    # Cannot happen through seal_response; built by hand to pin the error path, whose
    # JSONDecodeError would otherwise carry the whole plaintext in its .doc attribute.
    envelope = seal(key, {})
    header = envelope[: 12 + len(key.key_id)]
    body = crypto.DEFAULT_SUITE.primitive().encrypt(
        plaintext, key._private.public_key(), info=crypto._info(header, CONTEXT)
    )
    with pytest.raises(EnvelopeError) as raised:
        open_response(key, header + body, CONTEXT)
    assert CANARY not in str(raised.value)
    assert raised.value.__context__ is None


# ── Only this module imports cryptography ─────────────────────────────────────────────────


def _imports_cryptography(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        if any(name == "cryptography" or name.startswith("cryptography.") for name in names):
            return True
    return False


def test_only_app_crypto_imports_cryptography() -> None:
    app_dir = ROOT / "app"
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in app_dir.rglob("*.py")
        if path != app_dir / "crypto.py"
        and _imports_cryptography(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    )
    assert offenders == [], f"only app/crypto.py may import cryptography: {offenders}"
    assert _imports_cryptography(ast.parse((app_dir / "crypto.py").read_text()))


@pytest.mark.parametrize(
    "source",
    [
        "import cryptography",
        "import cryptography.hazmat.primitives.hpke as h",
        "from cryptography.hazmat.primitives import hpke",
        "from cryptography import x509",
        "def f():\n    import cryptography.fernet",
        "import importlib\nimportlib.import_module('cryptography.fernet')",
    ],
)
def test_import_detector_catches_every_form(source: str) -> None:
    assert _imports_cryptography(ast.parse(source))


def test_import_detector_ignores_lookalikes() -> None:
    assert not _imports_cryptography(ast.parse("import cryptographyx\nfrom . import crypto"))


# ── Tokens ────────────────────────────────────────────────────────────────────────────────


def test_tokens_are_random_and_stored_as_hashes() -> None:
    token = new_token()
    assert len(token) >= 43 and set(token) <= set(string.ascii_letters + string.digits + "-_")
    assert token != new_token()
    stored = hash_token(token)
    assert len(stored) == 64 and token not in stored
    assert token_matches_hash(token, stored)
    assert not token_matches_hash(token + "x", stored)
    with pytest.raises(ValueError):
        new_token(8)


# ── Properties ────────────────────────────────────────────────────────────────────────────

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
payloads = st.dictionaries(st.text(max_size=12), json_values, max_size=6)
contexts = st.builds(
    SealContext,
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=40),
    st.text(min_size=1, max_size=20),
)
# Moderate: the machine is shared. Keys come from module-scoped fixtures, so no health check.
_module_settings = settings(max_examples=60, deadline=None)


@_module_settings
@given(payload=payloads, context=contexts)
def test_random_payloads_round_trip(
    key: UnlockedStudyKey, payload: dict[str, Any], context: SealContext
) -> None:
    envelope = seal(key, payload, context)
    require_sealed(envelope)
    assert open_response(key, envelope, context) == payload


@_module_settings
@given(data=st.binary(max_size=200))
def test_random_bytes_never_open(key: UnlockedStudyKey, data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        open_response(key, data, CONTEXT)


@_module_settings
@given(tail=st.binary(max_size=200))
def test_random_bytes_behind_a_valid_header_never_open(key: UnlockedStudyKey, tail: bytes) -> None:
    header = seal(key, {})[: 12 + len(key.key_id)]
    with pytest.raises(EnvelopeError):
        open_response(key, header + tail, CONTEXT)
    with pytest.raises(EnvelopeError):
        decryptor_for_export([key])(header + tail, CONTEXT)


# The P-256 base point G, uncompressed (SEC 2, section 2.4.2).
_P256_G = bytes.fromhex(
    "04"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
)


def test_p256_point_check_accepts_points_on_the_curve_only() -> None:
    assert crypto.is_p256_public_point(_P256_G)
    off_curve = bytearray(_P256_G)
    off_curve[-1] ^= 1
    assert not crypto.is_p256_public_point(bytes(off_curve))
    assert not crypto.is_p256_public_point(b"\x04" + b"\0" * 64)  # the "point" (0, 0)
    assert not crypto.is_p256_public_point(b"\x03" + _P256_G[1:33])  # compressed: not offered
    assert not crypto.is_p256_public_point(_P256_G[:-1])
    p = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
    assert not crypto.is_p256_public_point(b"\x04" + p.to_bytes(32, "big") + _P256_G[33:])
