"""All SQL for datasets, their tags, versions and uploads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.server.db.models import Dataset, DatasetTag, DatasetUpload, DatasetVersion


class DatasetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- datasets --------------------------------------------------------------------------------
    async def get(self, dataset_id: uuid.UUID) -> Dataset | None:
        return await self.session.get(Dataset, dataset_id)

    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Dataset]:
        if not ids:
            return {}
        rows = (await self.session.execute(select(Dataset).where(Dataset.id.in_(list(ids))))).scalars()
        return {r.id: r for r in rows}

    async def find_by_name(self, owner_id: uuid.UUID, name: str) -> Dataset | None:
        stmt = select(Dataset).where(Dataset.created_by == owner_id, Dataset.name == name)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, row: Dataset) -> Dataset:
        self.session.add(row)
        await self.session.flush()
        await self.replace_tags(row.id, row.tags)
        return row

    async def replace_tags(self, dataset_id: uuid.UUID, tags: Sequence[str]) -> None:
        await self.session.execute(delete(DatasetTag).where(DatasetTag.dataset_id == dataset_id))
        self.session.add_all([DatasetTag(dataset_id=dataset_id, tag=t) for t in dict.fromkeys(tags)])
        await self.session.flush()

    def list_stmt(self, *, tags: Sequence[str] = (), fmt: str | None = None) -> Select[Dataset]:
        stmt = select(Dataset)
        if fmt is not None:
            stmt = stmt.where(Dataset.format == fmt)
        for tag in dict.fromkeys(tags):
            stmt = stmt.where(exists().where(DatasetTag.dataset_id == Dataset.id, DatasetTag.tag == tag))
        return stmt

    async def delete(self, row: Dataset) -> None:
        await self.session.delete(row)
        await self.session.flush()

    # -- versions --------------------------------------------------------------------------------
    async def add_version(self, row: DatasetVersion) -> DatasetVersion:
        self.session.add(row)
        await self.session.flush()
        return row

    async def get_version(self, dataset_id: uuid.UUID, version: str) -> DatasetVersion | None:
        stmt = select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset_id, DatasetVersion.version == version
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def latest_versions(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, DatasetVersion]:
        """The newest version of each dataset in `ids` (datasets without versions are absent)."""
        if not ids:
            return {}
        stmt = (
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id.in_(list(ids)))
            .order_by(DatasetVersion.dataset_id, DatasetVersion.created_at.desc(), DatasetVersion.id.desc())
        )
        out: dict[uuid.UUID, DatasetVersion] = {}
        for row in (await self.session.execute(stmt)).scalars():
            out.setdefault(row.dataset_id, row)
        return out

    def versions_stmt(self, dataset_id: uuid.UUID) -> Select[DatasetVersion]:
        return select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)

    async def version_with_sha(self, dataset_id: uuid.UUID, sha256: str) -> str | None:
        """The newest version whose bytes are `sha256`, if any."""
        stmt = (
            select(DatasetVersion.version)
            .where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.sha256 == sha256)
            .order_by(DatasetVersion.created_at.desc(), DatasetVersion.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def version_keys(self, dataset_id: uuid.UUID) -> list[str]:
        stmt = select(DatasetVersion.object_key).where(DatasetVersion.dataset_id == dataset_id)
        return list((await self.session.execute(stmt)).scalars())

    async def key_in_use(self, dataset_id: uuid.UUID, key: str) -> bool:
        """Whether `key` is still the current content or a version of the dataset."""
        stmt = select(
            exists().where(Dataset.id == dataset_id, Dataset.content_key == key)
            | exists().where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.object_key == key)
        )
        return bool((await self.session.execute(stmt)).scalar())

    # -- uploads ---------------------------------------------------------------------------------
    async def add_upload(self, row: DatasetUpload) -> DatasetUpload:
        self.session.add(row)
        await self.session.flush()
        return row

    async def get_upload(self, upload_id: uuid.UUID) -> DatasetUpload | None:
        return await self.session.get(DatasetUpload, upload_id)

    async def upload_by_key(self, staging_key: str) -> DatasetUpload | None:
        stmt = select(DatasetUpload).where(DatasetUpload.staging_key == staging_key)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def latest_upload(self, dataset_id: uuid.UUID) -> DatasetUpload | None:
        stmt = (
            select(DatasetUpload)
            .where(DatasetUpload.dataset_id == dataset_id)
            .order_by(DatasetUpload.created_at.desc(), DatasetUpload.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def claim_upload(self, upload_id: uuid.UUID) -> bool:
        """pending → processing, atomically: exactly one caller wins when a PUT hook and an
        `upload/complete` race for the same upload."""
        stmt = (
            update(DatasetUpload)
            .where(DatasetUpload.id == upload_id, DatasetUpload.status == "pending")
            .values(status="processing")
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0) == 1)
