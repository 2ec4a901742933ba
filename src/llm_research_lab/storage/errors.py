"""Storage errors: `LabError` subclasses, so the server renders them as the shared envelope
and a router or service can let them propagate unchanged."""

from __future__ import annotations

from llm_research_lab.errors import LabError


class StorageError(LabError):
    """Base of every error raised by `llm_research_lab.storage`."""

    status_code = 500
    code = "storage_error"
    default_message = "Object storage error"


class InvalidKeyError(StorageError):
    """The object key is not acceptable (traversal, absolute path, odd characters...)."""

    status_code = 400
    code = "bad_request"
    default_message = "Invalid object key"


class ObjectNotFoundError(StorageError):
    status_code = 404
    code = "not_found"
    default_message = "Object not found"


class ObjectTooLargeError(StorageError):
    status_code = 413
    code = "payload_too_large"
    default_message = "Object too large"


class SignatureError(StorageError):
    """A signed URL whose signature does not match (tampered, wrong method or content type)."""

    status_code = 403
    code = "invalid_signature"
    default_message = "Invalid URL signature"


class ExpiredURLError(SignatureError):
    status_code = 403
    code = "url_expired"
    default_message = "The signed URL has expired"


class StorageUnavailableError(StorageError):
    """The backend cannot be reached or refuses our credentials: an operator problem."""

    status_code = 503
    code = "storage_unavailable"
    default_message = "Object storage is unavailable"


class StorageConfigError(StorageError):
    """The storage URL or options are invalid; raised at start-up, never per request."""

    status_code = 500
    code = "storage_config_error"
    default_message = "Invalid object storage configuration"


__all__ = [
    "ExpiredURLError",
    "InvalidKeyError",
    "ObjectNotFoundError",
    "ObjectTooLargeError",
    "SignatureError",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailableError",
]
