"""Send one e-mail (reminder fallback or staff alert notice) over SMTP with the standard library.

Messages are built with :class:`email.message.EmailMessage`: plain text first, an optional simple
HTML alternative, a ``Message-ID`` and an ``X-Chorus-Reminder-Id`` both derived from the outbox
row, so a resend after a crash carries the same identity and mail clients can fold duplicates.
Transport security is explicit: STARTTLS, implicit TLS, or none — and none only to this machine.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Final, Literal

from app.delivery._net import is_loopback_host

__all__ = [
    "IDEMPOTENCY_HEADER",
    "EmailConfigError",
    "EmailDelivered",
    "EmailOutcome",
    "EmailRejected",
    "EmailRetry",
    "OutgoingEmail",
    "SmtpSecurity",
    "SmtpSettings",
    "build_message",
    "send_email",
]

IDEMPOTENCY_HEADER: Final = "X-Chorus-Reminder-Id"
SmtpSecurity = Literal["starttls", "tls", "none"]
_SECURITIES: Final = frozenset({"starttls", "tls", "none"})
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class EmailConfigError(ValueError):
    """SMTP settings that must not be used; the message says which setting to change."""


# ── Settings and message ───────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail relay.

    ``security``: ``"starttls"`` (submission, usually port 587), ``"tls"`` (implicit TLS,
    usually 465) or ``"none"``. **``"none"`` is only allowed when ``host`` is localhost or a
    loopback address** (a local relay or a test server): reminders name the person's study
    app and their address, which must not cross a network in clear. Certificates are checked
    against the system trust store, or ``ca_file`` for a private CA. ``sender`` is the From
    address, e.g. ``"Chorus <no-reply@chorus.example.org>"``.
    """

    host: str
    port: int
    security: SmtpSecurity
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        if self.security not in _SECURITIES:
            raise EmailConfigError(
                f"SMTP security must be one of {sorted(_SECURITIES)}, got {self.security!r}"
            )
        if not self.host.strip():
            raise EmailConfigError("SMTP host is empty")
        if self.security == "none" and not is_loopback_host(self.host):
            raise EmailConfigError(
                f"plaintext SMTP is only allowed to localhost, not {self.host!r};"
                " use security 'starttls' (port 587) or 'tls' (port 465)"
            )
        if not 0 < self.port < 65536:
            raise EmailConfigError(f"SMTP port must be 1-65535, got {self.port}")
        if not 0 < self.timeout <= 120:
            raise EmailConfigError(f"SMTP timeout must be 0-120 seconds, got {self.timeout}")
        if (self.username is None) != (self.password is None):
            raise EmailConfigError("set both the SMTP username and password, or neither")
        addr = parseaddr(self.sender)[1]
        if "@" not in addr or "\n" in self.sender or "\r" in self.sender:
            raise EmailConfigError(f"SMTP sender is not an e-mail address: {self.sender!r}")

    @property
    def envelope_sender(self) -> str:
        return parseaddr(self.sender)[1]


@dataclass(frozen=True)
class OutgoingEmail:
    """One message for one recipient.

    ``idempotency_key`` is the outbox row's id: it becomes ``X-Chorus-Reminder-Id`` and the
    local part of ``Message-ID``. ``language`` is a BCP 47 tag (``Content-Language``). The
    text comes from :mod:`app.delivery.messages` and carries no health information.
    """

    to: str = field(repr=False)
    subject: str
    text: str
    idempotency_key: str
    language: str
    html: str | None = None

    def __post_init__(self) -> None:
        if not _IDEMPOTENCY_KEY.match(self.idempotency_key):
            raise ValueError("idempotency_key must be 1-128 of A-Z a-z 0-9 . _ -")
        if not _LANGUAGE_TAG.match(self.language):
            raise ValueError(f"language is not a BCP 47 tag: {self.language!r}")
        if "@" not in parseaddr(self.to)[1]:
            raise ValueError("recipient is not an e-mail address")


def build_message(message: OutgoingEmail, smtp: SmtpSettings) -> EmailMessage:
    """The exact MIME message :func:`send_email` sends (also useful for previews)."""
    domain = smtp.envelope_sender.rsplit("@", 1)[1]
    msg = EmailMessage()
    # The default policy refuses CR/LF in header values, so no header injection via subjects.
    msg["From"] = smtp.sender
    msg["To"] = Address(addr_spec=parseaddr(message.to)[1])
    msg["Subject"] = message.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = f"<{message.idempotency_key}@{domain}>"
    msg[IDEMPOTENCY_HEADER] = message.idempotency_key
    # RFC 3834: stops vacation responders answering a reminder.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(message.text)
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html")
    # After the body: making the message multipart moves Content-* headers into the parts.
    msg["Content-Language"] = message.language
    return msg


# ── Outcomes ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class EmailDelivered:
    """The relay accepted the message for the recipient."""

    message_id: str


@dataclass(frozen=True)
class EmailRetry:
    """Transient: a 4xx reply, a timeout, a refused or dropped connection, a TLS failure.
    The caller retries with backoff (there is no Retry-After in SMTP)."""

    reason: str
    code: int | None = None


@dataclass(frozen=True)
class EmailRejected:
    """Permanent 5xx for this message (bad recipient, refused sender, refused content,
    failed authentication). Do not retry; surface it to staff."""

    reason: str
    code: int | None = None


EmailOutcome = EmailDelivered | EmailRetry | EmailRejected


def _by_code(code: int, text: bytes | str, stage: str) -> EmailOutcome:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    reason = f"{stage}: {code} {' '.join(detail.split())[:200]}"
    if 500 <= code < 600:
        return EmailRejected(reason=reason, code=code)
    return EmailRetry(reason=reason, code=code)


# ── Sending ────────────────────────────────────────────────────────────────────────────────


def _connect(smtp: SmtpSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    if smtp.security == "tls":
        return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    return smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)


def send_email(message: OutgoingEmail, smtp: SmtpSettings) -> EmailOutcome:
    """Send ``message`` through the relay in ``smtp``; every SMTP or network outcome is returned.

    Idempotency: SMTP cannot tell us whether a message whose connection dropped after DATA was
    delivered, so a retry may deliver twice; the stable ``Message-ID`` lets clients fold it.
    """
    mime = build_message(message, smtp)
    context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    client: smtplib.SMTP | None = None
    try:
        client = _connect(smtp, context)
        client.ehlo()
        if smtp.security == "starttls":
            # Raises SMTPNotSupportedError if STARTTLS is not offered: never fall back to clear.
            client.starttls(context=context)
            client.ehlo()
        if smtp.username is not None and smtp.password is not None:
            client.login(smtp.username, smtp.password)
        client.send_message(
            mime, from_addr=smtp.envelope_sender, to_addrs=[mime["To"].addresses[0].addr_spec]
        )
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return _by_code(code, text, "recipient refused")
    except smtplib.SMTPAuthenticationError as exc:
        return _by_code(exc.smtp_code, exc.smtp_error, "authentication failed")
    except smtplib.SMTPSenderRefused as exc:
        return _by_code(exc.smtp_code, exc.smtp_error, "sender refused")
    except smtplib.SMTPDataError as exc:
        return _by_code(exc.smtp_code, exc.smtp_error, "message refused")
    except smtplib.SMTPResponseException as exc:
        return _by_code(exc.smtp_code, exc.smtp_error, "server refused")
    except smtplib.SMTPNotSupportedError as exc:
        return EmailRetry(reason=f"relay does not support a required extension: {exc}")
    except smtplib.SMTPServerDisconnected:
        return EmailRetry(reason="relay closed the connection")
    except ssl.SSLError as exc:
        return EmailRetry(reason=f"TLS failed: {type(exc).__name__}: {exc.reason or ''}".strip())
    except OSError as exc:
        # Refused connection, timeout, DNS failure; smtplib.SMTPException derives from OSError.
        return EmailRetry(reason=f"relay unreachable: {type(exc).__name__}")
    finally:
        if client is not None:
            _close_quietly(client)
    return EmailDelivered(message_id=str(mime["Message-ID"]))


def _close_quietly(client: smtplib.SMTP) -> None:
    """QUIT after the message was accepted must not turn a delivery into a failure."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
