"""Choose and build the object store from configuration (``LAB_STORAGE_URL`` and friends)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from llm_research_lab.storage.base import ObjectStore
from llm_research_lab.storage.errors import StorageConfigError
from llm_research_lab.storage.local import LocalObjectStore
from llm_research_lab.storage.s3 import DEFAULT_PART_SIZE, S3ObjectStore
from llm_research_lab.storage.signing import URLSigner


@dataclass(frozen=True)
class StorageConfig:
    """Everything `create_object_store` needs; the server maps its Settings' storage group onto it.

    ``url``: ``None`` → ``<data_dir>/objects``; ``file:///abs/dir`` → that directory;
    ``s3://bucket/prefix`` → S3. ``signing_secret`` and ``public_base_url`` are used by the local
    backend's signed URLs (the URL clients use to reach this API), the ``s3_*`` fields by S3.
    """

    data_dir: Path
    signing_secret: str
    public_base_url: str = "http://127.0.0.1:8000"
    url: str | None = None
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None
    s3_create_bucket: bool = False
    s3_part_size: int = DEFAULT_PART_SIZE


def create_object_store(config: StorageConfig) -> ObjectStore:
    """Local directory unless ``config.url`` says ``s3://``. Call ``await store.health()`` at start-up:
    it fails fast on bad credentials and, with ``s3_create_bucket``, creates the bucket."""
    url = config.url
    if url is None or url == "":
        return LocalObjectStore(
            Path(config.data_dir) / "objects", URLSigner(config.signing_secret, config.public_base_url)
        )
    scheme = urlsplit(url).scheme
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise StorageConfigError(f"file:// storage URL must be a local path, got {url!r}")
        root = Path(unquote(parts.path))
        if not root.is_absolute():
            raise StorageConfigError(f"file:// storage URL needs an absolute path, got {url!r}")
        return LocalObjectStore(root, URLSigner(config.signing_secret, config.public_base_url))
    if scheme == "s3":
        return S3ObjectStore.from_url(
            url,
            endpoint_url=config.s3_endpoint_url,
            access_key=config.s3_access_key,
            secret_key=config.s3_secret_key,
            region=config.s3_region,
            public_endpoint_url=config.s3_public_endpoint_url,
            create_bucket=config.s3_create_bucket,
            part_size=config.s3_part_size,
        )
    raise StorageConfigError(f"Unsupported storage URL scheme {scheme!r} in {url!r}; use file:// or s3://")
