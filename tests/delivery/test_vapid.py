"""VAPID keys: generated once with 0600, loaded from env (PEM or raw) or the instance folder."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from app.delivery.vapid import (
    VAPID_ENV_VAR,
    VAPID_KEY_FILENAME,
    VapidConfigError,
    ensure_vapid_keys,
    load_vapid_keys,
)
from tests.support.push_endpoint import b64url, b64url_decode

SUBJECT = "mailto:ops@chorus.example.org"


def _raw_public(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def test_ensure_creates_an_owner_only_key_file_once(tmp_path: Path) -> None:
    first = ensure_vapid_keys(tmp_path, subject=SUBJECT)
    path = tmp_path / VAPID_KEY_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    second = ensure_vapid_keys(tmp_path, subject=SUBJECT)
    assert path.read_bytes() == content
    assert second.application_server_key == first.application_server_key
    assert [p.name for p in tmp_path.iterdir()] == [VAPID_KEY_FILENAME]  # no temp files left


def test_application_server_key_is_the_raw_uncompressed_p256_point(tmp_path: Path) -> None:
    keys = ensure_vapid_keys(tmp_path, subject=SUBJECT)
    raw = b64url_decode(keys.application_server_key)
    assert len(raw) == 65 and raw[0] == 4
    assert "=" not in keys.application_server_key


def test_processes_racing_to_create_keys_all_end_with_the_same_pair(tmp_path: Path) -> None:
    results: list[str] = []
    barrier = threading.Barrier(6)

    def start() -> None:
        barrier.wait(timeout=5)
        results.append(ensure_vapid_keys(tmp_path, subject=SUBJECT).application_server_key)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(results) == 6 and len(set(results)) == 1


def test_load_never_generates_and_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(VapidConfigError, match=VAPID_ENV_VAR):
        load_vapid_keys(subject=SUBJECT, instance_path=tmp_path, environ={})
    assert not (tmp_path / VAPID_KEY_FILENAME).exists()


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    ensure_vapid_keys(tmp_path, subject=SUBJECT)
    os.chmod(tmp_path / VAPID_KEY_FILENAME, 0o644)
    with pytest.raises(VapidConfigError, match="chmod 600"):
        load_vapid_keys(subject=SUBJECT, instance_path=tmp_path, environ={})


@pytest.mark.parametrize("fmt", [PrivateFormat.PKCS8, PrivateFormat.TraditionalOpenSSL])
def test_env_pem_key_is_used_before_the_file(tmp_path: Path, fmt: PrivateFormat) -> None:
    ensure_vapid_keys(tmp_path, subject=SUBJECT)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(Encoding.PEM, fmt, NoEncryption()).decode()
    keys = load_vapid_keys(subject=SUBJECT, instance_path=tmp_path, environ={VAPID_ENV_VAR: pem})
    assert keys.application_server_key == _raw_public(key)


def test_env_pem_on_one_line_with_escaped_newlines_is_accepted(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    one_line = pem.strip().replace("\n", "\\n")
    keys = load_vapid_keys(
        subject=SUBJECT, instance_path=tmp_path, environ={VAPID_ENV_VAR: one_line}
    )
    assert keys.application_server_key == _raw_public(key)


def test_env_raw_base64url_key_is_accepted(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    keys = load_vapid_keys(subject=SUBJECT, instance_path=tmp_path, environ={VAPID_ENV_VAR: raw})
    assert keys.application_server_key == _raw_public(key)


@pytest.mark.parametrize(
    "value",
    [
        b64url(b"\x01" * 31),  # wrong length
        "not-a-key-at-all!",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    ],
)
def test_bad_env_key_is_refused_without_echoing_it(tmp_path: Path, value: str) -> None:
    with pytest.raises(VapidConfigError) as info:
        load_vapid_keys(subject=SUBJECT, instance_path=tmp_path, environ={VAPID_ENV_VAR: value})
    assert value not in str(info.value)
    assert VAPID_ENV_VAR in str(info.value)


def test_a_key_on_another_curve_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    with pytest.raises(VapidConfigError, match="P-256"):
        load_vapid_keys(subject=SUBJECT, instance_path=tmp_path, environ={VAPID_ENV_VAR: pem})


@pytest.mark.parametrize("subject", ["", "ops@chorus.example.org", "http://chorus.example.org"])
def test_subject_must_be_mailto_or_https(tmp_path: Path, subject: str) -> None:
    with pytest.raises(VapidConfigError, match="CHORUS_VAPID_SUBJECT"):
        ensure_vapid_keys(tmp_path, subject=subject)


def test_private_key_never_appears_in_repr(tmp_path: Path) -> None:
    keys = ensure_vapid_keys(tmp_path, subject=SUBJECT)
    pem_body = "".join((tmp_path / VAPID_KEY_FILENAME).read_text().splitlines()[1:-1])
    text = repr(keys)
    assert "signer" not in text
    assert pem_body[:20] not in text
    assert base64.b64decode(pem_body)  # sanity: the file really holds a key
