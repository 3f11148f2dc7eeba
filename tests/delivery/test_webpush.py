"""End to end: pywebpush → a real local push service that verifies VAPID and decrypts."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid  # type: ignore[import-untyped]  # no stubs; test-only use

from app.delivery.messages import caregiver_reminder, push_payload
from app.delivery.vapid import VapidKeys, ensure_vapid_keys
from app.delivery.webpush import (
    MAX_PAYLOAD_BYTES,
    TOKEN_RENEW_BEFORE_SECONDS,
    PushClient,
    PushDelivered,
    PushGone,
    PushPayloadTooLarge,
    PushRejected,
    PushRetry,
    PushSubscription,
    send_push,
)
from tests.delivery.conftest import SUBJECT
from tests.support.push_endpoint import PushEndpoint, Subscriber, b64url, public_bytes

PAYLOAD = {"v": "1", "kind": "reminder", "title": "Chorus", "url": "https://chorus.test/today"}


def _sub(subscriber: Subscriber) -> PushSubscription:
    return PushSubscription.from_json(subscriber.to_json())


def _send(service: PushEndpoint, vapid: VapidKeys, **kwargs: object) -> object:
    args: dict[str, object] = {"ttl": 3600, "urgency": "normal", "timeout": 5.0, **kwargs}
    return send_push(_sub(service.subscribe()), PAYLOAD, vapid, **args)  # type: ignore[arg-type]


def test_push_is_decrypted_by_the_service_and_matches_the_payload(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    notice = caregiver_reminder("fr", "https://chorus.test/today", nickname="Sam")
    payload = push_payload(notice, tag="occ-42")
    subscriber = push_service.subscribe()

    outcome = send_push(
        _sub(subscriber), payload, vapid_keys, ttl=7200, urgency="high", timeout=5.0, topic="occ42"
    )

    assert outcome == PushDelivered(201)
    [received] = push_service.requests
    assert received.status == 201
    assert received.path == subscriber.endpoint.removeprefix(push_service.origin)
    assert received.json() == payload
    assert received.json()["body"] == "Un court questionnaire pour Sam vous attend dans Chorus."
    assert received.ttl == "7200"
    assert received.urgency == "high"
    assert received.headers["topic"] == "occ42"
    assert received.headers["content-encoding"] == "aes128gcm"


def test_vapid_token_names_this_service_our_subject_and_expires_within_a_day(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    before = time.time()
    assert _send(push_service, vapid_keys) == PushDelivered(201)
    [received] = push_service.requests
    token = received.vapid
    assert token is not None, received.vapid_error
    assert token.header["alg"] == "ES256"
    assert token.claims["aud"] == push_service.origin
    assert token.claims["sub"] == SUBJECT
    assert before < token.claims["exp"] <= before + 24 * 3600
    # The key the service verified with is the one browsers were given at subscribe time.
    assert token.public_key == vapid_keys.application_server_key


def test_a_token_that_does_not_verify_is_refused_by_the_service_and_rejected_by_us(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    forged = VapidKeys(
        subject=vapid_keys.subject,
        application_server_key=vapid_keys.application_server_key,
        signer=_AdvertisesAnotherKey(private_key=vapid_keys.signer.private_key),
    )
    outcome = send_push(
        _sub(push_service.subscribe()), PAYLOAD, forged, ttl=60, urgency="normal", timeout=5.0
    )
    assert isinstance(outcome, PushRejected)
    assert outcome.status == 401
    assert "signature" in (push_service.requests[0].vapid_error or "")


class _AdvertisesAnotherKey(Vapid):  # type: ignore[misc]
    """Signs with the real key but puts a different public key in ``k=``."""

    def sign(self, claims: dict[str, object], crypto_key: object = None) -> dict[str, str]:
        headers: dict[str, str] = super().sign(claims)
        token = headers["Authorization"].split("t=", 1)[1].split(",", 1)[0]
        other = b64url(public_bytes(ec.generate_private_key(ec.SECP256R1()).public_key()))
        return {"Authorization": f"vapid t={token},k={other}"}


@pytest.mark.parametrize("status", [404, 410])
def test_404_and_410_mean_the_subscription_is_gone(
    push_service: PushEndpoint, vapid_keys: VapidKeys, status: int
) -> None:
    push_service.answer_next(status)
    assert _send(push_service, vapid_keys) == PushGone(status)


def test_an_endpoint_the_service_does_not_know_is_gone(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    stale = PushSubscription.from_json(
        {**push_service.subscribe().to_json(), "endpoint": f"{push_service.origin}/push/expired"}
    )
    assert send_push(stale, PAYLOAD, vapid_keys, ttl=60, urgency="low", timeout=5.0) == PushGone(
        404
    )


def test_429_is_retried_after_the_services_retry_after_seconds(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    push_service.answer_next(429, retry_after="120")
    outcome = _send(push_service, vapid_keys)
    assert outcome == PushRetry(reason="push service answered 429", after_seconds=120, status=429)


def test_429_with_an_http_date_retry_after_is_converted_to_seconds(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    push_service.answer_next(429, retry_after=formatdate(time.time() + 300, usegmt=True))
    outcome = _send(push_service, vapid_keys)
    assert isinstance(outcome, PushRetry)
    assert outcome.after_seconds is not None
    assert 290 <= outcome.after_seconds <= 301


def test_500_is_retried_without_a_hint_then_the_next_send_is_delivered(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    subscriber = push_service.subscribe()
    push_service.answer_next(500)
    first = send_push(_sub(subscriber), PAYLOAD, vapid_keys, ttl=60, urgency="low", timeout=5.0)
    second = send_push(_sub(subscriber), PAYLOAD, vapid_keys, ttl=60, urgency="low", timeout=5.0)
    assert first == PushRetry(reason="push service answered 500", after_seconds=None, status=500)
    assert second == PushDelivered(201)


def test_503_with_retry_after_is_retried_after_it(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    push_service.answer_next(503, retry_after="30")
    outcome = _send(push_service, vapid_keys)
    assert isinstance(outcome, PushRetry)
    assert outcome.after_seconds == 30


@pytest.mark.parametrize("status", [400, 403, 413])
def test_other_4xx_are_rejected_and_not_retried(
    push_service: PushEndpoint, vapid_keys: VapidKeys, status: int
) -> None:
    push_service.answer_next(status)
    outcome = _send(push_service, vapid_keys)
    assert isinstance(outcome, PushRejected)
    assert outcome.status == status


def test_a_closed_port_is_retried(push_service: PushEndpoint, vapid_keys: VapidKeys) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on ``port`` any more: the connection is refused.
    subscription = PushSubscription.from_json(
        {**push_service.subscribe().to_json(), "endpoint": f"http://127.0.0.1:{port}/push/x"}
    )
    outcome = send_push(subscription, PAYLOAD, vapid_keys, ttl=60, urgency="low", timeout=2.0)
    assert isinstance(outcome, PushRetry)
    assert outcome.after_seconds is None
    assert "unreachable" in outcome.reason


def test_a_service_that_never_answers_times_out_and_is_retried(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    push_service.stall_next()
    started = time.monotonic()
    outcome = _send(push_service, vapid_keys, timeout=0.5)
    assert isinstance(outcome, PushRetry)
    assert time.monotonic() - started < 3


def test_a_too_large_payload_is_refused_before_any_request(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    subscriber = push_service.subscribe()
    big = {"title": "Chorus", "body": "x" * MAX_PAYLOAD_BYTES}
    with pytest.raises(PushPayloadTooLarge, match=r"bytes of JSON; the limit is 3072"):
        send_push(_sub(subscriber), big, vapid_keys, ttl=60, urgency="low", timeout=5.0)
    assert push_service.requests == []


def test_the_3kb_limit_counts_encoded_bytes_not_characters(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    # 1100 two-byte characters are 2200 characters of JSON but 3300+ bytes.
    with pytest.raises(PushPayloadTooLarge):
        send_push(
            _sub(push_service.subscribe()),
            {"body": "é" * 1600},
            vapid_keys,
            ttl=60,
            urgency="low",
            timeout=5.0,
        )
    exactly = {"b": "x" * (MAX_PAYLOAD_BYTES - len('{"b":""}'))}
    assert _send_payload(push_service, vapid_keys, exactly) == PushDelivered(201)
    assert push_service.requests[-1].json() == exactly


def _send_payload(service: PushEndpoint, vapid: VapidKeys, payload: dict[str, str]) -> object:
    return send_push(_sub(service.subscribe()), payload, vapid, ttl=60, urgency="low", timeout=5.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttl": -1}, "ttl"),
        ({"ttl": 29 * 24 * 3600}, "ttl"),
        ({"urgency": "urgent"}, "urgency"),
        ({"timeout": 0}, "timeout"),
        ({"topic": "has spaces"}, "topic"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    push_service: PushEndpoint, vapid_keys: VapidKeys, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _send(push_service, vapid_keys, **kwargs)
    assert push_service.requests == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example.net/p/1",  # plain http off this machine
        "ftp://127.0.0.1/p/1",
        "https:///nohost",
    ],
)
def test_subscriptions_must_point_at_https_or_loopback(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        PushSubscription(endpoint=endpoint, p256dh="BAAA", auth="AAAA")


def test_subscription_keys_must_be_base64url() -> None:
    with pytest.raises(ValueError, match="p256dh"):
        PushSubscription(endpoint="https://push.example.net/p/1", p256dh="not base64!", auth="AA")


def test_a_subscription_with_a_corrupt_key_is_rejected_without_a_request(
    push_service: PushEndpoint, vapid_keys: VapidKeys
) -> None:
    good = push_service.subscribe().to_json()
    corrupt = PushSubscription(
        endpoint=good["endpoint"], p256dh="BAAAAA", auth=good["keys"]["auth"]
    )
    outcome = send_push(corrupt, PAYLOAD, vapid_keys, ttl=60, urgency="low", timeout=5.0)
    assert isinstance(outcome, PushRejected)
    assert push_service.requests == []


# ── PushClient: pooled connections, cached VAPID tokens ─────────────────────────────────────


def _send_with(client: PushClient, service: PushEndpoint, subscriber: Subscriber) -> object:
    return send_push(
        _sub(subscriber),
        PAYLOAD,
        client.vapid,
        ttl=60,
        urgency="normal",
        timeout=5.0,
        client=client,
    )


def test_a_client_reuses_one_connection_and_one_token_for_many_messages(
    vapid_keys: VapidKeys,
) -> None:
    with PushEndpoint(keep_alive=True) as service, PushClient(vapid_keys) as client:
        subscribers = [service.subscribe() for _ in range(5)]
        outcomes = [_send_with(client, service, s) for s in subscribers]
        assert outcomes == [PushDelivered(201)] * 5
        # Every message decrypted and verified by the service, over a single connection,
        # with a single signature.
        received = service.delivered()
        assert [r.json() for r in received] == [PAYLOAD] * 5
        assert {r.headers["authorization"] for r in received} == {
            received[0].headers["authorization"]
        }
        assert service.connections == 1
        assert client.signed == 1


def test_without_a_client_every_message_opens_a_connection_and_signs(
    vapid_keys: VapidKeys,
) -> None:
    with PushEndpoint(keep_alive=True) as service:
        for _ in range(3):
            assert _send(service, vapid_keys) == PushDelivered(201)
        assert service.connections == 3


def test_each_push_service_gets_its_own_token_and_connection(vapid_keys: VapidKeys) -> None:
    with (
        PushEndpoint(keep_alive=True) as one,
        PushEndpoint(keep_alive=True) as two,
        PushClient(vapid_keys) as client,
    ):
        for service in (one, two, one, two):
            assert _send_with(client, service, service.subscribe()) == PushDelivered(201)
        # The service verifies aud == its own origin: a token for the other would be refused.
        assert {r.vapid.claims["aud"] for r in one.delivered() if r.vapid} == {one.origin}
        assert {r.vapid.claims["aud"] for r in two.delivered() if r.vapid} == {two.origin}
        assert (one.connections, two.connections, client.signed) == (1, 1, 2)


def test_a_cached_token_is_renewed_before_it_expires(vapid_keys: VapidKeys) -> None:
    now = [time.time()]
    with (
        PushEndpoint(keep_alive=True) as service,
        PushClient(vapid_keys, clock=lambda: now[0]) as client,
    ):
        assert _send_with(client, service, service.subscribe()) == PushDelivered(201)
        first = service.delivered()[-1].vapid
        assert first is not None
        # Still more than an hour to go: the same token.
        now[0] = first.claims["exp"] - TOKEN_RENEW_BEFORE_SECONDS - 60
        client.vapid_headers(service.origin + "/x")
        assert client.signed == 1
        # Within the last hour of its life: a new token, valid for another 12 hours.
        now[0] = first.claims["exp"] - TOKEN_RENEW_BEFORE_SECONDS + 1
        headers = client.vapid_headers(service.origin + "/x")
        assert client.signed == 2
        assert headers["Authorization"] != first_authorization(service)


def first_authorization(service: PushEndpoint) -> str:
    return service.delivered()[0].headers["authorization"]


def test_a_client_for_other_keys_is_refused(vapid_keys: VapidKeys, tmp_path: Path) -> None:
    other = ensure_vapid_keys(tmp_path, subject=SUBJECT)
    with PushEndpoint() as service, PushClient(other) as client:
        with pytest.raises(ValueError, match="other VAPID keys"):
            send_push(
                _sub(service.subscribe()),
                PAYLOAD,
                vapid_keys,
                ttl=60,
                urgency="normal",
                timeout=5.0,
                client=client,
            )
        assert service.requests == []


class _ForwardingProxy:
    """A plain HTTP forward proxy on 127.0.0.1 (absolute-form request lines, RFC 9112 §3.2.2)
    that relays each request to its origin and remembers the URLs it carried."""

    def __init__(self) -> None:
        proxy = self
        self.urls: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                proxy.urls.append(self.path)
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                upstream = http.client.HTTPConnection(target.netloc, timeout=5)
                upstream.request("POST", target.path or "/", body, headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                self.send_response(answer.status)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> _ForwardingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def test_a_client_sends_through_the_environments_proxy(
    vapid_keys: VapidKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client reads the proxy settings once per push service, as requests would have.
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with PushEndpoint(keep_alive=True) as service, _ForwardingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        with PushClient(vapid_keys) as client:
            subscriber = service.subscribe()
            assert _send_with(client, service, subscriber) == PushDelivered(201)
        # Decrypted and verified by the service, after passing through the proxy.
        assert [r.json() for r in service.delivered()] == [PAYLOAD]
        assert proxy.urls == [subscriber.endpoint]
