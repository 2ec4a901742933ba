"""One error hierarchy, shared by the server (rendered as the error envelope) and the SDK
(raised from the envelope's `error` code).

Envelope: {"error": code, "message": text, "details": {...}?, "request_id": id, **extra}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class LabError(Exception):
    """Base of every error the product raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "An unexpected error occurred. Please try again later."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.message = message or self.default_message
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else {}
        self.extra: dict[str, Any] = extra
        self.request_id: str | None = extra.pop("request_id", None)
        super().__init__(self.message)

    def with_code(self, code: str) -> LabError:
        """Same error, another envelope code (e.g. malformed JSON is a validation_error)."""
        self._code = code
        return self

    def with_status(self, status_code: int) -> LabError:
        self._status = status_code
        return self

    @property
    def error_code(self) -> str:
        return getattr(self, "_code", None) or self.code

    @property
    def http_status(self) -> int:
        return getattr(self, "_status", None) or self.status_code

    def to_body(self, request_id: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error_code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        body.update(self.extra)
        body["request_id"] = request_id
        return body


class ValidationError(LabError):
    status_code = 400
    code = "validation_error"
    default_message = "Invalid request body"

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], message: str | None = None) -> ValidationError:
        return cls(message or cls.default_message, details={"fields": dict(fields)})

    @property
    def fields(self) -> dict[str, str]:
        return dict((self.details or {}).get("fields", {}))


class BadRequestError(LabError):
    status_code = 400
    code = "bad_request"
    default_message = "Bad request"


class UnauthorizedError(LabError):
    status_code = 401
    code = "unauthorized"
    default_message = "Invalid or expired authentication token"


class PermissionDeniedError(LabError):
    status_code = 403
    code = "forbidden"
    default_message = "You do not have permission to access this resource"

    def __init__(self, required_permission: str, message: str | None = None, **extra: Any) -> None:
        super().__init__(message, required_permission=required_permission, **extra)


class NotFoundError(LabError):
    status_code = 404
    code = "not_found"
    default_message = "Resource not found"

    @classmethod
    def of(cls, kind: str, ident: object) -> NotFoundError:
        return cls(f"{kind} with ID {ident} not found")


class MethodNotAllowedError(LabError):
    status_code = 405
    code = "method_not_allowed"
    default_message = "Method not allowed"


class ConflictError(LabError):
    status_code = 409
    code = "conflict"
    default_message = "The resource is in a conflicting state"


class InvalidTransitionError(ConflictError):
    def __init__(self, kind: str, current: str, target: str, allowed: Sequence[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"Cannot change {kind} status from '{current}' to '{target}'; allowed: {allowed_text}",
            current_status=current,
            allowed_transitions=list(allowed),
        )


class PayloadTooLargeError(LabError):
    status_code = 413
    code = "payload_too_large"
    default_message = "Request body too large"


class UnsupportedMediaTypeError(LabError):
    status_code = 415
    code = "unsupported_media_type"
    default_message = "Unsupported content type"


class UnprocessableEntityError(LabError):
    status_code = 422
    code = "unprocessable_entity"
    default_message = "The request cannot be processed"


class RateLimitError(LabError):
    status_code = 429
    code = "rate_limit_exceeded"
    default_message = "Rate limit exceeded"

    @property
    def retry_after(self) -> int | None:
        value = self.extra.get("retry_after")
        return int(value) if value is not None else None


class InternalError(LabError):
    status_code = 500
    code = "internal_error"


class ServiceUnavailableError(LabError):
    status_code = 503
    code = "service_unavailable"
    default_message = "The service is temporarily unavailable"


class ConfigurationError(LabError):
    """The server refuses to start with this configuration (raised before serving, never rendered)."""

    status_code = 500
    code = "configuration_error"
    default_message = "Invalid configuration"


class TimeoutError_(LabError):
    """Client side: waiting for a run or job took longer than allowed."""

    status_code = 504
    code = "timeout"
    default_message = "Timed out"


class RunFailedError(LabError):
    """Client side: the awaited run or evaluation ended in failure."""

    status_code = 500
    code = "run_failed"
    default_message = "The run failed"


ERRORS_BY_CODE: dict[str, type[LabError]] = {
    cls.code: cls
    for cls in (
        ValidationError,
        BadRequestError,
        UnauthorizedError,
        PermissionDeniedError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        UnprocessableEntityError,
        RateLimitError,
        InternalError,
        ServiceUnavailableError,
    )
}

__all__ = [
    "ERRORS_BY_CODE",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "InternalError",
    "InvalidTransitionError",
    "LabError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RunFailedError",
    "ServiceUnavailableError",
    "TimeoutError_",
    "UnauthorizedError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "ValidationError",
]
