"""End to end: smtplib → a real local aiosmtpd server; outcomes for 4xx/5xx, TLS, and config."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.delivery.email import (
    IDEMPOTENCY_HEADER,
    EmailConfigError,
    EmailDelivered,
    EmailRejected,
    EmailRetry,
    OutgoingEmail,
    SmtpSettings,
    send_email,
)
from app.delivery.messages import caregiver_reminder, staff_alert_notice
from tests.delivery.test_messages import HEALTH_WORDS
from tests.support.smtp_server import SmtpTestServer
from tests.support.tls import LocalCertificate, make_local_certificate

SENDER = "Chorus <no-reply@chorus.example.org>"
LINK = "https://chorus.example.org/app/today"


def _settings(server: SmtpTestServer, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "sender": SENDER,
        "timeout": 5.0,
        **overrides,
    }
    return SmtpSettings(**values)  # type: ignore[arg-type]


def _reminder(key: str = "rem-000123", language: str = "de") -> OutgoingEmail:
    notice = caregiver_reminder(language, LINK, nickname="Sam")
    return OutgoingEmail(
        to="parent@example.net",
        subject=notice.subject,
        text=notice.text,
        html=notice.html,
        idempotency_key=key,
        language=notice.language,
    )


def test_reminder_is_delivered_with_identity_headers_language_and_no_health_words(
    smtp_server: SmtpTestServer,
) -> None:
    outcome = send_email(_reminder(), _settings(smtp_server))

    assert outcome == EmailDelivered(message_id="<rem-000123@chorus.example.org>")
    [received] = smtp_server.messages
    assert received.mail_from == "no-reply@chorus.example.org"
    assert received.rcpt_tos == ["parent@example.net"]
    msg = received.message
    assert msg["From"] == SENDER
    assert msg["To"] == "parent@example.net"
    assert msg["Subject"] == "Ein kurzer Fragebogen für Sam"
    assert msg["Message-ID"] == "<rem-000123@chorus.example.org>"
    assert msg[IDEMPOTENCY_HEADER] == "rem-000123"
    assert msg["Content-Language"] == "de"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"]
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    text = plain.get_content()
    assert f"In Chorus wartet ein kurzer Fragebogen für Sam auf Sie. Öffnen: {LINK}" in text
    assert f'href="{LINK}"' in html.get_content()
    everything = (msg["Subject"] + text + html.get_content()).lower()
    assert not [w for w in HEALTH_WORDS if w in everything]


def test_the_same_reminder_sent_twice_keeps_the_same_message_id(
    smtp_server: SmtpTestServer,
) -> None:
    for _ in range(2):
        assert isinstance(send_email(_reminder(), _settings(smtp_server)), EmailDelivered)
    first, second = smtp_server.messages
    assert first.message["Message-ID"] == second.message["Message-ID"]


def test_plain_text_only_when_no_html_is_given(smtp_server: SmtpTestServer) -> None:
    plain_only = OutgoingEmail(
        to="p@example.net",
        subject="s",
        text="t\n",
        idempotency_key="k1",
        language="en",
    )
    assert isinstance(send_email(plain_only, _settings(smtp_server)), EmailDelivered)
    assert smtp_server.messages[0].message.get_content_type() == "text/plain"


def test_staff_alert_reaches_staff_without_answers(smtp_server: SmtpTestServer) -> None:
    notice = staff_alert_notice(
        "en",
        "https://chorus.example.org/staff/alerts/9",
        study="FAT-01",
        site="LYON",
        participant_code="P-7Q2K",
    )
    message = OutgoingEmail(
        to="coordinator@hospital.example",
        subject=notice.subject,
        text=notice.text,
        html=notice.html,
        idempotency_key="alert-9-coordinator-3",
        language="en",
    )
    assert isinstance(send_email(message, _settings(smtp_server)), EmailDelivered)
    text = smtp_server.messages[0].message.get_body(preferencelist=("plain",))
    assert text is not None
    assert (
        "A response in study FAT-01 at site LYON needs your attention. Sign in to see it:"
        in text.get_content()
    )


@pytest.mark.parametrize(
    ("stage", "reply", "outcome_type", "code"),
    [
        ("rcpt", "450 4.2.1 Mailbox busy, try later", EmailRetry, 450),
        ("data", "451 4.3.0 Local error, try later", EmailRetry, 451),
        ("rcpt", "550 5.1.1 No such user", EmailRejected, 550),
        ("data", "554 5.7.1 Message refused", EmailRejected, 554),
    ],
)
def test_smtp_4xx_is_retried_and_5xx_is_rejected(
    smtp_server: SmtpTestServer, stage: str, reply: str, outcome_type: type, code: int
) -> None:
    smtp_server.fail_next(stage, reply)  # type: ignore[arg-type]
    outcome = send_email(_reminder(), _settings(smtp_server))
    assert isinstance(outcome, outcome_type)
    assert isinstance(outcome, EmailRetry | EmailRejected)
    assert outcome.code == code
    assert reply.split(" ", 1)[1] in outcome.reason
    assert smtp_server.messages == []


def test_a_closed_port_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = SmtpSettings(
        host="127.0.0.1", port=port, security="none", sender=SENDER, timeout=2.0
    )
    outcome = send_email(_reminder(), settings)
    assert isinstance(outcome, EmailRetry)
    assert "unreachable" in outcome.reason


# ── Configuration ─────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("host", ["smtp.example.org", "10.0.0.5", "192.168.1.10", "::2"])
def test_plaintext_smtp_to_a_non_local_host_is_refused_by_config(host: str) -> None:
    with pytest.raises(EmailConfigError, match="plaintext SMTP is only allowed to localhost"):
        SmtpSettings(host=host, port=25, security="none", sender=SENDER)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "::1", "[::1]"])
def test_plaintext_smtp_to_this_machine_is_allowed(host: str) -> None:
    SmtpSettings(host=host, port=25, security="none", sender=SENDER)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"security": "ssl"}, "security must be one of"),
        ({"port": 0}, "port"),
        ({"timeout": 0}, "timeout"),
        ({"username": "u"}, "both the SMTP username and password"),
        ({"sender": "not an address"}, "sender"),
        ({"host": " "}, "host is empty"),
    ],
)
def test_bad_smtp_settings_name_the_setting(overrides: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "host": "smtp.example.org",
        "port": 587,
        "security": "starttls",
        "sender": SENDER,
        **overrides,
    }
    with pytest.raises(EmailConfigError, match=message):
        SmtpSettings(**values)  # type: ignore[arg-type]


def test_password_is_not_in_the_settings_repr() -> None:
    settings = SmtpSettings(
        host="smtp.example.org",
        port=587,
        security="starttls",
        sender=SENDER,
        username="chorus",
        password="s3cret-pass",
    )
    assert "s3cret-pass" not in repr(settings)


def test_recipient_address_is_not_in_the_message_repr() -> None:
    assert "parent@example.net" not in repr(_reminder())


@pytest.mark.parametrize("key", ["", "has space", "a/b", "x" * 129, "<id>"])
def test_idempotency_keys_are_restricted_to_safe_characters(key: str) -> None:
    with pytest.raises(ValueError, match="idempotency_key"):
        _reminder(key=key)


def test_a_subject_with_a_newline_cannot_inject_headers(smtp_server: SmtpTestServer) -> None:
    message = OutgoingEmail(
        to="p@example.net",
        subject="Hello\r\nBcc: victim@example.net",
        text="t\n",
        idempotency_key="k2",
        language="en",
    )
    with pytest.raises(ValueError):
        send_email(message, _settings(smtp_server))
    assert smtp_server.messages == []


# ── TLS ───────────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def local_cert(tmp_path_factory: pytest.TempPathFactory) -> LocalCertificate:
    return make_local_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def starttls_server(local_cert: LocalCertificate) -> Iterator[SmtpTestServer]:
    with SmtpTestServer(
        starttls_context=local_cert.server_context(), users={"chorus": "relay-pass"}
    ) as server:
        yield server


def test_starttls_with_credentials_delivers_over_tls(
    starttls_server: SmtpTestServer, local_cert: LocalCertificate
) -> None:
    settings = _settings(
        starttls_server,
        security="starttls",
        ca_file=local_cert.cert_file,
        username="chorus",
        password="relay-pass",
    )
    assert isinstance(send_email(_reminder(), settings), EmailDelivered)
    [received] = starttls_server.messages
    assert received.tls


def test_wrong_smtp_password_is_rejected(
    starttls_server: SmtpTestServer, local_cert: LocalCertificate
) -> None:
    settings = _settings(
        starttls_server,
        security="starttls",
        ca_file=local_cert.cert_file,
        username="chorus",
        password="wrong",
    )
    outcome = send_email(_reminder(), settings)
    assert isinstance(outcome, EmailRejected)
    assert outcome.code == 535
    assert starttls_server.messages == []


def test_starttls_with_an_untrusted_certificate_is_retried_not_sent(
    starttls_server: SmtpTestServer,
) -> None:
    # System trust store only: the self-signed test certificate is not trusted.
    outcome = send_email(_reminder(), _settings(starttls_server, security="starttls"))
    assert isinstance(outcome, EmailRetry)
    assert "TLS" in outcome.reason
    assert starttls_server.messages == []


def test_starttls_required_but_not_offered_never_falls_back_to_plaintext(
    smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    outcome = send_email(_reminder(), _settings(smtp_server, security="starttls"))
    assert isinstance(outcome, EmailRetry)
    assert re.search(r"STARTTLS|extension", outcome.reason, re.IGNORECASE)
    assert smtp_server.messages == []


def test_implicit_tls_delivers(local_cert: LocalCertificate) -> None:
    with SmtpTestServer(implicit_tls_context=local_cert.server_context()) as server:
        settings = _settings(server, security="tls", ca_file=local_cert.cert_file)
        assert isinstance(send_email(_reminder(), settings), EmailDelivered)
        [received] = server.messages
        assert received.tls
