from __future__ import annotations

from pathlib import Path

import pytest

from llm_research_lab.storage import (
    LocalObjectStore,
    S3ObjectStore,
    StorageConfig,
    StorageConfigError,
    create_object_store,
)

SECRET = "factory-test-secret-0123456789"


def test_default_is_local_under_data_dir(tmp_path: Path) -> None:
    store = create_object_store(StorageConfig(data_dir=tmp_path, signing_secret=SECRET))
    assert isinstance(store, LocalObjectStore)
    assert store.root == (tmp_path / "objects").resolve()
    assert (tmp_path / "objects" / ".tmp").is_dir()


def test_file_url_uses_that_directory(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    store = create_object_store(
        StorageConfig(data_dir=tmp_path, signing_secret=SECRET, url=f"file://{target}")
    )
    assert isinstance(store, LocalObjectStore)
    assert store.root == target.resolve()


def test_s3_url_builds_s3_store(tmp_path: Path) -> None:
    store = create_object_store(
        StorageConfig(
            data_dir=tmp_path,
            signing_secret=SECRET,
            url="s3://datasets/lab",
            s3_endpoint_url="http://127.0.0.1:1",
            s3_create_bucket=True,
        )
    )
    assert isinstance(store, S3ObjectStore)
    assert (store.bucket, store.prefix, store.create_bucket) == ("datasets", "lab", True)


@pytest.mark.parametrize("url", ["gs://bucket", "file://remote-host/dir", "file:relative/dir", "ftp://x"])
def test_unsupported_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(StorageConfigError):
        create_object_store(StorageConfig(data_dir=tmp_path, signing_secret=SECRET, url=url))


def test_short_signing_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        create_object_store(StorageConfig(data_dir=tmp_path, signing_secret="short"))
