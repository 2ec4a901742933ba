"""Client construction helpers: the only place the SDK reads the environment."""

from __future__ import annotations

import mimetypes
import os

from llm_research_lab.client._core import DEFAULT_BASE_URL, ClientConfig


def build_config(
    *,
    api_key: str | None,
    base_url: str | None,
    username: str | None,
    password: str | None,
    timeout: float,
    max_retries: int,
    max_backoff: float,
) -> ClientConfig:
    """Explicit arguments win; ``LAB_API_KEY`` / ``LAB_BASE_URL`` fill in what is missing.

    A username/password login is not mixed with an API key from the environment: when a
    username is given, ``LAB_API_KEY`` is ignored.
    """
    if username is not None and password is None:
        raise ValueError("password is required with username")
    if api_key is None and username is None:
        api_key = os.environ.get("LAB_API_KEY") or None
    url = (base_url or os.environ.get("LAB_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if max_retries < 0 or max_backoff < 0 or timeout <= 0:
        raise ValueError("max_retries and max_backoff must be >= 0 and timeout > 0")
    return ClientConfig(
        base_url=url,
        api_key=api_key,
        username=username,
        password=password,
        timeout=timeout,
        max_retries=max_retries,
        max_backoff=max_backoff,
    )


_TYPES = {".jsonl": "application/jsonl", ".ndjson": "application/jsonl", ".parquet": "application/parquet"}


def guess_content_type(filename: str) -> str:
    suffix = os.path.splitext(filename)[1].lower()
    if suffix in _TYPES:
        return _TYPES[suffix]
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
