"""S3-only behaviour: URL parsing, bucket creation, credential and bucket errors, big uploads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from llm_research_lab.storage import S3ObjectStore, StorageConfigError, StorageUnavailableError
from tests.fakes.seaweedfs import SeaweedS3


def make(seaweedfs: SeaweedS3, url: str, **kwargs: Any) -> S3ObjectStore:
    options: dict[str, Any] = {
        "endpoint_url": seaweedfs.endpoint_url,
        "access_key": seaweedfs.access_key,
        "secret_key": seaweedfs.secret_key,
        "region": seaweedfs.region,
    }
    options.update(kwargs)
    return S3ObjectStore.from_url(url, **options)


@pytest.mark.parametrize("url", ["s3://", "http://bucket/x", "s3:///prefix", "s3://bucket/../x"])
def test_from_url_rejects_bad_urls(url: str) -> None:
    with pytest.raises(StorageConfigError):
        S3ObjectStore.from_url(url, endpoint_url="http://127.0.0.1:1")


def test_from_url_parses_bucket_and_prefix() -> None:
    store = S3ObjectStore.from_url("s3://my-bucket/lab/objects/", endpoint_url="http://127.0.0.1:1")
    assert (store.bucket, store.prefix) == ("my-bucket", "lab/objects")
    assert store._full("a/b") == "lab/objects/a/b"


async def test_missing_bucket_is_unavailable_unless_created(seaweedfs: SeaweedS3) -> None:
    name = f"lab-new-{uuid.uuid4().hex[:10]}"
    store = make(seaweedfs, f"s3://{name}/p")
    with pytest.raises(StorageUnavailableError, match="does not exist"):
        await store.health()
    await store.aclose()

    creating = make(seaweedfs, f"s3://{name}/p", create_bucket=True)
    await creating.health()
    await creating.health()  # second call: bucket exists, still fine
    info = await creating.put_stream("k", b"data")
    assert info.size == 4
    await creating.aclose()


async def test_wrong_credentials_are_unavailable(seaweedfs: SeaweedS3) -> None:
    store = make(seaweedfs, f"s3://{seaweedfs.bucket}", secret_key="not-the-secret")
    with pytest.raises(StorageUnavailableError):
        await store.health()
    with pytest.raises(StorageUnavailableError):
        await store.put_stream("k", b"data")
    await store.aclose()


async def test_unreachable_endpoint_is_unavailable() -> None:
    store = S3ObjectStore.from_url(
        "s3://bucket", endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="b"
    )
    with pytest.raises(StorageUnavailableError):
        await store.health()
    await store.aclose()


async def test_public_endpoint_is_used_for_presigned_urls(seaweedfs: SeaweedS3) -> None:
    store = make(seaweedfs, f"s3://{seaweedfs.bucket}", public_endpoint_url="https://s3.example.com")
    signed = await store.presign_upload("k/obj", "text/plain")
    assert signed.url.startswith(f"https://s3.example.com/{seaweedfs.bucket}/k/obj?")
    assert "X-Amz-Signature=" in signed.url
    await store.aclose()


async def test_multipart_parts_are_uploaded_in_order(s3_store: S3ObjectStore, s3_client: Any) -> None:
    # 3 parts of 5 MiB + a tail: reading back the exact bytes proves part numbering and order.
    s3_store.part_size = 5 * 1024 * 1024
    data = b"".join(bytes([i]) * (1024 * 1024) for i in range(16)) + b"tail"
    info = await s3_store.put_stream("mp/obj", [data[i : i + 300_000] for i in range(0, len(data), 300_000)])
    assert info.size == len(data)
    body = s3_client.get_object(Bucket=s3_store.bucket, Key=f"{s3_store.prefix}/mp/obj")["Body"].read()
    assert body == data


def test_part_size_floor() -> None:
    with pytest.raises(StorageConfigError):
        S3ObjectStore(object(), "bucket", part_size=1024)
