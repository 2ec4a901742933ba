"""Object keys of dataset content, and running the (synchronous) row readers on a stored object.

Keys::

    datasets/<id>/uploads/<upload_id>/<file>   staged upload, never visible as dataset content
    datasets/<id>/content/<sha256>.<ext>       current content (content-addressed, immutable)
    datasets/<id>/versions/<version>/data.<ext> a frozen version
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import IO, Any, TypeVar

import anyio.from_thread
import anyio.to_thread

from llm_research_lab.schemas.datasets import DatasetFormat
from llm_research_lab.storage import LocalObjectStore, ObjectStore

T = TypeVar("T")

EXT: dict[DatasetFormat, str] = {
    DatasetFormat.JSONL: ".jsonl",
    DatasetFormat.JSON: ".json",
    DatasetFormat.CSV: ".csv",
    DatasetFormat.PARQUET: ".parquet",
}
PREFIX = "datasets/"


def staging_key(dataset_id: uuid.UUID, upload_id: uuid.UUID, filename: str) -> str:
    # The stored filename keeps the user's spelling; the key only URL-safe characters.
    safe = re.sub(r"[^A-Za-z0-9._\-]", "_", filename)
    if not safe[:1].isalnum():
        safe = f"f{safe}"
    return f"{PREFIX}{dataset_id}/uploads/{upload_id}/{safe}"


def content_key(dataset_id: uuid.UUID, sha256: str, fmt: DatasetFormat) -> str:
    return f"{PREFIX}{dataset_id}/content/{sha256}{EXT[fmt]}"


def version_key(dataset_id: uuid.UUID, version: str, fmt: DatasetFormat) -> str:
    return f"{PREFIX}{dataset_id}/versions/{version}/data{EXT[fmt]}"


class AsyncChunkReader(io.RawIOBase):
    """A blocking file object over an async chunk iterator, for code running in a worker thread:
    each read hops to the event loop for the next chunk (S3 bodies stream without a temp file)."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self._eof = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes | None:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return None

    def readinto(self, buffer: Any) -> int:
        while not self._buffer and not self._eof:
            chunk = anyio.from_thread.run(self._next)
            if chunk is None:
                self._eof = True
            else:
                self._buffer = memoryview(chunk)
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


async def run_on_object(
    store: ObjectStore,
    key: str,
    fmt: DatasetFormat,
    fn: Callable[[IO[bytes] | Path], T],
) -> T:
    """Call `fn` in a worker thread with the object as a stream (or a local path for parquet,
    which seeks). The local backend hands over its file; S3 streams, or downloads for parquet."""
    if fmt is DatasetFormat.PARQUET:
        async with store.open_local_path(key) as path:
            return await anyio.to_thread.run_sync(fn, path)
    if isinstance(store, LocalObjectStore):
        async with store.open_local_path(key) as path:

            def on_file() -> T:
                with open(path, "rb", buffering=0) as fh:
                    return fn(fh)

            return await anyio.to_thread.run_sync(on_file)
    async with aclosing(store.open_read(key)) as chunks:  # type: ignore[type-var]
        reader: IO[bytes] = AsyncChunkReader(chunks)  # type: ignore[assignment]
        return await anyio.to_thread.run_sync(fn, reader)
