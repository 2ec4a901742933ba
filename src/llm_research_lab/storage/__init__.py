"""Object storage: a local directory with HMAC-signed URLs (default) or an S3-compatible bucket.

The HTTP router for local signed URLs lives in `llm_research_lab.storage.http` (not imported here,
so workers that only read objects do not import FastAPI).
"""

from llm_research_lab.storage.base import (
    ChunkSource,
    ObjectInfo,
    ObjectStore,
    PresignedURL,
    validate_key,
)
from llm_research_lab.storage.errors import (
    ExpiredURLError,
    InvalidKeyError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    SignatureError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
)
from llm_research_lab.storage.factory import StorageConfig, create_object_store
from llm_research_lab.storage.local import LocalObjectStore
from llm_research_lab.storage.s3 import S3ObjectStore
from llm_research_lab.storage.signing import URLSigner, verify_signed_request

__all__ = [
    "ChunkSource",
    "ExpiredURLError",
    "InvalidKeyError",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectStore",
    "ObjectTooLargeError",
    "PresignedURL",
    "S3ObjectStore",
    "SignatureError",
    "StorageConfig",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailableError",
    "URLSigner",
    "create_object_store",
    "validate_key",
    "verify_signed_request",
]
