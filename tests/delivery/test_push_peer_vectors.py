"""The test push service's crypto is right: RFC 8291 Appendix A and the RFC 8292 example.

Everything the end-to-end push tests conclude rests on this decryptor and verifier, so they
are checked against the published vectors first, value by value.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.push_endpoint import (
    VapidRejected,
    b64url_decode,
    decrypt_webpush,
    parse_aes128gcm,
    private_key_from_raw,
    public_bytes,
    verify_vapid,
    webpush_key_schedule,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
WEBPUSH_VECTORS = REPO_ROOT.parent / "shared" / "interop" / "webpush"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBPUSH_VECTORS / name).read_text(encoding="utf-8"))
    return data


RFC8291 = _load("rfc8291-appendix-a.json")
RFC8292 = _load("rfc8292-vapid-example.json")


def _v(section: str, name: str) -> bytes:
    return b64url_decode(RFC8291[section][name])


def test_rfc8291_keys_match_the_published_public_keys() -> None:
    ua = private_key_from_raw(_v("inputs", "ua_private"))
    as_ = private_key_from_raw(_v("inputs", "as_private"))
    assert public_bytes(ua.public_key()) == _v("inputs", "ua_public")
    assert public_bytes(as_.public_key()) == _v("inputs", "as_public")


def test_rfc8291_key_schedule_matches_every_intermediate_value() -> None:
    keys = webpush_key_schedule(
        ua_private=private_key_from_raw(_v("inputs", "ua_private")),
        as_public_raw=_v("inputs", "as_public"),
        auth_secret=_v("inputs", "auth_secret"),
        salt=_v("inputs", "salt"),
    )
    for name in (
        "ecdh_secret",
        "PRK_key",
        "key_info",
        "IKM",
        "PRK",
        "cek_info",
        "CEK",
        "nonce_info",
        "NONCE",
    ):
        assert keys[name] == _v("intermediate", name), name


def test_rfc8291_body_header_parses_as_published() -> None:
    head = parse_aes128gcm(b64url_decode(RFC8291["body_b64url"]))
    assert head.header == _v("intermediate", "header")
    assert head.salt == _v("inputs", "salt")
    assert head.record_size == RFC8291["inputs"]["record_size"]
    assert head.keyid == _v("inputs", "as_public")
    assert head.ciphertext == _v("intermediate", "ciphertext")


def test_rfc8291_example_message_decrypts_to_the_watermelon_plaintext() -> None:
    body = b64url_decode(RFC8291["body_b64url"])
    # The RFC's example request says "Content-Length: 145", but the body it prints is 144
    # bytes: 86 header + 41 plaintext + 1 delimiter + 16 tag. Check the arithmetic instead.
    plain_len = len(RFC8291["inputs"]["plaintext_utf8"])
    assert len(body) == 86 + plain_len + 1 + 16 == 144
    plaintext = decrypt_webpush(
        body,
        ua_private=private_key_from_raw(_v("inputs", "ua_private")),
        auth_secret=_v("inputs", "auth_secret"),
    )
    assert plaintext == _v("inputs", "plaintext_b64url")
    assert plaintext.decode() == RFC8291["inputs"]["plaintext_utf8"]


@pytest.mark.parametrize("where", [0, 30, 86, 100, 143])
def test_rfc8291_a_flipped_byte_anywhere_fails_to_decrypt(where: int) -> None:
    body = bytearray(b64url_decode(RFC8291["body_b64url"]))
    body[where] ^= 0x01
    with pytest.raises(ValueError):
        decrypt_webpush(
            bytes(body),
            ua_private=private_key_from_raw(_v("inputs", "ua_private")),
            auth_secret=_v("inputs", "auth_secret"),
        )


def test_rfc8291_wrong_auth_secret_fails_to_decrypt() -> None:
    with pytest.raises(ValueError, match="authenticate"):
        decrypt_webpush(
            b64url_decode(RFC8291["body_b64url"]),
            ua_private=private_key_from_raw(_v("inputs", "ua_private")),
            auth_secret=bytes(16),
        )


# ── RFC 8292 ──────────────────────────────────────────────────────────────────────────────

EXP = RFC8292["jwt_claims"]["exp"]
AUD = RFC8292["jwt_claims"]["aud"]


def test_rfc8292_example_token_verifies_while_it_was_valid() -> None:
    token = verify_vapid(RFC8292["authorization_header"], audience=AUD, now=EXP - 3600)
    assert token.claims == RFC8292["jwt_claims"]
    assert token.header == RFC8292["jwt_header"]
    assert token.public_key == RFC8292["k"]


def test_rfc8292_example_key_matches_its_jwk() -> None:
    raw = b64url_decode(RFC8292["k"])
    jwk = RFC8292["jwk"]
    assert raw[0] == 4
    assert raw[1:33] == b64url_decode(jwk["x"])
    assert raw[33:] == b64url_decode(jwk["y"])


def test_rfc8292_example_token_is_expired_today() -> None:
    with pytest.raises(VapidRejected, match="expired"):
        verify_vapid(RFC8292["authorization_header"], audience=AUD, now=EXP + 1)


def test_rfc8292_token_for_another_origin_is_refused() -> None:
    with pytest.raises(VapidRejected, match="aud"):
        verify_vapid(
            RFC8292["authorization_header"], audience="https://push.other.net", now=EXP - 3600
        )


def test_rfc8292_token_further_than_24_hours_ahead_is_refused() -> None:
    with pytest.raises(VapidRejected, match="24 hours"):
        verify_vapid(RFC8292["authorization_header"], audience=AUD, now=EXP - 86400 - 10)


def test_rfc8292_tampered_claims_do_not_verify() -> None:
    header_b64, _, sig = RFC8292["t"].split(".")
    forged_claims = dict(RFC8292["jwt_claims"], sub="mailto:attacker@example.com")
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    value = f"vapid t={header_b64}.{forged}.{sig}, k={RFC8292['k']}"
    with pytest.raises(VapidRejected, match="signature"):
        verify_vapid(value, audience=AUD, now=EXP - 3600)


def test_rfc8292_token_checked_against_another_key_does_not_verify() -> None:
    other_key = RFC8291["inputs"]["as_public"]
    value = f"vapid t={RFC8292['t']}, k={other_key}"
    with pytest.raises(VapidRejected, match="signature"):
        verify_vapid(value, audience=AUD, now=EXP - 3600)
