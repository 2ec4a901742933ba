"""The server's object store: built once from Settings in create_app, kept in
``state.extras["object_store"]``, checked by the ``storage`` health component."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends

from llm_research_lab.server.deps import StateDep
from llm_research_lab.server.health.checks import register
from llm_research_lab.server.state import AppState
from llm_research_lab.settings import Settings
from llm_research_lab.storage import ObjectStore, StorageConfig, StorageConfigError, create_object_store

SECRET_FILE = "storage_secret"
_MIN_SECRET_CHARS = 32


def storage_secret(settings: Settings) -> str:
    """The key that signs local storage URLs: generated once into ``<data_dir>/storage_secret``
    (mode 0600) and reused, so URLs survive restarts and every worker on this data dir agrees.
    There is no built-in default: a leaked default would let anyone mint upload URLs."""
    path = settings.ensure_data_dir() / SECRET_FILE
    if not path.exists():
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(48))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic and refuses to overwrite: a concurrent starter's secret wins
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
    secret = path.read_text(encoding="utf-8").strip()
    if len(secret) < _MIN_SECRET_CHARS:
        raise StorageConfigError(f"{path} holds a secret shorter than {_MIN_SECRET_CHARS} characters")
    return secret


def is_local(settings: Settings) -> bool:
    return not settings.storage_url or settings.storage_url.startswith("file:")


def build_object_store(settings: Settings) -> ObjectStore:
    """``storage_url`` None → ``<data_dir>/objects``; ``file:///dir``; ``s3://bucket/prefix`` → S3
    with ``storage_endpoint_url`` / access key / secret key / region."""
    return create_object_store(
        StorageConfig(
            data_dir=Path(settings.data_dir),
            signing_secret=storage_secret(settings) if is_local(settings) else secrets.token_urlsafe(32),
            public_base_url=settings.base_url,
            url=settings.storage_url,
            s3_endpoint_url=settings.storage_endpoint_url,
            s3_access_key=settings.storage_access_key,
            s3_secret_key=settings.storage_secret_key,
            s3_region=settings.storage_region,
        )
    )


def install_object_store(state: AppState) -> ObjectStore:
    store = build_object_store(state.settings)
    state.extras["object_store"] = store
    register(state, "storage", store.health, critical=True)

    async def check_at_startup(_: AppState) -> None:
        await store.health()  # fail fast on a missing bucket or bad credentials

    async def close(_: AppState) -> None:
        await store.aclose()

    state.extras.setdefault("startup_hooks", []).append(check_at_startup)
    state.extras.setdefault("shutdown_hooks", []).append(close)
    return store


def get_object_store(state: StateDep) -> ObjectStore:
    store: ObjectStore = state.extras["object_store"]
    return store


ObjectStoreDep = Annotated[ObjectStore, Depends(get_object_store)]
