"""S3-compatible object store (AWS S3, SeaweedFS, MinIO...), configured as ``s3://bucket/prefix``.

boto3 is synchronous; every call runs in a worker thread (boto3 clients are thread-safe, sessions
are not, so one client is built up front and shared). Uploads stream: small objects go up in one
``PutObject`` (with their sha256 in the object's metadata), larger ones as a multipart upload of
``part_size`` parts, so memory stays at about one part whatever the object size.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from llm_research_lab.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ChunkHasher,
    ChunkSource,
    ObjectInfo,
    PresignedURL,
    aiter_chunks,
    check_expires_in,
    content_disposition,
    rebuffer,
    validate_key,
)
from llm_research_lab.storage.errors import (
    InvalidKeyError,
    ObjectNotFoundError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts (except the last one)
DEFAULT_PART_SIZE = 8 * 1024 * 1024
_MAX_SINGLE_COPY = 5 * 1024**3  # CopyObject's limit; larger objects need a multipart copy
_SHA256_META = "sha256"
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_UNAVAILABLE_CODES = {
    "NoSuchBucket",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "403",
    "ServiceUnavailable",
    "SlowDown",
    "503",
}


def _import_boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:  # pragma: no cover - boto3 is a core dependency today
        raise StorageConfigError("The S3 storage backend needs boto3: pip install boto3") from exc
    return boto3


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def _translate(exc: Exception, action: str, key: str | None = None) -> StorageError:
    """Map botocore failures to our errors; the message names the action for the operator."""
    code = _error_code(exc)
    where = f" {key!r}" if key else ""
    if code in _NOT_FOUND_CODES:
        return ObjectNotFoundError(f"Object{where} not found")
    if code in _UNAVAILABLE_CODES or code is None:
        return StorageUnavailableError(f"S3 {action}{where} failed: {exc}")
    return StorageError(f"S3 {action}{where} failed: {exc}")


def _botocore_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


class S3ObjectStore:
    """`ObjectStore` on one bucket, every key under ``prefix``."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        presign_client: Any | None = None,
        create_bucket: bool = False,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise StorageConfigError(f"S3 part_size must be at least {MIN_PART_SIZE} bytes")
        self._client = client
        # A second client when browsers reach S3 by another address than the API server does
        # (e.g. http://seaweedfs:8333 inside the compose network, https://s3.example.com outside).
        self._presign_client = presign_client or client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.create_bucket = create_bucket
        self.part_size = part_size
        self._errors = _botocore_errors()

    @classmethod
    def from_url(
        cls,
        url: str,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        *,
        public_endpoint_url: str | None = None,
        create_bucket: bool = False,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> S3ObjectStore:
        """Build a store from ``s3://bucket[/prefix]``. Credentials left ``None`` fall back to
        boto3's usual chain (environment, profile, instance role)."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StorageConfigError(f"S3 storage URL must look like s3://bucket/prefix, got {url!r}")
        prefix = parts.path.strip("/")
        if prefix:
            try:
                validate_key(prefix)
            except InvalidKeyError as exc:
                raise StorageConfigError(f"Invalid prefix in S3 storage URL {url!r}: {exc.message}") from None
        client = cls._make_client(endpoint_url, access_key, secret_key, region)
        presign_client = (
            cls._make_client(public_endpoint_url, access_key, secret_key, region)
            if public_endpoint_url
            else None
        )
        return cls(
            client,
            parts.netloc,
            prefix,
            presign_client=presign_client,
            create_bucket=create_bucket,
            part_size=part_size,
        )

    @staticmethod
    def _make_client(
        endpoint_url: str | None, access_key: str | None, secret_key: str | None, region: str | None
    ) -> Any:
        boto3 = _import_boto3()
        from botocore.config import Config

        config = Config(
            # SigV4 everywhere: SigV2 presigned URLs with response-content-disposition are
            # rejected by SeaweedFS, and SigV2 is deprecated on AWS.
            signature_version="s3v4",
            # Self-hosted endpoints rarely have wildcard DNS for virtual-host style buckets.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region or "us-east-1",
            config=config,
        )

    def __repr__(self) -> str:
        return f"S3ObjectStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _full(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def _call(self, action: str, key: str | None, fn: Any, /, **kwargs: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(lambda: fn(**kwargs))
        except self._errors as exc:
            raise _translate(exc, action, key) from exc

    # -- writes ----------------------------------------------------------------------------------
    async def put_stream(
        self,
        key: str,
        chunks: ChunkSource,
        content_type: str | None = None,
        *,
        max_bytes: int | None = None,
    ) -> ObjectInfo:
        full = self._full(key)
        hasher = ChunkHasher(max_bytes)

        async def counted() -> AsyncGenerator[bytes, None]:
            async for chunk in aiter_chunks(chunks):
                hasher.update(chunk)
                yield chunk

        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async with aclosing(rebuffer(counted(), self.part_size)) as blocks:
                pending: bytes | None = None
                async for block in blocks:
                    # Hold one block back: only when a second arrives do we know a multipart upload
                    # is needed; a single block goes up as one PutObject carrying its sha256.
                    if pending is not None:
                        if upload_id is None:
                            created = await self._call(
                                "multipart upload",
                                key,
                                self._client.create_multipart_upload,
                                Bucket=self.bucket,
                                Key=full,
                                **extra,
                            )
                            upload_id = str(created["UploadId"])
                        parts.append(await self._upload_part(key, full, upload_id, len(parts) + 1, pending))
                    pending = block
            if upload_id is None:
                await self._call(
                    "upload",
                    key,
                    self._client.put_object,
                    Bucket=self.bucket,
                    Key=full,
                    Body=pending or b"",
                    Metadata={_SHA256_META: hasher.hexdigest},
                    **extra,
                )
            else:
                assert pending is not None
                parts.append(await self._upload_part(key, full, upload_id, len(parts) + 1, pending))
                await self._call(
                    "complete multipart upload",
                    key,
                    self._client.complete_multipart_upload,
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
                upload_id = None
        except BaseException:
            if upload_id is not None:
                # Abandoned parts are invisible to readers but cost storage until aborted.
                with anyio.CancelScope(shield=True), contextlib.suppress(*self._errors):
                    await anyio.to_thread.run_sync(
                        lambda: self._client.abort_multipart_upload(
                            Bucket=self.bucket, Key=full, UploadId=upload_id
                        )
                    )
            raise
        return ObjectInfo(
            key=key,
            size=hasher.size,
            sha256=hasher.hexdigest,
            content_type=content_type,
            last_modified=datetime.now(UTC),
        )

    async def _upload_part(
        self, key: str, full: str, upload_id: str, number: int, body: bytes
    ) -> dict[str, Any]:
        response = await self._call(
            "upload part",
            key,
            self._client.upload_part,
            Bucket=self.bucket,
            Key=full,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    async def delete(self, key: str) -> None:
        full = self._full(key)
        await self._call("delete", key, self._client.delete_object, Bucket=self.bucket, Key=full)

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        src_full, dst_full = self._full(src), self._full(dst)
        info = await self.stat(src)
        if info is None:
            raise ObjectNotFoundError(f"Object {src!r} not found")
        source = {"Bucket": self.bucket, "Key": src_full}
        if info.size <= _MAX_SINGLE_COPY:
            # One server-side CopyObject: the destination appears whole, metadata (sha256) included.
            await self._call(
                "copy",
                src,
                self._client.copy_object,
                Bucket=self.bucket,
                Key=dst_full,
                CopySource=source,
                MetadataDirective="COPY",
            )
        else:
            extra: dict[str, Any] = {"Metadata": {_SHA256_META: info.sha256} if info.sha256 else {}}
            if info.content_type:
                extra["ContentType"] = info.content_type
            await self._call(
                "copy",
                src,
                self._client.copy,
                CopySource=source,
                Bucket=self.bucket,
                Key=dst_full,
                ExtraArgs=extra,
            )
        return ObjectInfo(
            key=dst,
            size=info.size,
            sha256=info.sha256,
            content_type=info.content_type,
            last_modified=datetime.now(UTC),
        )

    # -- reads -----------------------------------------------------------------------------------
    async def stat(self, key: str) -> ObjectInfo | None:
        full = self._full(key)
        try:
            head = await self._call("stat", key, self._client.head_object, Bucket=self.bucket, Key=full)
        except ObjectNotFoundError:
            return None
        metadata = head.get("Metadata") or {}
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            sha256=metadata.get(_SHA256_META),
            content_type=head.get("ContentType"),
            last_modified=head.get("LastModified"),
        )

    async def open_read(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        full = self._full(key)
        response = await self._call("read", key, self._client.get_object, Bucket=self.bucket, Key=full)
        body = response["Body"]
        try:
            while True:
                try:
                    chunk = await anyio.to_thread.run_sync(body.read, chunk_size)
                except self._errors as exc:
                    raise _translate(exc, "read", key) from exc
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    @asynccontextmanager
    async def open_local_path(self, key: str) -> AsyncIterator[Path]:
        full = self._full(key)
        fd, name = tempfile.mkstemp(prefix="lab-s3-", suffix=Path(key).suffix)
        os.close(fd)
        path = Path(name)
        try:
            # download_file streams to disk in ranged parts; memory does not grow with size.
            await self._call(
                "download", key, self._client.download_file, Bucket=self.bucket, Key=full, Filename=str(path)
            )
            yield path
        finally:
            path.unlink(missing_ok=True)

    # -- presigned URLs --------------------------------------------------------------------------
    async def presign_upload(
        self, key: str, content_type: str | None = None, expires_in: int = 3600
    ) -> PresignedURL:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key)}
        if content_type:
            params["ContentType"] = content_type
        url = await self._presign("put_object", key, params, expires_in)
        return PresignedURL(
            url=url,
            expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
            method="PUT",
            headers={"Content-Type": content_type} if content_type else {},
        )

    async def presign_download(
        self, key: str, expires_in: int = 3600, filename: str | None = None
    ) -> PresignedURL:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key)}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        url = await self._presign("get_object", key, params, expires_in)
        return PresignedURL(
            url=url, expires_at=datetime.now(UTC) + timedelta(seconds=expires_in), method="GET"
        )

    async def _presign(self, operation: str, key: str, params: dict[str, Any], expires_in: int) -> str:
        check_expires_in(expires_in)
        # Signing is local CPU work (no request), but credential resolution may hit the network.
        url = await self._call(
            "presign",
            key,
            self._presign_client.generate_presigned_url,
            ClientMethod=operation,
            Params=params,
            ExpiresIn=expires_in,
        )
        return str(url)

    # -- lifecycle -------------------------------------------------------------------------------
    async def health(self) -> None:
        """``HeadBucket``; with ``create_bucket=True`` a missing bucket is created instead."""
        try:
            await self._call("head bucket", None, self._client.head_bucket, Bucket=self.bucket)
        except ObjectNotFoundError:
            if not self.create_bucket:
                raise StorageUnavailableError(f"S3 bucket {self.bucket!r} does not exist") from None
            await self._call("create bucket", None, self._client.create_bucket, Bucket=self.bucket)

    async def aclose(self) -> None:
        for client in {
            id(self._client): self._client,
            id(self._presign_client): self._presign_client,
        }.values():
            close = getattr(client, "close", None)
            if close is not None:
                await anyio.to_thread.run_sync(close)
