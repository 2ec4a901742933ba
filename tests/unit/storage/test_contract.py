"""The ObjectStore contract, run against both backends: local directory and real SeaweedFS S3."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from llm_research_lab.storage import (
    InvalidKeyError,
    LocalObjectStore,
    ObjectNotFoundError,
    ObjectStore,
    ObjectTooLargeError,
    S3ObjectStore,
    URLSigner,
)
from tests.unit.storage.conftest import agen, collect

MB = 1024 * 1024


def payload(size: int, seed: int = 0) -> bytes:
    # Deterministic, incompressible-enough bytes without os.urandom's cost for big sizes.
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


async def test_round_trip_streamed_multi_mb_object(store: ObjectStore) -> None:
    data = payload(12 * MB + 12345)
    # Odd chunk size so chunk, block and part boundaries never line up.
    info = await store.put_stream("datasets/a/data.jsonl", agen(data, chunk=100_003), "application/jsonl")
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()

    chunks = [chunk async for chunk in store.open_read("datasets/a/data.jsonl", chunk_size=MB)]
    assert len(chunks) > 1, "open_read must stream in chunks"
    assert max(len(c) for c in chunks) <= MB
    assert b"".join(chunks) == data

    stat = await store.stat("datasets/a/data.jsonl")
    assert stat is not None
    assert stat.size == len(data)
    assert stat.content_type == "application/jsonl"
    # S3 multipart uploads cannot carry a hash computed after the fact; everything else does.
    expected_sha = None if isinstance(store, S3ObjectStore) else info.sha256
    assert stat.sha256 == expected_sha


async def test_small_object_from_bytes_and_sync_iterator(store: ObjectStore) -> None:
    info = await store.put_stream("a/bytes.txt", b"hello", "text/plain")
    stat = await store.stat("a/bytes.txt")
    assert stat is not None
    assert (stat.size, stat.sha256) == (5, hashlib.sha256(b"hello").hexdigest()) == (info.size, info.sha256)

    parts = [b"one,", b"", b"two,", b"three"]
    info = await store.put_stream("a/iter.csv", iter(parts))
    assert await collect(store.open_read("a/iter.csv")) == b"one,two,three"
    assert info.size == 13

    empty = await store.put_stream("a/empty", b"")
    assert empty.size == 0
    assert await collect(store.open_read("a/empty")) == b""


async def test_overwrite_replaces_whole_object(store: ObjectStore) -> None:
    await store.put_stream("k/obj", b"first version, longer")
    await store.put_stream("k/obj", b"second")
    assert await collect(store.open_read("k/obj")) == b"second"
    stat = await store.stat("k/obj")
    assert stat is not None and stat.size == 6


async def test_stat_delete_and_missing_objects(store: ObjectStore) -> None:
    assert await store.stat("nope/missing.bin") is None
    with pytest.raises(ObjectNotFoundError):
        await collect(store.open_read("nope/missing.bin"))
    await store.delete("nope/missing.bin")  # idempotent

    await store.put_stream("x/y/z.bin", b"abc")
    assert await store.stat("x/y/z.bin") is not None
    assert await store.stat("x/y") is None, "a key prefix is not an object"
    await store.delete("x/y/z.bin")
    assert await store.stat("x/y/z.bin") is None
    with pytest.raises(ObjectNotFoundError):
        await collect(store.open_read("x/y/z.bin"))


async def test_copy_promotes_staging_object(store: ObjectStore) -> None:
    data = payload(300_000, seed=3)
    put = await store.put_stream("staging/upload-1", agen(data), "application/jsonl")
    await store.put_stream("datasets/d1/v1/data.jsonl", b"stale")

    copied = await store.copy("staging/upload-1", "datasets/d1/v1/data.jsonl")
    assert copied.key == "datasets/d1/v1/data.jsonl"
    assert copied.size == len(data)
    assert copied.sha256 == put.sha256
    assert await collect(store.open_read("datasets/d1/v1/data.jsonl")) == data
    stat = await store.stat("datasets/d1/v1/data.jsonl")
    assert stat is not None and stat.sha256 == put.sha256 and stat.content_type == "application/jsonl"

    # The copy is independent of the source: deleting or rewriting staging leaves it intact.
    await store.put_stream("staging/upload-1", b"rewritten")
    await store.delete("staging/upload-1")
    assert await collect(store.open_read("datasets/d1/v1/data.jsonl")) == data

    with pytest.raises(ObjectNotFoundError):
        await store.copy("staging/missing", "datasets/d1/v2/data.jsonl")
    assert await store.stat("datasets/d1/v2/data.jsonl") is None


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "a/../../b",
    "a/./b",
    "a//b",
    "trailing/",
    "back\\slash",
    "C:\\windows",
    ".hidden",
    "a/.tmp/x",
    "space name",
    "new\nline",
    "percent%2e%2e",
    "unicode-é",
    "q?x=1",
    "x" * 1025,
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_rejected_everywhere(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        await store.put_stream(key, b"x")
    with pytest.raises(InvalidKeyError):
        await store.stat(key)
    with pytest.raises(InvalidKeyError):
        await store.delete(key)
    with pytest.raises(InvalidKeyError):
        await store.copy("fine/key", key)
    with pytest.raises(InvalidKeyError):
        await collect(store.open_read(key))
    with pytest.raises(InvalidKeyError):
        await store.presign_upload(key)
    with pytest.raises(InvalidKeyError):
        await store.presign_download(key)


async def test_presigned_upload_then_read_back(store: ObjectStore) -> None:
    data = payload(2 * MB + 7, seed=5)
    signed = await store.presign_upload("uploads/u1/data.jsonl", "application/jsonl", expires_in=300)
    assert signed.method == "PUT"
    assert signed.headers == {"Content-Type": "application/jsonl"}
    assert signed.expires_at.timestamp() == pytest.approx(time.time() + 300, abs=5)

    async with httpx.AsyncClient() as client:
        response = await client.put(signed.url, content=agen(data), headers=signed.headers)
    assert response.status_code == 200, response.text
    assert await collect(store.open_read("uploads/u1/data.jsonl")) == data
    stat = await store.stat("uploads/u1/data.jsonl")
    assert stat is not None and stat.size == len(data) and stat.content_type == "application/jsonl"


async def test_presigned_upload_rejects_other_content_type(store: ObjectStore) -> None:
    signed = await store.presign_upload("uploads/u2/data.jsonl", "application/jsonl", expires_in=300)
    async with httpx.AsyncClient() as client:
        response = await client.put(signed.url, content=b"{}", headers={"Content-Type": "text/html"})
    assert response.status_code == 403
    assert await store.stat("uploads/u2/data.jsonl") is None


async def test_presigned_download_with_filename(store: ObjectStore) -> None:
    data = payload(1 * MB + 3, seed=9)
    await store.put_stream("datasets/d2/v1/data.jsonl", agen(data), "application/jsonl")
    signed = await store.presign_download(
        "datasets/d2/v1/data.jsonl", expires_in=300, filename="bench v1.jsonl"
    )
    assert signed.method == "GET"
    async with httpx.AsyncClient() as client:
        response = await client.get(signed.url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["content-disposition"] == 'attachment; filename="bench v1.jsonl"'


async def test_expired_url_is_refused(store: ObjectStore) -> None:
    await store.put_stream("exp/obj", b"secret bytes")
    if isinstance(store, LocalObjectStore):
        # Mint with a clock 2 h in the past: expired now, without sleeping.
        signer = store.signer
        two_hours_ago = URLSigner(signer.secret, signer.public_base_url, lambda: time.time() - 7200)
        past = LocalObjectStore(store.root, two_hours_ago)
        download = await past.presign_download("exp/obj", expires_in=60)
        upload = await past.presign_upload("exp/new", expires_in=60)
    else:
        download = await store.presign_download("exp/obj", expires_in=1)
        upload = await store.presign_upload("exp/new", expires_in=1)
        time.sleep(2.1)  # SigV4 has one-second resolution; the server must see it expired
    async with httpx.AsyncClient() as client:
        got = await client.get(download.url)
        put = await client.put(upload.url, content=b"late")
    assert got.status_code == 403
    assert b"secret bytes" not in got.content
    assert put.status_code == 403
    assert await store.stat("exp/new") is None


async def test_tampered_signature_is_refused(store: ObjectStore) -> None:
    await store.put_stream("tamper/obj", b"payload")
    await store.put_stream("tamper/other", b"other payload")
    signed = await store.presign_download("tamper/obj", expires_in=300)
    url = httpx.URL(signed.url)
    sig_param = "sig" if isinstance(store, LocalObjectStore) else "X-Amz-Signature"
    sig = url.params[sig_param]
    flipped = "0" if sig[-1] != "0" else "1"
    tampered = [
        url.copy_set_param(sig_param, sig[:-1] + flipped),
        url.copy_with(path=url.path.replace("tamper/obj", "tamper/other")),
    ]
    async with httpx.AsyncClient() as client:
        for bad in tampered:
            response = await client.get(bad)
            assert response.status_code == 403, bad
            assert b"payload" not in response.content
        # The untouched URL still works, so the 403s above are due to the tampering.
        assert (await client.get(signed.url)).content == b"payload"


async def test_put_stream_over_max_bytes_leaves_nothing(store: ObjectStore) -> None:
    await store.put_stream("big/keep", b"previous version")
    data = payload(11 * MB)  # > one S3 part, so a multipart upload is started and must be aborted
    with pytest.raises(ObjectTooLargeError):
        await store.put_stream("big/new", agen(data), max_bytes=10 * MB)
    with pytest.raises(ObjectTooLargeError):
        await store.put_stream("big/keep", agen(data), max_bytes=10 * MB)
    assert await store.stat("big/new") is None
    assert await collect(store.open_read("big/keep")) == b"previous version"
    if isinstance(store, LocalObjectStore):
        assert os.listdir(store.root / ".tmp") == []
    else:
        assert isinstance(store, S3ObjectStore)
        uploads = store._client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
        assert uploads.get("Uploads", []) == []


async def test_failing_source_leaves_nothing(store: ObjectStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield payload(9 * MB)
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        await store.put_stream("broken/obj", broken())
    assert await store.stat("broken/obj") is None
    if isinstance(store, LocalObjectStore):
        assert os.listdir(store.root / ".tmp") == []


async def test_open_local_path(store: ObjectStore) -> None:
    data = payload(700_000, seed=11)
    await store.put_stream("local/path.jsonl", agen(data))
    async with store.open_local_path("local/path.jsonl") as path:
        assert path.read_bytes() == data
        seen = path
    if isinstance(store, S3ObjectStore):
        assert not seen.exists(), "the temporary download is removed on exit"
    with pytest.raises(ObjectNotFoundError):
        async with store.open_local_path("local/missing"):
            pass


async def test_health_ok(store: ObjectStore) -> None:
    await store.health()  # raises StorageUnavailableError when not usable
    assert await store.stat("health/none") is None
