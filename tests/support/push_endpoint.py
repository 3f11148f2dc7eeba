"""A real Web Push service for tests: VAPID check (RFC 8292) and aes128gcm decryption (RFC 8291).

``PushEndpoint`` is a threaded ``http.server`` on 127.0.0.1 (ephemeral port). Tests create
subscriptions on it (each with its own P-256 key pair and auth secret, as a browser would),
send through the production code, and read back what the service received: decrypted
plaintext, TTL, Urgency, Topic and the verified VAPID claims. It can be told to answer the next
requests with 404, 410, 429 (+ Retry-After), 500, or to stall until the client times out.

The crypto here is written independently of pywebpush/http_ece (straight from the RFCs, on
``cryptography``) and proven against the RFC test vectors, so a passing end-to-end test means
pywebpush produced what the RFCs say, not merely what its own library can read back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MAX_BODY = 8192
MAX_VAPID_LIFETIME = 24 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def private_key_from_raw(raw: bytes) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


# ── RFC 8291 / RFC 8188 decryption ─────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Aes128gcmHeader:
    salt: bytes
    record_size: int
    keyid: bytes  # for Web Push: the application server's ephemeral public key
    header: bytes
    ciphertext: bytes


def parse_aes128gcm(body: bytes) -> Aes128gcmHeader:
    """RFC 8188 §2.1: salt(16) || rs(uint32) || idlen(uint8) || keyid(idlen) || records."""
    if len(body) < 21:
        raise ValueError("aes128gcm body shorter than its header")
    salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    end = 21 + idlen
    if rs < 18 or len(body) < end:
        raise ValueError("aes128gcm header is malformed")
    return Aes128gcmHeader(salt, rs, body[21:end], body[:end], body[end:])


def webpush_key_schedule(
    *,
    ua_private: ec.EllipticCurvePrivateKey,
    as_public_raw: bytes,
    auth_secret: bytes,
    salt: bytes,
) -> dict[str, bytes]:
    """Every intermediate value of RFC 8291 §3.3-3.4 and RFC 8188 §2.2-2.3 (names as in
    RFC 8291 Appendix A), so tests can compare each one with the published vectors."""
    as_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public_raw)
    ua_public_raw = public_bytes(ua_private.public_key())
    ecdh_secret = ua_private.exchange(ec.ECDH(), as_public)
    # HKDF (RFC 5869) with SHA-256, output ≤ 32 bytes, so expand is a single HMAC block.
    prk_key = _hmac(auth_secret, ecdh_secret)
    key_info = b"WebPush: info\x00" + ua_public_raw + as_public_raw
    ikm = _hmac(prk_key, key_info + b"\x01")[:32]
    prk = _hmac(salt, ikm)
    cek_info = b"Content-Encoding: aes128gcm\x00"
    nonce_info = b"Content-Encoding: nonce\x00"
    return {
        "ecdh_secret": ecdh_secret,
        "PRK_key": prk_key,
        "key_info": key_info,
        "IKM": ikm,
        "PRK": prk,
        "cek_info": cek_info,
        "CEK": _hmac(prk, cek_info + b"\x01")[:16],
        "nonce_info": nonce_info,
        "NONCE": _hmac(prk, nonce_info + b"\x01")[:12],
    }


def decrypt_webpush(
    body: bytes, *, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes
) -> bytes:
    """Decrypt an ``aes128gcm`` Web Push body; raises ``ValueError`` on any defect."""
    head = parse_aes128gcm(body)
    if len(head.keyid) != 65 or head.keyid[0] != 0x04:
        raise ValueError("keyid is not an uncompressed P-256 public key (RFC 8291 §4)")
    keys = webpush_key_schedule(
        ua_private=ua_private, as_public_raw=head.keyid, auth_secret=auth_secret, salt=head.salt
    )
    aead = AESGCM(keys["CEK"])
    records = [
        head.ciphertext[i : i + head.record_size]
        for i in range(0, len(head.ciphertext), head.record_size)
    ]
    if not records:
        raise ValueError("no records")
    plaintext = b""
    for seq, record in enumerate(records):
        nonce = (int.from_bytes(keys["NONCE"], "big") ^ seq).to_bytes(12, "big")
        try:
            padded = aead.decrypt(nonce, record, None)
        except InvalidTag as exc:
            raise ValueError(f"record {seq} does not authenticate") from exc
        unpadded = padded.rstrip(b"\x00")
        last = seq == len(records) - 1
        if not unpadded or unpadded[-1] != (0x02 if last else 0x01):
            raise ValueError(f"record {seq} has a wrong padding delimiter")
        plaintext += unpadded[:-1]
    return plaintext


# ── RFC 8292 VAPID verification ────────────────────────────────────────────────────────────


class VapidRejected(Exception):
    """The Authorization header fails RFC 8292; ``str()`` says why."""


@dataclass(frozen=True)
class VapidToken:
    public_key: str
    header: dict[str, Any]
    claims: dict[str, Any]


def parse_vapid_authorization(value: str) -> tuple[str, str]:
    """``vapid t=<jwt>, k=<key>`` (either order, optional spaces) → (t, k)."""
    scheme, _, params = value.strip().partition(" ")
    if scheme.lower() != "vapid":
        raise VapidRejected(f"scheme is {scheme!r}, not 'vapid'")
    parts: dict[str, str] = {}
    for item in params.split(","):
        name, sep, val = item.strip().partition("=")
        if sep:
            parts[name.strip().lower()] = val.strip()
    if "t" not in parts or "k" not in parts:
        raise VapidRejected("Authorization lacks t= or k=")
    return parts["t"], parts["k"]


def verify_vapid(authorization: str, *, audience: str, now: float) -> VapidToken:
    """Check signature (ES256 with key k), aud == audience, now < exp ≤ now + 24 h, sub set."""
    token, key = parse_vapid_authorization(authorization)
    try:
        header_b64, claims_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(sig_b64)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    except ValueError as exc:
        raise VapidRejected(f"malformed token or key: {exc}") from exc
    if header.get("alg") != "ES256":
        raise VapidRejected(f"alg is {header.get('alg')!r}, not ES256")
    if len(signature) != 64:
        raise VapidRejected("ES256 signature is not 64 bytes (r || s)")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise VapidRejected("signature does not verify with k") from exc
    if claims.get("aud") != audience:
        raise VapidRejected(f"aud is {claims.get('aud')!r}, expected {audience!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now:
        raise VapidRejected("token expired (or exp missing)")
    if exp > now + MAX_VAPID_LIFETIME:
        raise VapidRejected("exp is more than 24 hours ahead (RFC 8292 §2)")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise VapidRejected("sub claim missing")
    return VapidToken(public_key=key, header=header, claims=claims)


# ── The service ────────────────────────────────────────────────────────────────────────────


@dataclass
class Subscriber:
    """The browser side of one subscription: its keys never leave the test."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)

    @property
    def p256dh(self) -> str:
        return b64url(public_bytes(self.private_key.public_key()))

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True)
class RecordedPush:
    path: str
    status: int
    headers: dict[str, str]
    body_length: int
    plaintext: bytes | None
    vapid: VapidToken | None
    vapid_error: str | None
    decrypt_error: str | None

    @property
    def ttl(self) -> str | None:
        return self.headers.get("ttl")

    @property
    def urgency(self) -> str | None:
        return self.headers.get("urgency")

    def json(self) -> Any:
        assert self.plaintext is not None, self.decrypt_error
        return json.loads(self.plaintext)


@dataclass(frozen=True)
class _Scripted:
    status: int
    retry_after: str | None = None
    stall: bool = False


class PushEndpoint:
    """Start with ``with PushEndpoint() as service:``; stops and joins its threads on exit."""

    def __init__(self, *, keep_alive: bool = False) -> None:
        # keep_alive: answer in HTTP/1.1 and keep connections open, as real push services do.
        self.keep_alive = keep_alive
        self.connections = 0  # TCP connections accepted so far
        self._lock = threading.Lock()
        self._subscribers: dict[str, Subscriber] = {}
        self._script: deque[_Scripted] = deque()
        self.requests: list[RecordedPush] = []
        self._release = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> PushEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._release.set()  # let stalled handlers finish
        self._server.shutdown()
        self._server.server_close()  # joins handler threads (non-daemon, block_on_close)
        self._thread.join(timeout=5)

    def subscribe(self) -> Subscriber:
        sub = Subscriber(
            endpoint=f"{self.origin}/push/{secrets.token_urlsafe(16)}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=secrets.token_bytes(16),
        )
        with self._lock:
            self._subscribers[sub.endpoint.removeprefix(self.origin)] = sub
        return sub

    def answer_next(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        """The next ``times`` authenticated requests get ``status`` instead of 201."""
        with self._lock:
            self._script.extend(_Scripted(status, retry_after) for _ in range(times))

    def stall_next(self) -> None:
        """The next request gets no answer until the client gives up (or the service stops)."""
        with self._lock:
            self._script.append(_Scripted(0, stall=True))

    def delivered(self) -> list[RecordedPush]:
        with self._lock:
            return [r for r in self.requests if r.status == 201]

    # Called from handler threads.
    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> _Scripted:
        with self._lock:
            sub = self._subscribers.get(path)
        if sub is None:
            return self._record(path, 404, headers, body, None, None, "unknown", None)
        vapid: VapidToken | None = None
        vapid_error: str | None = None
        try:
            vapid = verify_vapid(
                headers.get("authorization", ""), audience=self.origin, now=time.time()
            )
        except VapidRejected as exc:
            vapid_error = str(exc)
        plaintext: bytes | None = None
        decrypt_error: str | None = None
        if headers.get("content-encoding") != "aes128gcm":
            decrypt_error = f"content-encoding {headers.get('content-encoding')!r}"
        else:
            try:
                plaintext = decrypt_webpush(
                    body, ua_private=sub.private_key, auth_secret=sub.auth_secret
                )
            except ValueError as exc:
                decrypt_error = str(exc)
        if vapid_error:
            return self._record(path, 401, headers, body, None, None, vapid_error, decrypt_error)
        if decrypt_error or "ttl" not in headers:
            return self._record(path, 400, headers, body, plaintext, vapid, None, decrypt_error)
        with self._lock:
            scripted = self._script.popleft() if self._script else _Scripted(201)
        if scripted.stall:
            self._record(path, 0, headers, body, plaintext, vapid, None, None)
            return scripted
        return self._record(
            path, scripted.status, headers, body, plaintext, vapid, None, None, scripted
        )

    def _record(
        self,
        path: str,
        status: int,
        headers: dict[str, str],
        body: bytes,
        plaintext: bytes | None,
        vapid: VapidToken | None,
        vapid_error: str | None,
        decrypt_error: str | None,
        scripted: _Scripted | None = None,
    ) -> _Scripted:
        with self._lock:
            self.requests.append(
                RecordedPush(
                    path, status, headers, len(body), plaintext, vapid, vapid_error, decrypt_error
                )
            )
        return scripted or _Scripted(status)


class _Server(ThreadingHTTPServer):
    # Join handler threads on server_close() so no thread or socket outlives the test.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: type, service: PushEndpoint) -> None:
        self.service = service
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # socket timeout for reading a request: a stuck client cannot hang shutdown

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def setup(self) -> None:
        super().setup()
        service = self.server.service
        if service.keep_alive:
            self.protocol_version = "HTTP/1.1"
        with service._lock:
            service.connections += 1

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        service = self.server.service
        reply = service._handle(self.path, headers, body)
        if reply.stall:
            service._release.wait(timeout=5)
            self.close_connection = True
            return
        self.send_response(reply.status)
        if reply.status == 201:
            self.send_header("Location", f"{service.origin}/message/{secrets.token_hex(8)}")
        if reply.retry_after is not None:
            self.send_header("Retry-After", reply.retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()
