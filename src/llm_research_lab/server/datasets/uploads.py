"""Validate a staged upload and make it the dataset's current content, or refuse it.

Called by the local storage router's upload hook (the PUT's response carries the outcome) and by
``POST /datasets/{id}/upload/complete`` (S3, where clients PUT straight to the bucket). Both end
here, and the upload row's status makes the work happen once: a second call answers the stored
outcome.

This is a unit-of-work edge like a job worker: validating a gigabyte takes seconds, so it runs
between short transactions (claim the upload → validate, no transaction open → promote) rather
than inside a request's. Nothing is visible until the promote transaction commits, and the staged
object is always deleted.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from llm_research_lab.errors import ConflictError, LabError, NotFoundError, PayloadTooLargeError
from llm_research_lab.schemas import datasets as s
from llm_research_lab.server.datasets import formats
from llm_research_lab.server.datasets.objects import content_key, run_on_object
from llm_research_lab.server.datasets.repository import DatasetRepository
from llm_research_lab.server.datasets.service import to_schema, upload_error
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import Dataset, DatasetUpload
from llm_research_lab.server.state import AppState
from llm_research_lab.storage import ObjectStore

log = logging.getLogger("llm_research_lab.datasets")


def _stored_error(result: dict[str, Any]) -> LabError:
    err = LabError(result.get("message"), details=result.get("details"))
    return err.with_status(int(result.get("status", 400))).with_code(str(result.get("error", "bad_request")))


def _error_result(exc: LabError) -> dict[str, Any]:
    return {
        "status": exc.http_status,
        "error": exc.error_code,
        "message": exc.message,
        "details": exc.details,
    }


class UploadFinalizer:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.store: ObjectStore = state.extras["object_store"]
        self.max_bytes = state.settings.max_upload_bytes

    # -- entry points ----------------------------------------------------------------------------
    async def complete_staged(self, key: str) -> s.Dataset:
        """After a signed PUT stored `key` (the local storage router's hook)."""
        async with self.state.sessionmaker() as session:
            upload = await DatasetRepository(session).upload_by_key(key)
            upload_id = upload.id if upload is not None else None
        if upload_id is None:
            await self.store.delete(key)
            raise NotFoundError("No dataset upload was requested for this URL")
        return await self.complete(None, upload_id)

    async def complete(self, dataset_id: uuid.UUID | None, upload_id: uuid.UUID | None) -> s.Dataset:
        """Validate and promote the upload (the dataset's latest when `upload_id` is None)."""
        claimed, upload, dataset = await self._claim(dataset_id, upload_id)
        if not claimed:
            return await self._replay(upload)
        try:
            summary = await self._process(upload, dataset)
        except LabError as exc:
            await self._finish(upload.id, "failed", _error_result(exc))
            raise
        except BaseException:
            # An unexpected failure (or cancellation): let the client try again.
            await self._finish(upload.id, "pending", None)
            raise
        return summary

    # -- steps -----------------------------------------------------------------------------------
    async def _claim(
        self, dataset_id: uuid.UUID | None, upload_id: uuid.UUID | None
    ) -> tuple[bool, DatasetUpload, Dataset]:
        async with self.state.sessionmaker() as session:
            repo = DatasetRepository(session)
            if dataset_id is not None and await repo.get(dataset_id) is None:
                raise NotFoundError.of("Dataset", dataset_id)
            if upload_id is None:
                assert dataset_id is not None
                upload = await repo.latest_upload(dataset_id)
                if upload is None:
                    raise NotFoundError(f"Dataset {dataset_id} has no upload to complete")
            else:
                upload = await repo.get_upload(upload_id)
                if upload is None or (dataset_id is not None and upload.dataset_id != dataset_id):
                    raise NotFoundError(f"Upload {upload_id} not found")
            dataset = await repo.get(upload.dataset_id)
            if dataset is None:
                raise NotFoundError.of("Dataset", upload.dataset_id)
            claimed = await repo.claim_upload(upload.id)
            await session.commit()
            return claimed, upload, dataset

    async def _replay(self, upload: DatasetUpload) -> s.Dataset:
        async with self.state.sessionmaker() as session:
            repo = DatasetRepository(session)
            current = await repo.get_upload(upload.id)
            dataset = await repo.get(upload.dataset_id)
        if current is None or dataset is None:
            raise NotFoundError(f"Upload {upload.id} not found")
        if current.status == "completed":
            # A retried PUT re-staged the bytes: the outcome stands, the copy is junk.
            await self.store.delete(current.staging_key)
            return to_schema(dataset)
        if current.status == "failed":
            await self.store.delete(current.staging_key)
            raise _stored_error(current.result or {})
        raise ConflictError(f"Upload {upload.id} is being validated; ask again when it is done")

    async def _process(self, upload: DatasetUpload, dataset: Dataset) -> s.Dataset:
        key = upload.staging_key
        try:
            info = await self.store.stat(key)
            if info is None:
                raise ConflictError("Nothing was uploaded yet: PUT the file to upload_url first")
            if info.size > self.max_bytes:
                raise PayloadTooLargeError(
                    f"Upload of {info.size} bytes exceeds the maximum of {self.max_bytes} bytes",
                    details={"limit": self.max_bytes},
                )
            fmt, schema = s.DatasetFormat(dataset.format), dataset.schema_
            report = await run_on_object(
                self.store, key, fmt, lambda src: formats.validate_source(src, fmt, schema)
            )
            if not report.ok:
                raise upload_error(report)
            log.info(
                "dataset %s: %d rows, %d bytes validated in %.2fs",
                dataset.id,
                report.rows,
                report.size,
                report.seconds,
            )
            final = content_key(dataset.id, report.sha256, fmt)
            await self.store.copy(key, final)
        finally:
            await self.store.delete(key)  # staged bytes are never kept, promoted or not
        return await self._promote(upload, dataset, report, final)

    async def _promote(
        self, upload: DatasetUpload, snapshot: Dataset, report: formats.Report, final: str
    ) -> s.Dataset:
        async with self.state.sessionmaker() as session:
            repo = DatasetRepository(session)
            row = await repo.get(snapshot.id)
            if row is None:  # deleted while we validated
                await self.store.delete(final)
                raise NotFoundError.of("Dataset", snapshot.id)
            if row.schema_ != snapshot.schema_ or row.format != snapshot.format:
                if not await repo.key_in_use(row.id, final):
                    await self.store.delete(final)
                raise ConflictError("The dataset's schema or format changed during the upload; upload again")
            previous = row.content_key
            now = utcnow()
            row.content_key = final
            row.filename = upload.filename
            row.content_type = upload.content_type
            row.size_bytes = report.size
            row.row_count = report.rows
            row.sha256 = report.sha256
            row.content_updated_at = now
            row.updated_at = now
            row.current_version = await repo.version_with_sha(row.id, report.sha256)
            done = await repo.get_upload(upload.id)
            if done is not None:
                done.status = "completed"
                done.completed_at = now
                done.result = {
                    "sha256": report.sha256,
                    "size_bytes": report.size,
                    "row_count": report.rows,
                    "validation_seconds": round(report.seconds, 3),
                }
            await session.flush()
            summary = to_schema(row)
            await session.commit()
            if previous and previous != final and not await repo.key_in_use(row.id, previous):
                await self.store.delete(previous)  # superseded content, referenced by no version
            return summary

    async def _finish(self, upload_id: uuid.UUID, status: str, result: dict[str, Any] | None) -> None:
        async with self.state.sessionmaker() as session:
            row = await DatasetRepository(session).get_upload(upload_id)
            if row is not None:
                row.status = status
                row.result = result
                row.completed_at = utcnow() if status != "pending" else None
                await session.commit()
