"""The object store contract shared by every backend, plus key validation and chunk helpers.

Objects are addressed by a *key* (``datasets/<id>/versions/1.0.0/data.jsonl``). Keys come from
our own services, but parts of them (file names) originate from users, so every backend validates
them with `validate_key` before touching the disk or the network.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable
from urllib.parse import quote

import anyio.to_thread

from llm_research_lab.storage.errors import InvalidKeyError, ObjectTooLargeError

#: What `ObjectStore.put_stream` accepts: raw bytes, a sync iterable (iterated in a worker thread,
#: because file-backed generators block) or an async iterable such as Starlette's
#: ``request.stream()``.
ChunkSource = bytes | Iterable[bytes] | AsyncIterable[bytes]

DEFAULT_CHUNK_SIZE = 1024 * 1024
MAX_KEY_BYTES = 1024  # the S3 limit; keeping it for local too keeps keys portable between backends
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the SigV4 limit, applied to local URLs for the same reason

# One path segment: starts with an alphanumeric (so "." and ".." and hidden names are impossible,
# leaving ".tmp"/".meta" free for the local backend's bookkeeping), then URL-safe characters only,
# so a key can go in a URL path without escaping surprises.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-=+@,~]*")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is an acceptable object key, else raise `InvalidKeyError`.

    Rules: non-empty, at most 1024 UTF-8 bytes, ``/``-separated segments, no empty segment (so no
    leading ``/``, trailing ``/`` or ``//``), each segment starting with a letter or digit and made of
    ``A-Z a-z 0-9 . _ - = + @ , ~``. That excludes ``..``, absolute paths, backslashes, spaces,
    control characters and percent-encoding tricks.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("Object key must be a non-empty string")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"Object key is longer than {MAX_KEY_BYTES} bytes")
    if "\\" in key:
        raise InvalidKeyError(f"Object key must not contain backslashes: {key!r}")
    if key.startswith("/"):
        raise InvalidKeyError(f"Object key must be relative, not absolute: {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError(f"Object key has an empty, '.' or '..' segment: {key!r}")
        if not _SEGMENT.fullmatch(segment):
            raise InvalidKeyError(
                f"Object key segment {segment!r} must start with a letter or digit and use only "
                "letters, digits and . _ - = + @ , ~"
            )
    return key


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store knows about one stored object.

    ``sha256`` is always set by `ObjectStore.put_stream`. `ObjectStore.stat` returns it when the
    backend recorded it cheaply (local: always for objects we wrote; S3: objects written in one
    part by `put_stream`); it is ``None`` for objects uploaded straight to a presigned S3 URL, whose
    reader must hash the bytes itself (a validator reads them anyway).
    """

    key: str
    size: int
    sha256: str | None
    content_type: str | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class PresignedURL:
    """A URL a client may use without our credentials until ``expires_at`` (UTC).

    The client must send ``headers`` with the request (for uploads: the signed Content-Type).
    """

    url: str
    expires_at: datetime
    method: Literal["PUT", "GET"] = "PUT"
    headers: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class ObjectStore(Protocol):
    """Async object storage. Every method validates its keys and raises `StorageError` subclasses."""

    async def put_stream(
        self,
        key: str,
        chunks: ChunkSource,
        content_type: str | None = None,
        *,
        max_bytes: int | None = None,
    ) -> ObjectInfo:
        """Store ``chunks`` under ``key``; readers see the old object or the whole new one, never a
        part. More than ``max_bytes`` raises `ObjectTooLargeError` and leaves nothing behind."""
        ...

    def open_read(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Stream the object in chunks; `ObjectNotFoundError` on first iteration if missing."""
        ...

    async def stat(self, key: str) -> ObjectInfo | None:
        """The object's info, or ``None`` if there is no such object."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        """Copy ``src`` to ``dst``; ``dst`` appears whole or not at all (staging → final key)."""
        ...

    async def presign_upload(
        self, key: str, content_type: str | None = None, expires_in: int = 3600
    ) -> PresignedURL:
        """A URL that accepts one HTTP PUT of the object's bytes."""
        ...

    async def presign_download(
        self, key: str, expires_in: int = 3600, filename: str | None = None
    ) -> PresignedURL:
        """A URL that serves the object by HTTP GET, as an attachment named ``filename`` if given."""
        ...

    def open_local_path(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A readable local file holding the object for the duration of the ``async with`` block
        (the file itself for the local backend, a temporary download for S3). Do not modify it."""
        ...

    async def health(self) -> None:
        """Return if the store is usable, else raise `StorageUnavailableError`."""
        ...

    async def aclose(self) -> None:
        """Release clients and connection pools."""
        ...


def check_expires_in(expires_in: int) -> int:
    if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"expires_in must be between 1 and {MAX_PRESIGN_SECONDS} seconds")
    return expires_in


def safe_filename(filename: str) -> str:
    """Strip what would break a Content-Disposition header or a signed message (quotes, CR/LF,
    path separators); keep the rest, non-ASCII included (sent RFC 5987-encoded)."""
    cleaned = "".join(ch for ch in filename if ch.isprintable() and ch not in '"\\/\r\n')
    return cleaned.strip() or "download"


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the RFC 5987 UTF-8 name."""
    name = safe_filename(filename)
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    if ascii_name == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


class ChunkHasher:
    """Counts and hashes bytes as they stream past and enforces the size limit, so each backend
    does it the same way and rejects an oversized upload at the first chunk that crosses it."""

    def __init__(self, max_bytes: int | None) -> None:
        self.size = 0
        self._sha = hashlib.sha256()
        self._max = max_bytes

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._max is not None and self.size > self._max:
            raise ObjectTooLargeError(
                f"Object exceeds the maximum size of {self._max} bytes", details={"limit": self._max}
            )
        self._sha.update(chunk)

    @property
    def hexdigest(self) -> str:
        return self._sha.hexdigest()


async def aiter_chunks(source: ChunkSource) -> AsyncGenerator[bytes, None]:
    """Normalise a `ChunkSource` to an async iterator of non-empty chunks."""
    if isinstance(source, bytes | bytearray | memoryview):
        if source:
            yield bytes(source)
        return
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            if chunk:
                yield bytes(chunk)
        return
    iterator: Iterator[bytes] = iter(source)
    done = object()

    def step() -> object:
        return next(iterator, done)

    while True:
        # Sync sources are often generators reading files: run each step off the event loop.
        item = await anyio.to_thread.run_sync(step)
        if item is done:
            return
        if not isinstance(item, bytes | bytearray | memoryview):
            raise TypeError(f"Chunk sources must yield bytes, got {type(item).__name__}")
        if item:
            yield bytes(item)


async def rebuffer(source: AsyncIterator[bytes], size: int) -> AsyncGenerator[bytes, None]:
    """Regroup small chunks (Starlette yields ~64 KiB) into ``size``-byte blocks (the last may be
    shorter), so thread hops and S3 parts are few; holds at most ``size`` + one chunk in memory."""
    buffer = bytearray()
    async for chunk in source:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)
