"""Local-directory object store, the default for a one-machine install.

Layout under ``root`` (``<data_dir>/objects`` by default)::

    <key>                 the object bytes
    .tmp/<uuid>           uploads in progress (same filesystem, so the final rename is atomic)
    .meta/<key>#meta      JSON sidecar: size, sha256, content type, and the data file's inode

Keys cannot start a segment with ``.`` (see `validate_key`), so ``.tmp``/``.meta`` never collide
with objects, and ``#`` is not a key character, so sidecar names never collide with directories.

Writes go to a temporary file, are fsynced and then ``os.replace``d over the key: a reader sees the
previous object or the complete new one. The sidecar records the inode of the data it describes;
``os.replace`` and hard links keep inodes, so a sidecar that does not match the current data file
(a crash or a race between the two renames) is simply ignored rather than trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread

from llm_research_lab.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ChunkHasher,
    ChunkSource,
    ObjectInfo,
    PresignedURL,
    aiter_chunks,
    rebuffer,
    validate_key,
)
from llm_research_lab.storage.errors import (
    InvalidKeyError,
    ObjectNotFoundError,
    StorageUnavailableError,
)
from llm_research_lab.storage.signing import URLSigner

_TMP_DIR = ".tmp"
_META_DIR = ".meta"
_META_SUFFIX = "#meta"
_STALE_TEMP_SECONDS = 24 * 3600


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not supported everywhere (e.g. Windows), hence best effort.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LocalObjectStore:
    """`ObjectStore` on a local directory; presigned URLs point at this API's storage router."""

    def __init__(self, root: Path | str, signer: URLSigner) -> None:
        self.root = Path(root).resolve()
        self.signer = signer
        self._tmp = self.root / _TMP_DIR
        self._meta = self.root / _META_DIR
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._meta.mkdir(parents=True, exist_ok=True)
        self.purge_stale_temp_files()

    def __repr__(self) -> str:
        return f"LocalObjectStore(root={str(self.root)!r})"

    # -- paths ---------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        validate_key(key)
        return self.root / key

    def _meta_path(self, key: str) -> Path:
        return self._meta / f"{key}{_META_SUFFIX}"

    def _new_temp(self) -> tuple[Path, IO[bytes]]:
        path = self._tmp / uuid.uuid4().hex
        return path, open(path, "xb")  # closed by _commit/_discard

    def purge_stale_temp_files(self, older_than: float = _STALE_TEMP_SECONDS) -> int:
        """Remove temp files left by a crashed upload. Only old ones: other API workers may share
        this directory and be uploading right now."""
        removed = 0
        cutoff = time.time() - older_than
        for entry in self._tmp.iterdir():
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        return removed

    # -- sidecar metadata ------------------------------------------------------------------------
    def _write_meta(
        self, key: str, ino: int, size: int, sha256: str | None, content_type: str | None
    ) -> None:
        meta_path = self._meta_path(key)
        self._ensure_parent(meta_path, key)
        tmp = self._tmp / f"{uuid.uuid4().hex}.meta"
        payload = {"ino": ino, "size": size, "sha256": sha256, "content_type": content_type}
        with open(tmp, "x", encoding="utf-8") as fh:
            json.dump(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, meta_path)

    def _read_meta(self, key: str, st: os.stat_result) -> dict[str, Any]:
        try:
            data = json.loads(self._meta_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("ino") != st.st_ino or data.get("size") != st.st_size:
            return {}
        return data

    def _ensure_parent(self, path: Path, key: str) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidKeyError(
                f"Object key {key!r} conflicts with an existing object that is a prefix of it"
            ) from None

    def _install(self, tmp: Path, final: Path, key: str) -> None:
        self._ensure_parent(final, key)
        try:
            os.replace(tmp, final)
        except IsADirectoryError:
            raise InvalidKeyError(f"Object key {key!r} is a prefix of existing objects") from None
        _fsync_dir(final.parent)

    # -- ObjectStore ---------------------------------------------------------------------------
    async def put_stream(
        self,
        key: str,
        chunks: ChunkSource,
        content_type: str | None = None,
        *,
        max_bytes: int | None = None,
    ) -> ObjectInfo:
        final = self._path(key)
        hasher = ChunkHasher(max_bytes)

        async def counted() -> AsyncGenerator[bytes, None]:
            # Count raw chunks before re-buffering so an oversized upload stops at the first chunk
            # over the limit rather than a whole block later.
            async for chunk in aiter_chunks(chunks):
                hasher.update(chunk)
                yield chunk

        tmp, fh = await anyio.to_thread.run_sync(self._new_temp)
        try:
            async with aclosing(rebuffer(counted(), DEFAULT_CHUNK_SIZE)) as blocks:
                async for block in blocks:
                    await anyio.to_thread.run_sync(fh.write, block)
            return await anyio.to_thread.run_sync(
                self._commit, fh, tmp, final, key, hasher.size, hasher.hexdigest, content_type
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._discard, fh, tmp)
            raise

    def _commit(
        self,
        fh: IO[bytes],
        tmp: Path,
        final: Path,
        key: str,
        size: int,
        sha256: str,
        content_type: str | None,
    ) -> ObjectInfo:
        fh.flush()
        os.fsync(fh.fileno())
        st = os.fstat(fh.fileno())
        fh.close()
        # Sidecar first, data second: in between, the sidecar's inode does not match the visible
        # data and is ignored, so a reader never sees a hash that belongs to other bytes.
        self._write_meta(key, st.st_ino, size, sha256, content_type)
        self._install(tmp, final, key)
        return ObjectInfo(
            key=key,
            size=size,
            sha256=sha256,
            content_type=content_type,
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    @staticmethod
    def _discard(fh: IO[bytes], tmp: Path) -> None:
        fh.close()
        tmp.unlink(missing_ok=True)

    async def open_read(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            fh = await anyio.to_thread.run_sync(open, path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFoundError(f"Object {key!r} not found") from None
        # The open handle pins the inode: a concurrent put (os.replace) does not change what we read.
        async with aclosing(self._iter_handle(fh, chunk_size)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def open_with_info(
        self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> tuple[ObjectInfo, AsyncIterator[bytes]]:
        """Open the object and describe *the opened file*: size and bytes agree even if a new
        version is renamed over the key meanwhile (the HTTP router relies on it for Content-Length)."""
        path = self._path(key)
        try:
            fh = await anyio.to_thread.run_sync(open, path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFoundError(f"Object {key!r} not found") from None
        try:
            st = os.fstat(fh.fileno())
            meta = await anyio.to_thread.run_sync(self._read_meta, key, st)
        except BaseException:
            fh.close()
            raise
        info = ObjectInfo(
            key=key,
            size=st.st_size,
            sha256=meta.get("sha256"),
            content_type=meta.get("content_type"),
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )
        return info, self._iter_handle(fh, chunk_size)

    @staticmethod
    async def _iter_handle(fh: IO[bytes], chunk_size: int) -> AsyncGenerator[bytes, None]:
        try:
            while chunk := await anyio.to_thread.run_sync(fh.read, chunk_size):
                yield chunk
        finally:
            fh.close()

    def _stat_sync(self, key: str) -> ObjectInfo | None:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not os.path.isfile(self._path(key)):
            return None  # a "directory" is only a common prefix of other keys
        meta = self._read_meta(key, st)
        return ObjectInfo(
            key=key,
            size=st.st_size,
            sha256=meta.get("sha256"),
            content_type=meta.get("content_type"),
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    async def stat(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        return await anyio.to_thread.run_sync(self._stat_sync, key)

    def _delete_sync(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError, PermissionError):
            # IsADirectory / EPERM (macOS) on a prefix "directory": there is no such object.
            if self._path(key).is_file():
                raise
        self._meta_path(key).unlink(missing_ok=True)

    async def delete(self, key: str) -> None:
        validate_key(key)
        await anyio.to_thread.run_sync(self._delete_sync, key)

    def _copy_sync(self, src: str, dst: str) -> ObjectInfo:
        src_path, dst_path = self._path(src), self._path(dst)
        if not src_path.is_file():
            raise ObjectNotFoundError(f"Object {src!r} not found")
        tmp = self._tmp / uuid.uuid4().hex
        try:
            sha256: str | None
            try:
                # A hard link costs nothing for a multi-GB dataset, and is safe because objects are
                # never modified in place (every write is a new inode renamed over the key).
                os.link(src_path, tmp)
                st = os.stat(tmp)
                src_meta = self._read_meta(src, st)
                sha256, content_type = src_meta.get("sha256"), src_meta.get("content_type")
            except FileNotFoundError:
                raise ObjectNotFoundError(f"Object {src!r} not found") from None
            except OSError:  # filesystems without hard links: copy, hashing as we go
                sha256, content_type, st = self._copy_bytes(src, src_path, tmp)
            self._write_meta(dst, st.st_ino, st.st_size, sha256, content_type)
            self._install(tmp, dst_path, dst)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return ObjectInfo(
            key=dst,
            size=st.st_size,
            sha256=sha256,
            content_type=content_type,
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    def _copy_bytes(self, src: str, src_path: Path, tmp: Path) -> tuple[str, str | None, os.stat_result]:
        digest = hashlib.sha256()
        with open(src_path, "rb") as reader, open(tmp, "xb") as writer:
            src_meta = self._read_meta(src, os.fstat(reader.fileno()))
            while block := reader.read(DEFAULT_CHUNK_SIZE):
                digest.update(block)
                writer.write(block)
            writer.flush()
            os.fsync(writer.fileno())
            st = os.fstat(writer.fileno())
        return digest.hexdigest(), src_meta.get("content_type"), st

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        return await anyio.to_thread.run_sync(self._copy_sync, src, dst)

    async def presign_upload(
        self, key: str, content_type: str | None = None, expires_in: int = 3600
    ) -> PresignedURL:
        return self.signer.presign("PUT", key, expires_in, content_type=content_type)

    async def presign_download(
        self, key: str, expires_in: int = 3600, filename: str | None = None
    ) -> PresignedURL:
        return self.signer.presign("GET", key, expires_in, filename=filename)

    @asynccontextmanager
    async def open_local_path(self, key: str) -> AsyncIterator[Path]:
        path = self._path(key)
        if not await anyio.to_thread.run_sync(path.is_file):
            raise ObjectNotFoundError(f"Object {key!r} not found")
        yield path

    def _health_sync(self) -> None:
        probe = self._tmp / f"health-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StorageUnavailableError(f"Storage directory {self.root} is not writable: {exc}") from exc

    async def health(self) -> None:
        await anyio.to_thread.run_sync(self._health_sync)

    async def aclose(self) -> None:
        return None
