"""A real SMTP server for tests (aiosmtpd) on 127.0.0.1 with an ephemeral port.

It stores every accepted message, and can be told to answer the next RCPT or DATA with a
chosen reply (e.g. ``"451 4.3.0 try later"`` or ``"550 5.1.1 no such user"``). Optional
STARTTLS with a caller-provided server ``SSLContext``.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["rcpt", "data"]


@dataclass(frozen=True)
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _RecordingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[ReceivedEmail] = []
        self.failures: deque[tuple[Stage, str]] = deque()

    def _failure(self, stage: Stage) -> str | None:
        with self.lock:
            if self.failures and self.failures[0][0] == stage:
                return self.failures.popleft()[1]
        return None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._failure("rcpt")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self._failure("data")
        if reply:
            return reply
        content = envelope.original_content or b""
        with self.lock:
            self.messages.append(
                ReceivedEmail(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=list(envelope.rcpt_tos),
                    raw=content,
                    # STARTTLS sets session.ssl; implicit TLS shows on the transport.
                    tls=session.ssl is not None
                    or (
                        server.transport is not None
                        and server.transport.get_extra_info("ssl_object") is not None
                    ),
                )
            )
        return "250 Message accepted for delivery"


class _EphemeralPortController(Controller):
    """aiosmtpd's Controller wants a fixed port; bind port 0 and read back the real one."""

    def _create_server(self) -> Awaitable[Any]:
        return self._bind()

    async def _bind(self) -> Any:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
        )
        self.port = server.sockets[0].getsockname()[1]
        return server


class _Accounts:
    """aiosmtpd authenticator: LOGIN/PLAIN against a fixed user table."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if self.users.get(user) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class SmtpTestServer:
    """``with SmtpTestServer() as smtp:`` → ``smtp.host``, ``smtp.port``, ``smtp.messages``.

    ``starttls_context`` offers and requires STARTTLS; ``implicit_tls_context`` speaks TLS from
    the first byte (port-465 style); ``users`` requires AUTH (only ever after TLS).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        starttls_context: ssl.SSLContext | None = None,
        implicit_tls_context: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self._handler = _RecordingHandler()
        kwargs: dict[str, Any] = {}
        if starttls_context is not None:
            kwargs |= {"tls_context": starttls_context, "require_starttls": True}
        if implicit_tls_context is not None:
            kwargs |= {"ssl_context": implicit_tls_context}
        if users is not None:
            kwargs |= {"authenticator": _Accounts(users), "auth_required": True}
        self._controller = _EphemeralPortController(
            self._handler, hostname=self.host, ready_timeout=5.0, **kwargs
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[ReceivedEmail]:
        with self._handler.lock:
            return list(self._handler.messages)

    def fail_next(self, stage: Stage, reply: str) -> None:
        with self._handler.lock:
            self._handler.failures.append((stage, reply))

    def __enter__(self) -> SmtpTestServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
