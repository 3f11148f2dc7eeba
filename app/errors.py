"""One catalogue of stable error codes, the domain exceptions that carry them, and the
single place that turns them into `{code, status, message, errors}` responses.

Codes are part of the API contract: clients (the PWA, site scripts) branch on `code`,
never on `message`, so a code is never renamed once shipped.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    BAD_REQUEST = "bad_request"
    VALIDATION_FAILED = "validation_failed"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    SESSION_EXPIRED = "session_expired"
    FORBIDDEN = "forbidden"
    CSRF_FAILED = "csrf_failed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"


# code -> (HTTP status, default message shown when the raiser gives none)
CATALOGUE: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.BAD_REQUEST: (400, "The request could not be read."),
    ErrorCode.VALIDATION_FAILED: (422, "Some fields are missing or not valid."),
    ErrorCode.UNAUTHENTICATED: (401, "Sign in to continue."),
    ErrorCode.INVALID_CREDENTIALS: (401, "That e-mail and password do not match an account."),
    ErrorCode.SECOND_FACTOR_REQUIRED: (401, "Enter the 6-digit code from your authenticator app."),
    ErrorCode.SESSION_EXPIRED: (401, "Your session has ended. Sign in again."),
    ErrorCode.FORBIDDEN: (403, "You do not have permission to do that."),
    ErrorCode.CSRF_FAILED: (
        403,
        "The form had expired or came from another site. Reload the page and try again.",
    ),
    ErrorCode.NOT_FOUND: (404, "Not found."),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "That method is not allowed here."),
    ErrorCode.CONFLICT: (409, "That conflicts with what is already stored."),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "The request is too large."),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415, "Send JSON (Content-Type: application/json)."),
    ErrorCode.TOO_MANY_ATTEMPTS: (429, "Too many attempts. Wait a while and try again."),
    ErrorCode.INTERNAL_ERROR: (500, "Something went wrong on our side. Nothing was changed."),
    ErrorCode.SERVICE_UNAVAILABLE: (503, "The service is not ready."),
}

_BY_STATUS = {status: code for code, (status, _) in reversed(CATALOGUE.items())}


def code_for_status(status: int) -> ErrorCode:
    return _BY_STATUS.get(
        status, ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.BAD_REQUEST
    )


class ChorusError(Exception):
    """A domain failure with a stable code. Raised by services; translated once, at the edge."""

    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        code: ErrorCode | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        self.message = message or CATALOGUE[self.code][1]
        self.errors = errors or {}
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return CATALOGUE[self.code][0]


class NotFound(ChorusError):
    code = ErrorCode.NOT_FOUND


class Forbidden(ChorusError):
    code = ErrorCode.FORBIDDEN


class Conflict(ChorusError):
    code = ErrorCode.CONFLICT


class Unauthenticated(ChorusError):
    code = ErrorCode.UNAUTHENTICATED


class Invalid(ChorusError):
    code = ErrorCode.VALIDATION_FAILED


class TooManyAttempts(ChorusError):
    code = ErrorCode.TOO_MANY_ATTEMPTS

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(
            message
            or f"Too many sign-in attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            headers={"Retry-After": str(retry_after_seconds)},
        )


def problem(
    code: ErrorCode, message: str | None = None, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    status = CATALOGUE[code][0]
    return {
        "code": str(code),
        "status": status,
        "message": message or CATALOGUE[code][1],
        "errors": errors or {},
    }
