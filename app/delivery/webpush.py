"""Send one Web Push message (RFC 8030) encrypted per RFC 8291 and signed with VAPID (RFC 8292).

pywebpush does the encryption (and, without a :class:`PushClient`, the HTTP request); this
module adds what the outbox needs: checked inputs, explicit TTL / Urgency headers, a bounded
timeout, and a small outcome type that says what to do next (keep, drop the subscription, retry
later, or give up).
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3

# pywebpush ships no type hints or py.typed marker; its results are read through typed accessors.
from pywebpush import WebPusher, WebPushException, webpush  # type: ignore[import-untyped]

from app.delivery._net import is_loopback_host
from app.delivery.vapid import VapidKeys

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "MAX_TTL_SECONDS",
    "PushClient",
    "PushDelivered",
    "PushGone",
    "PushOutcome",
    "PushPayloadTooLarge",
    "PushRejected",
    "PushRetry",
    "PushSubscription",
    "Urgency",
    "encode_payload",
    "send_push",
]

# Push services accept 4096-byte records; RFC 8291 overhead leaves 3993 bytes of plaintext.
# 3 KB keeps a margin and keeps reminders what they should be: short.
MAX_PAYLOAD_BYTES: Final = 3 * 1024
# Four weeks: the longest TTL push services commonly honour; a reminder older than that is moot.
MAX_TTL_SECONDS: Final = 28 * 24 * 3600

Urgency = Literal["very-low", "low", "normal", "high"]
_URGENCIES: Final = frozenset({"very-low", "low", "normal", "high"})
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class PushPayloadTooLarge(ValueError):
    """The JSON payload exceeds :data:`MAX_PAYLOAD_BYTES`; nothing was sent."""


# ── Outcomes ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class PushDelivered:
    """The push service accepted the message (2xx). It may still be queued for the device."""

    status: int = 201


@dataclass(frozen=True)
class PushGone:
    """404/410: the subscription no longer exists. The caller must delete it and not retry."""

    status: int


@dataclass(frozen=True)
class PushRetry:
    """Transient: 429, 5xx, timeout or connection failure. Try again later.

    ``after_seconds`` is the push service's Retry-After when it sent one (honour it as a
    minimum); ``None`` means no hint, and the caller applies its own backoff.
    """

    reason: str
    after_seconds: int | None = None
    status: int | None = None


@dataclass(frozen=True)
class PushRejected:
    """Any other 4xx, or an unusable subscription: payload or VAPID problem. Do not retry."""

    reason: str
    status: int | None = None


PushOutcome = PushDelivered | PushGone | PushRetry | PushRejected


# ── Subscription ───────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class PushSubscription:
    """What the browser's ``PushSubscription.toJSON()`` gave us: endpoint and the two keys.

    The endpoint must be https (push services always are); plain http is accepted only on
    a loopback host, for local test peers. Keys are base64url as the browser sends them.
    """

    endpoint: str
    p256dh: str = field(repr=False)
    auth: str = field(repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.endpoint)
        host = parts.hostname or ""
        if not host:
            raise ValueError("push endpoint has no host")
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_host(host)):
            raise ValueError("push endpoint must be an https URL")
        for name, value in (("p256dh", self.p256dh), ("auth", self.auth)):
            if not isinstance(value, str) or not _B64URL.match(value):
                raise ValueError(f"push subscription key {name!r} is not base64url")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PushSubscription:
        """Build from ``{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}``."""
        keys = data.get("keys")
        if not isinstance(keys, Mapping):
            raise ValueError("push subscription has no keys")
        endpoint = data.get("endpoint")
        if not isinstance(endpoint, str):
            raise ValueError("push subscription has no endpoint")
        return cls(endpoint=endpoint, p256dh=keys.get("p256dh", ""), auth=keys.get("auth", ""))

    def as_subscription_info(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


# ── Connections and VAPID tokens kept between messages ────────────────────────────────────

# pywebpush signs tokens for 12 hours; one is reused until less than an hour of it is left, so a
# push service whose clock runs a little fast never sees an expired one.
TOKEN_LIFETIME_SECONDS: Final = 12 * 3600
TOKEN_RENEW_BEFORE_SECONDS: Final = 3600


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class PushClient:
    """What is worth keeping from one message to the next, shared by the sending threads.

    - One urllib3 connection pool per push service (origin), with up to ``connections`` pooled
      keep-alive connections: no TCP and TLS handshake per message. The environment's proxy
      and CA bundle settings (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``, as
      ``requests`` reads them) are read once per push service, and no cookies are kept.
    - One signed VAPID token per audience (the push service's origin, RFC 8292 §2), reused
      for most of its lifetime instead of an ECDSA signature per message.

    Messages sent through a client skip ``requests`` (its per-request environment lookups,
    hooks and response objects cost about three times the encryption); pywebpush still
    encrypts them. Close it (or use ``with``) to close the pooled connections. ``clock`` is
    for tests.
    """

    def __init__(
        self,
        vapid: VapidKeys,
        *,
        connections: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.vapid = vapid
        self._connections = max(1, connections)
        self._clock = clock
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self._tokens: dict[str, tuple[int, dict[str, str]]] = {}
        self.signed = 0  # tokens signed so far (what the cache saves is visible in tests)

    def route(self, origin: str) -> _Route:
        """How to reach the push service at ``origin``: its own connection pool, or the
        environment's proxy for it."""
        with self._lock:
            route = self._routes.get(origin)
            if route is None:
                route = _route_to(origin, self._connections)
                self._routes[origin] = route
            return route

    def vapid_headers(self, endpoint: str) -> dict[str, str]:
        """The Authorization header for ``endpoint``'s push service, signed at most once per
        audience and :data:`TOKEN_LIFETIME_SECONDS` (less the renewal margin)."""
        return self._vapid_headers(_origin(endpoint))

    def _vapid_headers(self, audience: str) -> dict[str, str]:
        now = int(self._clock())
        with self._lock:
            cached = self._tokens.get(audience)
        if cached is not None and cached[0] - now > TOKEN_RENEW_BEFORE_SECONDS:
            return cached[1]
        expires = now + TOKEN_LIFETIME_SECONDS
        claims = {"sub": self.vapid.subject, "aud": audience, "exp": expires}
        headers = {str(k): str(v) for k, v in self.vapid.signer.sign(claims).items()}
        with self._lock:
            self._tokens[audience] = (expires, headers)
            self.signed += 1
        return headers

    def close(self) -> None:
        with self._lock:
            routes, self._routes = list(self._routes.values()), {}
        for route in routes:
            route.manager.clear()

    def __enter__(self) -> PushClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Route:
    """``pool``: the push service's own connection pool (post the path to it); None when a
    proxy stands between (post the whole URL through ``manager``)."""

    manager: urllib3.PoolManager
    pool: urllib3.HTTPConnectionPool | None


def _route_to(origin: str, connections: int) -> _Route:
    """Connections to one push service, set up as ``requests`` would set up a request to it:
    the environment's proxy for this origin (``NO_PROXY`` honoured), its CA bundle or
    certifi's, certificates always verified."""
    settings = requests.Session().merge_environment_settings(origin, {}, None, None, None)
    verify = settings["verify"]
    bundle = verify if isinstance(verify, str) else requests.utils.DEFAULT_CA_BUNDLE_PATH
    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
    tls["ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"] = bundle
    proxy = requests.utils.select_proxy(origin, settings["proxies"])
    if proxy:
        return _Route(
            urllib3.ProxyManager(
                proxy if "://" in proxy else f"http://{proxy}",
                num_pools=1,
                maxsize=connections,
                **tls,
            ),
            None,
        )
    manager = urllib3.PoolManager(num_pools=1, maxsize=connections, **tls)
    return _Route(manager, manager.connection_from_url(origin))


# ── Sending ────────────────────────────────────────────────────────────────────────────────


def encode_payload(payload: Mapping[str, Any]) -> str:
    """Compact JSON for the push body; raises :class:`PushPayloadTooLarge` over 3 KB."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    size = len(text.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise PushPayloadTooLarge(
            f"push payload is {size} bytes of JSON; the limit is {MAX_PAYLOAD_BYTES}."
            " Send a short notice and let the app fetch the rest after sign-in."
        )
    return text


def _retry_after_seconds(value: str | None, *, now: float | None = None) -> int | None:
    """Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    delay = when.timestamp() - (time.time() if now is None else now)
    return max(0, math.ceil(delay))


def _outcome_for_status(status: int, retry_after: str | None, body: str) -> PushOutcome:
    if 200 <= status < 300:
        return PushDelivered(status)
    if status in (404, 410):
        return PushGone(status)
    if status == 429 or status >= 500:
        return PushRetry(
            reason=f"push service answered {status}",
            after_seconds=_retry_after_seconds(retry_after),
            status=status,
        )
    # Push services explain 400/401/403/413 in the body; keep a short, single-line excerpt.
    excerpt = " ".join(body.split())[:200]
    return PushRejected(
        reason=f"push service answered {status}: {excerpt}".rstrip(": "), status=status
    )


def send_push(
    subscription: PushSubscription,
    payload: Mapping[str, Any],
    vapid: VapidKeys,
    *,
    ttl: int,
    urgency: Urgency,
    timeout: float,
    topic: str | None = None,
    client: PushClient | None = None,
) -> PushOutcome:
    """Encrypt ``payload`` as JSON to ``subscription`` and POST it to its push service.

    The payload travels through a third-party push service and is shown on a lock screen: it
    must NEVER contain answers, scores, diagnoses or any other health information — only a
    kind notice, a link and opaque ids the app resolves after sign-in. It must encode to at
    most 3 KB of JSON (:class:`PushPayloadTooLarge` is raised before any request).

    ``ttl`` (seconds the service may hold the message for an offline device) and ``urgency``
    (RFC 8030 §5.3) are sent explicitly; ``topic`` lets a newer message replace an undelivered
    older one with the same topic. ``timeout`` bounds connect and read, in seconds.

    Raises ``ValueError`` for bad arguments (programming errors); every network or service
    outcome is returned, never raised.

    ``client`` (a :class:`PushClient` for the same ``vapid`` keys) reuses connections and
    VAPID tokens; without it every call opens a connection and signs a token of its own.
    """
    if not 0 <= ttl <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be between 0 and {MAX_TTL_SECONDS} seconds, got {ttl}")
    if urgency not in _URGENCIES:
        raise ValueError(f"urgency must be one of {sorted(_URGENCIES)}, got {urgency!r}")
    if not (0 < timeout <= 120):
        raise ValueError(f"timeout must be between 0 and 120 seconds, got {timeout}")
    if topic is not None and not _TOPIC.match(topic):
        raise ValueError("topic must be 1-32 base64url characters")
    data = encode_payload(payload)

    headers: dict[str, str] = {"Urgency": urgency}
    if topic is not None:
        headers["Topic"] = topic
    if client is not None:
        if client.vapid is not vapid:
            raise ValueError("the push client holds other VAPID keys than the ones given")
        return _send_pooled(client, subscription, data, headers, ttl=ttl, timeout=timeout)
    try:
        response = webpush(
            subscription_info=subscription.as_subscription_info(),
            data=data,
            content_encoding="aes128gcm",
            ttl=ttl,
            timeout=timeout,
            headers=headers,
            # A fresh claims dict per call: pywebpush fills in aud (the endpoint's origin)
            # and exp (now + 12 h) by mutating it.
            vapid_private_key=vapid.signer,
            vapid_claims={"sub": vapid.subject},
        )
    except WebPushException as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        if not isinstance(status, int):
            # Raised before any HTTP exchange (e.g. a malformed key in the subscription).
            return PushRejected(reason=f"could not build the push request: {exc.message}")
        headers_in = getattr(response, "headers", None) or {}
        retry_after = headers_in.get("Retry-After")
        body = getattr(response, "text", "") or ""
        return _outcome_for_status(status, retry_after, body if isinstance(body, str) else "")
    except OSError as exc:
        # requests' ConnectionError, Timeout and friends all derive from OSError (IOError).
        return PushRetry(reason=f"push service unreachable: {type(exc).__name__}")
    except ValueError as exc:
        # Raised by key decoding / ECDH in pywebpush or http_ece for a corrupt subscription.
        return PushRejected(reason=f"unusable push subscription: {type(exc).__name__}")
    status = getattr(response, "status_code", None)
    return PushDelivered(status if isinstance(status, int) else 201)


def _send_pooled(
    client: PushClient,
    subscription: PushSubscription,
    data: str,
    headers: dict[str, str],
    *,
    ttl: int,
    timeout: float,
) -> PushOutcome:
    """:func:`send_push` through ``client``'s pooled connections: pywebpush encrypts (RFC 8291,
    aes128gcm, a new ephemeral key and salt per message), urllib3 posts."""
    try:
        body = WebPusher(subscription.as_subscription_info()).encode(data.encode("utf-8"))["body"]
    except WebPushException as exc:
        return PushRejected(reason=f"could not build the push request: {exc.message}")
    except ValueError as exc:
        # Raised by key decoding / ECDH in pywebpush or http_ece for a corrupt subscription.
        return PushRejected(reason=f"unusable push subscription: {type(exc).__name__}")
    parts = urlsplit(subscription.endpoint)
    origin = f"{parts.scheme}://{parts.netloc}"
    headers.update(client._vapid_headers(origin))
    headers.update({"Content-Encoding": "aes128gcm", "TTL": str(ttl)})
    route = client.route(origin)
    try:
        response = (route.pool or route.manager).urlopen(
            "POST",
            # Only the path to the push service itself; the whole URL to a proxy.
            urlunsplit(("", "", parts.path or "/", parts.query, ""))
            if route.pool is not None
            else subscription.endpoint,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=True,
            decode_content=False,
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        # Refused or dropped connections, timeouts, TLS and proxy failures.
        return PushRetry(reason=f"push service unreachable: {type(exc).__name__}")
    if 200 <= response.status < 300:
        return PushDelivered(response.status)
    return _outcome_for_status(
        response.status,
        response.headers.get("Retry-After"),
        response.data.decode("utf-8", errors="replace"),
    )
