"""Dataset logic: metadata, presigned transfers, versions, previews, and version resolution.

Uploads are validated and promoted by `uploads.UploadFinalizer` (it manages its own short
transactions, because validating a large file must not hold one open).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
    ValidationError,
)
from llm_research_lab.schemas import datasets as s
from llm_research_lab.server.datasets import formats
from llm_research_lab.server.datasets.objects import (
    run_on_object,
    staging_key,
    version_key,
)
from llm_research_lab.server.datasets.repository import DatasetRepository
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import Dataset, DatasetUpload, DatasetVersion
from llm_research_lab.server.principal import Principal
from llm_research_lab.settings import Settings
from llm_research_lab.storage import ObjectStore

URL_TTL_SECONDS = 3600
CURRENT = "current"


def to_schema(row: Dataset) -> s.Dataset:
    return s.Dataset(
        id=row.id,
        name=row.name,
        description=row.description,
        format=s.DatasetFormat(row.format),
        schema=row.schema_,
        tags=list(row.tags),
        metadata=dict(row.metadata_),
        size_bytes=row.size_bytes,
        row_count=row.row_count,
        sha256=row.sha256,
        filename=row.filename,
        current_version=row.current_version,
        latest_version=row.latest_version,
        content_updated_at=row.content_updated_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def version_to_schema(row: DatasetVersion) -> s.DatasetVersion:
    return s.DatasetVersion(
        id=row.id,
        dataset_id=row.dataset_id,
        version=row.version,
        description=row.description,
        changelog=row.changelog,
        format=s.DatasetFormat(row.format),
        schema=row.schema_,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        row_count=row.row_count,
        filename=row.filename,
        created_at=row.created_at,
        created_by=row.created_by,
    )


@dataclass(frozen=True, slots=True)
class ContentRef:
    """Where the bytes of one dataset version (or the current content) are, and what they are."""

    dataset_id: uuid.UUID
    version: str  # a semver, or "current"
    key: str
    format: s.DatasetFormat
    schema: dict[str, Any] | None
    sha256: str
    size_bytes: int
    row_count: int
    filename: str | None


def check_filename(filename: str) -> str:
    """A bare file name: no directories, no traversal, nothing a shell or URL would mangle."""
    name = filename.strip()
    bad = (
        name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or PurePosixPath(name).name != name
        or PureWindowsPath(name).name != name
        or any(ord(ch) < 32 for ch in name)
    )
    if bad:
        raise ValidationError.from_fields(
            {"filename": "Must be a plain file name without directories (no '/', '\\' or '..')"}
        )
    return name


def upload_error(report: formats.Report) -> BadRequestError:
    first = report.errors[0]
    where = (
        f" (line {first.line})"
        if first.line is not None
        else (f" (row {first.row})" if first.row is not None else "")
    )
    more = " and more" if report.truncated_errors else ""
    return BadRequestError(
        f"The file was rejected: {len(report.errors)}{more} error(s); first{where}: {first.error}",
        details={
            "errors": [e.as_dict() for e in report.errors],
            "rows_read": report.rows,
            "bytes_read": report.size,
        },
    ).with_code("validation_error")  # type: ignore[return-value]


class DatasetService:
    def __init__(self, session: AsyncSession, store: ObjectStore, settings: Settings) -> None:
        self.session = session
        self.store = store
        self.settings = settings
        self.repo = DatasetRepository(session)

    # -- metadata --------------------------------------------------------------------------------
    async def get(self, dataset_id: uuid.UUID) -> Dataset:
        row = await self.repo.get(dataset_id)
        if row is None:
            raise NotFoundError.of("Dataset", dataset_id)
        return row

    async def _ensure_name_free(self, owner: uuid.UUID, name: str, exclude: uuid.UUID | None = None) -> None:
        existing = await self.repo.find_by_name(owner, name)
        if existing is not None and existing.id != exclude:
            raise ConflictError("A dataset with this name already exists", existing_id=str(existing.id))

    async def create(self, principal: Principal, data: s.DatasetCreate) -> Dataset:
        if data.schema_ is not None:
            formats.check_schema(data.schema_)
        await self._ensure_name_free(principal.user_id, data.name)
        row = Dataset(
            name=data.name,
            description=data.description,
            format=data.format.value,
            schema_=data.schema_,
            tags=list(dict.fromkeys(data.tags)),
            metadata_=data.metadata,
            created_by=principal.user_id,
            created_at=(now := utcnow()),
            updated_at=now,
        )
        try:
            async with self.session.begin_nested():
                await self.repo.add(row)
        except IntegrityError:
            await self._ensure_name_free(principal.user_id, data.name)  # lost a race: say so
            raise
        return row

    async def update(self, dataset_id: uuid.UUID, data: s.DatasetUpdate) -> Dataset:
        row = await self.get(dataset_id)
        sent = data.model_fields_set
        if "name" in sent and data.name is not None and data.name != row.name:
            await self._ensure_name_free(row.created_by, data.name, exclude=row.id)
            row.name = data.name
        if "description" in sent:
            row.description = data.description
        if "format" in sent and data.format is not None and data.format.value != row.format:
            if row.content_key is not None:
                raise ValidationError.from_fields(
                    {"format": "Cannot change the format of a dataset that has content"}
                )
            row.format = data.format.value
        if "schema_" in sent and data.schema_ != row.schema_:
            if data.schema_ is not None:
                formats.check_schema(data.schema_)
            if row.content_key is not None:
                # The current content must keep satisfying the dataset's schema.
                fmt, schema = s.DatasetFormat(row.format), data.schema_
                report = await run_on_object(
                    self.store, row.content_key, fmt, lambda src: formats.validate_source(src, fmt, schema)
                )
                if not report.ok:
                    err = upload_error(report)
                    err.message = "The new schema does not fit the current content: " + err.message
                    raise err
            row.schema_ = data.schema_
        if "tags" in sent and data.tags is not None:
            row.tags = list(dict.fromkeys(data.tags))
            await self.repo.replace_tags(row.id, row.tags)
        if "metadata" in sent and data.metadata is not None:
            row.metadata_ = data.metadata
        row.updated_at = utcnow()
        await self.session.flush()
        return row

    async def delete(self, dataset_id: uuid.UUID) -> list[str]:
        """Delete the dataset; returns the object keys to remove once the deletion is committed."""
        row = await self.get(dataset_id)
        keys = await self.repo.version_keys(row.id)
        if row.content_key:
            keys.append(row.content_key)
        await self.repo.delete(row)
        return sorted(set(keys))

    # -- uploads ---------------------------------------------------------------------------------
    async def request_upload(
        self, principal: Principal, dataset_id: uuid.UUID, data: s.UploadRequest
    ) -> s.UploadURL:
        row = await self.get(dataset_id)
        filename = check_filename(data.filename)
        fmt = s.DatasetFormat(row.format)
        content_type = data.content_type.split(";")[0].strip().lower()
        if content_type not in formats.CONTENT_TYPES[fmt]:
            allowed = ", ".join(sorted(formats.CONTENT_TYPES[fmt]))
            raise ValidationError.from_fields(
                {
                    "content_type": f"'{data.content_type}' is not a {fmt.value} content type; "
                    f"use one of {allowed}"
                }
            )
        suffixes = formats.EXTENSIONS[fmt]
        if "." in filename.lstrip(".") and not filename.lower().endswith(suffixes):
            raise ValidationError.from_fields(
                {"filename": f"A {fmt.value} dataset file must end in {' or '.join(suffixes)}"}
            )
        upload_id = uuid.uuid4()
        key = staging_key(row.id, upload_id, filename)
        # The signed Content-Type is exactly what the client said it will send.
        presigned = await self.store.presign_upload(key, data.content_type, expires_in=URL_TTL_SECONDS)
        await self.repo.add_upload(
            DatasetUpload(
                id=upload_id,
                dataset_id=row.id,
                staging_key=key,
                filename=filename,
                content_type=data.content_type,
                status="pending",
                created_by=principal.user_id,
                expires_at=presigned.expires_at + timedelta(minutes=5),
            )
        )
        return s.UploadURL(
            upload_url=presigned.url,
            expires_at=presigned.expires_at,
            upload_id=upload_id,
            method=presigned.method,
            headers=dict(presigned.headers),
            max_bytes=self.settings.max_upload_bytes,
        )

    # -- reading ---------------------------------------------------------------------------------
    async def content_ref(self, dataset_id: uuid.UUID, version: str | None) -> ContentRef:
        """The current content (version None, "current" or "current@sha256:<hex>"), the newest
        version ("latest"), or a named version."""
        row = await self.get(dataset_id)
        wanted = version or CURRENT
        if wanted == "latest":
            wanted = row.latest_version or CURRENT
        if wanted == CURRENT or wanted.startswith(f"{CURRENT}@"):
            if row.content_key is None or row.sha256 is None:
                raise NotFoundError(f"Dataset {dataset_id} has no uploaded content yet")
            pinned = wanted.partition("@sha256:")[2]
            if pinned and pinned != row.sha256:
                raise NotFoundError(
                    f"Dataset {dataset_id}'s current content is no longer sha256:{pinned}; "
                    "freeze contents as versions to keep them"
                )
            return ContentRef(
                row.id,
                CURRENT,
                row.content_key,
                s.DatasetFormat(row.format),
                row.schema_,
                row.sha256,
                int(row.size_bytes or 0),
                int(row.row_count or 0),
                row.filename,
            )
        ver = await self.repo.get_version(row.id, wanted)
        if ver is None:
            raise NotFoundError(f"Dataset {dataset_id} has no version '{wanted}'")
        return ContentRef(
            row.id,
            ver.version,
            ver.object_key,
            s.DatasetFormat(ver.format),
            ver.schema_,
            ver.sha256,
            ver.size_bytes,
            ver.row_count,
            ver.filename,
        )

    async def download(self, dataset_id: uuid.UUID, version: str | None) -> s.DownloadURL:
        ref = await self.content_ref(dataset_id, version)
        name = ref.filename or f"dataset{Path(ref.key).suffix}"
        presigned = await self.store.presign_download(ref.key, expires_in=URL_TTL_SECONDS, filename=name)
        return s.DownloadURL(
            download_url=presigned.url,
            expires_at=presigned.expires_at,
            version=None if ref.version == CURRENT else ref.version,
            sha256=ref.sha256,
            size_bytes=ref.size_bytes,
        )

    async def rows(self, dataset_id: uuid.UUID, version: str | None, offset: int, limit: int) -> s.Rows:
        ref = await self.content_ref(dataset_id, version)
        data, has_more = await run_on_object(
            self.store,
            ref.key,
            ref.format,
            lambda src: formats.read_rows(src, ref.format, ref.schema, offset, limit),
        )
        return s.Rows(
            data=data,
            offset=offset,
            limit=limit,
            has_more=has_more,
            total=ref.row_count,
            version=None if ref.version == CURRENT else ref.version,
        )

    @asynccontextmanager
    async def resolve_version_path(self, dataset_id: uuid.UUID, version: str | None) -> AsyncIterator[Path]:
        """A local file holding the rows of `version` (a semver, "latest", "current" or the
        "current@sha256:<hex>" an experiment records), for the ``async with`` block.

        The local backend yields its own (read-only, immutable) file; S3 downloads to a temporary
        file that is removed afterwards. Use `content_ref` first for the format and schema."""
        ref = await self.content_ref(dataset_id, version)
        async with self.store.open_local_path(ref.key) as path:
            yield path

    # -- versions --------------------------------------------------------------------------------
    async def create_version(
        self, principal: Principal, dataset_id: uuid.UUID, data: s.DatasetVersionCreate
    ) -> DatasetVersion:
        row = await self.get(dataset_id)
        existing = await self.repo.get_version(row.id, data.version)
        if existing is not None:
            raise ConflictError(
                f"Dataset {dataset_id} already has version {data.version}", existing_id=str(existing.id)
            )
        if row.content_key is None or row.sha256 is None:
            raise UnprocessableEntityError("Cannot create a version: the dataset has no uploaded content")
        fmt = s.DatasetFormat(row.format)
        key = version_key(row.id, data.version, fmt)
        # Copy first: the version row only exists once its bytes do (the copy is atomic).
        await self.store.copy(row.content_key, key)
        version = DatasetVersion(
            dataset_id=row.id,
            version=data.version,
            description=data.description,
            changelog=data.changelog,
            format=row.format,
            schema_=row.schema_,
            object_key=key,
            filename=row.filename,
            content_type=row.content_type,
            sha256=row.sha256,
            size_bytes=int(row.size_bytes or 0),
            row_count=int(row.row_count or 0),
            created_by=principal.user_id,
        )
        try:
            async with self.session.begin_nested():
                await self.repo.add_version(version)
        except IntegrityError:
            raced = await self.repo.get_version(row.id, data.version)
            raise ConflictError(
                f"Dataset {dataset_id} already has version {data.version}",
                existing_id=str(raced.id if raced else ""),
            ) from None
        row.latest_version = data.version
        row.current_version = data.version
        row.updated_at = utcnow()
        await self.session.flush()
        return version


async def pin_versions(repo: DatasetRepository, dataset_ids: Sequence[uuid.UUID | str]) -> dict[str, str]:
    """{dataset_id: version} for an experiment that starts now: the newest version, else the
    current content as "current@sha256:<hex>". Unknown or empty datasets are a 422."""
    ids: list[uuid.UUID] = []
    for raw in dataset_ids:
        try:
            ids.append(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError:
            raise UnprocessableEntityError(
                f"Cannot start experiment: dataset '{raw}' not found", dataset_id=str(raw)
            ) from None
    found = await repo.get_many(ids)
    pinned: dict[str, str] = {}
    for dataset_id in ids:
        row = found.get(dataset_id)
        if row is None:
            raise UnprocessableEntityError(
                f"Cannot start experiment: dataset {dataset_id} not found", dataset_id=str(dataset_id)
            )
        if row.latest_version is not None:
            pinned[str(dataset_id)] = row.latest_version
        elif row.sha256 is not None:
            pinned[str(dataset_id)] = f"{CURRENT}@sha256:{row.sha256}"
        else:
            raise UnprocessableEntityError(
                f"Cannot start experiment: dataset {dataset_id} has no uploaded content",
                dataset_id=str(dataset_id),
            )
    return pinned
